// The host's Tegra241 CMDQV driver (drivers/iommu/arm/arm-smmu-v3/tegra241-cmdqv.c, the
// L-new/L-rpi text): probe, the kernel's own VINTF0 with its LVCMDQ rings, hw_reset, the
// user VINTF per vIOMMU, SID mapping per vDEVICE, LVCMDQ per HW queue, and the ISR.
// Every MMIO access is issued in the driver's order, because the hardware model (and the
// VMM above it) can observe the order. spec: linux §1–§4.
//
// Polls follow readl_poll_timeout(…, 1, ARM_SMMU_POLL_TIMEOUT_US): read, test, give up
// after 1 s, else sleep 1 µs; the sleep advances the virtual clock, so the hardware's
// handshakes complete while the driver waits (spec: linux §2.1).

import type { FrameAllocator } from "../../mem/frame-allocator.js";
import type { MmioDevice, PhysMemory } from "../../mem/types.js";
import { APERTURE, BASE_ADDR_MASK, BITS, CFG, VCMDQ0, VCMDQ1, VINTF } from "../../regs/cmdqv.js";
import { CS, encode, SYNC_MSH_ISH, SYNC_MSIATTR_OIWB } from "../../smmu/commands.js";
import { CMDQ_ERR, cmdqErrorString, consErr } from "../../smmu/errors.js";
import type { VirtualClock } from "../../util/clock.js";
import { sprintf } from "../../util/printf.js";
import { err, ok, type Result } from "../../util/result.js";
import type { FaultSite, Faults } from "../faults.js";
import type { IrqSink } from "../hw/types.js";
import type { Dmesg } from "./dmesg.js";
import { ERRNO } from "./errno.js";
import type { HostSmmu } from "./host-smmu.js";
import { Ida } from "./ida.js";
import type {
  DriverCore,
  HwQueueObj,
  IommuDriver,
  UserData,
  VdeviceObj,
  ViommuObj,
  ViommuOps,
} from "./objects.js";
import {
  HW_INFO_TYPE,
  HW_QUEUE_TYPE,
  type HwInfoTegra241,
  invalidateWords,
  TEGRA241_VEVENT_LEN,
  TEGRA241_VIOMMU_DATA_LEN,
  VEVENTQ_TYPE,
  VIOMMU_TYPE,
} from "./uapi.js";

/** What the driver needs of the CMDQV silicon: its MMIO aperture, PA and IRQ line. */
export interface CmdqvHwPort extends MmioDevice {
  readonly basePhys: number;
  onIrq(sink: IrqSink): void;
}

/** ARM_SMMU_POLL_TIMEOUT_US. */
export const POLL_TIMEOUT_NS = 1_000_000_000;
/** The poll's sleep: usleep_range((1 >> 2) + 1, 1) = 1 µs. */
export const POLL_STEP_NS = 1_000;

/** CMDQ_ENT_SZ_SHIFT: a command is 16 bytes. */
const CMDQ_ENT_SZ_SHIFT = 4;
/** arm64 CONFIG_ARCH_FORCE_MAX_ORDER by page size (MAX_PAGE_ORDER). */
const MAX_PAGE_ORDER: Readonly<Record<number, number>> = { 4096: 10, 16384: 11, 65536: 13 };
/** VINTF_SID_MATCH_VIRT_SID is 20 bits. spec: linux §3.4. */
const VIRT_SID_MAX = 0xf_ffffn;
/** CMD_SYNC with CS=NONE, MSH=ISH, MSIATTR=OIWB (arm_smmu_cmdq_build_cmd + CS_NONE). */
const CMD_SYNC_CS_NONE_DW0 = encode({
  op: "CMD_SYNC",
  cs: CS.NONE,
  msh: SYNC_MSH_ISH,
  msiattr: SYNC_MSIATTR_OIWB,
  msidata: 0,
  msiaddr: 0n,
})[0];
/** That CMD_SYNC as the host SMMU's command list takes it: four u32 words. */
const CMD_SYNC_CS_NONE_WORDS = invalidateWords([[CMD_SYNC_CS_NONE_DW0, 0n]]);

export interface Vcmdq {
  /** Global VCMDQ index. */
  readonly idx: number;
  readonly lidx: number;
  readonly vintf: Vintf;
  /** Cached STATUS.EN_OK after the last write_config. */
  enabled: boolean;
  readonly prev: Vcmdq | null;
  /** q_base: ADDR | LOG2SIZE, as written to BASE. */
  readonly qBase: bigint;
  /** Aperture offsets of this LVCMDQ's page0/page1 slots. */
  readonly page0: number;
  readonly page1: number;
  /** Kernel queues (VINTF0): the ring in host memory. */
  readonly ring: { readonly addr: number; readonly log2size: number } | null;
  /** Guest-owned VINTFs install the command filter (spec: linux §4.4 I1). */
  guestFilter: boolean;
  /** The iommufd HW queue object (user queues). */
  readonly hwQueue: HwQueueObj | null;
}

export interface Vintf {
  readonly idx: number;
  enabled: boolean;
  hypOwn: boolean;
  /** The VMID written to CONFIG (vsmmu.vmid; 0 for VINTF0). */
  readonly vmid: number;
  readonly lvcmdqs: (Vcmdq | null)[];
  /** Aperture offset of the VINTF register block. */
  readonly base: number;
  mmapOffset: number;
  readonly sids: Ida;
  readonly viommu: ViommuObj | null;
}

