// A hostile caller cannot crash the kernel's raw-bytes entry points: any request number,
// any argument pointer, any struct bytes (sizes, flags, ids, user pointers) give a return
// value or an errno, never an exception, on the iommufd file and the VFIO device file.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { VFIO_IOCTL, VfioCdev } from "../vfio/vfio-cdev.js";
import { iommufdIoctl } from "./fops.js";
import { rig } from "./testkit.js";
import { IOCTL } from "./uapi.js";
import type { Syscall } from "./user-copy.js";

const USER = 0x1000n;

/** Answer a call's requests from `mem` (a little user space at USER); true when it returned. */
function run(call: Syscall, mem: Uint8Array): boolean {
  let answer: Uint8Array | boolean | number | null = null;
  for (let steps = 0; steps < 10_000; steps++) {
    const r = call.next(answer);
    if (r.done) {
      assert.ok(Number.isInteger(r.value.ret) && r.value.errno >= 0);
      return true;
    }
    const q = r.value;
    if (q.op === "install-fd") answer = 7;
    else {
      const off = Number(q.addr - USER);
      const len = q.op === "read" ? q.len : q.bytes.length;
      const inside = q.addr >= USER && off + len <= mem.length;
      if (q.op === "read") answer = inside ? mem.slice(off, off + len) : null;
      else {
        if (inside) mem.set(q.bytes, off);
        answer = inside;
      }
    }
  }
  return false;
}

const requests = fc.oneof(
  fc.constantFrom(...Object.values(IOCTL), ...Object.values(VFIO_IOCTL)),
  fc.integer({ min: 0, max: 0xffff_ffff }),
);
const pointers = fc.oneof(
  fc.constant(USER),
  fc.bigInt({ min: USER, max: USER + 0x200n }),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
);
/** Struct bytes whose first word is often a plausible size and whose pointers often point home. */
const memories = fc
  .tuple(fc.uint8Array({ minLength: 0x400, maxLength: 0x400 }), fc.integer({ min: 0, max: 64 }))
  .map(([m, size]) => {
    const dv = new DataView(m.buffer);
    dv.setUint32(0, size, true);
    for (const off of [8, 16, 32]) if (m[off + 7]! & 1) dv.setBigUint64(off, USER + 0x100n, true);
    return m;
  });

describe("hostile callers of the kernel's raw entry points", () => {
  it("never throw, for any request, pointer and bytes, on iommufd or VFIO", () => {
    const r = rig();
    const dev = new VfioCdev(0x300);
    fc.assert(
      fc.property(requests, pointers, memories, fc.boolean(), (req, arg, mem, vfio) => {
        const call = vfio
          ? dev.ioctl(req, arg, () => r.k)
          : iommufdIoctl(r.k, req, arg, { memfd: () => null });
        assert.ok(run(call, mem), "the call finished");
      }),
      { numRuns: 3000 },
    );
    assert.ok(r.k.log.entries().length > 0);
  });

  it("refuses pread/pwrite outside the config region and past its end without throwing", () => {
    const dev = new VfioCdev(0x300);
    const r = rig({ viommu: false });
    const mem = new Uint8Array(0x100);
    new DataView(mem.buffer).setUint32(0, 24, true);
    new DataView(mem.buffer).setInt32(8, 3, true);
    run(
      dev.ioctl(VFIO_IOCTL.VFIO_DEVICE_BIND_IOMMUFD, USER, () => r.k),
      mem,
    );
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.integer({ min: -5, max: 1 << 20 }),
        (off, len) => {
          const got = dev.pread(off, len);
          assert.ok(typeof got === "number" ? got < 0 : got.length <= 4096);
          const w = dev.pwrite(off, new Uint8Array(Math.max(0, Math.min(len, 64))));
          assert.ok(Number.isInteger(w));
        },
      ),
    );
  });
});
