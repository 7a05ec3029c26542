// The Tegra241 CMDQV device model of the VMM (QEMU hw/arm/tegra241-cmdqv.c, merged as
// v7 for QEMU 11.1, plus v5 and post-merge behaviours selected by a Profile).
//
// It caches the CMDQV register file, decides when the guest's VCMDQ programming is
// complete enough to allocate a host HW queue (BASE, ALLOC, CMDQV enable and VINTF enable,
// in any order), routes allocated queues' page0 accesses to the mmap'd host VINTF page0,
// maps that page into the guest at 0x30000 so the guest reaches hardware with no exit,
// and reflects allocation failures and hardware errors back to the guest.
// Facts: spec qemu §1–§3. Guest input never throws: bad accesses are logged guest errors.

import { hi32, join64, lo32 } from "../../bits/u64.js";
import {
  HW_INFO_TYPE,
  HW_QUEUE_TYPE,
  TEGRA241_VIOMMU_DATA_LEN,
  VEVENT_FLAG_LOST_EVENTS,
  VEVENTQ_TYPE,
  VIOMMU_TYPE,
} from "../../host/kernel/uapi.js";
import type { MmioDevice, SmallSize } from "../../mem/types.js";
import {
  APERTURE,
  BITS,
  CFG,
  type CmdqvTables,
  cmdqvTables,
  decodeAperture,
  TEGRA241_CMDQV_IO_LEN,
  VCMDQ0,
  VCMDQ1,
  VINTF,
} from "../../regs/cmdqv.js";
import { NULL_TRACER, type Tracer } from "../../trace/trace.js";
import type { IrqLine } from "../../util/irq.js";
import { err, ok, type Result } from "../../util/result.js";
import type { IommufdBackend } from "../iommufd-backend.js";
import type { MappingPort, VeventqFdPort } from "../iommufd-port.js";
import type { VmmLog } from "../log.js";
import type { Page0Window, RangeIsRam, SmmuPort } from "./ports.js";
import type { Profile } from "./profile.js";
import { cloneRegs, initRegs, newRegsCache, type RegsCache, resetPage0 } from "./regs-cache.js";

const ACTOR = "vmm.cmdqv";
/** VINTF_PAGE_SIZE: QEMU maps exactly one 64 KiB page. spec: qemu §1.5. */
export const VINTF_PAGE_SIZE = 0x1_0000;
/** vEVENTQ depth 1 << SMMU_EVENTQS (19). spec: qemu §1.5. */
export const VEVENTQ_DEPTH = 1 << 19;
/** A 24-byte Tegra vEVENT record: 8-byte header + two le64 maps. spec: linux §6.6. */
const VEVENT_RECORD = 24;
const SMMU_CMDQS_MAX = 19;

export interface CmdqvDeviceOptions {
  readonly profile: Profile;
  readonly backend: IommufdBackend;
  readonly log: VmmLog;
  readonly irq: IrqLine;
  readonly page0: Page0Window;
  readonly smmu: SmmuPort;
  readonly isRam: RangeIsRam;
  readonly tracer?: Tracer;
  /** VCMDQs exposed to the guest (QEMU: 2). A power of two ≤ the host's per-VINTF count. */
  readonly numVcmdqs?: number;
}

/** A live host HW queue for one VCMDQ. */
export interface HwQueueRecord {
  readonly index: number;
  readonly id: number;
  readonly gpa: number;
  readonly length: number;
}

/** What the last allocation attempt of a VCMDQ did (for the invariant checker). */
export type AttemptOutcome = "none" | "ok" | "failed";

/** Probe result: the host's Tegra241 hw_info. */
export interface ProbeResult {
  readonly version: number;
  readonly log2vcmdqs: number;
  readonly log2vsids: number;
}

/**
 * tegra241_cmdqv_probe: IOMMU_GET_HW_INFO with type TEGRA241_CMDQV and its checks, with
 * the "Host CMDQV: …" messages. spec: qemu §1.3.
 */
export function probeCmdqv(backend: IommufdBackend, devId: number): Result<ProbeResult, string> {
  const r = backend.getDeviceInfo(devId, HW_INFO_TYPE.TEGRA241_CMDQV, 8);
  if (!r.ok) return err(r.error.message);
  if (r.value.outDataType !== HW_INFO_TYPE.TEGRA241_CMDQV)
    return err("Host CMDQV: unexpected data type");
  const d = r.value.data;
  if (!("version" in d)) return err("Host CMDQV: unexpected data type");
  if (d.version !== 1) return err(`Host CMDQV: unsupported version ${d.version}`);
  if (d.log2vcmdqs < 1) return err(`Host CMDQV: insufficient vCMDQs log2=${d.log2vcmdqs}`);
  if (d.log2vsids < 4) return err(`Host CMDQV: insufficient SIDs log2=${d.log2vsids}`);
  return ok({ version: d.version, log2vcmdqs: d.log2vcmdqs, log2vsids: d.log2vsids });
}

export class Tegra241CmdqvDevice implements MmioDevice {
  readonly name = "tegra241-cmdqv";
  /** The MMIO region size (five 64 KiB pages). spec: qemu §1.3. */
  readonly size = TEGRA241_CMDQV_IO_LEN;
  readonly numVcmdqs: number;
  readonly profile: Profile;