export interface VintfSid {
  readonly vintf: Vintf;
  readonly sid: number;
  readonly idx: number;
}

export interface DriverDeps {
  readonly hw: CmdqvHwPort;
  readonly mem: PhysMemory;
  readonly clock: VirtualClock;
  readonly faults: Faults;
  readonly dmesg: Dmesg;
  /** Kernel DMA memory for the VINTF0 rings. */
  readonly kmem: FrameAllocator;
  readonly smmu: HostSmmu;
  /** Host PAGE_SIZE. */
  readonly pageSize: number;
  /** Record every driver MMIO access (mmioTrace()). */
  readonly traceMmio?: boolean;
}

/** One driver access to the CMDQV aperture (offsets relative to its base). */
export interface MmioAccess {
  readonly t: number;
  readonly op: "r32" | "w32" | "r64" | "w64";
  readonly off: number;
  readonly value: number | bigint;
}

export interface IsrStats {
  /** IRQ edges seen / threaded-handler runs (edges before a run coalesce). */
  readonly edges: number;
  readonly runs: number;
  /** vEVENTs reported to a vEVENTQ (including LOST_EVENTS headers). */
  readonly reported: number;
  /** Reports with no vEVENTQ of the type: dropped (EOPNOTSUPP). */
  readonly dropped: number;
  /** Reports that fell back to a LOST_EVENTS header (GFP_NOWAIT failure). */
  readonly lost: number;
  /** VINTF0 LVCMDQ errors the kernel handled itself. */
  readonly vintf0Errors: number;
}

export interface DriverState {
  readonly numVintfs: number;
  readonly numVcmdqs: number;
  readonly numLvcmdqsPerVintf: number;
  readonly numSidsPerVintf: number;
  readonly vintfs: readonly {
    readonly idx: number;
    readonly enabled: boolean;
    readonly hypOwn: boolean;
    readonly vmid: number;
    readonly mmapOffset: number;
    readonly viommuId: number;
    readonly lvcmdqs: readonly {
      readonly lidx: number;
      readonly idx: number;
      readonly enabled: boolean;
      readonly qBase: string;
      readonly hwQueueId: number;
    }[];
    readonly sids: readonly number[];
  }[];
  readonly isr: IsrStats;
}

export class Tegra241Driver implements IommuDriver {
  readonly numVintfs: number;
  readonly numVcmdqs: number;
  readonly numLvcmdqsPerVintf: number;
  readonly numSidsPerVintf: number;
  readonly basePhys: number;
  private readonly d: DriverDeps;
  private readonly vintfIds = new Ida();
  // The driver's private state per core object (what Linux keeps in the structs that embed
  // the core's): the VINTF behind a vIOMMU, a vDEVICE's SID slot, a HW queue's LVCMDQ.
  private readonly vintfOf = new WeakMap<ViommuObj, Vintf>();
  private readonly vsidOf = new WeakMap<VdeviceObj, VintfSid>();
  private readonly vcmdqOf = new WeakMap<HwQueueObj, Vcmdq>();
  private readonly vintfs: (Vintf | null)[];
  private core: DriverCore | null = null;
  /** Every MMIO access the driver made, when DriverDeps.traceMmio is set. */
  private readonly trace: MmioAccess[] | null;
  private irqPending = false;
  private stats = { edges: 0, runs: 0, reported: 0, dropped: 0, lost: 0, vintf0Errors: 0 };

  /**
   * __tegra241_cmdqv_probe + init_structures + device_reset. A probe failure is a broken
   * world (bad configuration), so it throws; the kernel would fail the SMMU probe.
   */
  constructor(deps: DriverDeps) {
    this.d = deps;
    this.trace = deps.traceMmio === true ? [] : null;
    const hw = deps.hw;
    this.basePhys = hw.basePhys;
    // spec: linux §1.7: counts from PARAM.
    const param = hw.read(CFG.PARAM, 4);
    this.numVintfs = 1 << ((param >>> 8) & 0xf);
    this.numVcmdqs = 1 << ((param >>> 4) & 0xf);
    this.numLvcmdqsPerVintf = this.numVcmdqs / this.numVintfs;
    this.numSidsPerVintf = 1 << ((param >>> 12) & 0xf);
    this.vintfs = new Array<Vintf | null>(this.numVintfs).fill(null);
    // request_threaded_irq after vintfs[] exists. The handler runs from advanceTo(), i.e.
    // after the hardware has finished its step (a threaded IRQ runs after the hard edge).
    hw.onIrq({
      edge: () => {
        this.stats.edges++;
        this.irqPending = true;
      },
    });
    const rc = this.initStructures();
    if (rc !== 0) throw new Error(`tegra241_cmdqv: init_structures failed: -${rc}`);
    const rr = this.hwReset();
    if (rr !== 0) {
      deps.dmesg.smmu("err", "failed to reset impl");
      throw new Error(`tegra241_cmdqv: device_reset failed: -${rr}`);
    }
  }

  /** The iommufd core the driver reports to (set once the core exists). */
  attachCore(core: DriverCore): void {
    this.core = core;
  }

  // ---- MMIO helpers ------------------------------------------------------------------

  private rd(off: number): number {
    const v = this.d.hw.read(off, 4);
    if (this.trace !== null) this.trace.push({ t: this.d.clock.now(), op: "r32", off, value: v });
    return v;
  }

