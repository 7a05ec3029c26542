// One test per row of the errno tables: vIOMMU alloc (spec: linux §3.3), vDEVICE alloc
// (§3.4), HW queue alloc (§3.5, core then driver table), vEVENTQ alloc (§6.4) and
// IOMMU_DESTROY (§6.4, §6.5). Each row builds the smallest setup that reaches its check.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VINTF } from "../../regs/cmdqv.js";
import { VirtualClock } from "../../util/clock.js";
import { createHost } from "../host.js";
import { expectErrno, PAGE, PSID, RAM_BASE, rig, tegraData, unwrap } from "./testkit.js";
import {
  HW_QUEUE_TYPE,
  HWPT_ALLOC_NEST_PARENT,
  VEVENTQ_TYPE,
  VIOMMU_TYPE,
  type ViommuAllocArgs,
} from "./uapi.js";

const T2 = VIOMMU_TYPE.TEGRA241_CMDQV;

function viommuArgs(
  r: { devId: number; hwptId: number },
  over: Partial<ViommuAllocArgs> = {},
): ViommuAllocArgs {
  return {
    flags: 0,
    type: T2,
    devId: r.devId,
    hwptId: r.hwptId,
    dataLen: 16,
    data: tegraData(),
    ...over,
  };
}

/** VINTF `v`'s CONFIG register, read from the hardware. */
function vintfConfig(r: ReturnType<typeof rig>, v: number): number {
  return r.host.hw.read(0x1000 + 0x100 * v + VINTF.CONFIG, 4);
}

