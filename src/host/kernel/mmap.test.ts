// mmap of the VINTF page0 through the iommufd file: the selftest
// viommu_alloc_with_data's mmap steps (spec: linux §6.7) and the §3.8 errno table.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { APERTURE, VCMDQ0 } from "../../regs/cmdqv.js";
import { expectErrno, PAGE, RAM_BASE, rig, unwrap } from "./testkit.js";
import { HW_QUEUE_TYPE, MAP, PROT } from "./uapi.js";

const RW = PROT.READ | PROT.WRITE;

describe("mmap of the VINTF page0 (viommu_alloc_with_data, ported)", () => {
  it("registers the region at PAGE_SIZE, never at offset 0, with a 64 KiB length", () => {
    const r = rig();
    assert.equal(r.mmapOffset, PAGE);
    assert.equal(r.mmapLength, APERTURE.PAGE_SIZE);
  });

  it("refuses offset+PAGE, offset+2·PAGE, half and double the length with ENXIO", () => {
    const { k, mmapOffset: off, mmapLength: len } = rig();
    expectErrno(k.mmap({ offset: off + PAGE, length: len, prot: RW, flags: MAP.SHARED }), "ENXIO");
    expectErrno(
      k.mmap({ offset: off + 2 * PAGE, length: len, prot: RW, flags: MAP.SHARED }),
      "ENXIO",
    );
    expectErrno(k.mmap({ offset: off, length: len / 2, prot: RW, flags: MAP.SHARED }), "ENXIO");
    expectErrno(k.mmap({ offset: off, length: len * 2, prot: RW, flags: MAP.SHARED }), "ENXIO");
  });

  it("maps the hardware page0: a queue enabled through the mapping reads back EN_OK", () => {
    const r = rig();
    const { k, host } = r;
    unwrap(
      k.hwQueueAlloc({
        flags: 0,
        viommuId: r.viommuId,
        type: HW_QUEUE_TYPE.TEGRA241_CMDQV,
        index: 0,
        iova: RAM_BASE,
        length: PAGE,
      }),
    );
    const m = unwrap(
      k.mmap({ offset: r.mmapOffset, length: r.mmapLength, prot: RW, flags: MAP.SHARED }),
    );
    assert.equal(m.read(VCMDQ0.STATUS, 4), 0);
    m.write(VCMDQ0.CONFIG, 4, 1);
    host.clock.advance(10_000);
    assert.equal(m.read(VCMDQ0.CONFIG, 4), 1);
    assert.equal(m.read(VCMDQ0.STATUS, 4) & 1, 1);
    // The same register through the hardware's own VINTF1 page0.
    const vintf = host.driver.state().vintfs[1]!.idx;
    const page0 = APERTURE.VINTF_PAGE0 + APERTURE.VINTF_STRIDE * vintf;
    assert.equal(host.hw.read(page0 + VCMDQ0.STATUS, 4) & 1, 1);
  });

  it("refuses to destroy the vIOMMU while page0 is mapped with EBUSY, and destroys it after munmap", () => {
    const r = rig();
    const m = unwrap(
      r.k.mmap({ offset: r.mmapOffset, length: r.mmapLength, prot: RW, flags: MAP.SHARED }),
    );
    expectErrno(r.k.destroy(r.viommuId), "EBUSY");
    unwrap(m.unmap());
    assert.equal(m.mapped, false);
    assert.equal(m.read(VCMDQ0.STATUS, 4), 0, "an unmapped window reads nothing");
    unwrap(r.k.destroy(r.viommuId));
    // The region went with the vIOMMU: its offset no longer maps.
    expectErrno(
      r.k.mmap({ offset: r.mmapOffset, length: r.mmapLength, prot: RW, flags: MAP.SHARED }),
      "ENXIO",
    );
  });

  it("hands out the lowest free offset: a second vIOMMU's region follows the first", () => {
    const r = rig();
    const h2 = unwrap(r.k.hwptAlloc({ flags: 1, devId: r.devId, ptId: r.ioasId })).hwptId;
    const v2 = unwrap(
      r.k.viommuAlloc({
        flags: 0,
        type: 2,
        devId: r.devId,
        hwptId: h2,
        dataLen: 16,
        data: new Uint8Array(16),
      }),
    );
    assert.equal(v2.vintfMmapOffset, PAGE + APERTURE.PAGE_SIZE);
  });
});

describe("mmap errnos (spec: linux §3.8 table)", () => {
  it("rounds an unaligned length up to pages first (mm layer), so 64 KiB − 1 maps the region", () => {
    const r = rig();
    const m = unwrap(
      r.k.mmap({ offset: r.mmapOffset, length: r.mmapLength - 1, prot: RW, flags: MAP.SHARED }),
    );
    assert.equal(m.length, r.mmapLength);
  });

  it("refuses an unaligned length that rounds to another size with ENXIO", () => {
    const r = rig();
    expectErrno(
      r.k.mmap({ offset: r.mmapOffset, length: r.mmapLength + 1, prot: RW, flags: MAP.SHARED }),
      "ENXIO",
    );
  });

  it("refuses a zero length or an offset that is not page aligned with EINVAL", () => {
    const r = rig();
    expectErrno(
      r.k.mmap({ offset: r.mmapOffset, length: 0, prot: RW, flags: MAP.SHARED }),
      "EINVAL",
    );
    expectErrno(
      r.k.mmap({ offset: r.mmapOffset + 8, length: r.mmapLength, prot: RW, flags: MAP.SHARED }),
      "EINVAL",
    );
  });

  it("refuses a mapping that is not MAP_SHARED with EINVAL", () => {
    const r = rig();
    expectErrno(
      r.k.mmap({ offset: r.mmapOffset, length: r.mmapLength, prot: RW, flags: MAP.PRIVATE }),
      "EINVAL",
    );
  });

  it("refuses PROT_EXEC with EPERM", () => {
    const r = rig();
    expectErrno(
      r.k.mmap({
        offset: r.mmapOffset,
        length: r.mmapLength,
        prot: RW | PROT.EXEC,
        flags: MAP.SHARED,
      }),
      "EPERM",
    );
  });

  it("refuses an unknown offset (0 included) with ENXIO", () => {
    const r = rig();
    expectErrno(
      r.k.mmap({ offset: 0, length: r.mmapLength, prot: RW, flags: MAP.SHARED }),
      "ENXIO",
    );
    expectErrno(
      r.k.mmap({ offset: 0x100_0000, length: r.mmapLength, prot: RW, flags: MAP.SHARED }),
      "ENXIO",
    );
  });

  it("refuses a sub-range of the region with ENXIO", () => {
    const r = rig();
    expectErrno(
      r.k.mmap({ offset: r.mmapOffset + PAGE, length: PAGE, prot: RW, flags: MAP.SHARED }),
      "ENXIO",
    );
  });

  it("fails the VMA allocation with ENOMEM at the mmap:vma_alloc fault site", () => {
    const r = rig();
    r.host.faults.arm("mmap:vma_alloc", 1);
    expectErrno(
      r.k.mmap({ offset: r.mmapOffset, length: r.mmapLength, prot: RW, flags: MAP.SHARED }),
      "ENOMEM",
    );
    unwrap(r.k.destroy(r.viommuId));
  });
});