  private wr(off: number, v: number): void {
    if (this.trace !== null)
      this.trace.push({ t: this.d.clock.now(), op: "w32", off, value: v >>> 0 });
    this.d.hw.write(off, 4, v >>> 0);
  }

  private rd64(off: number): bigint {
    const v = this.d.hw.read64(off);
    if (this.trace !== null) this.trace.push({ t: this.d.clock.now(), op: "r64", off, value: v });
    return v;
  }

  private wr64(off: number, v: bigint): void {
    if (this.trace !== null) this.trace.push({ t: this.d.clock.now(), op: "w64", off, value: v });
    this.d.hw.write64(off, v);
  }

  private vintfReg(v: Vintf, off: number): number {
    return v.base + off;
  }

  /**
   * tegra241_cmdqv_write_config: write CONFIG, poll STATUS[0] until it matches; on timeout
   * log "<hdr>failed to <en|dis>able, STATUS=…" and return ETIMEDOUT. `fault` makes the
   * poll time out (the fault site for an enable that never completes).
   */
  private writeConfig(
    cfgOff: number,
    statusOff: number,
    regval: number,
    header: string,
    fault: FaultSite | null,
  ): { ret: number; enabled: boolean } {
    const en = (regval & 1) === 1;
    this.wr(cfgOff, regval);
    let val: number;
    let done: boolean;
    if (fault !== null && this.d.faults.check(fault)) {
      // The handshake never completes: the full timeout elapses.
      this.d.clock.advance(POLL_TIMEOUT_NS);
      val = this.rd(statusOff);
      done = false;
    } else {
      const r = this.poll(statusOff, en ? 1 : 0);
      val = r.val;
      done = r.ok;
    }
    if (!done)
      this.d.dmesg.tegra(
        "err",
        sprintf("%sfailed to %sable, STATUS=0x%08X", header, en ? "en" : "dis", val),
      );
    return { ret: done ? 0 : ERRNO.ETIMEDOUT, enabled: (val & 1) === 1 };
  }

  /** readl_poll_timeout(addr, val, (val & 1) == want, 1, 1 s). */
  private poll(statusOff: number, want: number): { ok: boolean; val: number } {
    const clock = this.d.clock;
    const deadline = clock.now() + POLL_TIMEOUT_NS;
    let val: number;
    for (;;) {
      val = this.rd(statusOff);
      if ((val & 1) === want) break;
      if (clock.now() > deadline) {
        val = this.rd(statusOff);
        break;
      }
      clock.advance(POLL_STEP_NS);
    }
    return { ok: (val & 1) === want, val };
  }

  private cmdqvWriteConfig(regval: number): number {
    return this.writeConfig(CFG.CONFIG, CFG.STATUS, regval, "CMDQV: ", null).ret;
  }

  private vintfWriteConfig(v: Vintf, regval: number, fault: FaultSite | null = null): number {
    const r = this.writeConfig(
      this.vintfReg(v, VINTF.CONFIG),
      this.vintfReg(v, VINTF.STATUS),
      regval,
      `VINTF${v.idx}: `,
      fault,
    );
    v.enabled = r.enabled;
    return r.ret;
  }

  private lvcmdqHeader(q: Vcmdq): string {
    return `VINTF${q.vintf.idx}: VCMDQ${q.idx}/LVCMDQ${q.lidx}: `;
  }

  private vcmdqWriteConfig(q: Vcmdq, regval: number): number {
    const r = this.writeConfig(
      q.page0 + VCMDQ0.CONFIG,
      q.page0 + VCMDQ0.STATUS,
      regval,
      this.lvcmdqHeader(q),
      null,
    );
    q.enabled = r.enabled;
    return r.ret;
  }

  private logQueueRegs(q: Vcmdq): void {
    const gerrorn = this.rd(q.page0 + VCMDQ0.GERRORN);
    const gerror = this.rd(q.page0 + VCMDQ0.GERROR);
    const cons = this.rd(q.page0 + VCMDQ0.CONS);
    this.d.dmesg.tegra(
      "err",
      sprintf(
        "%sGERRORN=0x%X, GERROR=0x%X, CONS=0x%X",
        this.lvcmdqHeader(q),
        gerrorn,
        gerror,
        cons,
      ),
    );
  }

  // ---- HW reset functions (spec: linux §4.4) -------------------------------------------

  /** tegra241_vcmdq_hw_flush_timeout: a waited CMD_SYNC on the SMMU's main CMDQ (§2.6). */
  private flushTimeout(): void {
    this.d.smmu.issueCmdlist(CMD_SYNC_CS_NONE_WORDS, 0, 1, true);
  }

  /** tegra241_vcmdq_hw_deinit: D1–D6. */
  private vcmdqHwDeinit(q: Vcmdq): void {
    if (this.vcmdqWriteConfig(q, 0) !== 0) this.logQueueRegs(q);
    this.flushTimeout();
    this.wr(q.page0 + VCMDQ0.PROD, 0);
    this.wr(q.page0 + VCMDQ0.CONS, 0);
    this.wr64(q.page1 + VCMDQ1.BASE_L, 0n);
    this.wr64(q.page1 + VCMDQ1.CONS_INDX_BASE_L, 0n);
    const gerrorn = this.rd(q.page0 + VCMDQ0.GERRORN);
    const gerror = this.rd(q.page0 + VCMDQ0.GERROR);
    if (gerror !== gerrorn) {
      this.d.dmesg.tegra("warn", `${this.lvcmdqHeader(q)}uncleared error detected, resetting`);
      this.wr(q.page0 + VCMDQ0.GERRORN, gerror);
    }
    this.d.dmesg.tegra("debug", `${this.lvcmdqHeader(q)}deinited`);
  }