describe("IOMMU_VIOMMU_ALLOC errnos (spec: linux §3.3)", () => {
  it("refuses non-zero flags with EOPNOTSUPP", () => {
    const r = rig({ viommu: false });
    expectErrno(r.k.viommuAlloc(viommuArgs(r, { flags: 1 })), "EOPNOTSUPP");
  });

  it("refuses type DEFAULT with EOPNOTSUPP", () => {
    const r = rig({ viommu: false });
    expectErrno(r.k.viommuAlloc(viommuArgs(r, { type: VIOMMU_TYPE.DEFAULT })), "EOPNOTSUPP");
  });

  it("refuses an unknown dev_id with ENOENT", () => {
    const r = rig({ viommu: false });
    expectErrno(r.k.viommuAlloc(viommuArgs(r, { devId: 99 })), "ENOENT");
  });

  it("refuses when the SMMU lacks FEAT_NESTING (no stage 1) with EOPNOTSUPP, before looking at the HWPT", () => {
    const idr: [number, number, number, number, number, number] = [
      0x080f_76bb & ~2,
      0x0273_9d10,
      0,
      0x1414,
      0,
      0x475,
    ];
    const host = createHost({ clock: new VirtualClock(), smmu: { idr } });
    const k = host.iommufd;
    const devId = host.bindDevice(PSID);
    const ioasId = unwrap(k.ioasAlloc()).ioasId;
    // No nest parent on such an SMMU, and a plain HWPT would be EINVAL on a nesting one.
    expectErrno(k.hwptAlloc({ flags: HWPT_ALLOC_NEST_PARENT, devId, ptId: ioasId }), "EOPNOTSUPP");
    const hwptId = unwrap(k.hwptAlloc({ flags: 0, devId, ptId: ioasId })).hwptId;
    expectErrno(k.viommuAlloc(viommuArgs({ devId, hwptId })), "EOPNOTSUPP");
  });

  it("refuses when the SMMU has CMDQ_FORCE_SYNC with EOPNOTSUPP", () => {
    const r = rig({ viommu: false, host: { smmu: { forceSync: true } } });
    expectErrno(r.k.viommuAlloc(viommuArgs(r)), "EOPNOTSUPP");
  });

  it("refuses a master that is not CANWBS on an SMMU without S2FWB with EOPNOTSUPP", () => {
    const r = rig({ viommu: false });
    const dev = r.host.bindDevice(0x200, { canwbs: false });
    expectErrno(r.k.viommuAlloc(viommuArgs(r, { devId: dev })), "EOPNOTSUPP");
    // With S2FWB the same master is fine.
    const idr: [number, number, number, number, number, number] = [
      0x080f_76bb,
      0x0273_9d10,
      0,
      0x1414 | (1 << 8),
      0,
      0x475,
    ];
    const r2 = rig({ viommu: false, host: { smmu: { idr } } });
    const dev2 = r2.host.bindDevice(0x200, { canwbs: false });
    unwrap(r2.k.viommuAlloc(viommuArgs(r2, { devId: dev2 })));
  });

  it("refuses a type the driver does not know with EOPNOTSUPP", () => {
    const r = rig({ viommu: false });
    expectErrno(r.k.viommuAlloc(viommuArgs(r, { type: 7 })), "EOPNOTSUPP");
  });

  it("refuses an unknown hwpt_id, or an id that is not a paging HWPT, with ENOENT", () => {
    const r = rig({ viommu: false });
    expectErrno(r.k.viommuAlloc(viommuArgs(r, { hwptId: 99 })), "ENOENT");
    expectErrno(r.k.viommuAlloc(viommuArgs(r, { hwptId: r.ioasId })), "ENOENT");
  });

  it("refuses a HWPT that is not a nesting parent with EINVAL", () => {
    const r = rig({ viommu: false });
    const plain = unwrap(r.k.hwptAlloc({ flags: 0, devId: r.devId, ptId: r.ioasId })).hwptId;
    expectErrno(r.k.viommuAlloc(viommuArgs(r, { hwptId: plain })), "EINVAL");
  });

  it("refuses a Tegra241 vIOMMU without driver data with EINVAL", () => {
    const r = rig({ viommu: false });
    expectErrno(r.k.viommuAlloc(viommuArgs(r, { dataLen: 0 })), "EINVAL");
  });

  it("refuses data_len below 16 with EINVAL", () => {
    const r = rig({ viommu: false });
    expectErrno(r.k.viommuAlloc(viommuArgs(r, { dataLen: 8, data: tegraData(8) })), "EINVAL");
  });

  it("refuses data_len above 16 with non-zero tail bytes with E2BIG", () => {
    const r = rig({ viommu: false });
    const data = tegraData(24);
    data[20] = 1;
    expectErrno(r.k.viommuAlloc(viommuArgs(r, { dataLen: 24, data })), "E2BIG");
    assert.equal(r.host.driver.state().vintfs.length, 1, "no VINTF was taken");
  });

  it("refuses data_len above 16 with a zero tail at copy-out with EINVAL, after enabling and tearing down the VINTF", () => {
    const r = rig({ viommu: false, host: { traceHostMmio: true } });
    r.host.driver.clearMmioTrace();
    expectErrno(r.k.viommuAlloc(viommuArgs(r, { dataLen: 24, data: tegraData(24) })), "EINVAL");
    const cfgWrites = r.host.driver
      .mmioTrace()
      .filter((a) => a.op === "w32" && a.off === 0x1100)
      .map((a) => Number(a.value) & 1);
    assert.deepEqual(
      cfgWrites,
      [0, 0, 1, 0],
      "disable, configure, enable, then the unwind's disable",
    );
    assert.equal(vintfConfig(r, 1), 0);
    assert.equal(r.host.driver.state().vintfs.length, 1, "the index was freed");
    assert.deepEqual(r.k.state().mmaps, [], "the mmap region was removed");
    assert.deepEqual(
      r.host.liveObjects().map((o) => o.kind),
      ["device", "ioas", "hwpt_paging"],
    );
  });

  it("refuses with ENOSPC and logs 'no more available vintf' when every VINTF is taken", () => {
    // Two VINTFs: VINTF0 is the kernel's, VINTF1 the only one for user space.
    const r = rig({ host: { hw: { numVintfLog2: 1 } } });
    const h2 = unwrap(
      r.k.hwptAlloc({ flags: HWPT_ALLOC_NEST_PARENT, devId: r.devId, ptId: r.ioasId }),
    ).hwptId;
    expectErrno(r.k.viommuAlloc(viommuArgs(r, { hwptId: h2 })), "ENOSPC");
    assert.ok(r.host.hostDmesg().includes("tegra241_cmdqv: no more available vintf"));
  });

  it("fails with ETIMEDOUT when the VINTF never reports ENABLE_OK, and logs the kernel's message", () => {
    const r = rig({ viommu: false });
    r.host.faults.arm("viommu_alloc:vintf_enable", 1);
    const t0 = r.host.clock.now();
    expectErrno(r.k.viommuAlloc(viommuArgs(r)), "ETIMEDOUT");
    assert.ok(r.host.clock.now() - t0 >= 1_000_000_000, "the 1 s poll timeout elapsed");
    assert.ok(
      r.host
        .hostDmesg()
        .some((l) => /^tegra241_cmdqv: VINTF1: failed to enable, STATUS=0x[0-9A-F]{8}$/.test(l)),
    );
    // The unwind goes straight to deinit_vintf: the driver does not disable the VINTF it
    // failed to enable (the next user of index 1 resets it first, in vintf_hw_init).
    assert.equal(vintfConfig(r, 1), (1 << 1) | 1);
    assert.equal(r.host.driver.state().vintfs.length, 1, "the index was freed");
    const v = unwrap(r.k.viommuAlloc(viommuArgs(r)));
    assert.equal(v.vintfMmapOffset, PAGE);
  });

  it("allocates VINTF1 with the nest parent's VMID, guest-owned, enabled, at mmap offset PAGE_SIZE", () => {
    const r = rig();
    const vmid = r.host.state().smmu.vmids[0]!;
    assert.equal(vmid, 1, "the first stage-2 VMID");
    assert.equal(vintfConfig(r, 1), ((vmid << 1) | 1) >>> 0, "HYP_OWN=0, VMID, EN");
    assert.equal(r.host.hw.read(0x1100 + VINTF.STATUS, 4) & 1, 1);
    assert.equal(r.mmapOffset, PAGE);
    assert.equal(r.mmapLength, 0x10000);
    assert.deepEqual(r.k.state().mmaps, [
      {
        offset: PAGE,
        length: 0x10000,
        mmioAddr: r.host.hw.basePhys + 0x30000 + 0x20000,
        owner: r.viommuId,
      },
    ]);
    const v = r.host.driver.state().vintfs[1]!;
    assert.equal(v.hypOwn, false);
    assert.equal(v.viommuId, r.viommuId);
  });

  it("allocates a plain ARM_SMMUV3 vIOMMU without a VINTF, on which HW queues are EOPNOTSUPP", () => {
    const r = rig({ viommu: false });
    const v = unwrap(
      r.k.viommuAlloc({
        flags: 0,
        type: VIOMMU_TYPE.ARM_SMMUV3,
        devId: r.devId,
        hwptId: r.hwptId,
        dataLen: 0,
      }),
    );
    assert.equal(r.host.driver.state().vintfs.length, 1);
    expectErrno(
      r.k.hwQueueAlloc({
        flags: 0,
        viommuId: v.viommuId,
        type: 1,
        index: 0,
        iova: RAM_BASE,
        length: PAGE,
      }),
      "EOPNOTSUPP",
    );
  });
});