  private regs: RegsCache;
  private readonly backend: IommufdBackend;
  private readonly log: VmmLog;
  private readonly irq: IrqLine;
  private readonly page0Window: Page0Window;
  private readonly smmu: SmmuPort;
  private readonly isRam: RangeIsRam;
  private readonly tracer: Tracer;
  /** The register tables for this geometry, built on the first traced access. */
  private table: CmdqvTables | null = null;

  private viommuId = 0;
  private mmapOffset = 0;
  private page0: MappingPort | null = null;
  private veventqId = 0;
  private veventqFd: VeventqFdPort | null = null;
  private readonly hwq: (HwQueueRecord | null)[];
  /** Outcome of each VCMDQ's last HW_QUEUE_ALLOC attempt since it was last freed. */
  private readonly attempt: AttemptOutcome[];
  /** reference: hardware page0 state saved while a queue is freed for its lower neighbour. */
  private readonly parked: (readonly [number, number, number, number] | null)[];
  /** Objects the kernel refused to destroy that this VMM still owns (reference keeps them). */
  private readonly refused: number[] = [];
  /** Objects the VMM forgot after a refused destroy (upstream): host leaks. */
  private readonly leaked: number[] = [];
  private lastSequence = -1;
  private warnedSeq = false;

  constructor(o: CmdqvDeviceOptions) {
    const n = o.numVcmdqs ?? 2;
    if (!(Number.isInteger(n) && n >= 1 && n <= 128 && (n & (n - 1)) === 0))
      throw new RangeError(`numVcmdqs must be a power of two in 1..128, got ${n}`);
    this.numVcmdqs = n;
    this.profile = o.profile;
    this.backend = o.backend;
    this.log = o.log;
    this.irq = o.irq;
    this.page0Window = o.page0;
    this.smmu = o.smmu;
    this.isRam = o.isRam;
    this.tracer = o.tracer ?? NULL_TRACER;
    this.regs = newRegsCache(n);
    this.hwq = new Array<HwQueueRecord | null>(n).fill(null);
    this.attempt = new Array<AttemptOutcome>(n).fill("none");
    this.parked = new Array<readonly [number, number, number, number] | null>(n).fill(null);
    this.clampCmdqs();
  }

  // ---------------------------------------------------------------- vIOMMU ----

  /**
   * tegra241_cmdqv_alloc_viommu: VIOMMU_ALLOC (type 2, 16-byte data), mmap page0 (v7),
   * VEVENTQ_ALLOC (type 2, depth 2^19), unwinding in reverse on failure. spec: qemu §1.5.
   */
  allocViommu(devId: number, s2HwptId: number): Result<number, string> {
    const v = this.backend.allocViommu(
      devId,
      VIOMMU_TYPE.TEGRA241_CMDQV,
      s2HwptId,
      new Uint8Array(TEGRA241_VIOMMU_DATA_LEN),
    );
    if (!v.ok) return err(v.error.message);
    this.viommuId = v.value.viommuId;
    this.mmapOffset = v.value.vintfMmapOffset;
    if (this.profile.page0MmapAt === "viommu-alloc") {
      const m = this.backend.viommuMmap(this.mmapOffset, VINTF_PAGE_SIZE);
      if (!m.ok) {
        this.backend.freeId(this.viommuId);
        this.viommuId = 0;
        return err(`${m.error.message}\nTegra241 CMDQV: failed to mmap VINTF page0`);
      }
      this.page0 = m.value;
    }
    const q = this.backend.allocVeventq(this.viommuId, VEVENTQ_TYPE.TEGRA241_CMDQV, VEVENTQ_DEPTH);
    if (!q.ok) {
      this.unmapPage0();
      this.backend.freeId(this.viommuId);
      this.viommuId = 0;
      return err(`${q.error.message}\nTegra241 CMDQV: failed to alloc veventq`);
    }
    this.veventqId = q.value.veventqId;
    this.veventqFd = q.value.fd;
    return ok(this.viommuId);
  }

  /** tegra241_cmdqv_free_viommu (only on the accel unwind path in v7). spec: qemu §1.3. */
  freeViommu(): void {
    if (this.veventqFd) {
      this.veventqFd.close();
      this.veventqFd = null;
      this.backend.freeId(this.veventqId);
      this.veventqId = 0;
    }
    this.unmapPage0();
    if (this.viommuId) {
      this.backend.freeId(this.viommuId);
      this.viommuId = 0;
    }
  }

  /**
   * VM teardown (QEMU exit): release everything this model owns, in the order that the
   * kernel accepts: guest map, HW queues descending, vEVENTQ, page0, vIOMMU.
   */
  teardown(): void {
    this.releaseQueues();
    this.freeViommu();
  }

  /** The first half of teardown: the guest map, then every HW queue, descending. */
  releaseQueues(): void {
    this.removeGuestMap();
    this.freeAll();
  }

  viommu(): number {
    return this.viommuId;
  }

  // ------------------------------------------------------------------ MMIO ----

  read(offset: number, size: SmallSize): number {
    if (size !== 4) {
      // Valid accesses are 4..8 bytes; the memory core rejects other sizes. spec: qemu §2.1.
      this.log.guestError(`tegra241-cmdqv: bad read size ${size} at 0x${offset.toString(16)}`);
      return 0;
    }
    return this.readReg(offset, false);
  }