  /** tegra241_vcmdq_hw_init (kernel queues): deinit, filter, BASE, enable. */
  private vcmdqHwInit(q: Vcmdq): number {
    this.vcmdqHwDeinit(q);
    // vintf->hyp_own is final here (803e41f36d22).
    if (!q.vintf.hypOwn) q.guestFilter = true;
    this.wr64(q.page1 + VCMDQ1.BASE_L, q.qBase);
    const ret = this.vcmdqWriteConfig(q, BITS.CMDQ_EN);
    if (ret !== 0) {
      this.logQueueRegs(q);
      return ret;
    }
    this.d.dmesg.tegra("debug", `${this.lvcmdqHeader(q)}inited`);
    return 0;
  }

  private unmapLvcmdq(q: Vcmdq): void {
    const off = CFG.CMDQ_ALLOC_0 + 4 * q.idx;
    this.wr(off, this.rd(off) & ~BITS.ALLOC);
    this.d.dmesg.tegra("debug", `${this.lvcmdqHeader(q)}unmapped`);
  }

  private mapLvcmdq(q: Vcmdq): void {
    const off = CFG.CMDQ_ALLOC_0 + 4 * q.idx;
    this.wr(off, this.rd(off) | BITS.ALLOC);
    this.d.dmesg.tegra("debug", `${this.lvcmdqHeader(q)}mapped`);
  }

  /** tegra241_vintf_hw_deinit: LVCMDQs descending, VINTF disable, SID slots zeroed. */
  private vintfHwDeinit(v: Vintf): void {
    for (let lidx = this.numLvcmdqsPerVintf - 1; lidx >= 0; lidx--) {
      const q = v.lvcmdqs[lidx];
      if (q) {
        this.vcmdqHwDeinit(q);
        this.unmapLvcmdq(q);
      }
    }
    this.vintfWriteConfig(v, 0);
    for (let s = 0; s < this.numSidsPerVintf; s++) {
      this.wr(this.vintfReg(v, VINTF.SID_MATCH_0 + 4 * s), 0);
      this.wr(this.vintfReg(v, VINTF.SID_REPLACE_0 + 4 * s), 0);
    }
  }

  /** tegra241_vintf_hw_init: V1–V5 then map and init LVCMDQs ascending. */
  private vintfHwInit(v: Vintf, hypOwn: boolean, enableFault: FaultSite | null): number {
    this.vintfHwDeinit(v);
    const regval = ((hypOwn ? BITS.VINTF_HYP_OWN : 0) | ((v.vmid & 0xffff) << 1)) >>> 0;
    this.wr(this.vintfReg(v, VINTF.CONFIG), regval);
    const ret = this.vintfWriteConfig(v, regval | BITS.VINTF_ENABLE, enableFault);
    if (ret !== 0) return ret;
    // HYP_OWN reads back as wired (a guest reads 0).
    v.hypOwn = (this.rd(this.vintfReg(v, VINTF.CONFIG)) & BITS.VINTF_HYP_OWN) !== 0;
    for (let lidx = 0; lidx < this.numLvcmdqsPerVintf; lidx++) {
      const q = v.lvcmdqs[lidx];
      if (q) {
        this.mapLvcmdq(q);
        const r = this.vcmdqHwInit(q);
        if (r !== 0) {
          this.vintfHwDeinit(v);
          return r;
        }
      }
    }
    return 0;
  }

  /** tegra241_cmdqv_hw_reset: R1–R4, then VINTF0 with HYP_OWN. */
  private hwReset(): number {
    const regval = this.rd(CFG.CONFIG);
    let ret = this.cmdqvWriteConfig(regval & ~BITS.CMDQV_EN);
    if (ret !== 0) return ret;
    ret = this.cmdqvWriteConfig(regval | BITS.CMDQV_EN);
    if (ret !== 0) return ret;
    let qidx = 0;
    for (let idx = 0; idx < this.numVintfs; idx++) {
      for (let lidx = 0; lidx < this.numLvcmdqsPerVintf; lidx++) {
        this.wr(CFG.CMDQ_ALLOC_0 + 4 * qidx++, ((idx << 15) | (lidx << 1)) >>> 0);
      }
    }
    return this.vintfHwInit(this.vintfs[0]!, true, null);
  }

  // ---- resources ---------------------------------------------------------------------

  /** tegra241_cmdqv_init_vintf: an index ≤ maxIdx and an lvcmdqs array. */
  private initVintf(
    maxIdx: number,
    vmid: number,
    viommu: ViommuObj | null,
    fault: FaultSite | null,
  ): Result<Vintf, number> {
    const idx = this.vintfIds.allocMax(maxIdx);
    if (idx < 0) return err(-idx);
    if (fault !== null && this.d.faults.check(fault)) {
      // kcalloc of the lvcmdqs array failed.
      this.vintfIds.free(idx);
      return err(ERRNO.ENOMEM);
    }
    const v: Vintf = {
      idx,
      enabled: false,
      hypOwn: false,
      vmid,
      lvcmdqs: new Array<Vcmdq | null>(this.numLvcmdqsPerVintf).fill(null),
      base: CFG.VINTF_0 + CFG.VINTF_BLOCK_STRIDE * idx,
      mmapOffset: 0,
      sids: new Ida(),
      viommu,
    };
    this.vintfs[idx] = v;
    return ok(v);
  }