describe("IOMMU_VDEVICE_ALLOC errnos (spec: linux §3.4)", () => {
  it("refuses a virt_id above ULONG_MAX with EINVAL", () => {
    const r = rig();
    expectErrno(
      r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: r.devId, virtId: 1n << 64n }),
      "EINVAL",
    );
  });

  it("refuses an unknown vIOMMU with ENOENT", () => {
    const r = rig();
    expectErrno(r.k.vdeviceAlloc({ viommuId: 99, devId: r.devId, virtId: 8n }), "ENOENT");
  });

  it("refuses an unknown device with ENOENT", () => {
    const r = rig();
    expectErrno(r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: 99, virtId: 8n }), "ENOENT");
  });

  it("refuses a device that already has a vDEVICE with EEXIST", () => {
    const r = rig();
    unwrap(r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: r.devId, virtId: 8n }));
    expectErrno(r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: r.devId, virtId: 9n }), "EEXIST");
  });

  it("refuses a virt_id already used in the vIOMMU with EEXIST, and frees nothing of the first", () => {
    const r = rig();
    unwrap(r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: r.devId, virtId: 8n }));
    const dev2 = r.host.bindDevice(0x200);
    expectErrno(r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: dev2, virtId: 8n }), "EEXIST");
    assert.equal(r.host.hw.read(0x1100 + VINTF.SID_MATCH_0, 4), (8 << 1) | 1);
  });

  it("refuses a vSID wider than SID_MATCH's 20 bits with EINVAL", () => {
    const r = rig();
    expectErrno(
      r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: r.devId, virtId: 0x10_0000n }),
      "EINVAL",
    );
  });

  it("refuses a master with more than one StreamID with EOPNOTSUPP", () => {
    const r = rig();
    const dev2 = r.host.bindDevice(0x300, { numStreams: 2 });
    expectErrno(r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: dev2, virtId: 3n }), "EOPNOTSUPP");
  });

  it("refuses with ENOSPC when the VINTF's 16 SID slots are full", () => {
    const r = rig();
    for (let i = 0; i < 16; i++) {
      const dev = i === 0 ? r.devId : r.host.bindDevice(0x1000 + i);
      unwrap(r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: dev, virtId: BigInt(i + 1) }));
    }
    const extra = r.host.bindDevice(0x2000);
    expectErrno(r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: extra, virtId: 100n }), "ENOSPC");
  });

  it("writes SID_REPLACE then SID_MATCH, and clears both on destroy", () => {
    const r = rig({ host: { traceHostMmio: true } });
    r.host.driver.clearMmioTrace();
    const vd = unwrap(
      r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: r.devId, virtId: 8n }),
    ).vdeviceId;
    const w = r.host.driver.mmioTrace().filter((a) => a.op === "w32");
    assert.deepEqual(
      w.map((a) => [a.off, Number(a.value)]),
      [
        [0x1100 + VINTF.SID_REPLACE_0, PSID],
        [0x1100 + VINTF.SID_MATCH_0, (8 << 1) | 1],
      ],
    );
    unwrap(r.k.destroy(vd));
    assert.equal(r.host.hw.read(0x1100 + VINTF.SID_MATCH_0, 4), 0);
    assert.equal(r.host.hw.read(0x1100 + VINTF.SID_REPLACE_0, 4), 0);
  });
});