  /**
   * Reads ignore the access size (spec qemu §2.1): the 32-bit register, zero-extended,
   * except Page1 BASE_L/CONS_INDX_BASE_L, which return the whole 64-bit value.
   */
  read64(offset: number): bigint {
    const lo = this.readReg(offset, false);
    const hi = this.readReg(offset, true);
    return join64(lo, hi);
  }

  write(offset: number, size: SmallSize, value: number): void {
    if (size !== 4) {
      this.log.guestError(`tegra241-cmdqv: bad write size ${size} at 0x${offset.toString(16)}`);
      return;
    }
    this.writel(offset, value >>> 0);
  }

  write64(offset: number, value: bigint): void {
    this.writell(offset, lo32(value), hi32(value));
  }

  /**
   * The register at `offset` as a u32; with `upper`, the upper half a 64-bit read returns
   * (non-zero only for the Page1 64-bit registers). Allocation-free.
   */
  private readReg(offset: number, upper: boolean): number {
    let v: number;
    let path = "cache";
    if (!(offset >= 0 && offset < TEGRA241_CMDQV_IO_LEN)) {
      if (!upper) this.log.unimp(`tegra241-cmdqv: read off limit 0x${offset.toString(16)}`);
      return 0;
    }
    if (offset < APERTURE.VCMDQ_PAGE0) {
      if (upper) return 0;
      v = this.readConfig(offset);
    } else if (
      offset < APERTURE.VCMDQ_PAGE1 ||
      (offset >= APERTURE.VINTF_PAGE0 && offset < APERTURE.VINTF_PAGE1)
    ) {
      if (upper) return 0;
      const rel =
        offset - (offset < APERTURE.VCMDQ_PAGE1 ? APERTURE.VCMDQ_PAGE0 : APERTURE.VINTF_PAGE0);
      const i = (rel / APERTURE.VCMDQ_STRIDE) | 0;
      const reg = rel % APERTURE.VCMDQ_STRIDE;
      if (i >= this.numVcmdqs || reg > VCMDQ0.GERRORN || reg % 4) {
        this.log.unimp(`tegra241-cmdqv: read unhandled offset 0x${offset.toString(16)}`);
        return 0;
      }
      const hw = this.hwPage0(i);
      if (hw) path = "hw";
      v = hw ? hw.read(APERTURE.VCMDQ_STRIDE * i + reg, 4) : this.cachedPage0(i, reg);
    } else {
      const rel =
        offset - (offset < APERTURE.VINTF_PAGE0 ? APERTURE.VCMDQ_PAGE1 : APERTURE.VINTF_PAGE1);
      const i = (rel / APERTURE.VCMDQ_STRIDE) | 0;
      const reg = rel % APERTURE.VCMDQ_STRIDE;
      const r = this.regs;
      if (i >= this.numVcmdqs || reg > VCMDQ1.CONS_INDX_BASE_H || reg % 4) {
        if (!upper)
          this.log.unimp(`tegra241-cmdqv: read unhandled offset 0x${offset.toString(16)}`);
        return 0;
      }
      if (reg === VCMDQ1.BASE_L) v = upper ? r.baseHi[i]! : r.baseLo[i]!;
      else if (reg === VCMDQ1.CONS_INDX_BASE_L)
        v = upper ? r.consIndxBaseHi[i]! : r.consIndxBaseLo[i]!;
      else if (upper) return 0;
      else v = reg === VCMDQ1.BASE_H ? r.baseHi[i]! : r.consIndxBaseHi[i]!;
    }
    if (this.tracer.enabled && !upper)
      this.tracer.emit(ACTOR, "tegra241_cmdqv_read_mmio", {
        offset,
        value: `0x${v.toString(16)}`,
        path,
        reg: this.regText(offset, v),
      });
    return v;
  }

  /** Trace text for an access: the register's name and fields, e.g. `VCMDQ1_PROD_INDX: WR=0x3`. */
  private regText(offset: number, value: number): string {
    this.table ??= cmdqvTables({
      numVcmdqs: this.numVcmdqs,
      numVintfs: 1,
      numSids: VINTF.MAX_SIDS,
      param: this.regs.param,
      lvcmdqsPerVintf: this.numVcmdqs,
    });
    return decodeAperture(this.table, offset, value);
  }

