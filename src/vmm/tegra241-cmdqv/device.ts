// The Tegra241 CMDQV device model of the VMM (QEMU hw/arm/tegra241-cmdqv.c, merged as
// v7 for QEMU 11.1, plus v5 and post-merge behaviours selected by a Profile). Messages and
// trace events are QEMU 11.1.3's, word for word (trace-events.ts; the real binary is the
// referee: its format strings, and its behaviour over qtest).
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
import { invalidSizeMessage, pieceSize } from "../smmuv3/access-split.js";
import { strerror } from "../strerror.js";
import type { Page0Window, RangeIsRam, SmmuPort } from "./ports.js";
import type { Profile } from "./profile.js";
import { cloneRegs, initRegs, newRegsCache, type RegsCache, resetPage0 } from "./regs-cache.js";
import { CMDQV_TRACE, hex64 } from "./trace-events.js";

const ACTOR = "vmm.cmdqv";
/** The MemoryRegion's name, as the memory core's messages print it. */
const REGION_NAME = "tegra241-cmdqv";
/** The last byte of upstream's VINTF0 case range: A_VINTF0_CONFIG … A_VINTF0_LVCMDQ_ERR_MAP_3. */
const VINTF_LAST = CFG.VINTF_0 + VINTF.LVCMDQ_ERR_MAP_0 + 12;
/** QEMU's probe constants: CMDQV_VER, CMDQV_NUM_CMDQ_LOG2, CMDQV_NUM_SID_PER_VI_LOG2. */
const CMDQV_VER = 1;
const CMDQV_NUM_CMDQ_LOG2 = 1;
const CMDQV_NUM_SID_PER_VI_LOG2 = 4;
/** sizeof(struct iommufd_vevent_header) + sizeof(struct iommu_vevent_tegra241_cmdqv). */
const VEVENT_HEADER = 8;
/** Linux EAGAIN and EINTR: a read that validate treats as "nothing now". */
const EAGAIN = 11;
const EINTR = 4;

const hex = (n: number): string => n.toString(16);
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
 * upstream's "Host CMDQV: …" messages, numbers included. spec: qemu §1.3.
 */