  /** tegra241_cmdqv_deinit_vintf: clear the slot, then free the index. */
  private deinitVintf(idx: number): void {
    this.vintfs[idx] = null;
    this.vintfIds.free(idx);
  }

  private page0Of(vintf: number, lidx: number): number {
    return APERTURE.VINTF_PAGE0 + APERTURE.VINTF_STRIDE * vintf + APERTURE.VCMDQ_STRIDE * lidx;
  }

  /** init_structures: VINTF0 (index 0) and its preallocated kernel LVCMDQs. */
  private initStructures(): number {
    const r = this.initVintf(0, 0, null, null);
    if (!r.ok) {
      this.d.dmesg.tegra("err", `failed to init vintf0: ${-r.error}`);
      return r.error;
    }
    const v = r.value;
    for (let lidx = 0; lidx < this.numLvcmdqsPerVintf; lidx++) {
      const q = this.allocKernelLvcmdq(v, lidx);
      if (!q.ok) return q.error;
    }
    return 0;
  }

  /**
   * tegra241_vintf_alloc_lvcmdq + tegra241_vcmdq_alloc_smmu_cmdq: a ring of
   * 2^min(CMDQ_MAX_SZ_SHIFT, IDR1.CMDQS) entries from coherent DMA memory, halving while
   * the allocation fails and the ring is at least a page (arm_smmu_init_one_queue).
   */
  private allocKernelLvcmdq(v: Vintf, lidx: number): Result<Vcmdq, number> {
    const idx = v.idx * this.numLvcmdqsPerVintf + lidx;
    const name = `vcmdq${idx}`;
    const pageShift = Math.log2(this.d.pageSize);
    const maxOrder = MAX_PAGE_ORDER[this.d.pageSize] ?? 10;
    const cmdqMaxSzShift = pageShift + maxOrder - CMDQ_ENT_SZ_SHIFT;
    let shift = Math.min(cmdqMaxSzShift, this.d.smmu.cmdqs());
    let addr: number | undefined;
    let qsz: number;
    for (;;) {
      qsz = 2 ** shift * 16;
      // dma_alloc_coherent: whole pages, naturally aligned to the allocation's order.
      const bytes = Math.max(qsz, this.d.pageSize);
      addr = this.d.kmem.alloc(bytes, bytes);
      if (addr !== undefined || qsz < this.d.pageSize) break;
      shift--;
    }
    if (addr === undefined) {
      this.d.dmesg.smmu(
        "err",
        `failed to allocate queue (0x${qsz.toString(16)} bytes) for ${name}`,
      );
      return err(ERRNO.ENOMEM);
    }
    this.d.dmesg.smmu("info", `allocated ${2 ** shift} entries for ${name}`);
    const q: Vcmdq = {
      idx,
      lidx,
      vintf: v,
      enabled: false,
      prev: null,
      qBase: (BigInt(addr) & BASE_ADDR_MASK) | BigInt(shift),
      page0: this.page0Of(v.idx, lidx),
      page1: this.page0Of(v.idx, lidx) + APERTURE.PAGE_SIZE,
      ring: { addr, log2size: shift },
      guestFilter: false,
      hwQueue: null,
    };
    v.lvcmdqs[lidx] = q;
    this.d.dmesg.tegra("debug", `${this.lvcmdqHeader(q)}allocated`);
    return ok(q);
  }

  // ---- iommufd ops -------------------------------------------------------------------

  /** impl_ops->hw_info (spec: linux §3.2). */
  hwInfo(type: number): Result<HwInfoTegra241, number> {
    if (type !== HW_INFO_TYPE.TEGRA241_CMDQV) return err(ERRNO.EOPNOTSUPP);
    const param = this.rd(CFG.PARAM);
    return ok({
      flags: 0,
      version: param & 0xf,
      log2vcmdqs: Math.log2(this.numLvcmdqsPerVintf),
      log2vsids: Math.log2(this.numSidsPerVintf),
    });
  }

  viommuHwIndex(viommu: ViommuObj): number {
    return this.vintfOf.get(viommu)?.idx ?? -1;
  }

  /** impl_ops->get_viommu_size: only the Tegra241 type. */
  getViommuSize(type: number): number {
    return type === VIOMMU_TYPE.TEGRA241_CMDQV ? 1 : 0;
  }

