// The simulated host on its socket (serveGraceHost) against a QEMU that maps page0 in a
// loop, names files that are not RAM, or leaves in the middle of a call: nothing is kept
// that no one can close, and the kernel's release still runs when the QEMU goes. (Found
// by fuzz/host-socket.ts.)

import assert from "node:assert/strict";
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { VirtualClock } from "../util/clock.js";
import { MAX_MAPPINGS } from "./grace-host.js";
import { type GraceHostServer, serveGraceHost } from "./session.js";
import { FakePreload, fdsOpenedSince, NR, openFds, realizeViommu, struct } from "./testkit.js";
import { Errno, encode, FdKind } from "./wire.js";

let dir: string;
/** A file of an odd size: not guest RAM on any host page. */
let oddFd: number;
/** A file the server may open as a vEVENTQ pipe's write end. */
let pipeFd: number;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "cmdqv-grace-test-"));
  oddFd = openSync(join(dir, "odd"), "w+");
  ftruncateSync(oddFd, 4097);
  pipeFd = openSync(join(dir, "pipe"), "w+");
});
after(() => {
  closeSync(oddFd);
  closeSync(pipeFd);
  rmSync(dir, { recursive: true, force: true });
});

async function host(): Promise<{ served: GraceHostServer; logs: string[]; q: FakePreload }> {
  const logs: string[] = [];
  const served = await serveGraceHost({
    clock: new VirtualClock(),
    ticker: () => () => {},
    physSid: 0x100,
    ramPage: 0x20_0000,
    seed: 1,
    faultPlan: { kind: "none" },
    log: (l) => logs.push(l),
  });
  const q = await FakePreload.connect(served.server.socketPath);
  const hello = await q.hello();
  assert.deepEqual(hello, { type: "RESULT", ret: 0, errno: 0 });
  return { served, logs, q };
}

/** QEMU leaves; the server closes: the kernel must have released QEMU's iommufd. */
async function leave(h: { served: GraceHostServer; logs: string[]; q: FakePreload }) {
  await h.q.destroy();
  await h.served.close();
  assert.equal(h.served.host.iommufd.isReleased, true, "the kernel's release ran");
  assert.deepEqual(h.served.host.liveObjects(), []);
  assert.deepEqual(
    h.logs.filter((l) => /handler failed|threw/.test(l)),
    [],
  );
}

const veventqAlloc = (viommuId: number) =>
  struct(32, [
    [0, 32],
    [8, viommuId],
    [12, 2], // TEGRA241_CMDQV
    [16, 64],
  ]);