  private readConfig(offset: number): number {
    const r = this.regs;
    switch (offset) {
      case CFG.CONFIG:
        return r.config;
      case CFG.PARAM:
        return r.param;
      case CFG.STATUS:
        return r.status;
      case CFG.VI_ERR_MAP_0:
      case CFG.VI_ERR_MAP_1:
        return r.viErrMap[(offset - CFG.VI_ERR_MAP_0) >> 2]!;
      case CFG.VI_INT_MASK_0:
      case CFG.VI_INT_MASK_1:
        return r.viIntMask[(offset - CFG.VI_INT_MASK_0) >> 2]!;
      case CFG.VINTF_0 + VINTF.CONFIG:
        return r.vintfConfig;
      case CFG.VINTF_0 + VINTF.STATUS:
        return r.vintfStatus;
    }
    if (offset >= CFG.CMDQ_ERR_MAP_0 && offset < CFG.CMDQ_ERR_MAP_0 + 16 && offset % 4 === 0)
      return r.cmdqErrMap[(offset - CFG.CMDQ_ERR_MAP_0) >> 2]!;
    if (
      offset >= CFG.CMDQ_ALLOC_0 &&
      offset < CFG.CMDQ_ALLOC_0 + 4 * this.numVcmdqs &&
      offset % 4 === 0
    )
      return r.allocMap[(offset - CFG.CMDQ_ALLOC_0) >> 2]!;
    const v = offset - CFG.VINTF_0;
    if (v >= VINTF.SID_MATCH_0 && v < VINTF.SID_MATCH_0 + 64 && v % 4 === 0)
      return r.sidMatch[(v - VINTF.SID_MATCH_0) >> 2]!;
    if (v >= VINTF.SID_REPLACE_0 && v < VINTF.SID_REPLACE_0 + 64 && v % 4 === 0)
      return r.sidReplace[(v - VINTF.SID_REPLACE_0) >> 2]!;
    if (v >= VINTF.LVCMDQ_ERR_MAP_0 && v < VINTF.LVCMDQ_ERR_MAP_0 + 16 && v % 4 === 0)
      return r.lvcmdqErrMap[(v - VINTF.LVCMDQ_ERR_MAP_0) >> 2]!;
    this.log.unimp(`tegra241-cmdqv: read unhandled offset 0x${offset.toString(16)}`);
    return 0;
  }

  private cachedPage0(i: number, reg: number): number {
    const r = this.regs;
    switch (reg) {
      case VCMDQ0.CONS:
        return r.cons[i]!;
      case VCMDQ0.PROD:
        return r.prod[i]!;
      case VCMDQ0.CONFIG:
        return r.vcmdqConfig[i]!;
      case VCMDQ0.STATUS:
        return r.vcmdqStatus[i]!;
      case VCMDQ0.GERROR:
        return r.gerror[i]!;
      default:
        return r.gerrorn[i]!;
    }
  }

  /** A VCMDQ's page0 is HW-backed iff it has a HW queue and page0 is mmap'd. spec: qemu §2.6. */
  private hwPage0(i: number): MappingPort | null {
    return this.hwq[i] !== null ? this.page0 : null;
  }

  private writel(offset: number, value: number): void {
    if (!(offset >= 0 && offset < TEGRA241_CMDQV_IO_LEN)) {
      this.log.unimp(`tegra241-cmdqv: write off limit 0x${offset.toString(16)}`);
      return;
    }
    if (this.tracer.enabled)
      this.tracer.emit(ACTOR, "tegra241_cmdqv_write_mmio", {
        offset,
        value: `0x${value.toString(16)}`,
        size: 4,
        reg: this.regText(offset, value),
      });
    if (offset < APERTURE.VCMDQ_PAGE0) this.writeConfig(offset, value);
    else if (offset < APERTURE.VCMDQ_PAGE1)
      this.writePage0(offset - APERTURE.VCMDQ_PAGE0, value, offset);
    else if (offset < APERTURE.VINTF_PAGE0)
      this.writePage1(offset - APERTURE.VCMDQ_PAGE1, value, 0, 4, offset);
    // VINTF aliases: offset − 0x20000 is the direct aperture. spec: qemu §2.5.
    else if (offset < APERTURE.VINTF_PAGE1)
      this.writePage0(offset - APERTURE.VINTF_PAGE0, value, offset);
    else this.writePage1(offset - APERTURE.VINTF_PAGE1, value, 0, 4, offset);
  }

  /** 8-byte writes are accepted only at Page1 BASE_L and CONS_INDX_BASE_DRAM_L. spec: qemu §2.1. */
  private writell(offset: number, lo: number, hi: number): void {
    const inPage1 = offset >= APERTURE.VCMDQ_PAGE1 && offset < APERTURE.VINTF_PAGE0;
    const inVintf1 = offset >= APERTURE.VINTF_PAGE1 && offset < TEGRA241_CMDQV_IO_LEN;
    if (inPage1 || inVintf1) {
      const rel = offset - (inPage1 ? APERTURE.VCMDQ_PAGE1 : APERTURE.VINTF_PAGE1);
      const reg = rel % APERTURE.VCMDQ_STRIDE;
      if (reg === VCMDQ1.BASE_L || reg === VCMDQ1.CONS_INDX_BASE_L) {
        if (this.tracer.enabled)
          this.tracer.emit(ACTOR, "tegra241_cmdqv_write_mmio", {
            offset,
            value: `0x${join64(lo, hi).toString(16)}`,
            size: 8,
            reg: `${this.regText(offset, lo)}; ${this.regText(offset + 4, hi)}`,
          });
        this.writePage1(rel, lo, hi, 8, offset);
        return;
      }
    }
    this.log.unimp(`tegra241-cmdqv: 8-byte write at 0x${offset.toString(16)} (WI)`);
  }