describe("IOMMU_HW_QUEUE_ALLOC errnos, core (spec: linux §3.5)", () => {
  const q = (r: ReturnType<typeof rig>, over: Record<string, unknown> = {}) =>
    r.k.hwQueueAlloc({
      flags: 0,
      viommuId: r.viommuId,
      type: HW_QUEUE_TYPE.TEGRA241_CMDQV,
      index: 0,
      iova: RAM_BASE,
      length: PAGE,
      ...over,
    });

  it("refuses non-zero flags with EOPNOTSUPP", () =>
    expectErrno(q(rig(), { flags: 1 }), "EOPNOTSUPP"));
  it("refuses type DEFAULT with EOPNOTSUPP", () =>
    expectErrno(q(rig(), { type: 0 }), "EOPNOTSUPP"));
  it("refuses length 0 with EINVAL", () => expectErrno(q(rig(), { length: 0 }), "EINVAL"));

  it("refuses iova + length − 1 beyond 2^64 with EOVERFLOW", () => {
    expectErrno(q(rig(), { iova: 0xffff_ffff_ffff_f000n, length: 0x2000 }), "EOVERFLOW");
  });

  it("refuses an unknown vIOMMU with ENOENT", () =>
    expectErrno(q(rig(), { viommuId: 99 }), "ENOENT"));

  it("refuses a queue type the driver does not size with EOPNOTSUPP", () =>
    expectErrno(q(rig(), { type: 2 }), "EOPNOTSUPP"));

  it("refuses when the object allocation fails with ENOMEM", () => {
    const r = rig();
    r.host.faults.arm("hw_queue_alloc:obj_alloc", 1);
    expectErrno(q(r), "ENOMEM");
  });

  it("refuses a page span that overflows size_t with ERANGE", () => {
    expectErrno(q(rig(), { iova: 0x800, length: 0xffff_ffff_ffff_f800n }), "ERANGE");
  });

  it("refuses a page array larger than kvmalloc allows with ENOMEM", () => {
    expectErrno(q(rig(), { iova: 0, length: 1n << 40n }), "ENOMEM");
  });

  it("refuses an IOVA range that is not fully mapped with ENOENT", () => {
    const r = rig();
    expectErrno(q(r, { iova: RAM_BASE + r.ram.size - PAGE, length: 2 * PAGE }), "ENOENT");
  });

  it("refuses pinned pages that are not physically contiguous with EFAULT", () => {
    const r = rig({ ramPage: PAGE, seed: 3 });
    assert.equal(r.ram.isHostContiguous(RAM_BASE, 0x10000), false, "precondition: scattered");
    expectErrno(q(r, { length: 0x10000 }), "EFAULT");
    assert.deepEqual(r.k.pins(), [], "the pins were undone");
  });

  it("fails the copy-out with EFAULT after the driver set the queue up, and undoes it all", () => {
    const r = rig();
    r.host.faults.arm("hw_queue_alloc:copy_to_user", 1);
    expectErrno(q(r), "EFAULT");
    assert.equal(r.host.driver.state().vintfs[1]!.lvcmdqs.length, 0);
    assert.deepEqual(r.k.pins(), []);
    assert.equal(r.host.hw.read(0x200 + 4 * 2, 4) & 1, 0, "CMDQ_ALLOC(2) unmapped again");
  });
});

