// The host's Tegra241 driver: probe and hw_reset (spec: linux §4.4 on the host, §7
// L-new), the kernel's VINTF0 rings, IOMMU_GET_HW_INFO (§3.2), the ISR's handling of the
// kernel's own queues and its rate-limited message (§2.2, §4.6).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { APERTURE, CFG, VCMDQ0, VCMDQ1, VINTF } from "../../regs/cmdqv.js";
import { VirtualClock } from "../../util/clock.js";
import { createHost } from "../host.js";
import { expectErrno, rig, unwrap } from "./testkit.js";
import {
  HW_INFO_FLAG_INPUT_TYPE,
  HW_INFO_TYPE,
  type HwInfoArmSmmuv3,
  type HwInfoTegra241,
} from "./uapi.js";

const VINTF0 = CFG.VINTF_0;
const LV0_PAGE0 = APERTURE.VINTF_PAGE0;
const LV0_PAGE1 = APERTURE.VINTF_PAGE0 + APERTURE.PAGE_SIZE;

describe("Tegra241 driver probe and hw_reset", () => {
  it("leaves VINTF0 hypervisor-owned and enabled with its two LVCMDQs mapped, based and enabled", () => {
    const host = createHost({ clock: new VirtualClock() });
    const hw = host.hw;
    assert.equal(hw.read(CFG.STATUS, 4) & 1, 1);
    assert.equal(hw.read(VINTF0 + VINTF.CONFIG, 4), (1 << 17) | 1, "HYP_OWN | EN, VMID 0");
    assert.equal(hw.read(VINTF0 + VINTF.STATUS, 4) & 1, 1);
    assert.equal(hw.read(CFG.CMDQ_ALLOC_0, 4), 1, "VINTF0 LVCMDQ0 ALLOC");
    assert.equal(hw.read(CFG.CMDQ_ALLOC_0 + 4, 4), (1 << 1) | 1, "VINTF0 LVCMDQ1 ALLOC");
    assert.equal(hw.read(CFG.CMDQ_ALLOC_0 + 8, 4), 1 << 15, "VINTF1 LVCMDQ0, not allocated");
    assert.equal(hw.read(CFG.CMDQ_ALLOC_0 + 4 * 127, 4), (63 << 15) | (1 << 1));
    for (let l = 0; l < 2; l++) {
      assert.equal(hw.read(LV0_PAGE0 + 0x80 * l + VCMDQ0.STATUS, 4) & 1, 1);
      const base = hw.read64(LV0_PAGE1 + 0x80 * l + VCMDQ1.BASE_L);
      assert.equal(base & 0x1fn, 18n, "2^min(CMDQ_MAX_SZ_SHIFT=18, CMDQS=19) entries");
    }
    assert.deepEqual(host.hostDmesg(), [
      "allocated 262144 entries for vcmdq0",
      "allocated 262144 entries for vcmdq1",
    ]);
  });

  it("issues R1–R4, then VINTF0's V1–V5 and maps/inits its LVCMDQs ascending (spec: linux §4.4)", () => {
    const host = createHost({ clock: new VirtualClock(), traceHostMmio: true });
    const t = host.driver.mmioTrace();
    const w = t.filter((a) => a.op === "w32" || a.op === "w64");
    const idx = (pred: (a: (typeof w)[number]) => boolean) => w.findIndex(pred);
    // R2/R3: CONFIG without EN, then with EN.
    assert.equal(w[0]!.off, CFG.CONFIG);
    assert.equal(Number(w[0]!.value) & 1, 0);
    assert.equal(w[1]!.off, CFG.CONFIG);
    assert.equal(Number(w[1]!.value) & 1, 1);
    // R4: 128 CMDQ_ALLOC writes, ALLOCATED clear.
    const allocs = w.slice(2, 130);
    assert.ok(
      allocs.every((a, q) => a.off === CFG.CMDQ_ALLOC_0 + 4 * q && (Number(a.value) & 1) === 0),
    );
    // V4 before M: VINTF0 enabled before LVCMDQ0 is mapped, and LVCMDQ0 before LVCMDQ1.
    const v4 = idx((a) => a.off === VINTF0 && Number(a.value) === ((1 << 17) | 1));
    const map0 = idx((a) => a.off === CFG.CMDQ_ALLOC_0 && Number(a.value) === 1);
    const map1 = idx((a) => a.off === CFG.CMDQ_ALLOC_0 + 4 && Number(a.value) === 3);
    const en1 = idx((a) => a.off === LV0_PAGE0 + 0x80 + VCMDQ0.CONFIG && Number(a.value) === 1);
    assert.ok(v4 > 129 && map0 > v4 && map1 > map0 && en1 > map1);
    assert.equal(host.hw.stats().mapOrderViolations, 0);
  });

  it("halves a kernel ring that does not fit the DMA pool, as arm_smmu_init_one_queue does", () => {
    const host = createHost({ clock: new VirtualClock(), kernelMemSize: 0x30_0000 });
    assert.deepEqual(host.hostDmesg(), [
      "allocated 131072 entries for vcmdq0",
      "allocated 65536 entries for vcmdq1",
    ]);
  });

  it("derives its counts from PARAM and uses the host SMMU's IDR1.CMDQS for the ring size", () => {
    const idr: [number, number, number, number, number, number] = [
      0x080f_76bb,
      (0x0273_9d10 & ~(0x1f << 21)) | (10 << 21),
      0,
      0x1414,
      0,
      0x475,
    ];
    const host = createHost({
      clock: new VirtualClock(),
      hw: { numVcmdqLog2: 3, numVintfLog2: 1 },
      smmu: { idr },
    });
    assert.equal(host.driver.numLvcmdqsPerVintf, 4);
    assert.equal(host.hostDmesg()[0], "allocated 1024 entries for vcmdq0");
    assert.equal(host.hostDmesg().length, 4);
  });
});

