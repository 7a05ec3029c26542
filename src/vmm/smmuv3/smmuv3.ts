// The SMMUv3 register pages of an accelerated SMMUv3 as QEMU's hw/arm/smmuv3.c models them
// (QEMU virt maps them at 0x0905_0000; this device takes region offsets). The main command
// queue is trapped: a CMDQ_PROD write consumes synchronously, as smmuv3_cmdq_consume does,
// and in accel mode the invalidations go to the host through IOMMU_HWPT_INVALIDATE on the
// vIOMMU (spec: linux §3.10).
//
// facts: QEMU hw/arm/smmuv3.c (smmu_readl/readll/writel/writell, smmuv3_cmdq_consume,
//   smmuv3_trigger_irq, smmuv3_write_gerrorn, smmuv3_init_regs / smmuv3_reset);
//   QEMU hw/arm/smmuv3-internal.h (queue macros: Q_IDX, WRAP_MASK, empty = equal {wrap,idx},
//   queue_cons_incr keeps CONS.ERR); QEMU hw/arm/smmuv3-accel.c (smmuv3_accel_issue_inv_cmd:
//   one command per IOMMU_HWPT_INVALIDATE, failure → CERROR_ILL + error_report).
// Behaviour checked against QEMU 7.2.22 over qtest where noted ("confirmed on 7.2").
// Version differences are profile flags (profile.ts), never version checks here.

import type { MmioDevice, SmallSize } from "../../mem/types.js";
import { MEM_FAULT } from "../../mem/types.js";
import { fieldOf, type RegBlock, withField } from "../../regs/regdef.js";
import {
  decodeSmmuAccess,
  GBPA_UPDATE,
  PAGE1_ALIAS_BIT,
  SMMU_AIDR,
  SMMU_BASE_ADDR_MASK_HI,
  SMMU_BASE_ADDR_MASK_LO,
  SMMU_BITS,
  SMMU_CMDQS,
  SMMU_CR0_RESERVED,
  SMMU_EVENTQS,
  SMMU_F,
  SMMU_GBPA_RESET,
  SMMU_IDR1_SIDSIZE,
  SMMU_IDREG_BYTES,
  SMMU_REG,
  SMMUV3_REGION_NAME,
  smmuv3Block,
} from "../../regs/smmuv3.js";
import { CMD_BYTES, CS, cmdSyncCs } from "../../smmu/commands.js";
import { CMDQ_ERR, withConsErr } from "../../smmu/errors.js";
import { qAdvance, qIdx, qIsEmpty } from "../../smmu/queue.js";
import type { Tracer } from "../../trace/trace.js";
import type { IrqLine } from "../../util/irq.js";
import type { Result } from "../../util/result.js";
import type { VmmLog } from "../log.js";
import { strerror } from "../strerror.js";
import type { SmmuPort } from "../tegra241-cmdqv/ports.js";
import { invalidSizeMessage, pieceSize } from "./access-split.js";
import { CMD_ACTION, cmdAction, isUnknownToQemu } from "./cmd-policy.js";
import { type AccelIdrProps, accelIdrOverride, autoFinaliseIdrs, checkHostIdrs } from "./idr.js";
import type {
  AccelSmmuView,
  GuestMemoryPort,
  SmmuAccelPort,
  SmmuHostPort,
  Smmuv3Irqs,
} from "./ports.js";
import { type IdrValues, QEMU_ACCEL, type Smmuv3Profile } from "./profile.js";

/** Per-index overrides of the profile's reset IDRs, e.g. `{ 1: 0x0273_0010 }`. */
export type IdrOverrides = { readonly [K in 0 | 1 | 2 | 3 | 4 | 5]?: number };

export interface Smmuv3AccelOptions {
  readonly mem: GuestMemoryPort;
  readonly host: SmmuHostPort;
  /**
   * The accel core (smmuv3-accel.c) for the STE installs, GBPA, EVENTQ and reset hooks.
   * Absent: none of them reach the host (a device with no VFIO device behind it).
   */
  readonly accel?: SmmuAccelPort;
  readonly log: VmmLog;
  readonly tracer?: Tracer;
  readonly irqs: Smmuv3Irqs;
  readonly idrs?: IdrOverrides;
  /** qemu_minrampagesize(), for the CMDQV's IDR1.CMDQS clamp. spec: qemu §2.9. */
  readonly minRamPageSize: number;
  /** Which QEMU to be (default: the accel-era QEMU). */
  readonly profile?: Smmuv3Profile;
  readonly name?: string;
}

/** One queue as QEMU keeps it: the raw 64-bit BASE, raw PROD/CONS, the clamped log2size. */
export interface Smmuv3QueueState {
  readonly base: bigint;
  readonly prod: number;
  readonly cons: number;
  readonly log2size: number;
}

export interface Smmuv3Counters {
  /** MMIO accesses that reached the device (VM exits). */
  readonly trapped: number;
  /** Commands consumed (CONS advanced past them). */
  readonly consumed: number;
  /** Commands sent to the host with IOMMU_HWPT_INVALIDATE. */
  readonly forwarded: number;
  /** Host invalidations that failed (each stopped the queue with CERROR_ILL). */
  readonly forwardErrors: number;
  /** Times the queue stopped on an error (CONS.ERR set). */
  readonly cmdqErrors: number;
  /** Consumed commands per opcode, non-zero entries only: { "0x11": 3 }. */
  readonly byOpcode: Readonly<Record<string, number>>;
}