describe("IOMMU_HW_QUEUE_ALLOC errnos, Tegra241 driver (spec: linux §3.5 driver table)", () => {
  const q = (r: ReturnType<typeof rig>, index: number, iova: number, length: number) =>
    r.k.hwQueueAlloc({
      flags: 0,
      viommuId: r.viommuId,
      type: HW_QUEUE_TYPE.TEGRA241_CMDQV,
      index,
      iova,
      length,
    });

  it("refuses an index at or above the LVCMDQs per VINTF with EINVAL", () => {
    const r = rig();
    expectErrno(q(r, r.host.driver.numLvcmdqsPerVintf, RAM_BASE, PAGE), "EINVAL");
  });

  it("refuses an index already allocated with EEXIST", () => {
    const r = rig();
    unwrap(q(r, 0, RAM_BASE, PAGE));
    expectErrno(q(r, 0, RAM_BASE + PAGE, PAGE), "EEXIST");
  });

  it("refuses an index whose predecessor is missing with EIO", () => {
    expectErrno(q(rig(), 1, RAM_BASE, PAGE), "EIO");
  });

  it("refuses a length that is not a power of two with EINVAL", () => {
    expectErrno(q(rig(), 0, RAM_BASE, 0x3000), "EINVAL");
  });

  it("refuses a length below 32 bytes with EINVAL", () => {
    expectErrno(q(rig(), 0, RAM_BASE, 16), "EINVAL");
  });

  it("refuses a length above 2^(IDR1.CMDQS + 4) with EINVAL", () => {
    const idr: [number, number, number, number, number, number] = [
      0x080f_76bb,
      (0x0273_9d10 & ~(0x1f << 21)) | (8 << 21),
      0,
      0x1414,
      0,
      0x475,
    ];
    const r = rig({ host: { smmu: { idr } } });
    unwrap(q(r, 0, RAM_BASE, 0x1000));
    expectErrno(q(r, 1, RAM_BASE + 0x10_0000, 0x2000), "EINVAL");
  });

  it("refuses a base PA not aligned to the length with EINVAL", () => {
    expectErrno(q(rig(), 0, RAM_BASE + 0x800, 0x1000), "EINVAL");
  });

  it("refuses a base PA with bits above 47 with EINVAL", () => {
    const r = rig({ host: { guestPoolBase: 0x1_0000_0000_0000 } });
    expectErrno(q(r, 0, RAM_BASE, PAGE), "EINVAL");
  });

  it("maps ALLOC, resets the queue and writes only BASE, in the driver's order", () => {
    const r = rig({ host: { traceHostMmio: true } });
    r.host.driver.clearMmioTrace();
    unwrap(q(r, 0, RAM_BASE, PAGE));
    const hpa = r.ram.hpaOf(RAM_BASE);
    const page0 = 0x30000 + 0x20000;
    const page1 = page0 + 0x10000;
    const writes = r.host.driver
      .mmioTrace()
      .filter((a) => a.op === "w32" || a.op === "w64")
      .map((a) => [a.op, a.off, typeof a.value === "bigint" ? a.value : Number(a.value)]);
    assert.deepEqual(writes, [
      ["w32", 0x200 + 4 * 2, (1 << 15) | 1], // CMDQ_ALLOC(2) = VINTF1 | LVCMDQ0 | ALLOC
      ["w32", page0 + 0x08, 0], // CONFIG = 0
      ["w32", page0 + 0x04, 0], // PROD
      ["w32", page0 + 0x00, 0], // CONS
      ["w64", page1 + 0x00, 0n], // BASE
      ["w64", page1 + 0x08, 0n], // CONS_INDX_BASE
      ["w64", page1 + 0x00, BigInt(hpa) | 8n], // BASE = PA | log2(4096/16)
    ]);
  });
});