describe("IOMMU_GET_HW_INFO (spec: linux §3.2)", () => {
  it("returns the Tegra241 info for INPUT_TYPE + TEGRA241_CMDQV: version, log2 LVCMDQs per VINTF, log2 SIDs", () => {
    const r = rig({ viommu: false });
    const out = unwrap(
      r.k.getHwInfo({
        flags: HW_INFO_FLAG_INPUT_TYPE,
        devId: r.devId,
        dataLen: 8,
        inDataType: HW_INFO_TYPE.TEGRA241_CMDQV,
      }),
    );
    assert.equal(out.outDataType, HW_INFO_TYPE.TEGRA241_CMDQV);
    assert.equal(out.dataLen, 8);
    assert.deepEqual(out.data as HwInfoTegra241, {
      flags: 0,
      version: 1,
      log2vcmdqs: 1,
      log2vsids: 4,
    });
    assert.deepEqual([...out.bytes!], [0, 0, 0, 0, 1, 1, 4, 0]);
  });

  it("returns the host SMMU's IDRs by default, with IDR1.CMDQS = 19 in bits [25:21]", () => {
    const r = rig({ viommu: false });
    const out = unwrap(r.k.getHwInfo({ flags: 0, devId: r.devId, dataLen: 40, inDataType: 3 }));
    assert.equal(out.outDataType, HW_INFO_TYPE.ARM_SMMUV3);
    const d = out.data as HwInfoArmSmmuv3;
    assert.equal((d.idr[1]! >>> 21) & 0x1f, 19);
    assert.equal(out.dataLen, 40);
    assert.equal(out.outCapabilities, 1n, "dirty tracking: HTTU=HA|HD and COHACC");
  });

  it("copies min(data_len, the kernel's length) and zero-fills the rest", () => {
    const r = rig({ viommu: false });
    const short = unwrap(r.k.getHwInfo({ flags: 1, devId: r.devId, dataLen: 5, inDataType: 3 }));
    assert.deepEqual([...short.bytes!], [0, 0, 0, 0, 1]);
    assert.equal(short.dataLen, 8, "the kernel reports its own length");
    const long = unwrap(r.k.getHwInfo({ flags: 1, devId: r.devId, dataLen: 12, inDataType: 3 }));
    assert.deepEqual([...long.bytes!], [0, 0, 0, 0, 1, 1, 4, 0, 0, 0, 0, 0]);
  });

  it("refuses an unknown device with ENOENT, unknown flags or an unsupported type with EOPNOTSUPP", () => {
    const r = rig({ viommu: false });
    expectErrno(r.k.getHwInfo({ flags: 1, devId: 99, dataLen: 8, inDataType: 3 }), "ENOENT");
    expectErrno(
      r.k.getHwInfo({ flags: 2, devId: r.devId, dataLen: 8, inDataType: 3 }),
      "EOPNOTSUPP",
    );
    expectErrno(
      r.k.getHwInfo({ flags: 1, devId: r.devId, dataLen: 8, inDataType: HW_INFO_TYPE.INTEL_VTD }),
      "EOPNOTSUPP",
    );
    expectErrno(
      r.k.getHwInfo({ size: 16, flags: 1, devId: r.devId, dataLen: 8, inDataType: 3 }),
      "EINVAL",
    );
  });
});

