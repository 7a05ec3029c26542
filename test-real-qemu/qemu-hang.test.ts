// A QEMU that stops answering is reported in one line with its console, the session
// ends with exit 1, and nothing is left running (QEMU is stopped with SIGSTOP here).

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { describe, it } from "node:test";

describe("a QEMU that hangs", () => {
  it("is reported after the reply deadline and stopped; exit 1, no process left", async () => {
    const child = spawn(process.execPath, ["bin/cmdqv.js", "qtest", "--vmm", "qemu"], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, CMDQV_QEMU_REPLY_MS: "1500" },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const exit = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    child.stdin.write("readl 0x0c080004\n");
    for (let i = 0; i < 600 && !out.includes("OK"); i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /^OK 0x0000000000004011/);
    // QEMU is the CLI's child (unshare and the loader exec into it).
    const qemu = spawnSync("pgrep", ["-P", String(child.pid), "-f", "qemu-system-aarch64"], {
      encoding: "utf8",
    }).stdout.trim();
    assert.match(qemu, /^\d+$/, "one QEMU under the CLI");
    process.kill(Number(qemu), "SIGSTOP");
    child.stdin.write("readl 0x0c080000\n");
    assert.equal(await exit, 1, err);
    assert.match(err, /QEMU gave no reply to "readl 0x0c080000" within 1.5 s; it was stopped/);
    assert.throws(() => process.kill(Number(qemu), 0), "QEMU is gone");
  });
});
