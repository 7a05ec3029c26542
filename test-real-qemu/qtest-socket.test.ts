// `cmdqv qtest --vmm qemu --socket PATH`: a client connects, gets QEMU's replies, leaves;
// Ctrl-C ends the session with exit 0, the socket file gone and no QEMU left running.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

async function waitFor(p: () => boolean, ms: number): Promise<void> {
  for (let t = 0; t < ms && !p(); t += 50) await new Promise((r) => setTimeout(r, 50));
  assert.ok(p(), "timed out");
}

describe("cmdqv qtest --vmm qemu --socket", () => {
  it("serves a client over the socket and cleans up on SIGINT", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cmdqv-qs-"));
    const path = join(dir, "q.sock");
    const child = spawn(
      process.execPath,
      ["bin/cmdqv.js", "qtest", "--vmm", "qemu", "--socket", path],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let err = "";
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    try {
      await waitFor(() => err.includes("listening on"), 60_000);
      const replies = await new Promise<string[]>((resolve, reject) => {
        const s = connect(path);
        let buf = "";
        s.on("error", reject);
        s.on("data", (d) => {
          buf += d.toString();
          const lines = buf.split("\n").filter(Boolean);
          if (lines.length >= 2) {
            s.end();
            resolve(lines);
          }
        });
        s.write("readl 0x0c080004\ncmdqv_info\n");
      });
      assert.equal(replies[0], "OK 0x0000000000004011", "the CMDQV PARAM register, read in QEMU");
      assert.match(replies[1] ?? "", /^OK \{"vmm":"qemu"/);
      const code = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
      child.kill("SIGINT");
      assert.equal(await code, 0, err);
      assert.equal(existsSync(path), false, "the socket file is removed");
    } finally {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