  private writeConfig(offset: number, value: number): void {
    const r = this.regs;
    switch (offset) {
      case CFG.CONFIG:
        r.config = value;
        if (value & BITS.CMDQV_EN) {
          r.status |= 1;
          this.setupAll();
        } else {
          if (this.profile.cmdqvDisableUnmapsGuestPage0) this.removeGuestMap();
          this.freeAll();
          r.status &= ~1;
        }
        return;
      case CFG.VI_INT_MASK_0:
      case CFG.VI_INT_MASK_1:
        r.viIntMask[(offset - CFG.VI_INT_MASK_0) >> 2] = value;
        return;
      case CFG.VINTF_0 + VINTF.CONFIG:
        this.writeVintfConfig(value);
        return;
    }
    if (
      offset >= CFG.CMDQ_ALLOC_0 &&
      offset < CFG.CMDQ_ALLOC_0 + 4 * this.numVcmdqs &&
      offset % 4 === 0
    ) {
      const i = (offset - CFG.CMDQ_ALLOC_0) >> 2;
      const was = r.allocMap[i]! & BITS.ALLOC;
      r.allocMap[i] = value;
      // The LVCMDQ/VINTF fields are stored but not used: identity mapping. spec: qemu §2.2 [I].
      if (!was && value & BITS.ALLOC) this.setup(i);
      else if (was && !(value & BITS.ALLOC)) this.freeQueue(i);
      return;
    }
    const v = offset - CFG.VINTF_0;
    if (v >= VINTF.SID_MATCH_0 && v < VINTF.SID_MATCH_0 + 64 && v % 4 === 0) {
      r.sidMatch[(v - VINTF.SID_MATCH_0) >> 2] = value;
      return;
    }
    if (v >= VINTF.SID_REPLACE_0 && v < VINTF.SID_REPLACE_0 + 64 && v % 4 === 0) {
      r.sidReplace[(v - VINTF.SID_REPLACE_0) >> 2] = value;
      return;
    }
    this.log.unimp(
      `tegra241-cmdqv: write to unhandled or read-only offset 0x${offset.toString(16)}`,
    );
  }

  /** VINTF0_CONFIG: HYP_OWN is masked off on every write. spec: qemu §2.2, linux §2.3. */
  private writeVintfConfig(value: number): void {
    const r = this.regs;
    r.vintfConfig = (value & ~BITS.VINTF_HYP_OWN) >>> 0;
    if (value & BITS.VINTF_ENABLE) {
      if (this.profile.page0MmapAt === "vintf-enable" && !this.page0) {
        // v5: ENABLE_OK only if the lazy mmap succeeds. spec: qemu §3.5.
        const m = this.backend.viommuMmap(this.mmapOffset, VINTF_PAGE_SIZE);
        if (!m.ok) {
          this.log.error(m.error.message);
          return;
        }
        this.page0 = m.value;
      }
      r.vintfStatus |= 1;
      this.setupAll();
      if (this.profile.guestPage0MapAt === "vintf-enable") this.installGuestMap();
    } else {
      this.removeGuestMap();
      this.freeAll();
      r.vintfStatus &= ~1;
      if (this.profile.page0MmapAt === "vintf-enable") this.unmapPage0();
    }
  }

  private writePage0(rel: number, value: number, offset: number): void {
    const i = (rel / APERTURE.VCMDQ_STRIDE) | 0;
    const reg = rel % APERTURE.VCMDQ_STRIDE;
    if (i >= this.numVcmdqs || reg > VCMDQ0.GERRORN || reg % 4) {
      this.log.unimp(`tegra241-cmdqv: write to unhandled offset 0x${offset.toString(16)}`);
      return;
    }
    const r = this.regs;
    const hw = this.hwPage0(i);
    if (reg === VCMDQ0.STATUS || reg === VCMDQ0.GERROR) {
      this.log.unimp(`tegra241-cmdqv: write to read-only offset 0x${offset.toString(16)}`);
      return;
    }
    if (hw) {
      hw.write(APERTURE.VCMDQ_STRIDE * i + reg, 4, value);
      return;
    }
    switch (reg) {
      case VCMDQ0.CONS:
        r.cons[i] = value;
        return;
      case VCMDQ0.PROD:
        r.prod[i] = value;
        return;
      case VCMDQ0.CONFIG:
        r.vcmdqConfig[i] = value;
        r.vcmdqStatus[i] = value & BITS.CMDQ_EN && this.cacheMayReportEnabled(i) ? 1 : 0;
        return;
      default:
        r.gerrorn[i] = value;
    }
  }

  /**
   * A cached CONFIG.EN=1 reports EN_OK (the emulated enable) unless v7's CMDQ_INIT_ERR is
   * set, or (reference) the queue is ready but waits for its lower neighbour. spec: qemu §2.3.
   */
  private cacheMayReportEnabled(i: number): boolean {
    if (!this.profile.emulatedEnable) return false;
    if (this.profile.cacheEnOkRespectsInitErr && this.regs.gerror[i]! & BITS.GERROR_CMDQ_INIT_ERR)
      return false;
    if (this.profile.orderedAllocation && this.ready(i) && this.blockedByLower(i)) return false;
    return true;
  }

