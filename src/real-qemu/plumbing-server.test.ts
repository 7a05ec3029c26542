// The plumbing server against a preload that answers its requests wrongly or leaves in
// the middle of a call: what the handler sees, and that nothing opened for the session
// outlives it. (Found by fuzz/host-socket.ts.)

import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Result } from "../util/result.js";
import { type HostCallHandler, type Session, startPlumbingServer } from "./plumbing-server.js";
import { FakePreload, fdsOpenedSince, openFds } from "./testkit.js";
import { Errno, encode, FdKind } from "./wire.js";

let dir: string;
/** A file of ours that /proc/self/fd/N reopens (a stand-in for one of QEMU's fds). */
let fileFd: number;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "cmdqv-plumbing-test-"));
  fileFd = openSync(join(dir, "file"), "w+");
});
after(() => {
  closeSync(fileFd);
  rmSync(dir, { recursive: true, force: true });
});

/** A server whose one handler runs `body` inside the first ioctl and keeps what it returns. */
async function serverRunning<T>(
  body: (session: Session, mem: Parameters<HostCallHandler["ioctl"]>[1]) => Promise<T>,
) {
  let seen: T | undefined;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const server = await startPlumbingServer({
    log: () => {},
    onHello: (_hello, session) => ({
      async ioctl(_call, mem) {
        seen = await body(session, mem);
        done();
        return { ret: 0 };
      },
    }),
  });
  return { server, finished, seen: () => seen };
}

const ioctlCall = (arg: bigint) =>
  ({ type: "IOCTL", fd: 100, kind: FdKind.IOMMUFD, request: 0x3b81, arg }) as const;

describe("the plumbing server against a wrong or vanishing preload", () => {
  for (const errno of [0, -14, 4096]) {
    it(`drops a preload whose FAULT carries errno ${errno}, and the handler sees EIO`, async () => {
      const s = await serverRunning(async (_session, mem) => mem.peek(0x1000n, 4));
      const q = await FakePreload.connect(s.server.socketPath);
      await q.hello();
      const r = await q.call(ioctlCall(0x1000n), () => encode({ type: "FAULT", errno }));
      await s.finished;
      assert.equal(r, "closed");
      assert.deepEqual(s.seen(), { ok: false, error: Errno.EIO });
      await s.server.close();
    });
  }

  it("drops a preload whose PIPE names a negative descriptor, and the pipe is refused", async () => {
    const s = await serverRunning(async (_session, mem) => {
      const p = await mem.newEventPipe();
      if (p.ok) p.value.writer.close();
      return p.ok ? "pipe" : p.error;
    });
    const q = await FakePreload.connect(s.server.socketPath);
    await q.hello();
    const r = await q.call(ioctlCall(0n), (req, faithful) =>
      req.type === "NEWPIPE" ? encode({ type: "PIPE", readFd: -5, writeFd: fileFd }) : faithful(),
    );
    await s.finished;
    assert.equal(r, "closed");
    assert.equal(s.seen(), Errno.EIO);
    await s.server.close();
  });

  it("opens nothing for a session whose connection ended: openFd is then EIO and no fd is left", async () => {
    const before = openFds();
    const s = await serverRunning(async (session, mem) => {
      await mem.peek(0x1000n, 4);
      // The preload sent one reply too many: the connection is gone by now.
      return session.openFd(fileFd, "rw");
    });
    const q = await FakePreload.connect(s.server.socketPath);
    await q.hello();
    const data = encode({ type: "DATA", data: new Uint8Array(4) });
    const r = await q.call(ioctlCall(0x1000n), () => Buffer.concat([data, data]));
    await s.finished;
    assert.equal(r, "closed");
    assert.deepEqual(s.seen(), { ok: false, error: Errno.EIO });
    await s.server.close();
    assert.deepEqual(fdsOpenedSince(before), []);
  });

  it("closes the vEVENTQ pipe's writer when the connection ends while CLOSEFD is out", async () => {
    const before = openFds();
    const s = await serverRunning(async (_session, mem) => {
      const p = await mem.newEventPipe();
      return p.ok ? "pipe" : p.error;
    });
    const q = await FakePreload.connect(s.server.socketPath);
    q.pipe = { readFd: fileFd, writeFd: fileFd };
    await q.hello();
    const ok = encode({ type: "OK" });
    const r = await q.call(ioctlCall(0n), (req, faithful) =>
      req.type === "CLOSEFD" ? Buffer.concat([ok, ok]) : faithful(),
    );
    await s.finished;
    assert.equal(r, "closed");
    assert.equal(s.seen(), Errno.EIO);
    await s.server.close();
    assert.deepEqual(fdsOpenedSince(before), []);
  });

  it("closes an fd openFd gave as soon as the handler gives it back", async () => {
    const s = await serverRunning(async (session) => {
      const before = openFds();
      const fd: Result<number, number> = session.openFd(fileFd, "r");
      assert.ok(fd.ok);
      const during = openFds().length;
      session.closeOpened(fd.value);
      session.closeOpened(fd.value); // twice: nothing more happens
      return [during - before.length, openFds().length - before.length];
    });
    const q = await FakePreload.connect(s.server.socketPath);
    await q.hello();
    await q.call(ioctlCall(0n));
    await s.finished;
    assert.deepEqual(s.seen(), [1, 0]);
    await q.destroy();
    await s.server.close();
  });
});