describe("IOMMU_VEVENTQ_ALLOC errnos (spec: linux §6.4)", () => {
  const a = (r: ReturnType<typeof rig>, over: Record<string, unknown> = {}) =>
    r.k.veventqAlloc({
      flags: 0,
      viommuId: r.viommuId,
      type: VEVENTQ_TYPE.TEGRA241_CMDQV,
      depth: 4,
      ...over,
    });

  it("refuses non-zero flags with EOPNOTSUPP", () =>
    expectErrno(a(rig(), { flags: 1 }), "EOPNOTSUPP"));
  it("refuses a non-zero __reserved with EOPNOTSUPP", () =>
    expectErrno(a(rig(), { reserved: 1 }), "EOPNOTSUPP"));
  it("refuses type DEFAULT with EOPNOTSUPP", () =>
    expectErrno(a(rig(), { type: 0 }), "EOPNOTSUPP"));
  it("refuses depth 0 with EINVAL", () => expectErrno(a(rig(), { depth: 0 }), "EINVAL"));
  it("refuses an unknown vIOMMU with ENOENT", () =>
    expectErrno(a(rig(), { viommuId: 99 }), "ENOENT"));

  it("refuses a second queue of the same type with EEXIST", () => {
    const r = rig();
    unwrap(a(r));
    expectErrno(a(r), "EEXIST");
  });

  it("does not check the type against the driver: an ARM_SMMUV3 queue on a Tegra vIOMMU is fine", () => {
    unwrap(a(rig(), { type: VEVENTQ_TYPE.ARM_SMMUV3 }));
  });
});

describe("IOMMU_DESTROY (spec: linux §6.4, §6.5)", () => {
  it("refuses an unknown id with ENOENT", () => expectErrno(rig().k.destroy(99), "ENOENT"));

  it("refuses the nest-parent HWPT while a vIOMMU holds it with EBUSY", () => {
    const r = rig();
    expectErrno(r.k.destroy(r.hwptId), "EBUSY");
  });

  it("refuses a bound device with EBUSY (VFIO holds it)", () => {
    const r = rig();
    expectErrno(r.k.destroy(r.devId), "EBUSY");
  });

  it("refuses the vIOMMU while a vDEVICE, a vEVENTQ or a HW queue holds it with EBUSY", () => {
    for (const make of ["vdevice", "veventq", "hw_queue"] as const) {
      const r = rig();
      let id = 0;
      if (make === "vdevice")
        id = unwrap(
          r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: r.devId, virtId: 8n }),
        ).vdeviceId;
      if (make === "veventq") {
        const e = unwrap(r.k.veventqAlloc({ flags: 0, viommuId: r.viommuId, type: 2, depth: 1 }));
        e.fd.close();
        id = e.veventqId;
      }
      if (make === "hw_queue")
        id = unwrap(
          r.k.hwQueueAlloc({
            flags: 0,
            viommuId: r.viommuId,
            type: 1,
            index: 0,
            iova: RAM_BASE,
            length: PAGE,
          }),
        ).hwQueueId;
      expectErrno(r.k.destroy(r.viommuId), "EBUSY");
      unwrap(r.k.destroy(id));
      unwrap(r.k.destroy(r.viommuId));
    }
  });

  it("refuses a vEVENTQ whose fd is open with EBUSY", () => {
    const r = rig();
    const e = unwrap(r.k.veventqAlloc({ flags: 0, viommuId: r.viommuId, type: 2, depth: 1 }));
    expectErrno(r.k.destroy(e.veventqId), "EBUSY");
    e.fd.close();
    unwrap(r.k.destroy(e.veventqId));
  });
});