  /** A Page1 write: `lo` (and `hi` for an 8-byte write) at slot offset `rel`. */
  private writePage1(rel: number, lo: number, hi: number, size: 4 | 8, offset: number): void {
    const i = (rel / APERTURE.VCMDQ_STRIDE) | 0;
    const reg = rel % APERTURE.VCMDQ_STRIDE;
    if (i >= this.numVcmdqs) {
      this.log.unimp(`tegra241-cmdqv: write to unhandled offset 0x${offset.toString(16)}`);
      return;
    }
    const r = this.regs;
    switch (reg) {
      case VCMDQ1.BASE_L:
      case VCMDQ1.BASE_H: {
        if (this.profile.ignoreBaseWritesWhileEnabled && this.enabledForBaseGuard(i)) {
          // v5 16/32: "Ignore VCMDQ BASE writes if the VCMDQ is already enabled".
          this.log.guestError(`tegra241-cmdqv: VCMDQ${i} BASE write ignored while enabled`);
          return;
        }
        if (reg === VCMDQ1.BASE_H) r.baseHi[i] = lo;
        else {
          r.baseLo[i] = lo;
          if (size === 8) r.baseHi[i] = hi;
        }
        this.setup(i);
        return;
      }
      case VCMDQ1.CONS_INDX_BASE_L:
        r.consIndxBaseLo[i] = lo;
        if (size === 8) r.consIndxBaseHi[i] = hi;
        return;
      case VCMDQ1.CONS_INDX_BASE_H:
        r.consIndxBaseHi[i] = lo;
        return;
      default:
        this.log.unimp(`tegra241-cmdqv: write to unhandled offset 0x${offset.toString(16)}`);
    }
  }

  /** v5 reads EN_OK from hardware when allocated, else from the cache. */
  private enabledForBaseGuard(i: number): boolean {
    const hw = this.hwPage0(i);
    const status = hw
      ? hw.read(APERTURE.VCMDQ_STRIDE * i + VCMDQ0.STATUS, 4)
      : this.regs.vcmdqStatus[i]!;
    return (status & BITS.CMDQ_EN_OK) !== 0;
  }

  // ------------------------------------------------------------ lifecycle ----

  /** Preconditions of §3.1: BASE ≠ 0, ALLOC, CMDQV enabled, VINTF enabled (and a vIOMMU). */
  ready(i: number): boolean {
    const r = this.regs;
    return (
      this.viommuId !== 0 &&
      (r.baseLo[i]! | r.baseHi[i]!) !== 0 &&
      (r.allocMap[i]! & BITS.ALLOC) !== 0 &&
      (r.status & 1) !== 0 &&
      (r.vintfStatus & 1) !== 0
    );
  }

  private blockedByLower(i: number): boolean {
    return i > 0 && this.hwq[i - 1] === null;
  }

  /** BASE bits [47:5]: the queue's guest-physical address. spec: qemu §2.4. */
  private queueAddr(i: number): number {
    return (this.regs.baseHi[i]! & 0xffff) * 0x1_0000_0000 + ((this.regs.baseLo[i]! & ~0x1f) >>> 0);
  }

  /** 1 << (LOG2SIZE + 4) bytes (16-byte entries). spec: qemu §2.4. */
  private queueLength(i: number): number {
    return 2 ** ((this.regs.baseLo[i]! & 0x1f) + 4);
  }

  /**
   * setup(i), spec qemu §3.3: nothing unless ready; free the previous queue; allocate; on
   * failure mark CMDQ_INIT_ERR and clear EN_OK (v7); on success sync the cache into the
   * host page. Returns false on a failed allocation (setup_all stops there).
   */
  private setup(i: number): boolean {
    if (!this.ready(i)) {
      if (this.profile.freeWhenUnready) this.releaseUnready();
      return true;
    }
    const addr = this.queueAddr(i);
    const length = this.queueLength(i);
    // v5: "Ignore any invalid address. This may come as part of reset etc." spec: qemu §3.1.
    if (this.profile.rangeIsRamCheck && !this.isRam(addr, length)) return true;
    const cur = this.hwq[i];
    if (this.profile.keepIdenticalQueue && cur && cur.gpa === addr && cur.length === length)
      return true;
    if (this.profile.orderedAllocation && this.blockedByLower(i)) {
      // The kernel would answer EIO: wait for the lower neighbour instead. spec: linux §3.5.
      if (this.tracer.enabled)
        this.tracer.emit(ACTOR, "tegra241_cmdqv_setup_deferred", { index: i });
      return true;
    }
    this.freeQueue(i);
    if (this.hwq[i]) return false; // reference: the kernel refused to free it; do not stack another
    const r = this.backend.allocHwQueue(
      this.viommuId,
      HW_QUEUE_TYPE.TEGRA241_CMDQV,
      i,
      addr,
      length,
    );
    if (!r.ok) {
      this.attempt[i] = "failed";
      if (this.profile.reportAllocFailure) {
        this.regs.gerror[i] = (this.regs.gerror[i]! | BITS.GERROR_CMDQ_INIT_ERR) >>> 0;
        this.regs.vcmdqStatus[i] = this.regs.vcmdqStatus[i]! & ~BITS.CMDQ_EN_OK;
      }
      this.log.error(
        this.profile.allocFailureLog === "errno"
          ? `IOMMU_HW_QUEUE_ALLOC failed: error -${r.error.errno}`
          : r.error.message,
      );
      return false;
    }
    this.hwq[i] = { index: i, id: r.value, gpa: addr, length };
    this.attempt[i] = "ok";
    this.regs.gerror[i] = (this.regs.gerror[i]! & ~BITS.GERROR_CMDQ_INIT_ERR) >>> 0;
    this.regs.vcmdqStatus[i] = this.regs.vcmdqStatus[i]! | BITS.CMDQ_EN_OK;
    this.syncToHw(i);
    if (this.profile.guestPage0MapAt === "first-alloc") this.installGuestMap();
    if (this.profile.orderedAllocation) this.setupHigherWaiting(i);
    return true;
  }