describe("the host ISR", () => {
  /** Make the kernel's own LVCMDQ0 consume an illegal command. */
  function breakVintf0Queue(host: ReturnType<typeof createHost>): number {
    const base = Number(host.hw.read64(LV0_PAGE1 + VCMDQ1.BASE_L) & 0xffff_ffff_ffe0n);
    host.mem.write64(base, 0xffn);
    host.mem.write64(base + 8, 0x1234n);
    host.hw.write(LV0_PAGE0 + VCMDQ0.PROD, 4, 1);
    host.clock.advance(10_000);
    return base;
  }

  it("skips a bad command in a VINTF0 queue by rewriting it as CMD_SYNC and acks GERRORN", () => {
    const host = createHost({ clock: new VirtualClock() });
    const base = breakVintf0Queue(host);
    assert.equal(host.mem.read64(base), 0x46n | (3n << 22n) | (0xfn << 24n), "CMD_SYNC, CS=NONE");
    assert.equal(host.mem.read64(base + 8), 0n);
    const p0 = LV0_PAGE0;
    assert.equal(host.hw.read(p0 + VCMDQ0.GERROR, 4), host.hw.read(p0 + VCMDQ0.GERRORN, 4));
    host.clock.advance(10_000);
    assert.equal(
      host.hw.read(p0 + VCMDQ0.CONS, 4) & 0xf_ffff,
      1,
      "the queue moved past the rewritten entry",
    );
    const d = host.hostDmesg();
    assert.ok(d.includes("CMDQ error (cons 0x01000000): Illegal command"));
    assert.deepEqual(d.slice(-3), [
      "skipping command in error state:",
      "\t0x00000000000000ff",
      "\t0x0000000000001234",
    ]);
    assert.equal(host.driver.isrStats().vintf0Errors, 1);
  });

  it("rate-limits its warning to 10 per 5 s and then reports the suppressed count", () => {
    const host = createHost({ clock: new VirtualClock() });
    const p0 = LV0_PAGE0;
    const base = Number(host.hw.read64(LV0_PAGE1 + VCMDQ1.BASE_L) & 0xffff_ffff_ffe0n);
    for (let i = 0; i < 12; i++) {
      host.mem.write64(base + 16 * i, 0xffn);
      host.hw.write(p0 + VCMDQ0.PROD, 4, i + 1);
      host.clock.advance(10_000);
      host.clock.advance(10_000);
    }
    const warn = (l: string) => l.startsWith("tegra241_cmdqv: unexpected error reported.");
    assert.equal(host.hostDmesg().filter(warn).length, 10);
    host.clock.advance(6_000_000_000);
    host.mem.write64(base + 16 * 12, 0xffn);
    host.hw.write(p0 + VCMDQ0.PROD, 4, 13);
    host.clock.advance(10_000);
    const d = host.hostDmesg();
    assert.ok(d.includes("tegra241_cmdqv_isr: 2 callbacks suppressed"));
    assert.equal(d.filter(warn).length, 11);
  });
});
