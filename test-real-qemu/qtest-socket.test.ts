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

  it("cmdqv qemu: QEMU serves qtest on the printed socket; Ctrl-C removes it", async () => {
    const child = spawn(process.execPath, ["bin/cmdqv.js", "qemu"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    try {
      await waitFor(() => /qtest at (\S+);/.test(err), 60_000);
      const path = /qtest at (\S+);/.exec(err)![1]!;
      await waitFor(() => existsSync(path), 10_000);
      const reply = await new Promise<string>((resolve, reject) => {
        const s = connect(path);
        s.on("error", reject);
        s.on("data", (d) => {
          s.end();
          resolve(d.toString().trim());
        });
        s.write("readl 0x0c080004\n");
      });
      assert.equal(reply, "OK 0x0000000000004011");
      const code = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
      child.kill("SIGINT");
      assert.equal(await code, 0, err);
      assert.equal(existsSync(path), false, "its private dir is removed");
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("cmdqv host: prints the environment and the options for your own QEMU, and stops cleanly", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cmdqv-host-"));
    const path = join(dir, "host.sock");
    const child = spawn(process.execPath, ["bin/cmdqv.js", "host", "--socket", path], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    try {
      await waitFor(() => out.includes("Ctrl-C ends"), 60_000);
      assert.match(out, new RegExp(`CMDQV_SOCKET=${path} CMDQV_IOMMUFD_FD=100 CMDQV_VFIO_FD=101`));
      assert.match(out, /-device arm-smmuv3,primary-bus=pcie.1,id=smmuv3.1,accel=on,cmdqv=on/);
      assert.match(out, /-object iommufd,id=iommufd0,fd=100/);
      const code = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
      child.kill("SIGINT");
      assert.equal(await code, 0);
      assert.equal(existsSync(path), false, "the socket is removed");
    } finally {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