export interface Smmuv3State {
  readonly profile: string;
  readonly idr: readonly number[];
  readonly iidr: number;
  readonly aidr: number;
  readonly cr0: number;
  readonly cr0ack: number;
  readonly cr1: number;
  readonly cr2: number;
  readonly statusr: number;
  readonly gbpa: number;
  readonly irqCtrl: number;
  readonly gerror: number;
  readonly gerrorn: number;
  readonly gerrorIrqCfg0: bigint;
  readonly gerrorIrqCfg1: number;
  readonly gerrorIrqCfg2: number;
  readonly strtabBase: bigint;
  readonly strtabBaseCfg: number;
  readonly cmdq: Smmuv3QueueState;
  readonly eventq: Smmuv3QueueState;
  readonly eventqIrqCfg0: bigint;
  readonly eventqIrqCfg1: number;
  readonly eventqIrqCfg2: number;
  readonly counters: Smmuv3Counters;
}

/** A queue's registers. Mutable, owned by the device. */
interface Queue {
  baseLo: number;
  baseHi: number;
  prod: number;
  cons: number;
  log2size: number;
}

const ACTOR = "vmm.smmuv3";
const R = SMMU_REG;
const B = SMMU_BITS;

function join(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}

/** The queue's ring address as QEMU computes it: BASE & SMMU_BASE_ADDR_MASK ([51:6]). */
function ringAddr(q: Queue): number {
  return (
    (q.baseHi & SMMU_BASE_ADDR_MASK_HI) * 0x1_0000_0000 +
    ((q.baseLo & SMMU_BASE_ADDR_MASK_LO) >>> 0)
  );
}

/** GBPA.ABORT (bit 20). facts: smmuv3-internal.h FIELD(GBPA, ABORT, 20, 1). */
const GBPA_ABORT = 1 << 20;

/** `a & ~MAKE_64BIT_MASK(0, shift)` for an address below 2^52 (0 once shift reaches 52). */
function alignDown(a: number, shift: number): number {
  if (shift >= 52) return 0;
  const m = 2 ** shift;
  return a - (a % m);
}

export class Smmuv3Accel implements MmioDevice, SmmuPort, AccelSmmuView {
  readonly name: string;

  private readonly mem: GuestMemoryPort;
  private readonly host: SmmuHostPort;
  private readonly accel: SmmuAccelPort | null;
  private readonly log: VmmLog;
  private readonly tracer: Tracer | undefined;
  private readonly irqs: Smmuv3Irqs;
  private readonly profile: Smmuv3Profile;
  private readonly pageSize: number;

  /** IDRs as realize leaves them (reset restores them when the profile says so). */
  private realizeIdr: IdrValues;
  private readonly idr = new Uint32Array(6);
  private iidr = 0;
  private aidr = SMMU_AIDR;
  private cr0 = 0;
  private cr0ack = 0;
  private cr1 = 0;
  private cr2 = 0;
  private statusr = 0;
  private gbpa = 0;
  private irqCtrl = 0;
  private gerror = 0;
  private gerrorn = 0;
  private gerrorIrqCfg0Lo = 0;
  private gerrorIrqCfg0Hi = 0;
  private gerrorIrqCfg1 = 0;
  private gerrorIrqCfg2 = 0;
  private strtabBaseLo = 0;
  private strtabBaseHi = 0;
  private strtabBaseCfg = 0;
  /** SMMU_FEATURE_2LVL_STE: set by a STRTAB_BASE_CFG write with FMT=1, cleared by reset. */
  private twoLevelSte = false;
  /** s->sid_split: STRTAB_BASE_CFG.SPLIT of that write. */
  private sidSplit = 0;
  private eventqIrqCfg0Lo = 0;
  private eventqIrqCfg0Hi = 0;
  private eventqIrqCfg1 = 0;
  private eventqIrqCfg2 = 0;
  // A realized device starts zeroed (log2size 0); reset only deposits LOG2SIZE into BASE.
  private readonly cmdq: Queue = { baseLo: 0, baseHi: 0, prod: 0, cons: 0, log2size: 0 };
  private readonly eventq: Queue = { baseLo: 0, baseHi: 0, prod: 0, cons: 0, log2size: 0 };
  /** ringAddr(cmdq), kept in step with CMDQ_BASE writes. */
  private cmdqRing = 0;

  // Counters (not device state: reset keeps them).
  private trapped = 0;
  private consumed = 0;
  private forwarded = 0;
  private forwardErrors = 0;
  private cmdqErrors = 0;
  private readonly byOpcode = new Float64Array(256);

  // Hot-path scratch: one fetched command, which is also the single-entry host batch.
  private readonly words = new Uint32Array(4);

  /** Register table for trace decoding (built once). */
  private readonly table: RegBlock;
  /**
   * A host failure's console message, printed when the consume that hit it returns (QEMU
   * passes errp out of smmuv3_cmdq_consume and smmu_writel reports it afterwards).
   */
  private pendingError: string | null = null;
  /** Console errors the consumer reported (a CR0 write allocates the vEVENTQ only without one). */
  private consumeErrors = 0;
  private consuming = false;
  private consumeAgain = false;

