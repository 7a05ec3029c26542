// A port of tools/testing/selftests/iommu/iommufd.c TEST_F(iommufd_viommu, hw_queue)
// (spec: linux §6.7) to the Tegra241 driver: the same steps and expectations, with the
// driver's own limits where the mock's were (MAX = LVCMDQs per VINTF, type TEGRA241).
//
// iova ~0 needs u64: HwQueueAllocArgs.iova takes a bigint for that (a JS number cannot
// hold 2^64 − 1), so the overflow step passes ~0n exactly as the selftest does.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { expectErrno, PAGE, RAM_BASE, rig, unwrap } from "./testkit.js";
import { HW_QUEUE_TYPE } from "./uapi.js";

const U64_MAX = 0xffff_ffff_ffff_ffffn;

describe("the iommufd hw_queue selftest, ported to Tegra241", () => {
  it("runs every step of TEST_F(iommufd_viommu, hw_queue) with the selftest's errnos", () => {
    // The vIOMMU exists; nothing of the nest-parent IOAS is mapped yet.
    const r = rig({ mapRam: false });
    const { k, viommuId, ioasId } = r;
    const MAX = r.host.driver.numLvcmdqsPerVintf;
    const T = HW_QUEUE_TYPE.TEGRA241_CMDQV;
    const iova = RAM_BASE;
    const iova2 = RAM_BASE + 0x10_0000;
    const alloc = (index: number, at: number | bigint, length: number, type: number = T) =>
      k.hwQueueAlloc({ flags: 0, viommuId, type, index, iova: at, length });

    // type DEFAULT
    expectErrno(alloc(0, iova, PAGE, HW_QUEUE_TYPE.DEFAULT), "EOPNOTSUPP");
    // length 0
    expectErrno(alloc(0, iova, 0), "EINVAL");
    // iova ~0 with a page of length
    expectErrno(alloc(0, U64_MAX, PAGE), "EOVERFLOW");
    // unmapped iova
    expectErrno(alloc(0, iova, PAGE), "ENOENT");

    // map two pages, separately
    unwrap(k.ioasMap({ ioasId, iova, length: PAGE, gpa: iova }));
    unwrap(k.ioasMap({ ioasId, iova: iova2, length: PAGE, gpa: iova2 }));
    // index 1 before index 0
    expectErrno(alloc(1, iova, PAGE), "EIO");
    // index = MAX
    expectErrno(alloc(MAX, iova, PAGE), "EINVAL");
    // index 0 at iova
    const hw0 = unwrap(alloc(0, iova, PAGE)).hwQueueId;
    // index 0 again
    expectErrno(alloc(0, iova, PAGE), "EEXIST");
    // the pinned page cannot be unmapped; the unpinned one can
    expectErrno(k.ioasUnmap({ ioasId, iova, length: PAGE }), "EBUSY");
    unwrap(k.ioasUnmap({ ioasId, iova: iova2, length: PAGE }));
    // index 1 in the same page, unaligned start, half a page
    const hw1 = unwrap(alloc(1, iova + PAGE / 2, PAGE / 2)).hwQueueId;
    // queue 1 depends on queue 0
    expectErrno(k.destroy(hw0), "EBUSY");
    unwrap(k.destroy(hw1));
    unwrap(k.destroy(hw0));
    // nothing pins the page any more
    unwrap(k.ioasUnmap({ ioasId, iova, length: PAGE }));
    assert.deepEqual(k.pins(), []);
    // the hardware saw LVCMDQs mapped ascending and unmapped descending
    assert.equal(r.host.hw.stats().mapOrderViolations, 0);
  });
});
