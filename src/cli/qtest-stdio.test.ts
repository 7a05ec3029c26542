// `cmdqv qtest` on stdio against hostile readers and writers: a reader that is slow to
// start, a reply larger than a pipe, and a stdin that is non-blocking (its open file
// shared with a process that made it so).

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

const CLI = ["bin/cmdqv.js", "qtest"];

function collect(child: ChildProcess): Promise<Buffer> {
  const parts: Buffer[] = [];
  child.stdout!.on("data", (d: Buffer) => parts.push(d));
  return new Promise((resolve) => child.on("close", () => resolve(Buffer.concat(parts))));
}

const countLines = (b: Buffer) => b.reduce((n, x) => n + (x === 10 ? 1 : 0), 0);

describe("cmdqv qtest on stdio", () => {
  it("answers every line of a client that reads nothing for a while, instead of dropping replies", async () => {
    const child = spawn(process.execPath, CLI, { stdio: ["pipe", "pipe", "inherit"] });
    child.stdout!.pause();
    for (let i = 0; i < 2000; i++) child.stdin!.write("read 0x40000000 256\n");
    child.stdin!.end("endianness\n");
    await new Promise((r) => setTimeout(r, 1500));
    const out = collect(child);
    child.stdout!.resume();
    const b = await out;
    assert.equal(countLines(b), 2001);
    assert.ok(b.toString("latin1").endsWith("\nOK little\n"));
  });

  it("writes a reply longer than a pipe holds in full", async () => {
    const child = spawn(process.execPath, CLI, { stdio: ["pipe", "pipe", "inherit"] });
    child.stdin!.end("read 0x40000000 1048576\n");
    const b = await collect(child);
    assert.equal(b.length, "OK 0x".length + 2 * 1048576 + 1);
  });

  it("waits for input on a non-blocking stdin without spinning, and answers what comes", async () => {
    // A parent that touches process.stdin makes the pipe non-blocking for its child too.
    const wrapper = `process.stdin; require("node:child_process").spawn(process.execPath, ${JSON.stringify(CLI)}, { stdio: "inherit" }).on("exit", (c) => process.exit(c ?? 1));`;
    const child = spawn(process.execPath, ["-e", wrapper], { stdio: ["pipe", "pipe", "inherit"] });
    // Whatever fails below, neither the wrapper nor the server outlives the test.
    let server: string | undefined;
    const cleanup = () => {
      for (const pid of [server, String(child.pid)])
        try {
          if (pid !== undefined) process.kill(Number(pid), "SIGKILL");
        } catch {
          // already gone
        }
    };
    try {
      const out = collect(child);
      // The server has started once it answers: only then is its CPU time idle time
      // (on a loaded machine, start-up alone can take more than a second).
      const answered = new Promise<void>((resolve) => {
        let seen = "";
        child.stdout!.on("data", (b: Buffer) => {
          seen += b.toString("latin1");
          if (seen.includes("OK little\n")) resolve();
        });
      });
      child.stdin!.write("endianness\n");
      await answered;
      const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8")
        .trim()
        .split(/\s+/);
      const cpu = (pid: string) => {
        const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
        return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (1/100 s)
      };
      server = kids.at(-1)!;
      const before = cpu(server);
      await new Promise((r) => setTimeout(r, 1000));
      const used = cpu(server) - before;
      assert.ok(used < 20, `the idle server used ${used} ticks of CPU in 100`);
      child.stdin!.end("readl 0x0c080000\n");
      const text = (await out).toString("latin1");
      assert.equal(text, "OK little\nOK 0x0000000000020083\n");
    } catch (e) {
      cleanup(); // (only on failure: after success both have exited and their pids are free)
      throw e;
    }
  });
});