export function probeCmdqv(backend: IommufdBackend, devId: number): Result<ProbeResult, string> {
  const want = HW_INFO_TYPE.TEGRA241_CMDQV;
  const r = backend.getDeviceInfo(devId, want, 8);
  if (!r.ok) return err(r.error.message);
  const d = r.value.data;
  if (r.value.outDataType !== want || !("version" in d))
    return err(`Host CMDQV: unexpected data type ${r.value.outDataType} (expected ${want})`);
  if (d.version !== CMDQV_VER)
    return err(`Host CMDQV: unsupported version ${d.version} (expected ${CMDQV_VER})`);
  if (d.log2vcmdqs < CMDQV_NUM_CMDQ_LOG2)
    return err(
      `Host CMDQV: insufficient vCMDQs log2=${d.log2vcmdqs} (need >= ${CMDQV_NUM_CMDQ_LOG2})`,
    );
  if (d.log2vsids < CMDQV_NUM_SID_PER_VI_LOG2)
    return err(
      `Host CMDQV: insufficient SIDs log2=${d.log2vsids} (need >= ${CMDQV_NUM_SID_PER_VI_LOG2})`,
    );
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
  /** IOMMUFDVeventq's last_event_seq and event_start (smmuv3_accel_event_read_validate). */
  private lastEventSeq = 0;
  private eventStart = false;
  /** warn_report_err_once in tegra241_cmdqv_event_read: its one-shot flag. */
  private veventqWarned = false;
  /** The high 32 bits of the last readMmio (the 4-byte path builds no bigint). */
  private hiOfLastRead = 0;
  /** Offset of the last byte of upstream's page0 / page1 case ranges, from the aperture base. */
  private readonly page0Last: number;
  private readonly page1Last: number;

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
    this.page0Last = (n - 1) * APERTURE.VCMDQ_STRIDE + VCMDQ0.GERRORN;
    this.page1Last = (n - 1) * APERTURE.VCMDQ_STRIDE + VCMDQ1.CONS_INDX_BASE_H;
    this.traceInitRegs();
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

  /**
   * tegra241_cmdqv_free_viommu. Upstream calls it only on the failure-unwind path of the
   * accel vIOMMU allocation: never at exit, never on the last device's unplug. spec: qemu §1.3.
   */
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
   * QEMU's exit, for this device: no ioctl at all. Upstream's CMDQV has no unrealize or
   * finalize, and smmuv3-accel calls free_viommu only to unwind a failed allocation, so
   * QEMU 11.1.3 exits without one IOMMU_DESTROY (seen over qtest + QMP `quit`). What the
   * process's exit does to the files the device holds is all that happens: the vEVENTQ fd
   * is closed and the page0 mapping goes. The machine closes the VFIO device and iommufd
   * after this; the kernel's release then destroys the HW queues, vEVENTQ and vIOMMU.
   * The model's own guest page0 overlay is removed too (it would point at the unmapped page).
   */
  closeFilesAtExit(): void {
    if (this.veventqFd) {
      this.veventqFd.close();
      this.veventqFd = null;
    }
    this.unmapPage0();
  }

  viommu(): number {
    return this.viommuId;
  }

  // ------------------------------------------------------------------ MMIO ----
  // An access first meets QEMU's memory core: the region's ops (mmio_cmdqv_ops) declare
  // valid and impl sizes 4..8 and no unaligned accesses, so memory_access_size cuts an
  // access into naturally aligned pieces and memory_region_access_valid refuses every
  // piece under 4 bytes (LOG_INVALID_MEM, reads 0, writes dropped). What reaches the
  // device is an aligned 4- or 8-byte access: tegra241_cmdqv_read_mmio / write_mmio.

  read(offset: number, size: SmallSize): number {
    if (size === 4 && (offset & 3) === 0) return this.readMmio(offset, 4);
    let v = 0;
    for (let done = 0; done < size; ) {
      const pos = offset + done;
      const l = pieceSize(pos, size - done);
      if (l === 4) v |= this.readMmio(pos, 4) << (8 * done);
      else this.log.invalidMem(invalidSizeMessage("read", pos, l, REGION_NAME));
      done += l;
    }
    return v >>> 0;
  }

  /** An 8-byte read: whole when 8-aligned, else in the pieces the memory core makes. */
  read64(offset: number): bigint {
    if ((offset & 7) === 0) {
      const lo = this.readMmio(offset, 8);
      return join64(lo, this.hiOfLastRead);
    }
    let v = 0n;
    for (let done = 0; done < 8; ) {
      const pos = offset + done;
      const l = pieceSize(pos, 8 - done);
      if (l === 4) v |= BigInt(this.readMmio(pos, 4)) << BigInt(8 * done);
      else this.log.invalidMem(invalidSizeMessage("read", pos, l, REGION_NAME));
      done += l;
    }
    return v;
  }

  write(offset: number, size: SmallSize, value: number): void {
    if (size === 4 && (offset & 3) === 0) {
      this.writeMmio(offset, 4, value >>> 0, 0);
      return;
    }
    for (let done = 0; done < size; ) {
      const pos = offset + done;
      const l = pieceSize(pos, size - done);
      if (l === 4) this.writeMmio(pos, 4, (value >>> (8 * done)) >>> 0, 0);
      else this.log.invalidMem(invalidSizeMessage("write", pos, l, REGION_NAME));
      done += l;
    }
  }

  write64(offset: number, v: bigint): void {
    if ((offset & 7) === 0) {
      this.writeMmio(offset, 8, lo32(v), hi32(v));
      return;
    }
    for (let done = 0; done < 8; ) {
      const pos = offset + done;
      const l = pieceSize(pos, 8 - done);
      if (l === 4) this.writeMmio(pos, 4, lo32(v >> BigInt(8 * done)), 0);
      else this.log.invalidMem(invalidSizeMessage("write", pos, l, REGION_NAME));
      done += l;
    }
  }

  /** `offset` lies in the direct (base 0x10000) or VINTF (base 0x30000) page0 slots. */
  private inPage0(offset: number, base: number): boolean {
    return offset >= base && offset - base <= this.page0Last;
  }

  private inPage1(offset: number, base: number): boolean {
    return offset >= base && offset - base <= this.page1Last;
  }

  /**
   * tegra241_cmdqv_read_mmio for an aligned 4- or 8-byte access: the value's low 32 bits,
   * its high 32 bits left in hiOfLastRead (only page1 BASE_L and CONS_INDX_BASE_DRAM_L
   * have any). Page0/page1 slots are decoded as upstream's case ranges: VCMDQ0_CONS_INDX
   * up to the last VCMDQ's GERRORN, VCMDQ0_BASE_L up to its CONS_INDX_BASE_DRAM_H; the
   * VINTF apertures are translated to the direct ones first. Allocation-free.
   */
  private readMmio(offset: number, size: 4 | 8): number {
    this.hiOfLastRead = 0;
    let v = 0;
    if (!(offset >= 0 && offset < TEGRA241_CMDQV_IO_LEN)) {
      this.log.unimp(
        `tegra241_cmdqv_read_mmio offset 0x${hex(offset)} off limit (0x${hex(TEGRA241_CMDQV_IO_LEN)})`,
      );
    } else if (offset < APERTURE.VCMDQ_PAGE0) {
      v = this.readConfigPage(offset);
    } else if (this.inPage0(offset, APERTURE.VCMDQ_PAGE0)) {
      return this.readPage0(offset - APERTURE.VCMDQ_PAGE0, true, offset);
    } else if (this.inPage0(offset, APERTURE.VINTF_PAGE0)) {
      return this.readPage0(offset - APERTURE.VINTF_PAGE0, false, offset);
    } else if (this.inPage1(offset, APERTURE.VCMDQ_PAGE1)) {
      return this.readPage1(offset - APERTURE.VCMDQ_PAGE1, true, offset);
    } else if (this.inPage1(offset, APERTURE.VINTF_PAGE1)) {
      return this.readPage1(offset - APERTURE.VINTF_PAGE1, false, offset);
    } else {
      this.log.unimp(`tegra241_cmdqv_read_mmio unhandled read access at 0x${hex(offset)}`);
    }
    if (this.tracer.enabled)
      this.tracer.emit(ACTOR, CMDQV_TRACE.READ_MMIO, {
        offset,
        val: hex64(v, 0),
        size,
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

  /** The config page's cases of tegra241_cmdqv_read_mmio. */
  private readConfigPage(offset: number): number {
    const r = this.regs;
    if (offset === CFG.CONFIG) return r.config;
    if (offset === CFG.PARAM) return r.param;
    if (offset === CFG.STATUS) return r.status;
    if (offset >= CFG.VI_ERR_MAP_0 && offset <= CFG.VI_ERR_MAP_1)
      return r.viErrMap[(offset - CFG.VI_ERR_MAP_0) >> 2]!;
    if (offset >= CFG.VI_INT_MASK_0 && offset <= CFG.VI_INT_MASK_1)
      return r.viIntMask[(offset - CFG.VI_INT_MASK_0) >> 2]!;
    if (offset >= CFG.CMDQ_ERR_MAP_0 && offset <= CFG.CMDQ_ERR_MAP_0 + 12)
      return r.cmdqErrMap[(offset - CFG.CMDQ_ERR_MAP_0) >> 2]!;
    if (offset >= CFG.CMDQ_ALLOC_0 && offset <= CFG.CMDQ_ALLOC_0 + 4 * (this.numVcmdqs - 1))
      return r.allocMap[(offset - CFG.CMDQ_ALLOC_0) >> 2]!;
    if (offset >= CFG.VINTF_0 && offset <= VINTF_LAST) return this.readVintf(offset);
    this.log.unimp(`tegra241_cmdqv_read_mmio unhandled read access at 0x${hex(offset)}`);
    return 0;
  }

  /** tegra241_cmdqv_config_vintf_read (GLB_FILT_CFG/DATA are not emulated). */
  private readVintf(offset: number): number {
    const r = this.regs;
    const v = offset - CFG.VINTF_0;
    if (v === VINTF.CONFIG) return r.vintfConfig;
    if (v === VINTF.STATUS) return r.vintfStatus;
    if (v >= VINTF.SID_MATCH_0 && v <= VINTF.SID_MATCH_0 + 60)
      return r.sidMatch[(v - VINTF.SID_MATCH_0) >> 2]!;
    if (v >= VINTF.SID_REPLACE_0 && v <= VINTF.SID_REPLACE_0 + 60)
      return r.sidReplace[(v - VINTF.SID_REPLACE_0) >> 2]!;
    if (v >= VINTF.LVCMDQ_ERR_MAP_0 && v <= VINTF.LVCMDQ_ERR_MAP_0 + 12)
      return r.lvcmdqErrMap[(v - VINTF.LVCMDQ_ERR_MAP_0) >> 2]!;
    this.log.unimp(`tegra241_cmdqv_config_vintf_read unhandled read access at 0x${hex(offset)}`);
    return 0;
  }

  /**
   * tegra241_cmdqv_read_vcmdq_page0: an allocated queue (HW queue and page0 mmap) reads
   * its slot of the host page at any offset, 0x00–0x7C (tegra241_cmdqv_vintf_lvcmdq_ptr);
   * otherwise the six cached registers, anything else 0 with LOG_UNIMP. `rel` is the
   * offset from the aperture's base.
   */
  private readPage0(rel: number, direct: boolean, offset: number): number {
    const i = (rel / APERTURE.VCMDQ_STRIDE) | 0;
    const reg = rel - i * APERTURE.VCMDQ_STRIDE;
    const hw = this.hwPage0(i);
    let v = 0;
    if (hw) v = hw.read(APERTURE.VCMDQ_STRIDE * i + reg, 4);
    else {
      const r = this.regs;
      switch (reg) {
        case VCMDQ0.CONS:
          v = r.cons[i]!;
          break;
        case VCMDQ0.PROD:
          v = r.prod[i]!;
          break;
        case VCMDQ0.CONFIG:
          v = r.vcmdqConfig[i]!;
          break;
        case VCMDQ0.STATUS:
          v = r.vcmdqStatus[i]!;
          break;
        case VCMDQ0.GERROR:
          v = r.gerror[i]!;
          break;
        case VCMDQ0.GERRORN:
          v = r.gerrorn[i]!;
          break;
        default:
          this.log.unimp(
            `tegra241_cmdqv_read_vcmdq_page0 unhandled read access at 0x${hex(APERTURE.VCMDQ_PAGE0 + reg)}`,
          );
      }
    }
    if (this.tracer.enabled)
      this.tracer.emit(ACTOR, CMDQV_TRACE.READ_VCMDQ_PAGE0, {
        index: i,
        aperture: direct ? "direct" : "vi",
        source: hw ? "hw" : "cache",
        offset0: APERTURE.VCMDQ_PAGE0 + reg,
        val: hex64(v, 0),
        reg: this.regText(offset, v),
      });
    return v;
  }

  /**
   * tegra241_cmdqv_read_vcmdq_page1: BASE_L and CONS_INDX_BASE_DRAM_L give the whole 64-bit
   * register (a 4-byte read keeps the low half), the _H registers its high half.
   */
  private readPage1(rel: number, direct: boolean, offset: number): number {
    const i = (rel / APERTURE.VCMDQ_STRIDE) | 0;
    const reg = rel - i * APERTURE.VCMDQ_STRIDE;
    const r = this.regs;
    let lo = 0;
    let hi = 0;
    switch (reg) {
      case VCMDQ1.BASE_L:
        lo = r.baseLo[i]!;
        hi = r.baseHi[i]!;
        break;
      case VCMDQ1.BASE_H:
        lo = r.baseHi[i]!;
        break;
      case VCMDQ1.CONS_INDX_BASE_L:
        lo = r.consIndxBaseLo[i]!;
        hi = r.consIndxBaseHi[i]!;
        break;
      case VCMDQ1.CONS_INDX_BASE_H:
        lo = r.consIndxBaseHi[i]!;
        break;
      default:
        this.log.unimp(
          `tegra241_cmdqv_read_vcmdq_page1 unhandled read access at 0x${hex(APERTURE.VCMDQ_PAGE1 + reg)}`,
        );
    }
    if (this.tracer.enabled)
      this.tracer.emit(ACTOR, CMDQV_TRACE.READ_VCMDQ_PAGE1, {
        index: i,
        aperture: direct ? "direct" : "vi",
        offset0: APERTURE.VCMDQ_PAGE1 + reg,
        val: hex64(lo, hi),
        reg: this.regText(offset, lo),
      });
    this.hiOfLastRead = hi;
    return lo;
  }

  /** A VCMDQ's page0 is HW-backed iff it has a HW queue and page0 is mmap'd. spec: qemu §2.6. */
  private hwPage0(i: number): MappingPort | null {
    return this.hwq[i] !== null ? this.page0 : null;
  }

  /**
   * tegra241_cmdqv_write_mmio for an aligned 4- or 8-byte access (value `lo`, `hi`), then
   * its trace, as upstream emits it: after the work.
   */
  private writeMmio(offset: number, size: 4 | 8, lo: number, hi: number): void {
    if (!(offset >= 0 && offset < TEGRA241_CMDQV_IO_LEN)) {
      this.log.unimp(
        `tegra241_cmdqv_write_mmio offset 0x${hex(offset)} off limit (0x${hex(TEGRA241_CMDQV_IO_LEN)})`,
      );
    } else if (size === 4) this.writel(offset, lo);
    else this.writell(offset, lo, hi);
    if (this.tracer.enabled)
      this.tracer.emit(ACTOR, CMDQV_TRACE.WRITE_MMIO, {
        offset,
        val: hex64(lo, hi),
        size,
        reg:
          size === 4
            ? this.regText(offset, lo)
            : `${this.regText(offset, lo)}; ${this.regText(offset + 4, hi)}`,
      });
  }

  /** tegra241_cmdqv_writel_mmio (its case ranges are disjoint: tested page slots first). */
  private writel(offset: number, value: number): void {
    if (offset >= APERTURE.VCMDQ_PAGE0) {
      if (this.inPage0(offset, APERTURE.VCMDQ_PAGE0))
        this.writePage0(offset - APERTURE.VCMDQ_PAGE0, value, true);
      else if (this.inPage0(offset, APERTURE.VINTF_PAGE0))
        this.writePage0(offset - APERTURE.VINTF_PAGE0, value, false);
      else if (this.inPage1(offset, APERTURE.VCMDQ_PAGE1))
        this.writePage1(offset - APERTURE.VCMDQ_PAGE1, value, 0, 4, true);
      else if (this.inPage1(offset, APERTURE.VINTF_PAGE1))
        this.writePage1(offset - APERTURE.VINTF_PAGE1, value, 0, 4, false);
      else this.log.unimp(`tegra241_cmdqv_writel_mmio unhandled write access at 0x${hex(offset)}`);
    } else if (offset === CFG.CONFIG) this.writeCmdqvConfig(value);
    else if (offset >= CFG.VI_INT_MASK_0 && offset <= CFG.VI_INT_MASK_1)
      this.regs.viIntMask[(offset - CFG.VI_INT_MASK_0) >> 2] = value;
    else if (offset >= CFG.CMDQ_ALLOC_0 && offset <= CFG.CMDQ_ALLOC_0 + 4 * (this.numVcmdqs - 1))
      this.writeAllocMap((offset - CFG.CMDQ_ALLOC_0) >> 2, value);
    else if (offset >= CFG.VINTF_0 && offset <= VINTF_LAST) this.writeVintf(offset, value);
    else this.log.unimp(`tegra241_cmdqv_writel_mmio unhandled write access at 0x${hex(offset)}`);
  }

  /** tegra241_cmdqv_writell_mmio: only the page1 slots take 8-byte writes. */
  private writell(offset: number, lo: number, hi: number): void {
    if (this.inPage1(offset, APERTURE.VINTF_PAGE1))
      this.writePage1(offset - APERTURE.VINTF_PAGE1, lo, hi, 8, false);
    else if (this.inPage1(offset, APERTURE.VCMDQ_PAGE1))
      this.writePage1(offset - APERTURE.VCMDQ_PAGE1, lo, hi, 8, true);
    else
      this.log.unimp(`tegra241_cmdqv_writell_mmio unhandled 64-bit write at 0x${hex(offset)} (WI)`);
  }

  /** CONFIG: CMDQV_EN allocates what is ready; clearing it frees every queue. */
  private writeCmdqvConfig(value: number): void {
    const r = this.regs;
    r.config = value;
    if (value & BITS.CMDQV_EN) {
      r.status |= 1;
      this.setupAll();
    } else {
      if (this.profile.cmdqvDisableUnmapsGuestPage0) this.removeGuestMap();
      this.freeAll();
      r.status &= ~1;
    }
  }

  /** CMDQ_ALLOC_MAP(i): setup on ALLOC 0→1, free on 1→0. */
  private writeAllocMap(i: number, value: number): void {
    const r = this.regs;
    const was = r.allocMap[i]! & BITS.ALLOC;
    r.allocMap[i] = value;
    // The LVCMDQ/VINTF fields are stored but not used: identity mapping. spec: qemu §2.2 [I].
    if (!was && value & BITS.ALLOC) this.setup(i);
    else if (was && !(value & BITS.ALLOC)) this.freeQueue(i);
  }

  /** tegra241_cmdqv_config_vintf_write. */
  private writeVintf(offset: number, value: number): void {
    const r = this.regs;
    const v = offset - CFG.VINTF_0;
    if (v === VINTF.CONFIG) this.writeVintfConfig(value);
    else if (v >= VINTF.SID_MATCH_0 && v <= VINTF.SID_MATCH_0 + 60)
      r.sidMatch[(v - VINTF.SID_MATCH_0) >> 2] = value;
    else if (v >= VINTF.SID_REPLACE_0 && v <= VINTF.SID_REPLACE_0 + 60)
      r.sidReplace[(v - VINTF.SID_REPLACE_0) >> 2] = value;
    else
      this.log.unimp(
        `tegra241_cmdqv_config_vintf_write unhandled write access at 0x${hex(offset)}`,
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

  /**
   * tegra241_cmdqv_write_vcmdq_page0: an allocated queue takes CONS, PROD, CONFIG and
   * GERRORN in the host page; everything else goes to the cache, where STATUS, GERROR and
   * the slot's other offsets are LOG_UNIMP (ignored).
   */
  private writePage0(rel: number, value: number, direct: boolean): void {
    const i = (rel / APERTURE.VCMDQ_STRIDE) | 0;
    const reg = rel - i * APERTURE.VCMDQ_STRIDE;
    const hw = this.hwPage0(i);
    const toHw =
      hw !== null &&
      (reg === VCMDQ0.CONS ||
        reg === VCMDQ0.PROD ||
        reg === VCMDQ0.CONFIG ||
        reg === VCMDQ0.GERRORN);
    if (toHw) hw.write(APERTURE.VCMDQ_STRIDE * i + reg, 4, value);
    else {
      const r = this.regs;
      switch (reg) {
        case VCMDQ0.CONS:
          r.cons[i] = value;
          break;
        case VCMDQ0.PROD:
          r.prod[i] = value;
          break;
        case VCMDQ0.CONFIG:
          r.vcmdqConfig[i] = value;
          r.vcmdqStatus[i] = value & BITS.CMDQ_EN && this.cacheMayReportEnabled(i) ? 1 : 0;
          break;
        case VCMDQ0.GERRORN:
          r.gerrorn[i] = value;
          break;
        default:
          this.log.unimp(
            `tegra241_cmdqv_write_vcmdq_page0 unhandled write access at 0x${hex(APERTURE.VCMDQ_PAGE0 + reg)}`,
          );
      }
    }
    if (this.tracer.enabled)
      this.tracer.emit(ACTOR, CMDQV_TRACE.WRITE_VCMDQ_PAGE0, {
        index: i,
        aperture: direct ? "direct" : "vi",
        source: toHw ? "hw" : "cache",
        offset0: APERTURE.VCMDQ_PAGE0 + reg,
        val: hex64(value, 0),
      });
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

  /**
   * tegra241_cmdqv_write_vcmdq_page1 (size 4: `lo` at the slot offset) and
   * tegra241_cmdqv_write_vcmdq_page1_64 (size 8: `lo`, `hi`, at BASE_L or
   * CONS_INDX_BASE_DRAM_L only). A BASE write re-runs setup.
   */
  private writePage1(rel: number, lo: number, hi: number, size: 4 | 8, direct: boolean): void {
    const i = (rel / APERTURE.VCMDQ_STRIDE) | 0;
    const reg = rel - i * APERTURE.VCMDQ_STRIDE;
    const r = this.regs;
    const base = reg === VCMDQ1.BASE_L || (size === 4 && reg === VCMDQ1.BASE_H);
    if (base && this.profile.ignoreBaseWritesWhileEnabled && this.enabledForBaseGuard(i)) {
      // v5 16/32: "Ignore VCMDQ BASE writes if the VCMDQ is already enabled".
      this.log.guestError(`tegra241-cmdqv: VCMDQ${i} BASE write ignored while enabled`);
    } else if (reg === VCMDQ1.BASE_L) {
      r.baseLo[i] = lo;
      if (size === 8) r.baseHi[i] = hi;
      this.setup(i);
    } else if (reg === VCMDQ1.BASE_H && size === 4) {
      r.baseHi[i] = lo;
      this.setup(i);
    } else if (reg === VCMDQ1.CONS_INDX_BASE_L) {
      r.consIndxBaseLo[i] = lo;
      if (size === 8) r.consIndxBaseHi[i] = hi;
    } else if (reg === VCMDQ1.CONS_INDX_BASE_H && size === 4) {
      r.consIndxBaseHi[i] = lo;
    } else if (size === 4) {
      this.log.unimp(
        `tegra241_cmdqv_write_vcmdq_page1 unhandled write access at 0x${hex(APERTURE.VCMDQ_PAGE1 + reg)}`,
      );
    } else {
      this.log.unimp(
        `tegra241_cmdqv_write_vcmdq_page1_64 unhandled 64-bit write at 0x${hex(APERTURE.VCMDQ_PAGE1 + reg)}`,
      );
    }
    if (this.tracer.enabled)
      this.tracer.emit(ACTOR, CMDQV_TRACE.WRITE_VCMDQ_PAGE1, {
        index: i,
        aperture: direct ? "direct" : "vi",
        offset0: APERTURE.VCMDQ_PAGE1 + reg,
        val: hex64(lo, size === 8 ? hi : 0),
      });
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
        this.tracer.emit(ACTOR, CMDQV_TRACE.MODEL_SETUP_DEFERRED, { index: i });
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
    if (this.tracer.enabled) this.tracer.emit(ACTOR, CMDQV_TRACE.MODEL_MAP_GUEST_PAGE0, {});
  }

  private removeGuestMap(): void {
    if (!this.page0Window.installed()) return;
    this.page0Window.remove(this.profile.persistentPage0Region);
    if (this.tracer.enabled) this.tracer.emit(ACTOR, CMDQV_TRACE.MODEL_UNMAP_GUEST_PAGE0, {});
  }

  private unmapPage0(): void {
    if (!this.page0) return;
    this.removeGuestMap();
    this.backend.munmap(this.page0);
    this.page0 = null;
  }

  // ---------------------------------------------------------- vEVENTQ/IRQ ----

  /**
   * The main loop running the vEVENTQ fd handler (tegra241_cmdqv_event_read) while poll()
   * says the fd is readable: one 24-byte read per call, as upstream's handler reads one
   * record into its stack buffer. Stops when the fd has nothing more to give or a read
   * fails (the main loop would call again on the next poll). Returns the records read.
   */
  handleVeventq(): number {
    let records = 0;
    for (;;) {
      const fd = this.veventqFd;
      if (!fd?.readable()) return records;
      if (this.eventRead(fd) !== 0) return records;
      records++;
    }
  }

  /** The main loop's fd handler would run: the vEVENTQ fd is readable. */
  eventsPending(): boolean {
    return this.veventqFd?.readable() ?? false;
  }

  /**
   * tegra241_cmdqv_event_read. smmuv3_accel_event_read_validate (QEMU 11.1.3: it returns
   * −1 with an Error, 1 for EAGAIN/EINTR, 0 with a record) reads one record:
   * - a failed read: "vEVENTQ(type %u id %u): read failed (%m)";
   * - 8 bytes with IOMMU_VEVENTQ_FLAG_LOST_EVENTS: "…: overflowed", and event_start is
   *   cleared, so the next record's sequence is not checked;
   * - fewer bytes than a record: "…: short read(%zd/%zd bytes)";
   * - a record whose sequence is not last + 1 (u32 arithmetic) once event_start is set:
   *   warn_report "…: lost %u event(s)", every time, and the record is still used.
   * The handler prints the Error with warn_report_err_once (its one flag, so only the
   * first failure is ever printed). A record whose two maps are both zero is ignored:
   * nothing is set, traced or raised. Otherwise the maps go into VINTF0 LVCMDQ_ERR_MAP
   * (assignment) and CMDQ_ERR_MAP, VI_ERR_MAP_0 bit 0 is set, the IRQ is pulsed unless
   * VI_INT_MASK_0 bit 0 (v7; v5 always pulsed), and err_map is traced. spec: qemu §1.7.
   * Returns upstream's validate result: −1, 1 or 0.
   */
  private eventRead(fd: VeventqFdPort): number {
    const type = VEVENTQ_TYPE.TEGRA241_CMDQV;
    const what = `vEVENTQ(type ${type} id ${this.veventqId})`;
    const r = fd.read(VEVENT_RECORD);
    let failure: string | null = null;
    if (!r.ok) {
      if (r.error === EAGAIN || r.error === EINTR) return 1;
      failure = `${what}: read failed (${strerror(r.error)})`;
    } else if (r.value.length === 0) {
      return 1; // O_NONBLOCK and nothing queued: EAGAIN
    } else {
      const buf = r.value;
      const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      if (buf.length === VEVENT_HEADER && dv.getUint32(0, true) & VEVENT_FLAG_LOST_EVENTS) {
        failure = `${what}: overflowed`;
        this.eventStart = false;
      } else if (buf.length < VEVENT_RECORD) {
        failure = `${what}: short read(${buf.length}/${VEVENT_RECORD} bytes)`;
      } else {
        const seq = dv.getUint32(4, true);
        if (this.eventStart && (seq - this.lastEventSeq) >>> 0 !== 1)
          this.log.warn(`${what}: lost ${(seq - this.lastEventSeq - 1) >>> 0} event(s)`);
        this.lastEventSeq = seq;
        this.eventStart = true;
        this.applyErrorEvent(
          dv.getUint32(8, true),
          dv.getUint32(12, true),
          dv.getUint32(16, true),
          dv.getUint32(20, true),
        );
        return 0;
      }
    }
    if (!this.veventqWarned) {
      this.veventqWarned = true;
      this.log.warn(failure);
    }
    return -1;
  }

  /** The body of tegra241_cmdqv_event_read for a valid record: the maps as four u32. */
  private applyErrorEvent(w0: number, w1: number, w2: number, w3: number): void {
    if ((w0 | w1 | w2 | w3) === 0) return;
    const r = this.regs;
    r.lvcmdqErrMap[0] = r.cmdqErrMap[0] = w0;
    r.lvcmdqErrMap[1] = r.cmdqErrMap[1] = w1;
    r.lvcmdqErrMap[2] = r.cmdqErrMap[2] = w2;
    r.lvcmdqErrMap[3] = r.cmdqErrMap[3] = w3;
    r.viErrMap[0] = (r.viErrMap[0]! | 1) >>> 0;
    if (!(this.profile.irqHonoursMask && (r.viIntMask[0]! & 1) !== 0)) {
      this.irq.raise();
      this.irq.lower();
    }
    if (this.tracer.enabled)
      this.tracer.emit(ACTOR, CMDQV_TRACE.ERR_MAP, { map3: w3, map2: w2, map1: w1, map0: w0 });
  }

  // ---------------------------------------------------------------- reset ----

  /**
   * tegra241_cmdqv_reset: remove the guest page0 map, free all HW queues (descending),
   * init_regs (traced), clamp IDR1.CMDQS. The vIOMMU, page0 mmap and vEVENTQ survive.
   * spec: qemu §2.7.
   */
  reset(): void {
    this.removeGuestMap();
    this.freeAll();
    initRegs(this.regs);
    this.traceInitRegs();
    this.clampCmdqs();
  }

  /** trace_tegra241_cmdqv_init_regs(param), from tegra241_cmdqv_init_regs. */
  private traceInitRegs(): void {
    if (this.tracer.enabled)
      this.tracer.emit(ACTOR, CMDQV_TRACE.INIT_REGS, { param: this.regs.param });
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