describe("the Grace host against a QEMU that hoards or vanishes", () => {
  it("mapping page0 twice and leaving unmaps both: the kernel's release runs", async () => {
    const h = await host();
    const { vintf } = await realizeViommu(h.q);
    for (let i = 0; i < 2; i++) {
      const r = await h.q.call({
        type: "MMAP",
        fd: 100,
        kind: FdKind.IOMMUFD,
        addr: 0n,
        length: vintf.length,
        prot: 3,
        flags: 1,
        offset: vintf.offset,
      });
      assert.equal(r !== "closed" && r.type, "RESULT_MAP");
    }
    await leave(h);
  });

  it(`refuses a mapping past ${MAX_MAPPINGS} live ones with ENOMEM`, async () => {
    const h = await host();
    const { vintf } = await realizeViommu(h.q);
    const results: string[] = [];
    for (let i = 0; i <= MAX_MAPPINGS; i++) {
      const r = await h.q.call({
        type: "MMAP",
        fd: 100,
        kind: FdKind.IOMMUFD,
        addr: 0n,
        length: vintf.length,
        prot: 3,
        flags: 1,
        offset: vintf.offset,
      });
      results.push(r === "closed" ? r : r.type === "RESULT" ? `errno ${r.errno}` : r.type);
    }
    assert.deepEqual(results.slice(0, MAX_MAPPINGS), Array(MAX_MAPPINGS).fill("RESULT_MAP"));
    assert.equal(results[MAX_MAPPINGS], `errno ${Errno.ENOMEM}`);
    // Unmapping one makes room again.
    await h.q.call({
      type: "MUNMAP",
      fd: 100,
      kind: FdKind.IOMMUFD,
      addr: 1n,
      length: vintf.length,
    });
    const again = await h.q.call({
      type: "MMAP",
      fd: 100,
      kind: FdKind.IOMMUFD,
      addr: 0n,
      length: vintf.length,
      prot: 3,
      flags: 1,
      offset: vintf.offset,
    });
    assert.equal(again !== "closed" && again.type, "RESULT_MAP");
    await leave(h);
  });

  it("keeps no descriptor for a file IOMMU_IOAS_MAP_FILE names that is not guest RAM", async () => {
    const h = await host();
    const { ioasId } = await realizeViommu(h.q);
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      const r = await h.q.ioctl(
        FdKind.IOMMUFD,
        NR.IOMMU_IOAS_MAP_FILE,
        struct(40, [
          [0, 40],
          [4, 7],
          [8, ioasId],
          [12, oddFd],
          [24, 0x1000n],
          [32, 0x4000_0000n],
        ]),
      );
      assert.deepEqual([r.ret, r.errno], [-1, Errno.EBADF]);
    }
    assert.deepEqual(
      fdsOpenedSince(before),
      [],
      "the session holds no more descriptors than before",
    );
    await leave(h);
  });

  it("releases a connection that ends inside a VFIO ioctl after that ioctl, not under it", async () => {
    const h = await host();
    const { hwptId } = await realizeViommu(h.q);
    // VFIO_DEVICE_ATTACH_IOMMUFD_PT: the struct's copy-in is answered, with one frame
    // too many, so the connection ends while the ioctl still has its op to run.
    let peeks = 0;
    const r = await h.q.ioctl(
      FdKind.VFIO,
      0x3b77,
      struct(16, [
        [0, 16],
        [8, hwptId],
      ]),
      (req, faithful) =>
        req.type === "PEEK" && ++peeks === 2 ? Buffer.concat([faithful(), faithful()]) : faithful(),
    );
    assert.equal(r.closed, true);
    await leave(h);
  });

  it("leaves no vEVENTQ pipe writer when QEMU goes while CLOSEFD is out, and the kernel releases", async () => {
    const before = openFds();
    const h = await host();
    const { viommuId } = await realizeViommu(h.q);
    h.q.pipe = { readFd: pipeFd, writeFd: pipeFd };
    const ok = encode({ type: "OK" });
    const r = await h.q.ioctl(
      FdKind.IOMMUFD,
      NR.IOMMU_VEVENTQ_ALLOC,
      veventqAlloc(viommuId),
      (req, faithful) => (req.type === "CLOSEFD" ? Buffer.concat([ok, ok]) : faithful()),
    );
    assert.equal(r.closed, true);
    await leave(h);
    assert.deepEqual(fdsOpenedSince(before), []);
  });

  it("drops a QEMU whose NEWPIPE fails with errno 0, leaving no vEVENTQ no one can close", async () => {
    const h = await host();
    const { viommuId } = await realizeViommu(h.q);
    const r = await h.q.ioctl(
      FdKind.IOMMUFD,
      NR.IOMMU_VEVENTQ_ALLOC,
      veventqAlloc(viommuId),
      (req, faithful) =>
        req.type === "NEWPIPE" ? encode({ type: "FAULT", errno: 0 }) : faithful(),
    );
    assert.equal(r.closed, true);
    await leave(h);
  });

  it("a vEVENTQ QEMU got is closed with the session (the pipe's writer too)", async () => {
    const before = openFds();
    const h = await host();
    const { viommuId } = await realizeViommu(h.q);
    h.q.pipe = { readFd: pipeFd, writeFd: pipeFd };
    const during = openFds().length;
    const r = await h.q.ioctl(FdKind.IOMMUFD, NR.IOMMU_VEVENTQ_ALLOC, veventqAlloc(viommuId));
    assert.deepEqual([r.ret, r.errno], [0, 0]);
    assert.equal(openFds().length, during + 1, "the writer is open while QEMU lives");
    await leave(h);
    assert.deepEqual(fdsOpenedSince(before), []);
  });
});