  /** reference: after queue i succeeds, allocate the next ready queue that was waiting. */
  private setupHigherWaiting(i: number): void {
    const j = i + 1;
    if (j < this.numVcmdqs && this.hwq[j] === null && this.ready(j)) this.setup(j);
  }

  /**
   * Copy the cached CONS, PROD, CONFIG (and GERRORN in v7) into the host page after an
   * allocation, so a guest that wrote CONFIG.EN before the queue existed ends with an
   * enabled HW queue. reference restores parked hardware state instead. spec: qemu §2.6.
   */
  private syncToHw(i: number): void {
    const page = this.page0;
    if (!page) return;
    const base = APERTURE.VCMDQ_STRIDE * i;
    const parked = this.parked[i];
    const [cons, prod, config, gerrorn] = parked ?? [
      this.regs.cons[i]!,
      this.regs.prod[i]!,
      this.regs.vcmdqConfig[i]!,
      this.regs.gerrorn[i]!,
    ];
    this.parked[i] = null;
    page.write(base + VCMDQ0.CONS, 4, cons);
    page.write(base + VCMDQ0.PROD, 4, prod);
    page.write(base + VCMDQ0.CONFIG, 4, config);
    if (this.profile.syncGerrornOnAlloc) page.write(base + VCMDQ0.GERRORN, 4, gerrorn);
  }

  /** setup_all: ascending, stop at the first failure. spec: qemu §3.2. */
  private setupAll(): void {
    for (let i = 0; i < this.numVcmdqs; i++) if (!this.setup(i)) break;
  }

  /**
   * free(i), spec qemu §3.4: IOMMU_DESTROY the queue and reset its cached page0 (v7).
   * reference first frees higher-index queues (the kernel refuses otherwise) and parks
   * their hardware state to restore when i is allocated again.
   */
  private freeQueue(i: number): void {
    const q = this.hwq[i];
    if (!q) return;
    if (this.profile.rebuildHigherOnFree) {
      for (let j = this.numVcmdqs - 1; j > i; j--) {
        if (this.hwq[j]) {
          this.parkHwState(j);
          this.destroyQueue(j);
        }
      }
    }
    this.destroyQueue(i);
    // A lower queue kept only for this one may go now. spec: linux §3.6.
    if (this.profile.freeWhenUnready) this.releaseUnready();
  }

  private parkHwState(j: number): void {
    const page = this.page0;
    if (!page) return;
    const base = APERTURE.VCMDQ_STRIDE * j;
    this.parked[j] = [
      page.read(base + VCMDQ0.CONS, 4) & ~BITS.CONS_ERR_MASK,
      page.read(base + VCMDQ0.PROD, 4),
      page.read(base + VCMDQ0.CONFIG, 4),
      page.read(base + VCMDQ0.GERRORN, 4),
    ];
  }

  private destroyQueue(i: number): void {
    const q = this.hwq[i];
    if (!q) return;
    const errno = this.backend.freeId(q.id);
    if (errno !== 0) {
      if (this.profile.keepRefusedObjects) {
        this.refused.push(q.id);
        return;
      }
      // Upstream forgets the object: the host keeps it alive with nobody to free it.
      this.leaked.push(q.id);
    }
    this.hwq[i] = null;
    this.attempt[i] = "none";
    if (this.profile.resetCacheOnFree) resetPage0(this.regs, i);
  }

  /**
   * reference: free every allocated queue whose preconditions no longer hold, highest
   * index first, stopping below a queue that is still live (the kernel requires
   * descending destroys, and freeing a lower index would break the live one).
   */
  private releaseUnready(): void {
    for (let j = this.numVcmdqs - 1; j >= 0; j--) {
      if (!this.hwq[j]) continue;
      if (this.ready(j)) return;
      this.destroyQueue(j);
      this.parked[j] = null;
    }
  }

  /** free_all: MAX−1 down to 0, as the uAPI requires. spec: qemu §3.4. */
  private freeAll(): void {
    for (let i = this.numVcmdqs - 1; i >= 0; i--) this.destroyQueue(i);
    for (let i = 0; i < this.numVcmdqs; i++) this.parked[i] = null;
  }

  private installGuestMap(): void {
    if (!this.page0 || this.page0Window.installed()) return;
    this.page0Window.install(this.page0, this.profile.persistentPage0Region);
    if (this.tracer.enabled) this.tracer.emit(ACTOR, "tegra241_cmdqv_map_guest_page0", {});
  }

  private removeGuestMap(): void {
    if (!this.page0Window.installed()) return;
    this.page0Window.remove(this.profile.persistentPage0Region);
    if (this.tracer.enabled) this.tracer.emit(ACTOR, "tegra241_cmdqv_unmap_guest_page0", {});
  }

  private unmapPage0(): void {
    if (!this.page0) return;
    this.removeGuestMap();
    this.backend.munmap(this.page0);
    this.page0 = null;
  }

  // ---------------------------------------------------------- vEVENTQ/IRQ ----