  constructor(opts: Smmuv3AccelOptions) {
    this.name = opts.name ?? "smmuv3";
    this.mem = opts.mem;
    this.host = opts.host;
    this.accel = opts.accel ?? null;
    this.log = opts.log;
    this.tracer = opts.tracer;
    this.irqs = opts.irqs;
    this.profile = opts.profile ?? QEMU_ACCEL;
    this.pageSize = opts.minRamPageSize;
    const base = this.profile.idr;
    const o = opts.idrs ?? {};
    this.realizeIdr = [
      (o[0] ?? base[0]) >>> 0,
      (o[1] ?? base[1]) >>> 0,
      (o[2] ?? base[2]) >>> 0,
      (o[3] ?? base[3]) >>> 0,
      (o[4] ?? base[4]) >>> 0,
      (o[5] ?? base[5]) >>> 0,
    ];
    this.idr.set(this.realizeIdr);
    this.table = smmuv3Block({ idr: this.realizeIdr, gbpa: this.profile.gbpa });
    this.reset();
  }

  // ------------------------------------------------------------- SmmuPort ----

  /** IDR1.CMDQS as the guest reads it. */
  getCmdqs(): number {
    return fieldOf(this.idr[1]!, SMMU_F.IDR1.CMDQS);
  }

  /**
   * Set IDR1.CMDQS (the CMDQV clamp, spec: qemu §2.9). QEMU still clamps a guest's
   * CMDQ_BASE.LOG2SIZE to SMMU_CMDQS (19), not to this field. A value outside 0..31 is a
   * model bug.
   */
  setCmdqs(cmdqs: number): void {
    if (!Number.isInteger(cmdqs) || cmdqs < 0 || cmdqs > 31)
      throw new RangeError(`IDR1.CMDQS ${cmdqs} outside 0..31`);
    this.idr[1] = withField(this.idr[1]!, SMMU_F.IDR1.CMDQS, cmdqs);
  }

  minRamPageSize(): number {
    return this.pageSize;
  }

  // ------------------------------------------------------ accel ID registers ----

  /**
   * The accel properties (ril, ats, oas, ssidsize) as smmuv3_accel_idr_override applies
   * them at realize. facts: QEMU hw/arm/smmuv3-accel.c.
   */
  applyAccelProps(props: AccelIdrProps): void {
    this.realizeIdr = accelIdrOverride(this.realizeIdr, props);
    this.idr.set(accelIdrOverride(this.currentIdr(), props));
  }

  /**
   * What accel QEMU does with the host SMMU's IDRs on a device attach: it checks them
   * against the guest-visible IDRs (smmuv3_accel_check_hw_compatible) and takes no value
   * from them. An error is the attach failure message; no register changes either way.
   */
  applyHostIdrs(hostIdr: readonly number[]): Result<undefined, string> {
    return checkHostIdrs(this.currentIdr(), hostIdr);
  }

  private currentIdr(): IdrValues {
    const i = this.idr;
    return [i[0]!, i[1]!, i[2]!, i[3]!, i[4]!, i[5]!];
  }

  // ------------------------------------------------ the accel core's view ----

  /** smmuv3_accel_auto_finalise: the `auto` properties take the host's values. */
  finaliseAutoProps(hostIdr: readonly number[]): void {
    this.realizeIdr = autoFinaliseIdrs(this.realizeIdr, hostIdr);
    this.idr.set(autoFinaliseIdrs(this.currentIdr(), hostIdr));
  }

  checkHostIdrs(hostIdr: readonly number[]): string | null {
    const r = checkHostIdrs(this.currentIdr(), hostIdr);
    return r.ok ? null : r.error;
  }

  smmuEnabled(): boolean {
    return (this.cr0 & B.CR0_SMMUEN) !== 0;
  }

  gbpaAbort(): boolean {
    return (this.gbpa & GBPA_ABORT) !== 0;
  }

  eventqEnabled(): boolean {
    return (this.cr0 & B.CR0_EVENTQEN) !== 0;
  }

  eventqLog2size(): number {
    return this.eventq.log2size;
  }

  /**
   * smmu_find_ste with invalid STEs allowed (as smmuv3_accel_install_ste calls it): the
   * SID checked against STRTAB_BASE_CFG.LOG2SIZE (capped at SIDSIZE 16), the L1 descriptor
   * read for a 2-level table (span 0: no STE, silently), then the 64-byte STE fetched; its
   * first four words go to `out`. A fetch fault or an L2 index past the span is a guest
   * error and no STE. No allocation. facts: QEMU hw/arm/smmuv3.c smmu_find_ste,
   * smmu_get_ste; smmuv3-internal.h L1STD_SPAN, l1std_l2ptr.
   */
  findSte(sid: number, out: Uint32Array): boolean {
    const log2size = this.strtabBaseCfg & 0x3f;
    if (sid >= 2 ** Math.min(log2size, SMMU_IDR1_SIDSIZE)) return false;
    const base =
      (this.strtabBaseHi & SMMU_BASE_ADDR_MASK_HI) * 0x1_0000_0000 +
      ((this.strtabBaseLo & SMMU_BASE_ADDR_MASK_LO) >>> 0);
    let addr: number;
    if (this.twoLevelSte) {
      const split = this.sidSplit;
      const l1ptr =
        alignDown(base, Math.max(5, log2size - split - 1 + 3)) + Math.floor(sid / 2 ** split) * 8;
      const d0 = this.mem.read(l1ptr, 4);
      const d1 = d0 === MEM_FAULT ? MEM_FAULT : this.mem.read(l1ptr + 4, 4);
      if (d0 === MEM_FAULT || d1 === MEM_FAULT) {
        this.log.guestError(`Could not read L1PTR at 0X${l1ptr.toString(16)}`);
        return false;
      }
      const span = d0 & 0x1f;
      if (span === 0) return false;
      const l2 = sid % 2 ** split;
      const maxL2 = 2 ** span - 1;
      if (l2 > maxL2) {
        this.log.guestError(`l2_ste_offset=${l2} > max_l2_ste=${maxL2}`);
        return false;
      }
      addr = d1 * 0x1_0000_0000 + ((d0 & ~0x1f) >>> 0) + l2 * 64;
    } else {
      addr = alignDown(base, log2size + 5) + sid * 64;
    }
    for (let i = 0; i < 16; i++) {
      const v = this.mem.read(addr + 4 * i, 4);
      if (v === MEM_FAULT) {
        this.log.guestError(`Cannot fetch pte at address=0x${addr.toString(16)}`);
        return false;
      }
      if (i < 4) out[i] = v;
    }
    return true;
  }