  /**
   * impl_ops->vsmmu_init = tegra241_cmdqv_init_vintf_user (spec: linux §3.3 step 5). The
   * vIOMMU's vmid is already the nest parent's. On success the vIOMMU gets the Tegra ops.
   */
  viommuInit(viommu: ViommuObj, userData: UserData | null): number {
    const dmesg = this.d.dmesg;
    if (viommu.type !== VIOMMU_TYPE.TEGRA241_CMDQV) return ERRNO.EOPNOTSUPP;
    if (userData === null) return ERRNO.EINVAL;
    // iommu_copy_struct_from_user(&data, user_data, TEGRA241_CMDQV, out_vintf_mmap_length)
    if (userData.type !== VIOMMU_TYPE.TEGRA241_CMDQV) return ERRNO.EINVAL;
    if (userData.len < TEGRA241_VIOMMU_DATA_LEN) return ERRNO.EINVAL;
    if (this.d.faults.check("viommu_alloc:copy_from_user")) return ERRNO.EFAULT;
    for (let i = TEGRA241_VIOMMU_DATA_LEN; i < userData.len; i++)
      if ((userData.bytes[i] ?? 0) !== 0) return ERRNO.E2BIG;

    const r = this.initVintf(this.numVintfs - 1, viommu.vmid, viommu, "viommu_alloc:vintf_alloc");
    if (!r.ok) {
      dmesg.tegra("err", "no more available vintf");
      return r.error;
    }
    const v = r.value;
    // No LVCMDQ yet: user space allocates them one by one (the "security reasons" note).
    let ret = this.vintfHwInit(v, false, "viommu_alloc:vintf_enable");
    if (ret !== 0) {
      this.deinitVintf(v.idx);
      return ret;
    }
    const page0Base = this.basePhys + APERTURE.VINTF_PAGE0 + APERTURE.VINTF_STRIDE * v.idx;
    const m = this.core!.allocMmap(viommu, page0Base, APERTURE.PAGE_SIZE);
    if (!m.ok) {
      this.vintfHwDeinit(v);
      this.deinitVintf(v.idx);
      return m.error;
    }
    v.mmapOffset = m.value;
    // iommu_copy_struct_to_user: the user length must be exactly the struct's (> 16 is
    // EINVAL here, after the VINTF was set up; spec: linux §3.3 step 5).
    ret = 0;
    if (userData.len < TEGRA241_VIOMMU_DATA_LEN || TEGRA241_VIOMMU_DATA_LEN < userData.len)
      ret = ERRNO.EINVAL;
    else if (this.d.faults.check("viommu_alloc:copy_to_user")) ret = ERRNO.EFAULT;
    if (ret !== 0) {
      this.core!.destroyMmap(viommu, v.mmapOffset);
      this.vintfHwDeinit(v);
      this.deinitVintf(v.idx);
      return ret;
    }
    const dv = new DataView(userData.bytes.buffer, userData.bytes.byteOffset, 16);
    dv.setBigUint64(0, BigInt(v.mmapOffset), true);
    dv.setBigUint64(8, BigInt(APERTURE.PAGE_SIZE), true);
    dmesg.tegra("debug", `VINTF${v.idx}: allocated with vmid (${viommu.vmid})`);
    this.vintfOf.set(viommu, v);
    viommu.ops = this.viommuOps;
    return 0;
  }

  /** tegra241_cmdqv_viommu_ops. */
  private readonly viommuOps: ViommuOps = {
    destroy: (v) => this.destroyVintfUser(v),
    cacheInvalidate: true,
    vdeviceSize: true,
    vdeviceInit: (vdev) => this.initVsid(vdev),
    getHwQueueSize: (_v, type) => (type === HW_QUEUE_TYPE.TEGRA241_CMDQV ? 1 : 0),
    hwQueueInitPhys: (q, index, basePa) => this.allocLvcmdqUser(q, index, basePa),
  };

  /** tegra241_cmdqv_destroy_vintf_user (spec: linux §3.7). */
  private destroyVintfUser(viommu: ViommuObj): void {
    const v = this.vintfOf.get(viommu);
    if (v === undefined) return;
    if (v.mmapOffset !== 0) this.core!.destroyMmap(viommu, v.mmapOffset);
    this.vintfHwDeinit(v);
    // tegra241_cmdqv_remove_vintf: no LVCMDQs are left (each HW queue held the vIOMMU).
    for (let lidx = 0; lidx < this.numLvcmdqsPerVintf; lidx++) v.lvcmdqs[lidx] = null;
    this.d.dmesg.tegra("debug", `VINTF${v.idx}: deallocated`);
    this.deinitVintf(v.idx);
    this.vintfOf.delete(viommu);
  }

  /** tegra241_vintf_init_vsid (spec: linux §3.4). */
  private initVsid(vdev: VdeviceObj): number {
    const v = this.vintfOf.get(vdev.viommu)!;
    const virtSid = vdev.virtId;
    if (virtSid > VIRT_SID_MAX) return ERRNO.EINVAL;
    if (vdev.dev.numStreams !== 1) return ERRNO.EOPNOTSUPP;
    if (this.d.faults.check("vdevice_alloc:sid_alloc")) return ERRNO.ENOMEM;
    const sidx = v.sids.allocMax(this.numSidsPerVintf - 1);
    if (sidx < 0) return -sidx;
    const sid = vdev.dev.sid;
    this.wr(this.vintfReg(v, VINTF.SID_REPLACE_0 + 4 * sidx), sid);
    this.wr(this.vintfReg(v, VINTF.SID_MATCH_0 + 4 * sidx), ((Number(virtSid) << 1) | 1) >>> 0);
    this.d.dmesg.tegra(
      "debug",
      `VINTF${v.idx}: allocated SID_REPLACE${sidx} for pSID=${sid.toString(16)}, vSID=${virtSid.toString(16)}`,
    );
    this.vsidOf.set(vdev, { vintf: v, sid, idx: sidx });
    vdev.destroy = (d) => this.destroyVsid(d);
    return 0;
  }