  /**
   * The vEVENTQ fd read handler (main-loop, no thread): copy each event's 128-bit map into
   * VINTF0 LVCMDQ_ERR_MAP (assignment), mirror it into CMDQ_ERR_MAP, set VI_ERR_MAP bit 0,
   * and pulse the IRQ (v7: unless VI_INT_MASK_0 bit 0). spec: qemu §1.7.
   * Returns the number of events handled.
   */
  handleVeventq(): number {
    const fd = this.veventqFd;
    // The main loop calls the handler only when poll() says the fd is readable.
    if (!fd?.readable()) return 0;
    let handled = 0;
    for (;;) {
      const r = fd.read(VEVENT_RECORD * 64);
      if (!r.ok) {
        if (!this.warnedSeq) this.log.warn(`vEVENTQ: read failed: errno ${r.error}`);
        this.warnedSeq = true;
        return handled;
      }
      const buf = r.value;
      if (buf.length === 0) return handled;
      const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      let off = 0;
      while (off + 8 <= buf.length) {
        const flags = dv.getUint32(off, true);
        const seq = dv.getUint32(off + 4, true);
        off += 8;
        this.checkSequence(seq, flags);
        if (flags & VEVENT_FLAG_LOST_EVENTS) continue;
        if (off + 16 > buf.length) break;
        const m0 = dv.getBigUint64(off, true);
        const m1 = dv.getBigUint64(off + 8, true);
        off += 16;
        this.applyErrorEvent(m0, m1);
        handled++;
      }
    }
  }

  /** The main loop's fd handler would run: the vEVENTQ fd is readable. */
  eventsPending(): boolean {
    return this.veventqFd?.readable() ?? false;
  }

  /**
   * The common read/validate helper warns about lost events and sequence gaps (once).
   * Its exact wording is not in the spec [I]: "vEVENTQ: N events lost".
   */
  private checkSequence(seq: number, flags: number): void {
    const expected = this.lastSequence < 0 ? seq : (this.lastSequence + 1) & 0x7fff_ffff;
    if ((flags & VEVENT_FLAG_LOST_EVENTS || seq !== expected) && !this.warnedSeq) {
      this.warnedSeq = true;
      this.log.warn(`vEVENTQ: ${(seq - expected) & 0x7fff_ffff || 1} events lost`);
    }
    this.lastSequence = seq;
  }

  private applyErrorEvent(m0: bigint, m1: bigint): void {
    const r = this.regs;
    const words = [lo32(m0), hi32(m0), lo32(m1), hi32(m1)];
    for (let k = 0; k < 4; k++) {
      r.lvcmdqErrMap[k] = words[k]!;
      r.cmdqErrMap[k] = words[k]!;
    }
    r.viErrMap[0] = (r.viErrMap[0]! | 1) >>> 0;
    const masked = this.profile.irqHonoursMask && (r.viIntMask[0]! & 1) !== 0;
    const nonZero = m0 !== 0n || m1 !== 0n;
    if (this.tracer.enabled)
      this.tracer.emit(ACTOR, "tegra241_cmdqv_err_map", {
        map: `0x${join64(words[0]!, words[1]!).toString(16)}`,
        masked,
      });
    if (nonZero && !masked) {
      this.irq.raise();
      this.irq.lower();
    }
  }

  // ---------------------------------------------------------------- reset ----

  /**
   * Device reset: remove the guest page0 map, free all HW queues (descending),
   * init_regs, clamp IDR1.CMDQS. The vIOMMU, page0 mmap and vEVENTQ survive.
   * spec: qemu §2.7.
   */
  reset(): void {
    this.removeGuestMap();
    this.freeAll();
    initRegs(this.regs);
    this.clampCmdqs();
  }

  /** IDR1.CMDQS = min(ctz(min RAM page) − 4, current CMDQS). spec: qemu §2.9. */
  private clampCmdqs(): void {
    const pg = this.smmu.minRamPageSize();
    const ctz = Math.log2(pg & -pg);
    const cur = Math.min(this.smmu.getCmdqs(), SMMU_CMDQS_MAX);
    this.smmu.setCmdqs(Math.min(ctz - 4, cur));
  }

  // ---------------------------------------------------------------- views ----

  hwQueues(): HwQueueRecord[] {
    return this.hwq.filter((q): q is HwQueueRecord => q !== null);
  }

  lastAttempt(i: number): AttemptOutcome {
    return this.attempt[i] ?? "none";
  }

  /** The queue address and byte length the cached BASE describes. */
  cachedQueue(i: number): { gpa: number; length: number } {
    return { gpa: this.queueAddr(i), length: this.queueLength(i) };
  }

  /** Host objects the VMM lost track of after a refused destroy (upstream leak). */
  leakedObjects(): readonly number[] {
    return this.leaked;
  }

  refusedObjects(): readonly number[] {
    return this.refused;
  }

  page0Mapped(): boolean {
    return this.page0 !== null;
  }

  state(): { regs: RegsCache; hwQueues: HwQueueRecord[]; viommuId: number; page0Mapped: boolean } {
    return {
      regs: cloneRegs(this.regs),
      hwQueues: this.hwQueues(),
      viommuId: this.viommuId,
      page0Mapped: this.page0 !== null,
    };
  }

  /** A read-only view of the cache for tests and reports. */
  cache(): Readonly<RegsCache> {
    return this.regs;
  }
}