  // ------------------------------------------------------------------ reset ----

  /**
   * Device reset: smmuv3_reset (accel era) / smmuv3_init_regs (7.2). CR0, CR0ACK,
   * IRQ_CTRL, GERROR, GERRORN, STATUSR, queue PROD/CONS go to 0; BASE.LOG2SIZE of both
   * queues to 19 with the address bits kept; GBPA to 0x1000. CR1, CR2, STRTAB_*,
   * GERROR_IRQ_CFG*, EVENTQ_IRQ_CFG* and the queues' clamped log2size are NOT reset.
   * Confirmed on 7.2 (system_reset over the monitor).
   */
  reset(): void {
    if (!this.profile.idrsPersistAcrossReset) this.idr.set(this.realizeIdr);
    for (const q of [this.cmdq, this.eventq]) {
      q.baseLo = ((q.baseLo & ~0x1f) | (q === this.cmdq ? SMMU_CMDQS : SMMU_EVENTQS)) >>> 0;
      q.prod = 0;
      q.cons = 0;
    }
    this.cmdqRing = ringAddr(this.cmdq);
    this.aidr = SMMU_AIDR;
    this.cr0 = 0;
    this.cr0ack = 0;
    this.irqCtrl = 0;
    this.gerror = 0;
    this.gerrorn = 0;
    this.statusr = 0;
    this.gbpa = this.profile.gbpa ? SMMU_GBPA_RESET : 0;
    this.twoLevelSte = false;
    this.sidSplit = 0;
    // smmu_reset_exit: smmuv3_reset, then smmuv3_accel_reset (the GBPA HWPT attached).
    this.accel?.reset(this);
  }

  // ------------------------------------------------------------------- MMIO ----

  read(offset: number, size: SmallSize): number {
    this.trapped++;
    const v =
      size === 4 && (offset & 3) === 0
        ? this.readl(offset & ~PAGE1_ALIAS_BIT)
        : this.readSplit(offset, size);
    if (this.tracer?.enabled) this.traceMmio("smmuv3_read_mmio", offset, size, v);
    return v;
  }

  write(offset: number, size: SmallSize, value: number): void {
    this.trapped++;
    const v = value >>> 0;
    if (this.tracer?.enabled) this.traceMmio("smmuv3_write_mmio", offset, size, v);
    if (size === 4 && (offset & 3) === 0) this.writel(offset & ~PAGE1_ALIAS_BIT, v);
    else this.writeSplit(offset, size, v);
  }

  read64(offset: number): bigint {
    this.trapped++;
    let v: bigint;
    if ((offset & 7) === 0) v = this.readll(offset & ~PAGE1_ALIAS_BIT);
    else {
      v = 0n;
      for (let done = 0; done < 8; ) {
        const pos = offset + done;
        const l = pieceSize(pos, 8 - done);
        if (l === 4) v |= BigInt(this.readl(pos & ~PAGE1_ALIAS_BIT)) << BigInt(8 * done);
        else this.log.guestError(invalidSizeMessage("read", pos, l, SMMUV3_REGION_NAME));
        done += l;
      }
    }
    if (this.tracer?.enabled) this.traceMmio("smmuv3_read_mmio", offset, 8, v);
    return v;
  }

  write64(offset: number, value: bigint): void {
    this.trapped++;
    const v = BigInt.asUintN(64, value);
    if (this.tracer?.enabled) this.traceMmio("smmuv3_write_mmio", offset, 8, v);
    if ((offset & 7) === 0) {
      this.writell(offset & ~PAGE1_ALIAS_BIT, v);
      return;
    }
    for (let done = 0; done < 8; ) {
      const pos = offset + done;
      const l = pieceSize(pos, 8 - done);
      if (l === 4)
        this.writel(pos & ~PAGE1_ALIAS_BIT, Number((v >> BigInt(8 * done)) & 0xffff_ffffn));
      else this.log.guestError(invalidSizeMessage("write", pos, l, SMMUV3_REGION_NAME));
      done += l;
    }
  }

