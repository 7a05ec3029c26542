// What a real VMM's realize needs of the kernel beyond the model's own cold-plug (spec
// real-qemu order): IOVA ranges with the EMSGSIZE count probe, CHANGE_PROCESS, attaching
// the device to its stage-2 HWPT, nested abort/bypass HWPTs on the vIOMMU with the vSTE
// validation, re-attaching to the bypass one, and the references that keep order.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { validateVste } from "./hwpt-nested.js";
import { expectErrno, rig, unwrap } from "./testkit.js";
import { HWPT_DATA_ARM_SMMUV3 } from "./uapi.js";

function vste(ste0: bigint, ste1 = 0n): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, ste0, true);
  dv.setBigUint64(8, ste1, true);
  return b;
}

function nested(r: ReturnType<typeof rig>, ste0: bigint, ste1 = 0n) {
  return r.k.hwptAlloc({
    flags: 0,
    devId: r.devId,
    ptId: r.viommuId,
    dataType: HWPT_DATA_ARM_SMMUV3,
    dataLen: 16,
    data: vste(ste0, ste1),
  });
}

describe("IOMMU_IOAS_IOVA_RANGES", () => {
  it("answers EMSGSIZE with the count to a zero-length array, then the ranges", () => {
    const r = rig();
    const probe = r.k.ioasIovaRanges({ ioasId: r.ioasId, numIovas: 0 });
    assert.equal(probe.ok, false);
    if (probe.ok) return;
    assert.equal(probe.error.numIovas, 2, "a domain is attached: the MSI window splits it");
    const full = unwrap(r.k.ioasIovaRanges({ ioasId: r.ioasId, numIovas: 2 }));
    assert.deepEqual(full.ranges, [
      [0n, 0x7ff_ffffn],
      [0x810_0000n, (1n << 48n) - 1n],
    ]);
    assert.equal(full.alignment, 4096);
  });

  it("gives a fresh IOAS the whole space, and ENOENT for a bad id", () => {
    const r = rig({ viommu: false });
    const ioas = unwrap(r.k.ioasAlloc()).ioasId;
    assert.deepEqual(unwrap(r.k.ioasIovaRanges({ ioasId: ioas, numIovas: 4 })).ranges, [
      [0n, (1n << 64n) - 1n],
    ]);
    const bad = r.k.ioasIovaRanges({ ioasId: 999, numIovas: 4 });
    assert.equal(bad.ok ? 0 : bad.error.errno, 2);
  });
});

describe("nested HWPTs on a vIOMMU and device attach", () => {
  it("allocates QEMU's abort and bypass vSTEs and holds the vIOMMU", () => {
    const r = rig();
    const abort = unwrap(nested(r, 0x1n)).hwptId;
    const bypass = unwrap(nested(r, 0x9n)).hwptId;
    assert.notEqual(abort, bypass);
    expectErrno(r.k.destroy(r.viommuId), "EBUSY");
    unwrap(r.k.attachDevice({ devId: r.devId, ptId: r.hwptId }));
    unwrap(r.k.attachDevice({ devId: r.devId, ptId: bypass }));
    expectErrno(r.k.destroy(bypass), "EBUSY");
    unwrap(r.k.destroy(abort));
    unwrap(r.k.attachDevice({ devId: r.devId, ptId: r.hwptId }));
    unwrap(r.k.destroy(bypass));
  });

  it("refuses vSTE bits outside the nesting-allowed set, and a reserved CFG, with EIO", () => {
    const r = rig();
    expectErrno(nested(r, 0x9n | (1n << 52n)), "EIO");
    expectErrno(nested(r, 0x1n | (2n << 1n)), "EIO");
    expectErrno(nested(r, 0x9n, 2n << 28n), "EIO");
    assert.deepEqual(validateVste(0x8n, 0xffn), { ok: true, value: [0n, 0n] }, "V=0: abort");
  });

  it("needs ARM_SMMUV3 data of 16 bytes", () => {
    const r = rig();
    expectErrno(
      r.k.hwptAlloc({
        flags: 0,
        devId: r.devId,
        ptId: r.viommuId,
        dataType: 1,
        dataLen: 16,
        data: vste(1n),
      }),
      "EINVAL",
    );
    expectErrno(
      r.k.hwptAlloc({
        flags: 0,
        devId: r.devId,
        ptId: r.viommuId,
        dataType: 2,
        dataLen: 8,
        data: vste(1n),
      }),
      "EINVAL",
    );
  });

  it("attach: ENOENT for an unknown id, EINVAL for a vIOMMU, EOPNOTSUPP for an IOAS", () => {
    const r = rig();
    expectErrno(r.k.attachDevice({ devId: r.devId, ptId: 999 }), "ENOENT");
    expectErrno(r.k.attachDevice({ devId: r.devId, ptId: r.viommuId }), "EINVAL");
    expectErrno(r.k.attachDevice({ devId: r.devId, ptId: r.ioasId }), "EOPNOTSUPP");
  });

  it("releases everything on close even with the device attached to a nested HWPT", () => {
    const r = rig();
    const bypass = unwrap(nested(r, 0x9n)).hwptId;
    unwrap(r.k.attachDevice({ devId: r.devId, ptId: bypass }));
    unwrap(r.k.unbindDevice(r.devId));
    r.k.close();
    assert.equal(r.k.isReleased, true);
    assert.deepEqual(r.k.liveObjects(), []);
  });
});