  private destroyVsid(vdev: VdeviceObj): void {
    const s = this.vsidOf.get(vdev)!;
    this.wr(this.vintfReg(s.vintf, VINTF.SID_MATCH_0 + 4 * s.idx), 0);
    this.wr(this.vintfReg(s.vintf, VINTF.SID_REPLACE_0 + 4 * s.idx), 0);
    s.vintf.sids.free(s.idx);
    this.d.dmesg.tegra(
      "debug",
      `VINTF${s.vintf.idx}: deallocated SID_REPLACE${s.idx} for pSID=${s.sid.toString(16)}`,
    );
    this.vsidOf.delete(vdev);
  }

  /** tegra241_vintf_alloc_lvcmdq_user (spec: linux §3.5, driver table, in order). */
  private allocLvcmdqUser(hwQueue: HwQueueObj, lidx: number, basePa: bigint): number {
    const v = this.vintfOf.get(hwQueue.viommu!)!;
    if (hwQueue.type !== HW_QUEUE_TYPE.TEGRA241_CMDQV) return ERRNO.EOPNOTSUPP;
    if (lidx >= this.numLvcmdqsPerVintf) return ERRNO.EINVAL;
    if (v.lvcmdqs[lidx]) return ERRNO.EEXIST;
    // "HW requires to map LVCMDQs in ascending order".
    let prev: Vcmdq | null = null;
    if (lidx > 0) {
      prev = v.lvcmdqs[lidx - 1] ?? null;
      if (prev === null) return ERRNO.EIO;
    }
    // length: a power of 2 in [32, 2^(IDR1.CMDQS + 4)] (the host SMMU's IDR1).
    const length = hwQueue.length;
    const maxLen = 1n << BigInt(this.d.smmu.cmdqs() + CMDQ_ENT_SZ_SHIFT);
    if ((length & (length - 1n)) !== 0n || length < 32n || length > maxLen) return ERRNO.EINVAL;
    const log2size = length.toString(2).length - 1 - CMDQ_ENT_SZ_SHIFT;
    // base_addr_pa inside VCMDQ_ADDR [47:5] and aligned to the length.
    if ((basePa & ~BASE_ADDR_MASK) !== 0n || (basePa & (length - 1n)) !== 0n) return ERRNO.EINVAL;
    // iommufd_hw_queue_depend(vcmdq, prev): HW queue i holds i−1 until it is destroyed.
    if (prev !== null) prev.hwQueue!.users++;
    const idx = v.idx * this.numLvcmdqsPerVintf + lidx;
    const page0 = this.page0Of(v.idx, lidx);
    const q: Vcmdq = {
      idx,
      lidx,
      vintf: v,
      enabled: false,
      prev,
      qBase: (basePa & BASE_ADDR_MASK) | BigInt(log2size),
      page0,
      page1: page0 + APERTURE.PAGE_SIZE,
      ring: null,
      guestFilter: false,
      hwQueue,
    };
    this.d.dmesg.tegra("debug", `${this.lvcmdqHeader(q)}allocated`);
    this.mapLvcmdq(q);
    // tegra241_vcmdq_hw_init_user: full reset, then BASE only; user space enables.
    this.vcmdqHwDeinit(q);
    this.wr64(q.page1 + VCMDQ1.BASE_L, q.qBase);
    this.d.dmesg.tegra(
      "debug",
      sprintf(
        "%sinited at host PA 0x%llx size 0x%lx",
        this.lvcmdqHeader(q),
        q.qBase & BASE_ADDR_MASK,
        1 << log2size,
      ),
    );
    v.lvcmdqs[lidx] = q;
    this.vcmdqOf.set(hwQueue, q);
    hwQueue.destroy = (hq) => this.destroyLvcmdqUser(hq);
    return 0;
  }

  /** tegra241_vintf_destroy_lvcmdq_user (spec: linux §3.6). */
  private destroyLvcmdqUser(hwQueue: HwQueueObj): void {
    const q = this.vcmdqOf.get(hwQueue)!;
    this.vcmdqHwDeinit(q);
    this.unmapLvcmdq(q);
    q.vintf.lvcmdqs[q.lidx] = null;
    this.d.dmesg.tegra("debug", `${this.lvcmdqHeader(q)}deallocated`);
    if (q.prev !== null) q.prev.hwQueue!.users--;
    this.vcmdqOf.delete(hwQueue);
  }

  // ---- ISR (spec: linux §2.2, §3.9) --------------------------------------------------

  /** The threaded handler runs after the hardware step that raised the edge. */
  advanceTo(_t: number): void {
    if (!this.irqPending) return;
    this.irqPending = false;
    this.isr();
  }

  /** tegra241_cmdqv_isr. */
  isr(): void {
    this.stats.runs++;
    const lo = this.rd(CFG.VI_ERR_MAP_0);
    const hi = this.rd(CFG.VI_ERR_MAP_1);
    let vintfMap = (BigInt(hi) << 32n) | BigInt(lo);
    const m3 = this.rd(CFG.CMDQ_ERR_MAP_0 + 12);
    const m2 = this.rd(CFG.CMDQ_ERR_MAP_0 + 8);
    const m1 = this.rd(CFG.CMDQ_ERR_MAP_0 + 4);
    const m0 = this.rd(CFG.CMDQ_ERR_MAP_0);
    this.d.dmesg.tegraRatelimited(
      "tegra241_cmdqv_isr",
      "warn",
      sprintf(
        "unexpected error reported. vintf_map: %016llx, vcmdq_map %08x:%08x:%08x:%08x",
        vintfMap,
        m3,
        m2,
        m1,
        m0,
      ),
    );
    if ((vintfMap & 1n) !== 0n) {
      vintfMap &= ~1n;
      const v0 = this.vintfs[0];
      if (v0) this.vintf0HandleError(v0);
    }
    for (let idx = 1; idx < 64 && vintfMap !== 0n; idx++) {
      const bit = 1n << BigInt(idx);
      if ((vintfMap & bit) === 0n) continue;
      vintfMap &= ~bit;
      // L-new: a bit beyond the count is a HW error; WARN and skip.
      if (idx >= this.numVintfs) continue;
      const v = this.vintfs[idx];
      if (v) this.vintfUserHandleError(v);
    }
  }