  /** A 1/2-byte or unaligned access, cut as QEMU's memory core cuts it (access-split.ts). */
  private readSplit(offset: number, size: number): number {
    let v = 0;
    for (let done = 0; done < size; ) {
      const pos = offset + done;
      const l = pieceSize(pos, size - done);
      if (l === 4) v |= this.readl(pos & ~PAGE1_ALIAS_BIT) << (8 * done);
      else this.log.guestError(invalidSizeMessage("read", pos, l, SMMUV3_REGION_NAME));
      done += l;
    }
    return v >>> 0;
  }

  private writeSplit(offset: number, size: number, value: number): void {
    for (let done = 0; done < size; ) {
      const pos = offset + done;
      const l = pieceSize(pos, size - done);
      if (l === 4) this.writel(pos & ~PAGE1_ALIAS_BIT, value >>> (8 * done));
      else this.log.guestError(invalidSizeMessage("write", pos, l, SMMUV3_REGION_NAME));
      done += l;
    }
  }

  /** smmu_readl, at a page-0 offset. Unknown offsets read 0 with an unimp line. */
  private readl(off: number): number {
    if (off >= R.IDREGS && off <= R.IDREGS + 0x2f)
      return SMMU_IDREG_BYTES[(off - R.IDREGS) >> 2] ?? 0;
    if (off >= 0 && off <= R.IDR5) return this.idr[off >> 2]!;
    switch (off) {
      case R.IIDR:
        return this.iidr;
      case R.AIDR:
        return this.aidr;
      case R.CR0:
        return this.cr0;
      case R.CR0ACK:
        return this.cr0ack;
      case R.CR1:
        return this.cr1;
      case R.CR2:
        return this.cr2;
      case R.STATUSR:
        return this.statusr;
      case R.GBPA:
        if (this.profile.gbpa) return this.gbpa;
        break;
      case R.IRQ_CTRL:
      case R.IRQ_CTRLACK:
        return this.irqCtrl;
      case R.GERROR:
        return this.gerror;
      case R.GERRORN:
        return this.gerrorn;
      case R.GERROR_IRQ_CFG0:
        return this.gerrorIrqCfg0Lo;
      case R.GERROR_IRQ_CFG0 + 4:
        return this.gerrorIrqCfg0Hi;
      case R.GERROR_IRQ_CFG1:
        return this.gerrorIrqCfg1;
      case R.GERROR_IRQ_CFG2:
        return this.gerrorIrqCfg2;
      case R.STRTAB_BASE:
        return this.strtabBaseLo;
      case R.STRTAB_BASE + 4:
        return this.strtabBaseHi;
      case R.STRTAB_BASE_CFG:
        return this.strtabBaseCfg;
      case R.CMDQ_BASE:
        return this.cmdq.baseLo;
      case R.CMDQ_BASE + 4:
        return this.cmdq.baseHi;
      case R.CMDQ_PROD:
        return this.cmdq.prod;
      case R.CMDQ_CONS:
        return this.cmdq.cons;
      case R.EVENTQ_BASE:
        return this.eventq.baseLo;
      case R.EVENTQ_BASE + 4:
        return this.eventq.baseHi;
      case R.EVENTQ_PROD:
        return this.eventq.prod;
      case R.EVENTQ_CONS:
        return this.eventq.cons;
      // EVENTQ_IRQ_CFG0/1/2 are stored on write but QEMU has no read case for them: RAZ.
      // Confirmed on 7.2.
    }
    this.log.unimp(`smmu_readl unhandled 32-bit access at ${hex(off)} (RAZ)`);
    return 0;
  }

  /** smmu_readll: only the four 64-bit registers; anything else RAZ with an unimp line. */
  private readll(off: number): bigint {
    switch (off) {
      case R.GERROR_IRQ_CFG0:
        return join(this.gerrorIrqCfg0Lo, this.gerrorIrqCfg0Hi);
      case R.STRTAB_BASE:
        return join(this.strtabBaseLo, this.strtabBaseHi);
      case R.CMDQ_BASE:
        return join(this.cmdq.baseLo, this.cmdq.baseHi);
      case R.EVENTQ_BASE:
        return join(this.eventq.baseLo, this.eventq.baseHi);
    }
    this.log.unimp(`smmu_readll Unexpected 64-bit access to ${hex(off)} (RAZ)`);
    return 0n;
  }

