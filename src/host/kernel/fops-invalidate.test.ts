// IOMMU_HWPT_INVALIDATE through the raw-bytes entry point with hostile counts: the work
// and memory one call can cost are bounded before anything is decoded, and the ioctl log
// keeps a bounded image of each call. (Found by fuzz/host-socket.ts: 2^32 - 1 entries of
// length 0 walked one by one; a million 1-byte entries pinned ~180 MB in the log.)

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ERRNO } from "./errno.js";
import { iommufdIoctl } from "./fops.js";
import { LOGGED_INVALIDATE_ENTRIES } from "./iommufd.js";
import { rig } from "./testkit.js";
import { IOCTL } from "./uapi.js";
import { MAX_USER_COPY, type SyscallReturn } from "./user-copy.js";

const USER = 0x1000n;
const CMDS = USER + 0x100n;

/** Runs one call against a user memory at USER; its return and the user reads it made. */
function call(
  r: ReturnType<typeof rig>,
  mem: Uint8Array,
): { ret: SyscallReturn; reads: number; entryNumBack: number } {
  const sys = iommufdIoctl(r.k, IOCTL.IOMMU_HWPT_INVALIDATE, USER, { memfd: () => null });
  let answer: Uint8Array | boolean | number | null = null;
  let reads = 0;
  for (;;) {
    const x = sys.next(answer);
    if (x.done) {
      const entryNumBack = new DataView(mem.buffer).getUint32(24, true);
      return { ret: x.value, reads, entryNumBack };
    }
    const q = x.value;
    if (q.op === "read") {
      reads++;
      const off = Number(q.addr - USER);
      answer = off >= 0 && off + q.len <= mem.length ? mem.slice(off, off + q.len) : null;
    } else if (q.op === "write") {
      const off = Number(q.addr - USER);
      mem.set(q.bytes, off);
      answer = true;
    } else answer = -ERRNO.EINVAL;
  }
}

/** struct iommu_hwpt_invalidate at USER, with room for `room` bytes of commands after it. */
function invalidate(
  hwptId: number,
  dataUptr: bigint,
  entryLen: number,
  entryNum: number,
  room = 0x100,
): Uint8Array {
  const mem = new Uint8Array(0x100 + room);
  const dv = new DataView(mem.buffer);
  dv.setUint32(0, 32, true);
  dv.setUint32(4, hwptId, true);
  dv.setBigUint64(8, dataUptr, true);
  dv.setUint32(16, 1, true); // IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3
  dv.setUint32(20, entryLen, true);
  dv.setUint32(24, entryNum, true);
  return mem;
}

const invalidations = (r: ReturnType<typeof rig>) =>
  r.k.log.entries().filter((e) => e.call === "IOMMU_HWPT_INVALIDATE");

describe("IOMMU_HWPT_INVALIDATE with hostile counts", () => {
  it("refuses entries of length 0 with EINVAL before decoding any, however many are claimed", () => {
    const r = rig();
    for (const n of [1000, 0xffff_ffff]) {
      const mem = invalidate(r.viommuId, CMDS, 0, n);
      const out = call(r, mem);
      assert.deepEqual(out.ret, { ret: -1, errno: ERRNO.EINVAL });
      assert.equal(out.entryNumBack, 0, "entry_num 0 is written back, as the kernel does");
    }
    assert.deepEqual(invalidations(r), [], "the call never reached the vIOMMU");
  });

  it("refuses entries with no array (data_uptr 0) with EINVAL, not a fault", () => {
    const r = rig();
    const out = call(r, invalidate(r.viommuId, 0n, 16, 1));
    assert.deepEqual(out.ret, { ret: -1, errno: ERRNO.EINVAL });
    assert.equal(out.reads, 2, "only the struct was read");
  });

  it("refuses more commands than the copy bound holds 16-byte ones (E2BIG), even 1-byte entries", () => {
    const r = rig();
    const n = MAX_USER_COPY / 16 + 1;
    const out = call(r, invalidate(r.viommuId, CMDS, 1, n, n));
    assert.deepEqual(out.ret, { ret: -1, errno: ERRNO.E2BIG });
    assert.deepEqual(invalidations(r), []);
  });

  it(`logs at most ${LOGGED_INVALIDATE_ENTRIES} commands of one call and counts the rest`, () => {
    const r = rig();
    const n = 1000;
    const mem = invalidate(r.viommuId, CMDS, 16, n, 16 * n);
    const dv = new DataView(mem.buffer);
    for (let i = 0; i < n; i++) dv.setBigUint64(0x100 + 16 * i, 0x11n, true); // TLBI_NH_ASID
    const out = call(r, mem);
    assert.deepEqual(out.ret, { ret: 0, errno: 0 });
    assert.equal(out.entryNumBack, n);
    const [entry] = invalidations(r);
    const args = entry!.args as { entries: unknown[]; entriesNotLogged: number };
    assert.equal(args.entries.length, LOGGED_INVALIDATE_ENTRIES);
    assert.equal(args.entriesNotLogged, n - LOGGED_INVALIDATE_ENTRIES);
  });
});