  private errMap64(v: Vintf, i: number): bigint {
    return this.rd64(this.vintfReg(v, VINTF.LVCMDQ_ERR_MAP_0 + 8 * i));
  }

  /** tegra241_vintf_user_handle_error: forward the 128-bit map as a vEVENT; never ack. */
  private vintfUserHandleError(v: Vintf): void {
    const data = new Uint8Array(TEGRA241_VEVENT_LEN);
    const dv = new DataView(data.buffer);
    for (let i = 0; i < 2; i++) dv.setBigUint64(8 * i, this.errMap64(v, i), true);
    if (v.viommu === null || this.core === null) return;
    const rc = this.core.reportEvent(v.viommu, VEVENTQ_TYPE.TEGRA241_CMDQV, data);
    if (rc === ERRNO.EOPNOTSUPP) this.stats.dropped++;
    else {
      this.stats.reported++;
      if (rc === ERRNO.ENOMEM) this.stats.lost++;
    }
  }

  /** tegra241_vintf0_handle_error: the kernel skips its own bad commands and acks. */
  private vintf0HandleError(v: Vintf): void {
    for (let i = 0; i < 2; i++) {
      let map = this.errMap64(v, i);
      for (let bit = 0; bit < 64 && map !== 0n; bit++) {
        const b = 1n << BigInt(bit);
        if ((map & b) === 0n) continue;
        map &= ~b;
        const lidx = 64 * i + bit;
        if (lidx >= this.numLvcmdqsPerVintf) continue;
        const q = v.lvcmdqs[lidx];
        if (!q) continue;
        this.stats.vintf0Errors++;
        const gerror = this.rd(q.page0 + VCMDQ0.GERROR);
        this.skipErr(q);
        this.wr(q.page0 + VCMDQ0.GERRORN, gerror);
      }
    }
  }

  /** __arm_smmu_cmdq_skip_err on a kernel VCMDQ (spec: linux §2.2, §4.6). */
  private skipErr(q: Vcmdq): void {
    const cons = this.rd(q.page0 + VCMDQ0.CONS);
    const code = consErr(cons);
    this.d.dmesg.smmu("err", sprintf("CMDQ error (cons 0x%08x): %s", cons, cmdqErrorString(code)));
    if (code === CMDQ_ERR.ABT) {
      this.d.dmesg.smmu("err", "retrying command fetch");
      return;
    }
    if (code === CMDQ_ERR.NONE || code === CMDQ_ERR.ATC_INV_SYNC) return;
    const ring = q.ring;
    if (ring === null) return;
    const ent = ring.addr + (cons & ((1 << ring.log2size) - 1)) * 16;
    const dw0 = this.d.mem.read64(ent) ?? 0n;
    const dw1 = this.d.mem.read64(ent + 8) ?? 0n;
    this.d.dmesg.smmu("err", "skipping command in error state:");
    this.d.dmesg.smmu("err", sprintf("\t0x%016llx", dw0));
    this.d.dmesg.smmu("err", sprintf("\t0x%016llx", dw1));
    // Convert it into a CMD_SYNC; CMDQV queues need CS=NONE (busy polling).
    this.d.mem.write64(ent, CMD_SYNC_CS_NONE_DW0);
    this.d.mem.write64(ent + 8, 0n);
  }

  // ---- introspection -----------------------------------------------------------------

  /** The driver's MMIO accesses so far (empty unless traceMmio was set). */
  mmioTrace(): readonly MmioAccess[] {
    return this.trace ?? [];
  }

  /** Forget the recorded accesses (tests look at one call's sequence). */
  clearMmioTrace(): void {
    if (this.trace !== null) this.trace.length = 0;
  }

  vintfAt(idx: number): Vintf | null {
    return this.vintfs[idx] ?? null;
  }

  isrStats(): IsrStats {
    return { ...this.stats };
  }

  state(): DriverState {
    return {
      numVintfs: this.numVintfs,
      numVcmdqs: this.numVcmdqs,
      numLvcmdqsPerVintf: this.numLvcmdqsPerVintf,
      numSidsPerVintf: this.numSidsPerVintf,
      vintfs: this.vintfs
        .filter((v): v is Vintf => v !== null)
        .map((v) => ({
          idx: v.idx,
          enabled: v.enabled,
          hypOwn: v.hypOwn,
          vmid: v.vmid,
          mmapOffset: v.mmapOffset,
          viommuId: v.viommu?.id ?? 0,
          lvcmdqs: v.lvcmdqs
            .filter((q): q is Vcmdq => q !== null)
            .map((q) => ({
              lidx: q.lidx,
              idx: q.idx,
              enabled: q.enabled,
              qBase: `0x${q.qBase.toString(16)}`,
              hwQueueId: q.hwQueue?.id ?? 0,
            })),
          sids: v.sids.ids(),
        })),
      isr: this.isrStats(),
    };
  }
}