  /** smmu_writel, at a page-0 offset. Unknown or read-only offsets: WI with an unimp line. */
  private writel(off: number, v: number): void {
    switch (off) {
      case R.CR0: {
        this.cr0 = v;
        this.cr0ack = (v & ~SMMU_CR0_RESERVED) >>> 0;
        // In case the command queue has just been enabled.
        const errors = this.consumeErrors;
        this.consume();
        // Then the vEVENTQ, unless the consume failed (one errp for the whole write).
        if (this.accel !== null && this.consumeErrors === errors) {
          const e = this.accel.allocVeventq(this);
          if (e !== null) this.log.error(e);
        }
        return;
      }
      case R.CR1:
        this.cr1 = v;
        return;
      case R.CR2:
        this.cr2 = v;
        return;
      case R.IRQ_CTRL:
        this.irqCtrl = v;
        return;
      case R.GERRORN:
        this.writeGerrorn(v);
        // Acknowledging CMDQ_ERR lets commands be processed again, at once.
        this.consume();
        return;
      case R.GERROR_IRQ_CFG0:
        this.gerrorIrqCfg0Lo = v;
        return;
      case R.GERROR_IRQ_CFG0 + 4:
        this.gerrorIrqCfg0Hi = v;
        return;
      case R.GERROR_IRQ_CFG1:
        this.gerrorIrqCfg1 = v;
        return;
      case R.GERROR_IRQ_CFG2:
        this.gerrorIrqCfg2 = v;
        return;
      case R.GBPA:
        if (!this.profile.gbpa) break;
        // Without UPDATE the write is ignored; the update itself is synchronous, and the
        // devices move to the HWPT the new GBPA.ABORT picks (whatever CR0.SMMUEN says).
        if (v & GBPA_UPDATE) {
          this.gbpa = (v & ~GBPA_UPDATE) >>> 0;
          const e = this.accel?.attachGbpaHwpt(this) ?? null;
          if (e !== null) this.log.error(e);
        }
        return;
      case R.STRTAB_BASE:
        this.strtabBaseLo = v;
        return;
      case R.STRTAB_BASE + 4:
        this.strtabBaseHi = v;
        return;
      case R.STRTAB_BASE_CFG:
        this.strtabBaseCfg = v;
        if (((v >>> 16) & 3) === 1) {
          this.sidSplit = (v >>> 6) & 0x1f;
          this.twoLevelSte = true;
        }
        return;
      case R.CMDQ_BASE:
        this.setBaseLo(this.cmdq, v, SMMU_CMDQS);
        this.cmdqRing = ringAddr(this.cmdq);
        return;
      case R.CMDQ_BASE + 4:
        // The high half does not touch log2size.
        this.cmdq.baseHi = v;
        this.cmdqRing = ringAddr(this.cmdq);
        return;
      case R.CMDQ_PROD:
        this.cmdq.prod = v;
        this.consume();
        return;
      case R.CMDQ_CONS:
        this.cmdq.cons = v;
        return;
      case R.EVENTQ_BASE:
        this.setBaseLo(this.eventq, v, SMMU_EVENTQS);
        return;
      case R.EVENTQ_BASE + 4:
        this.eventq.baseHi = v;
        return;
      case R.EVENTQ_PROD:
        this.eventq.prod = v;
        return;
      case R.EVENTQ_CONS:
        this.eventq.cons = v;
        return;
      case R.EVENTQ_IRQ_CFG0:
        this.eventqIrqCfg0Lo = v;
        return;
      case R.EVENTQ_IRQ_CFG0 + 4:
        this.eventqIrqCfg0Hi = v;
        return;
      case R.EVENTQ_IRQ_CFG1:
        this.eventqIrqCfg1 = v;
        return;
      case R.EVENTQ_IRQ_CFG2:
        this.eventqIrqCfg2 = v;
        return;
    }
    this.log.unimp(`smmu_writel Unexpected 32-bit access to ${hex(off)} (WI)`);
  }

  /** smmu_writell: only the five 64-bit registers; anything else WI with an unimp line. */
  private writell(off: number, v: bigint): void {
    const lo = Number(v & 0xffff_ffffn) >>> 0;
    const hi = Number(v >> 32n) >>> 0;
    switch (off) {
      case R.GERROR_IRQ_CFG0:
        this.gerrorIrqCfg0Lo = lo;
        this.gerrorIrqCfg0Hi = hi;
        return;
      case R.STRTAB_BASE:
        this.strtabBaseLo = lo;
        this.strtabBaseHi = hi;
        return;
      case R.CMDQ_BASE:
        this.cmdq.baseHi = hi;
        this.setBaseLo(this.cmdq, lo, SMMU_CMDQS);
        this.cmdqRing = ringAddr(this.cmdq);
        return;
      case R.EVENTQ_BASE:
        this.eventq.baseHi = hi;
        this.setBaseLo(this.eventq, lo, SMMU_EVENTQS);
        return;
      case R.EVENTQ_IRQ_CFG0:
        this.eventqIrqCfg0Lo = lo;
        this.eventqIrqCfg0Hi = hi;
        return;
    }
    this.log.unimp(`smmu_writell Unexpected 64-bit access to ${hex(off)} (WI)`);
  }

  /** BASE low half: stored raw; log2size = BASE[4:0] clamped to SMMU_CMDQS/EVENTQS. */
  private setBaseLo(q: Queue, lo: number, max: number): void {
    q.baseLo = lo;
    const log2 = lo & 0x1f;
    q.log2size = Math.min(log2, max);
  }

  // ---------------------------------------------------------------- GERROR ----

  /**
   * smmuv3_write_gerrorn: toggling a bit that is not pending is a guest error (logged, and
   * stored anyway: CONSTRAINED UNPREDICTABLE).
   */
  private writeGerrorn(v: number): void {
    const pending = (this.gerror ^ this.gerrorn) >>> 0;
    const toggled = (this.gerrorn ^ v) >>> 0;
    const bad = (toggled & ~pending) >>> 0;
    if (bad !== 0) this.log.guestError(`guest toggles non pending errors = ${hex(bad)}`);
    this.gerrorn = v;
    if (this.tracer?.enabled)
      this.tracer.emit(ACTOR, "smmuv3_write_gerrorn", {
        acked: (toggled & pending) >>> 0,
        gerrorn: v,
      });
  }

  /**
   * smmuv3_trigger_irq(SMMU_IRQ_GERROR, mask): only errors not already pending toggle;
   * the wire pulses only when IRQ_CTRL.GERROR_IRQEN is set (checked at the time of the
   * error: enabling it later raises nothing). Confirmed on 7.2.
   */
  private triggerGerror(mask: number): void {
    const pending = (this.gerror ^ this.gerrorn) >>> 0;
    const fresh = (~pending & mask) >>> 0;
    if (fresh === 0) return;
    this.gerror = (this.gerror ^ fresh) >>> 0;
    if (this.tracer?.enabled)
      this.tracer.emit(ACTOR, "smmuv3_write_gerror", { toggled: fresh, gerror: this.gerror });
    if (this.irqCtrl & B.IRQ_CTRL_GERROR_IRQEN) this.pulse(this.irqs.gerror, "gerror");
  }

  private pulse(line: IrqLine, which: string): void {
    if (this.tracer?.enabled) this.tracer.emit(ACTOR, "smmuv3_trigger_irq", { irq: which });
    line.raise();
    line.lower();
  }

  // ------------------------------------------------------------- main CMDQ ----

  /**
   * smmuv3_cmdq_consume. While CR0.CMDQEN: from CONS to PROD, unless GERROR.CMDQ_ERR is
   * pending; each entry is fetched (a fault → CERROR_ABT), executed, and only then CONS
   * advances (wrap bit at log2size, CONS.ERR kept). The first error stops the queue: CONS
   * stays at the failing entry with CONS.ERR set and GERROR.CMDQ_ERR toggles.
   * No allocation per command unless tracing (a forwarded command goes to the host as
   * the fetched words).
   */
  private consume(): void {
    // An IRQ wire or the host that calls straight back into the device (a synchronous
    // test rig) must not run a second consumer inside this one: note it and go again.
    if (this.consuming) {
      this.consumeAgain = true;
      return;
    }
    this.consuming = true;
    try {
      do {
        this.consumeAgain = false;
        this.consumeOnce();
      } while (this.consumeAgain);
    } finally {
      this.consuming = false;
    }
  }

  private consumeOnce(): void {
    if (!(this.cr0 & B.CR0_CMDQEN)) return;
    const q = this.cmdq;
    const log2 = q.log2size;
    const tracing = this.tracer?.enabled === true;
    if (tracing) this.traceQueue("smmuv3_cmdq_consume");
    let error: number = CMDQ_ERR.NONE;
    let op = 0;
    while (!qIsEmpty(q.prod, q.cons, log2)) {
      if ((this.gerror ^ this.gerrorn) & B.GERROR_CMDQ_ERR) break;
      if (!this.fetch(this.cmdqRing + qIdx(q.cons, log2) * CMD_BYTES)) {
        error = CMDQ_ERR.ABT;
        break;
      }
      const w = this.words;
      const w0 = w[0]!;
      op = w0 & 0xff;
      if (tracing) this.tracer!.emit(ACTOR, "smmuv3_cmdq_opcode", { opcode: op });
      switch (cmdAction(op, w0, this.idr[0]!, this.profile)) {
        case CMD_ACTION.SYNC:
          // No MSI write: QEMU's SMMUv3 has no MSI (IDR0.MSI=0); CS=IRQ (or the reserved
          // CS=3) pulses the CMD_SYNC wire whatever IRQ_CTRL says. Confirmed on 7.2.
          if (cmdSyncCs(w0) & CS.IRQ) this.pulse(this.irqs.cmdSync, "cmd_sync");
          break;
        case CMD_ACTION.ILL:
          error = CMDQ_ERR.ILL;
          break;
        case CMD_ACTION.FORWARD:
          if (!this.forward(false)) error = CMDQ_ERR.ILL;
          break;
        case CMD_ACTION.FORWARD_SID:
          if (!this.forward(true)) error = CMDQ_ERR.ILL;
          break;
        case CMD_ACTION.INSTALL_STE:
          if (!this.installSte(false)) error = CMDQ_ERR.ILL;
          break;
        case CMD_ACTION.INSTALL_STE_RANGE:
          if (!this.installSte(true)) error = CMDQ_ERR.ILL;
          break;
      }
      if (error !== CMDQ_ERR.NONE) {
        if (this.profile.illLogAnyCause || isUnknownToQemu(op))
          this.log.guestError(`Illegal command type: ${op}`);
        break;
      }
      q.cons = qAdvance(q.cons, 1, log2);
      this.consumed++;
      this.byOpcode[op]!++;
    }
    if (error !== CMDQ_ERR.NONE) {
      q.cons = withConsErr(q.cons, error);
      this.cmdqErrors++;
      if (tracing) this.tracer!.emit(ACTOR, "smmuv3_cmdq_consume_error", { opcode: op, error });
      this.triggerGerror(B.GERROR_CMDQ_ERR);
    }
    if (tracing) this.traceQueue("smmuv3_cmdq_consume_out");
    if (this.pendingError !== null) {
      this.log.error(this.pendingError);
      this.pendingError = null;
      this.consumeErrors++;
    }
  }

  /**
   * CFGI_STE / CFGI_STE_RANGE in accel mode: smmuv3_accel_install_ste for the command's SID,
   * or smmuv3_accel_install_ste_range over [SID & ~mask, (SID & ~mask) + mask] with
   * mask = 2^(RANGE+1) − 1 (RANGE 31: every SID). A failure returns false (CERROR_ILL); its
   * message goes to the console after the consume. facts: QEMU hw/arm/smmuv3.c
   * smmuv3_cmdq_consume.
   */
  private installSte(range: boolean): boolean {
    const accel = this.accel;
    if (accel === null) return true;
    const w = this.words;
    const sid = w[1]! >>> 0;
    let e: string | null;
    if (!range) e = accel.installSte(this, sid);
    else {
      const span = 2 ** ((w[2]! & 0x1f) + 1);
      const start = sid - (sid % span);
      e = accel.installSteRange(this, start, start + span - 1);
    }
    if (e === null) return true;
    this.pendingError = e;
    return false;
  }

  /**
   * Read the 16-byte entry at `addr` into `words` with one DMA read (QEMU's
   * dma_memory_read of the entry); false on any fault (CERROR_ABT).
   */
  private fetch(addr: number): boolean {
    return this.mem.readWords(addr, this.words);
  }

  /**
   * smmuv3_accel_issue_inv_cmd for the command in `words`: no vIOMMU yet → accepted with
   * no host call; a SID-based command whose SID has no vDEVICE → accepted likewise; else
   * one IOMMU_HWPT_INVALIDATE with entry_num 1. A failure returns false, which the
   * consumer turns into CERROR_ILL; its message goes to the console after the consume.
   */
  private forward(sidBased: boolean): boolean {
    const host = this.host;
    if (host.hasViommu && !host.hasViommu()) return true;
    const w = this.words;
    if (sidBased && host.hasVdev && !host.hasVdev(w[1]!)) return true;
    this.forwarded++;
    const r = host.invalidate(w);
    if (this.tracer?.enabled)
      this.tracer.emit(ACTOR, "smmuv3_accel_invalidate", {
        opcode: w[0]! & 0xff,
        ok: r.ok,
        entryNum: r.entryNum,
      });
    // facts: QEMU backends/iommufd.c iommufd_backend_invalidate_cache messages.
    if (!r.ok) {
      this.forwardErrors++;
      this.pendingError = `IOMMU_HWPT_INVALIDATE failed: total 1 entries, processed ${r.entryNum} entries: ${strerror(r.errno)}`;
      return false;
    }
    if (r.entryNum !== 1) {
      this.forwardErrors++;
      this.pendingError = `IOMMU_HWPT_INVALIDATE succeed but with unprocessed entries: total 1 entries, processed ${r.entryNum} entries. Kernel BUG?!`;
      return false;
    }
    return true;
  }

  // ------------------------------------------------------------------ state ----

  counters(): Smmuv3Counters {
    const byOpcode: Record<string, number> = {};
    for (let op = 0; op < 256; op++) {
      const n = this.byOpcode[op]!;
      if (n !== 0) byOpcode[`0x${op.toString(16).padStart(2, "0")}`] = n;
    }
    return {
      trapped: this.trapped,
      consumed: this.consumed,
      forwarded: this.forwarded,
      forwardErrors: this.forwardErrors,
      cmdqErrors: this.cmdqErrors,
      byOpcode,
    };
  }

  state(): Smmuv3State {
    const queue = (q: Queue): Smmuv3QueueState => ({
      base: join(q.baseLo, q.baseHi),
      prod: q.prod,
      cons: q.cons,
      log2size: q.log2size,
    });
    return {
      profile: this.profile.name,
      idr: Array.from(this.idr),
      iidr: this.iidr,
      aidr: this.aidr,
      cr0: this.cr0,
      cr0ack: this.cr0ack,
      cr1: this.cr1,
      cr2: this.cr2,
      statusr: this.statusr,
      gbpa: this.gbpa,
      irqCtrl: this.irqCtrl,
      gerror: this.gerror,
      gerrorn: this.gerrorn,
      gerrorIrqCfg0: join(this.gerrorIrqCfg0Lo, this.gerrorIrqCfg0Hi),
      gerrorIrqCfg1: this.gerrorIrqCfg1,
      gerrorIrqCfg2: this.gerrorIrqCfg2,
      strtabBase: join(this.strtabBaseLo, this.strtabBaseHi),
      strtabBaseCfg: this.strtabBaseCfg,
      cmdq: queue(this.cmdq),
      eventq: queue(this.eventq),
      eventqIrqCfg0: join(this.eventqIrqCfg0Lo, this.eventqIrqCfg0Hi),
      eventqIrqCfg1: this.eventqIrqCfg1,
      eventqIrqCfg2: this.eventqIrqCfg2,
      counters: this.counters(),
    };
  }

  // ------------------------------------------------------------------ trace ----

  private traceMmio(name: string, offset: number, size: number, value: number | bigint): void {
    this.tracer!.emit(ACTOR, name, {
      offset,
      size,
      value: `0x${value.toString(16)}`,
      reg: decodeSmmuAccess(this.table, offset, value),
    });
  }

  private traceQueue(name: string): void {
    const q = this.cmdq;
    this.tracer!.emit(ACTOR, name, {
      prod: qIdx(q.prod, q.log2size),
      cons: qIdx(q.cons, q.log2size),
      prodWrap: (q.prod >>> q.log2size) & 1,
      consWrap: (q.cons >>> q.log2size) & 1,
    });
  }
}
