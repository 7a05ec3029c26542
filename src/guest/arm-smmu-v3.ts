// A minimal arm-smmu-v3 guest driver as actor code: probe (ID registers), structures
// (the main CMDQ ring, the event queue ring and a 2-level stream table's L1 in guest DMA
// memory), device reset (CR0/CR1/CR2, STRTAB, CMDQ, the invalidate-all commands, EVTQ,
// IRQ_CTRL, SMMUEN, then the implementation's reset), then each master's stream table
// entry and its default DMA domain (a CD table, the CD, the stage-1 STE, each written
// hitlessly with CFGI_CD / CFGI_STE + CMD_SYNC), and the command-queue machinery the Tegra241 CMDQV reuses for
// its VCMDQs: space reservation on a shadow prod/cons, entries written into the ring,
// the PROD write, CMD_SYNC and the CONS poll with Linux's back-off, batching, and the
// CMDQ error skip. Facts: spec linux §2.4, §4.4–§4.7, §5; register offsets are the
// SMMUv3 architecture's (src/vmm/smmuv3/regs.ts). No kernel code is copied.
//
// Concurrency: several vCPU actors share one driver object. Code between two yields is
// atomic, so "reserve space + write the entries + yield the PROD write" is one step and
// PROD stays monotonic; each batch is its own owner (Linux's owner hand-off and valid
// map collapse to that step). The shadow prod carries no OWNED flag.

import { fieldOf } from "../regs/regdef.js";
import { SMMU_F, SMMU_REG } from "../regs/smmuv3.js";
import {
  CFGI_ALL_RANGE,
  CMD_BYTES,
  type Command,
  CS,
  encode,
  SYNC_MSH_ISH,
  SYNC_MSIATTR_OIWB,
} from "../smmu/commands.js";
import { CMDQ_ERR, cmdqErrorString, consErr } from "../smmu/errors.js";
import { qAdvance, qConsumedPast, qEntryAddress, qFreeSpace, qIsFull } from "../smmu/queue.js";
import { sprintf } from "../util/printf.js";
import { type ActorBody, delay, type GuestContext, read, write, write64 } from "./actor.js";
import {
  abortSte,
  CD_V_BIT,
  cdtableSte,
  cdUsed,
  type Entry,
  type EntryWriter,
  l1Desc,
  STE_V_BIT,
  s1Cd,
  steUsed,
  writeEntry,
} from "./arm-smmu-v3-entries.js";
import type { GuestDmesg } from "./dmesg.js";
import { ARM_SMMU_POLL_TIMEOUT_US, ERRNO, NS_PER_US, readlPollTimeout } from "./linux.js";

/** CMDQ_BATCH_ENTRIES = BITS_PER_LONG. spec: linux §4.5. */
export const CMDQ_BATCH_ENTRIES = 64;
/** ARM_SMMU_POLL_SPIN_COUNT: cpu_relax spins before the doubling udelay. spec: linux §2.4. */
export const ARM_SMMU_POLL_SPIN_COUNT = 10;
/**
 * CMDQ_MAX_SZ_SHIFT: the spec (linux §2.7, §4.3) names it but gives no value; it is
 * derived from the kernel's largest DMA allocation. We cap with VCMDQ_LOG2SIZE_MAX = 19
 * (the fixed size L-612 used, qemu §5.2), overridable per driver.
 */
export const DEFAULT_CMDQ_MAX_SZ_SHIFT = 19;
/** The guest kernel's PAGE_SIZE (arm64, 4 KiB pages). */
export const GUEST_PAGE_SIZE = 0x1000;
/** cpu_relax() in a poll loop, in virtual ns [model choice]. */
export const CPU_RELAX_NS = 10;
/** wfe() when IDR0.SEV is set: until the next event (SEV or the event stream) [model choice]. */
export const WFE_NS = 1_000;

/** Queue BASE fields (Q_BASE_*). spec: SMMUv3 architecture; linux §5 "Sizing". */
const Q_BASE_RWA = 1n << 62n;
const Q_BASE_ADDR_MASK = ((1n << 52n) - 1n) & ~0x1fn; // [51:5]
const STRTAB_BASE_RA = 1n << 62n;
const STRTAB_BASE_ADDR_MASK = ((1n << 52n) - 1n) & ~0x3fn; // [51:6]
/** STRTAB_SPLIT: 2-level stream tables split the SID at bit 8. */
const STRTAB_SPLIT = 8;
const STRTAB_L1_DESC_BYTES = 8;
/** An STE and a CD are 64 bytes. */
const STE_BYTES = 64;
const CD_BYTES = 64;
const STRTAB_BASE_CFG_FMT_2LVL = 1 << 16;

/** CR1 = ISH, write-back for tables and queues; CR2 = PTM | RECINVSID. */
const ARM_SMMU_SH_ISH = 3;
const CR1_CACHE_WB = 1;
const CR1_VALUE =
  ((ARM_SMMU_SH_ISH << 10) |
    (CR1_CACHE_WB << 8) |
    (CR1_CACHE_WB << 6) |
    (ARM_SMMU_SH_ISH << 4) |
    (CR1_CACHE_WB << 2) |
    CR1_CACHE_WB) >>>
  0;
const CR2_RECINVSID = 1 << 1;
const CR2_PTM = 1 << 2;
const CR0_SMMUEN = 1 << 0;
const CR0_EVTQEN = 1 << 2;
const CR0_CMDQEN = 1 << 3;
const IRQ_CTRL_GERROR_IRQEN = 1 << 0;
const IRQ_CTRL_EVTQ_IRQEN = 1 << 2;
/** GERROR bits Linux treats as errors (GERROR_ERR_MASK) and CMDQ_ERR. */
const GERROR_ERR_MASK = 0x1fd;
const GERROR_CMDQ_ERR = 1 << 0;

const ISSUE_FN = "arm_smmu_cmdq_issue_cmdlist";

/**
 * The guest kernel's queue size caps. Q_MAX_SZ_SHIFT = PAGE_SHIFT + MAX_PAGE_ORDER with
 * CONFIG_CMA off (arm-smmu-v3.h), 12 + 10 for the guest config `cmdqv guest fetch` builds
 * (4K pages, ARCH_FORCE_MAX_ORDER=10); EVTQ_MAX_SZ_SHIFT = Q_MAX_SZ_SHIFT -
 * EVTQ_ENT_SZ_SHIFT (5): 131072 entries of 32 bytes, the "allocated 131072 entries for
 * evtq" of a real Linux 7.3 boot.
 */
export const EVTQ_MAX_SZ_SHIFT = 22 - 5;
/** An event queue entry: EVTQ_ENT_DWORDS (4) u64s. arm-smmu-v3.h. */
export const EVTQ_ENT_BYTES = 32;

/** struct arm_smmu_device.features bits (ARM_SMMU_FEAT_*, arm-smmu-v3.h). */
export const ARM_SMMU_FEAT = {
  TWO_LVL_STRTAB: 1 << 0,
  TWO_LVL_CDTAB: 1 << 1,
  TT_LE: 1 << 2,
  TT_BE: 1 << 3,
  SEV: 1 << 6,
  MSI: 1 << 7,
  COHERENCY: 1 << 8,
  TRANS_S1: 1 << 9,
  TRANS_S2: 1 << 10,
  STALLS: 1 << 11,
  HYP: 1 << 12,
  STALL_FORCE: 1 << 13,
  VAX: 1 << 14,
  RANGE_INV: 1 << 15,
  NESTING: 1 << 19,
  ATTR_TYPES_OVR: 1 << 20,
  S2FWB: 1 << 23,
  BBML2: 1 << 24,
  DS: 1 << 26,
} as const;
/** struct arm_smmu_device.options bits (ARM_SMMU_OPT_*, arm-smmu-v3.h). */
export const ARM_SMMU_OPT = { TEGRA241_CMDQV: 1 << 4 } as const;
/** IDR5.DS (bit 7, not in the QEMU field table); OAS encodings → bits. arm-smmu-v3.h. */
const IDR5_DS = 1 << 7;
const OAS_BITS: readonly (number | undefined)[] = [32, 36, 40, 42, 44, 48, 52];
/** IIDR fields and the Arm parts arm_smmu_device_iidr_probe knows errata of. */
const IIDR_IMPLEMENTER_ARM = 0x43b;
const IIDR_PRODUCTID_ARM_MMU_600 = 0x483;
const IIDR_PRODUCTID_ARM_MMU_700 = 0x487;

/** The software view of a queue's producer/consumer (struct arm_smmu_ll_queue). */
export interface Llq {
  prod: number;
  cons: number;
}

/** struct arm_smmu_queue: ring, shadow indices and the PROD/CONS register addresses. */
export class ArmSmmuQueue {
  readonly name: string;
  readonly prodReg: number;
  readonly consReg: number;
  /** Bytes per entry (ent_dwords * 8): 16 for a command queue, 32 for the event queue. */
  readonly entBytes: number;
  /** log2 of the number of entries (llq.max_n_shift). */
  maxNShift: number;
  /** Guest-physical address of entry 0. */
  baseDma = 0;
  /** The BASE register value the driver programs. */
  qBase = 0n;
  /** Shadow prod/cons (cmdq->q.llq), shared by every CPU issuing on this queue. */
  readonly llq: Llq = { prod: 0, cons: 0 };

  constructor(
    name: string,
    prodReg: number,
    consReg: number,
    maxNShift: number,
    entBytes: number = CMD_BYTES,
  ) {
    this.name = name;
    this.prodReg = prodReg;
    this.consReg = consReg;
    this.maxNShift = maxNShift;
    this.entBytes = entBytes;
  }
}

/** struct arm_smmu_cmdq. */
export class ArmSmmuCmdq {
  readonly q: ArmSmmuQueue;
  /**
   * arm_smmu_cmdq_needs_busy_polling: a CMDQV queue (not the SMMU's own) takes CMD_SYNC
   * with CS=NONE only and is polled on CONS. spec: linux §2.4.
   */
  readonly busyPolling: boolean;
  /** cmdq->supports_cmd; null accepts everything. */
  supportsCmd: ((cmd: Command) => boolean) | null = null;
  /** cmdq->lock as a count of shared holders (CPUs waiting on their CMD_SYNC). */
  lock = 0;
  /** Diagnostics (not kernel state). */
  readonly stats = { batches: 0, commands: 0, syncs: 0, syncTimeouts: 0, fullTimeouts: 0 };

  constructor(q: ArmSmmuQueue, busyPolling: boolean) {
    this.q = q;
    this.busyPolling = busyPolling;
  }
}

/** struct arm_smmu_cmdq_batch, plus how many of its issues timed out (model bookkeeping). */
export interface ArmSmmuCmdqBatch {
  cmdq: ArmSmmuCmdq;
  num: number;
  /** Built commands, two u64 each. */
  readonly cmds: bigint[];
  readonly cpu: number;
  errors: number;
}

/** The hooks an implementation (the Tegra241 CMDQV) plugs into the SMMU driver. */
export interface ArmSmmuImpl {
  /** The companion device's name, for "found companion CMDQV device: %s". */
  readonly companion: string;
  /** arm_smmu_impl_probe: false falls back to the plain SMMU (impl dropped). */
  probe(smmu: ArmSmmuV3): ActorBody<boolean>;
  /** impl_ops->init_structures, at the end of arm_smmu_init_structures. 0 or -errno. */
  initStructures(smmu: ArmSmmuV3): ActorBody<number>;
  /** impl_ops->device_reset, at the end of arm_smmu_device_reset. 0 or -errno. */
  deviceReset(smmu: ArmSmmuV3): ActorBody<number>;
  /** impl_ops->get_secondary_cmdq: a queue for `cmd` issued on `cpu`, or null (main CMDQ). */
  getSecondaryCmdq(smmu: ArmSmmuV3, cmd: Command, cpu: number): ArmSmmuCmdq | null;
}

export interface ArmSmmuOptions {
  /** MMIO base of the SMMU (QEMU virt: 0x0905_0000). */
  readonly base: number;
  readonly cmdqMaxSzShift?: number;
  /**
   * StreamIDs of the endpoints behind this SMMU (the IORT's ID mappings): after the probe
   * each gets its stream table entry and its default DMA domain attached, as the IOMMU
   * core's bus probe does once the SMMU registers (arm_smmu_probe_device,
   * arm_smmu_attach_dev). Default: none.
   */
  readonly masters?: readonly number[];
}

/** A master's default DMA domain as the driver set it up. */
export interface ArmSmmuMaster {
  readonly sid: number;
  /** Where its STE sits. */
  readonly ste: number;
  /** Its linear CD table (one CD), the domain's ASID and stage-1 page table root. */
  readonly cdTable: number;
  readonly asid: number;
  readonly pgd: number;
}

interface QueuePoll {
  timeout: number;
  delayUs: number;
  spinCnt: number;
  wfe: boolean;
}

export class ArmSmmuV3 {
  readonly ctx: GuestContext;
  readonly dmesg: GuestDmesg;
  readonly base: number;
  readonly cmdqMaxSzShift: number;
  /** The SMMU's own command queue. */
  readonly cmdq: ArmSmmuCmdq;
  /**
   * The event queue: allocated and enabled as Linux does, its PROD/CONS in page 1; nothing
   * here reads events from it (no arm_smmu_evtq_thread) [model].
   */
  readonly evtq: ArmSmmuQueue;
  /** smmu->options (ARM_SMMU_OPT_*) and smmu->features (ARM_SMMU_FEAT_*) as Linux sets them. */
  options = 0;
  featureBits = 0;
  /** smmu->oas: the output address size in bits. */
  oas = 0;
  /** The implementation found at probe (null: none, or it fell back). */
  impl: ArmSmmuImpl | null;
  /** impl ops usable for commands and reset: set once its init_structures succeeded. */
  implOps: ArmSmmuImpl | null = null;
  /** IDR0..IDR5 as read at probe (IDR2/IDR4 are not read: 0). */
  readonly idr = [0, 0, 0, 0, 0, 0];
  /** IDR1.CMDQS as read. */
  cmdqs = 0;
  sidBits = 0;
  readonly features = { sev: false, twoLvlStrtab: false, hyp: false };
  strtabBase = 0n;
  strtabBaseCfg = 0;
  /** The stream table's guest-physical address (the L1 table when 2-level). */
  strtabDma = 0;
  /** The endpoints' StreamIDs, and each attached master's domain. */
  readonly masterSids: readonly number[];
  readonly masters = new Map<number, ArmSmmuMaster>();
  /** 2-level tables: each L1 index's L2 table. */
  private readonly l2Tables = new Map<number, number>();
  /** The next ASID (arm_smmu_asid_xa hands them out from 1). */
  private nextAsid = 1;
  /** Whether probe completed. */
  probed = false;

  constructor(ctx: GuestContext, dmesg: GuestDmesg, opts: ArmSmmuOptions, impl?: ArmSmmuImpl) {
    this.ctx = ctx;
    this.dmesg = dmesg;
    this.base = opts.base;
    this.cmdqMaxSzShift = opts.cmdqMaxSzShift ?? DEFAULT_CMDQ_MAX_SZ_SHIFT;
    this.masterSids = opts.masters ?? [];
    this.impl = impl ?? null;
    this.cmdq = new ArmSmmuCmdq(
      new ArmSmmuQueue("cmdq", opts.base + SMMU_REG.CMDQ_PROD, opts.base + SMMU_REG.CMDQ_CONS, 0),
      false,
    );
    // arm_smmu_init_queues: the event queue's PROD/CONS are in page 1 (smmu->page1, as the
    // 128K resource of a non-PAGE0_REGS_ONLY SMMU maps it).
    this.evtq = new ArmSmmuQueue(
      "evtq",
      opts.base + SMMU_REG.EVENTQ_PROD_PAGE1,
      opts.base + SMMU_REG.EVENTQ_CONS_PAGE1,
      0,
      EVTQ_ENT_BYTES,
    );
  }

  reg(off: number): number {
    return this.base + off;
  }

  // ------------------------------------------------------------------ probe ----

  /**
   * arm_smmu_device_probe: the ACPI probe (arm_smmu_device_acpi_probe: IORT flags, then
   * acpi_smmu_iort_probe_model: the companion CMDQV and "option mask"), impl probe, hw
   * probe, structures, reset, then the bus probe of the masters. 0 or -errno.
   */
  *probe(): ActorBody<number> {
    // The IORT node of QEMU's virt sets COHACC_OVERRIDE and no HTTU override.
    this.featureBits = ARM_SMMU_FEAT.COHERENCY;
    if (this.impl) {
      // acpi_smmu_dsdt_probe_tegra241_cmdqv: dev_info, then the option bit.
      this.options |= ARM_SMMU_OPT.TEGRA241_CMDQV;
      this.dmesg.smmu("info", `found companion CMDQV device: ${this.impl.companion}`);
    }
    this.dmesg.smmu("notice", sprintf("option mask 0x%x", this.options));
    if (this.impl) {
      const ok = yield* this.impl.probe(this);
      if (!ok) this.impl = null;
    }
    let ret = yield* this.hwProbe();
    if (ret !== 0) return ret;
    ret = yield* this.initStructures();
    if (ret !== 0) return ret;
    ret = yield* this.deviceReset();
    if (ret !== 0) return ret;
    this.probed = true;
    // iommu_device_register → bus_iommu_probe: each master is probed and added to its
    // group first (__iommu_probe_device with a group list defers the default domain),
    // then each group's default domain is attached (iommu.c).
    const probed: number[] = [];
    for (const sid of this.masterSids) {
      const ste = this.probeDevice(sid);
      if (ste === undefined) continue;
      this.dmesg.printk("info", `pci ${pciName(sid)}: Adding to iommu group ${probed.length}`);
      probed.push(sid);
    }
    for (const sid of probed) yield* this.probeMaster(sid);
    return 0;
  }

  /**
   * arm_smmu_device_hw_probe: IDR0, IDR1, IDR3, IDR5 and IIDR read in that order, the
   * features and queue sizes derived as Linux 7.3 derives them for the guest config
   * `cmdqv guest fetch` builds (CONFIG_PCI_ATS, CONFIG_PCI_PRI and CONFIG_ARM_SMMU_V3_SVA
   * off, so ATS, PRI and SVA never appear; a guest at EL1 has no VHE, so no E2H), ending
   * with "oas %lu-bit (features 0x%08x)". MSI polling is not modelled (CMD_SYNC uses SEV).
   */
  *hwProbe(): ActorBody<number> {
    const F = SMMU_F;
    const A = ARM_SMMU_FEAT;
    const coherent = (this.featureBits & A.COHERENCY) !== 0;
    const idr0 = (yield read(this.reg(SMMU_REG.IDR0))) as number;
    this.idr[0] = idr0;
    let feat = this.featureBits;
    if (fieldOf(idr0, F.IDR0.STLEVEL) === 1) feat |= A.TWO_LVL_STRTAB;
    if (fieldOf(idr0, F.IDR0.CD2L)) feat |= A.TWO_LVL_CDTAB;
    // IDR0_TTENDIAN: mixed (0) or LE (2) on a little-endian kernel.
    const tte = fieldOf(idr0, F.IDR0.TTENDIAN);
    if (tte === 0) feat |= A.TT_LE | A.TT_BE;
    else if (tte === 2) feat |= A.TT_LE;
    else {
      this.dmesg.smmu("err", "unknown/unsupported TT endianness!");
      return -ERRNO.ENXIO;
    }
    if (fieldOf(idr0, F.IDR0.SEV)) feat |= A.SEV;
    if (fieldOf(idr0, F.IDR0.MSI)) feat |= A.MSI;
    if (fieldOf(idr0, F.IDR0.HYP)) feat |= A.HYP;
    // arm_smmu_get_httu: ACPI sets the HTTU bits (none here): warn on a mismatch.
    const httu = fieldOf(idr0, F.IDR0.HTTU);
    if (httu !== 0)
      this.dmesg.smmu(
        "warn",
        sprintf(
          "IDR0.HTTU features(0x%x) overridden by FW configuration (0x%x)",
          httu === 3 ? 0x2600000 : httu === 2 ? 0x600000 : 0x200000,
          0,
        ),
      );
    if (fieldOf(idr0, F.IDR0.COHACC) !== (coherent ? 1 : 0))
      this.dmesg.smmu(
        "warn",
        `IDR0.COHACC overridden by FW configuration (${coherent ? "true" : "false"})`,
      );
    const stall = fieldOf(idr0, F.IDR0.STALL_MODEL);
    if (stall === 2) feat |= A.STALL_FORCE | A.STALLS;
    else if (stall === 0) feat |= A.STALLS;
    if (fieldOf(idr0, F.IDR0.S1P)) feat |= A.TRANS_S1;
    if (fieldOf(idr0, F.IDR0.S2P)) feat |= A.TRANS_S2;
    this.featureBits = feat;
    this.features.twoLvlStrtab = (feat & A.TWO_LVL_STRTAB) !== 0;
    this.features.sev = (feat & A.SEV) !== 0;
    this.features.hyp = (feat & A.HYP) !== 0;
    if (!fieldOf(idr0, F.IDR0.S1P) && !fieldOf(idr0, F.IDR0.S2P)) {
      this.dmesg.smmu("err", "no translation support!");
      return -ERRNO.ENXIO;
    }
    if (!(fieldOf(idr0, F.IDR0.TTF) & 2)) {
      this.dmesg.smmu("err", "AArch64 table format not supported!");
      return -ERRNO.ENXIO;
    }
    const idr1 = (yield read(this.reg(SMMU_REG.IDR1))) as number;
    this.idr[1] = idr1;
    if (
      fieldOf(idr1, F.IDR1.TABLES_PRESET) ||
      fieldOf(idr1, F.IDR1.QUEUES_PRESET) ||
      fieldOf(idr1, F.IDR1.REL)
    ) {
      this.dmesg.smmu("err", "embedded implementation not supported");
      return -ERRNO.ENXIO;
    }
    if (fieldOf(idr1, F.IDR1.ATTR_TYPES_OVR)) this.featureBits |= A.ATTR_TYPES_OVR;
    // spec: linux §4.3 / §5 "Sizing": CMDQS is IDR1[25:21].
    this.cmdqs = fieldOf(idr1, F.IDR1.CMDQS);
    this.cmdq.q.maxNShift = Math.min(this.cmdqMaxSzShift, this.cmdqs);
    if (this.cmdq.q.maxNShift <= Math.log2(CMDQ_BATCH_ENTRIES)) {
      this.dmesg.smmu("err", `command queue size <= ${CMDQ_BATCH_ENTRIES} entries not supported`);
      return -ERRNO.ENXIO;
    }
    this.evtq.maxNShift = Math.min(EVTQ_MAX_SZ_SHIFT, fieldOf(idr1, F.IDR1.EVENTQS));
    this.sidBits = fieldOf(idr1, F.IDR1.SIDSIZE);
    if (this.sidBits <= STRTAB_SPLIT) {
      this.features.twoLvlStrtab = false;
      this.featureBits &= ~A.TWO_LVL_STRTAB;
    }
    const idr3 = (yield read(this.reg(SMMU_REG.IDR3))) as number;
    this.idr[3] = idr3;
    if (fieldOf(idr3, F.IDR3.RIL)) this.featureBits |= A.RANGE_INV;
    if (fieldOf(idr3, F.IDR3.FWB)) this.featureBits |= A.S2FWB;
    if (fieldOf(idr3, F.IDR3.BBML) === 2) this.featureBits |= A.BBML2;
    const idr5 = (yield read(this.reg(SMMU_REG.IDR5))) as number;
    this.idr[5] = idr5;
    if (idr5 & IDR5_DS) this.featureBits |= A.DS;
    if (fieldOf(idr5, F.IDR5.VAX) === 1) this.featureBits |= A.VAX;
    const oas = OAS_BITS[fieldOf(idr5, F.IDR5.OAS)];
    if (oas === undefined)
      this.dmesg.smmu("info", "unknown output address size. Truncating to 48-bit");
    this.oas = oas ?? 48;
    if ((this.featureBits & A.TRANS_S1) !== 0 && (this.featureBits & A.TRANS_S2) !== 0)
      this.featureBits |= A.NESTING;
    yield* this.iidrProbe();
    this.dmesg.smmu("info", sprintf("oas %lu-bit (features 0x%08x)", this.oas, this.featureBits));
    return 0;
  }

  /**
   * arm_smmu_device_iidr_probe: Arm's MMU-600/700/L1/S3 errata drop SEV, NESTING or BTM and
   * force CMD_SYNC; QEMU's SMMU reads IIDR as 0, so nothing applies there.
   */
  private *iidrProbe(): ActorBody<void> {
    const iidr = ((yield read(this.reg(SMMU_REG.IIDR))) as number) >>> 0;
    if ((iidr & 0xfff) !== IIDR_IMPLEMENTER_ARM) return;
    const product = iidr >>> 20;
    const variant = (iidr >>> 16) & 0xf;
    const revision = (iidr >>> 12) & 0xf;
    if (product === IIDR_PRODUCTID_ARM_MMU_600) {
      if (variant === 0 && revision <= 2) {
        this.featureBits &= ~ARM_SMMU_FEAT.SEV;
        this.features.sev = false;
      }
      if (variant < 2) this.featureBits &= ~ARM_SMMU_FEAT.NESTING;
    } else if (product === IIDR_PRODUCTID_ARM_MMU_700) {
      // (and CMDQ_FORCE_SYNC, not modelled)
      if (variant < 1 || revision < 1) this.featureBits &= ~ARM_SMMU_FEAT.NESTING;
    }
    // MMU-700, MMU-L1 and MMU-S3 also drop BTM, which this model never sets.
  }

  /**
   * arm_smmu_init_one_queue's allocation: a naturally aligned ring, halved while it is
   * larger than a page when memory is short; "allocated %u entries for %s" on success (not when
   * the ring came back misaligned: the kernel WARNs instead). `place` replaces
   * dma_alloc_coherent (tests force a placement). 0 or -ENOMEM.
   */
  initOneQueue(
    q: ArmSmmuQueue,
    place: (size: number) => number | undefined = (size) => this.ctx.allocDma(size, size),
  ): number {
    let qsz = 0;
    let base: number | undefined;
    for (;;) {
      qsz = q.entBytes * 2 ** q.maxNShift;
      base = place(qsz);
      if (base !== undefined || qsz <= GUEST_PAGE_SIZE) break;
      q.maxNShift--;
    }
    if (base === undefined) {
      this.dmesg.smmu(
        "err",
        `failed to allocate queue (0x${qsz.toString(16)} bytes) for ${q.name}`,
      );
      return -ERRNO.ENOMEM;
    }
    q.baseDma = base;
    q.llq.prod = 0;
    q.llq.cons = 0;
    if (base % qsz === 0)
      this.dmesg.smmu("info", `allocated ${2 ** q.maxNShift} entries for ${q.name}`);
    return 0;
  }

  /**
   * arm_smmu_init_structures: arm_smmu_init_queues (the main CMDQ, then the event queue;
   * no PRI queue without CONFIG_PCI_PRI), the stream table, then the impl's.
   */
  *initStructures(): ActorBody<number> {
    for (const q of [this.cmdq.q, this.evtq]) {
      const r = this.initOneQueue(q);
      if (r !== 0) return r;
      q.qBase = Q_BASE_RWA | (BigInt(q.baseDma) & Q_BASE_ADDR_MASK) | BigInt(q.maxNShift);
    }
    let ret = this.initStrtab();
    if (ret !== 0) return ret;
    if (this.impl) {
      ret = yield* this.impl.initStructures(this);
      if (ret !== 0) return ret;
      this.implOps = this.impl;
    }
    return 0;
  }

  /** arm_smmu_init_strtab: a 2-level table's L1 (256 descriptors for 16 SID bits), or linear. */
  private initStrtab(): number {
    if (this.features.twoLvlStrtab) {
      const numL1 = 2 ** (this.sidBits - STRTAB_SPLIT);
      const size = numL1 * STRTAB_L1_DESC_BYTES;
      const dma = this.ctx.allocDma(size, Math.max(size, GUEST_PAGE_SIZE));
      if (dma === undefined) {
        this.dmesg.smmu("err", `failed to allocate l1 stream table (${size} bytes)`);
        return -ERRNO.ENOMEM;
      }
      this.strtabDma = dma;
      this.strtabBase = STRTAB_BASE_RA | (BigInt(dma) & STRTAB_BASE_ADDR_MASK);
      this.strtabBaseCfg =
        (STRTAB_BASE_CFG_FMT_2LVL | (STRTAB_SPLIT << 6) | (Math.log2(numL1) + STRTAB_SPLIT)) >>> 0;
      return 0;
    }
    const size = 2 ** this.sidBits * 64;
    const dma = this.ctx.allocDma(size, Math.max(size, GUEST_PAGE_SIZE));
    if (dma === undefined) {
      this.dmesg.smmu("err", `failed to allocate linear stream table (${size} bytes)`);
      return -ERRNO.ENOMEM;
    }
    this.strtabDma = dma;
    this.strtabBase = STRTAB_BASE_RA | (BigInt(dma) & STRTAB_BASE_ADDR_MASK);
    this.strtabBaseCfg = this.sidBits;
    // arm_smmu_init_initial_stes: every entry starts as an abort STE.
    this.initAbortStes(dma, 2 ** this.sidBits);
    return 0;
  }

  private initAbortStes(table: number, n: number): void {
    const ste = abortSte();
    for (let i = 0; i < n; i++)
      for (let q = 0; q < ste.length; q++)
        this.ctx.ramWrite64(table + STE_BYTES * i + 8 * q, ste[q]!);
  }

  // ------------------------------------------------------------ masters ----

  /**
   * arm_smmu_probe_device + the default domain's arm_smmu_attach_dev for the endpoint with
   * StreamID `sid`: its STE's L2 table (abort STEs, then the L1 descriptor; no command),
   * then a DMA domain (an ASID, a page table root), a linear CD table of one CD, the CD and
   * the stage-1 STE pointing at it, each written hitlessly (2 × CFGI_CD + CMD_SYNC, then
   * 2 × CFGI_STE + CMD_SYNC from an abort STE, then PREFETCH_CONFIG). 0, -ERANGE or
   * -ENOMEM (the master stays unattached).
   */
  *probeMaster(sid: number): ActorBody<number> {
    if (sid >= 2 ** this.sidBits) return -ERRNO.ERANGE;
    const ste = this.probeDevice(sid);
    if (ste === undefined) return -ERRNO.ENOMEM;
    const pgd = this.ctx.allocDma(GUEST_PAGE_SIZE, GUEST_PAGE_SIZE);
    const cdTable = this.ctx.allocDma(CD_BYTES, GUEST_PAGE_SIZE);
    if (pgd === undefined || cdTable === undefined) return -ERRNO.ENOMEM;
    const asid = this.nextAsid++;
    // IPS follows the SMMU's output size (IDR5.OAS).
    const ips = fieldOf(this.idr[5]!, SMMU_F.IDR5.OAS);
    yield* writeEntry(
      this.entryWriter(cdTable, cdUsed, CD_V_BIT, () =>
        this.issueCmdWithSync(0, { op: "CFGI_CD", sid, ssid: 0, leaf: 1 }),
      ),
      s1Cd(asid, pgd, ips),
    );
    yield* writeEntry(
      this.entryWriter(ste, steUsed, STE_V_BIT, () =>
        this.issueCmdWithSync(0, { op: "CFGI_STE", sid, leaf: 1 }),
      ),
      cdtableSte(cdTable),
    );
    // arm_smmu_write_ste: "It's likely that we'll want to use the new STE soon": a
    // PREFETCH_CONFIG with no CMD_SYNC (no SKIP_PREFETCH option here).
    yield* this.issueCmd(0, { op: "PREFETCH_CFG", sid }, false);
    this.masters.set(sid, { sid, ste, cdTable, asid, pgd });
    return 0;
  }

  /**
   * arm_smmu_probe_device's part here: arm_smmu_sid_in_range, then the STE's L2 table
   * (arm_smmu_init_sid_strtab). The STE's address, or undefined (out of range, or no
   * memory: logged). Calling it again for the same SID returns the same STE.
   */
  probeDevice(sid: number): number | undefined {
    if (sid >= 2 ** this.sidBits) return undefined;
    const ste = this.initSidStrtab(sid);
    if (ste === undefined)
      this.dmesg.smmu("err", `failed to allocate l2 stream table for SID ${sid}`);
    return ste;
  }

  /**
   * arm_smmu_init_sid_strtab: the address of `sid`'s STE, allocating its L2 table (256
   * abort STEs) and writing the L1 descriptor first when the table is 2-level.
   */
  private initSidStrtab(sid: number): number | undefined {
    if (!this.features.twoLvlStrtab) return this.strtabDma + STE_BYTES * sid;
    const l1 = Math.floor(sid / 2 ** STRTAB_SPLIT);
    let l2 = this.l2Tables.get(l1);
    if (l2 === undefined) {
      const n = 2 ** STRTAB_SPLIT;
      l2 = this.ctx.allocDma(n * STE_BYTES, n * STE_BYTES);
      if (l2 === undefined) return undefined;
      this.initAbortStes(l2, n);
      this.ctx.ramWrite64(this.strtabDma + STRTAB_L1_DESC_BYTES * l1, l1Desc(STRTAB_SPLIT + 1, l2));
      this.l2Tables.set(l1, l2);
    }
    return l2 + STE_BYTES * (sid % 2 ** STRTAB_SPLIT);
  }

  private entryWriter(
    addr: number,
    used: (e: readonly bigint[]) => Entry,
    vBit: bigint,
    sync: () => ActorBody<number>,
  ): EntryWriter {
    return {
      addr,
      used,
      vBit,
      read: (gpa) => this.ramRead64(gpa),
      write: (gpa, v) => this.ctx.ramWrite64(gpa, v),
      sync,
    };
  }

  /** arm_smmu_write_reg_sync: write, then poll the ACK register until it equals the value. */
  *writeRegSync(val: number, regOff: number, ackOff: number): ActorBody<number> {
    yield write(this.reg(regOff), val);
    const [ok] = yield* readlPollTimeout(
      this.ctx,
      this.reg(ackOff),
      (v) => v >>> 0 === val >>> 0,
      1,
      ARM_SMMU_POLL_TIMEOUT_US,
    );
    return ok ? 0 : -ERRNO.ETIMEDOUT;
  }

  /**
   * arm_smmu_device_reset, reduced to what this model has: no PRI queue, no ATS (neither
   * is in the guest config).
   * The impl's reset runs last; its failure fails the probe. spec: linux §4.4.
   */
  *deviceReset(): ActorBody<number> {
    const cr0 = (yield read(this.reg(SMMU_REG.CR0))) as number;
    if (cr0 & CR0_SMMUEN) this.dmesg.smmu("warn", "SMMU currently enabled! Resetting...");
    // arm_smmu_device_disable
    let ret = yield* this.writeRegSync(0, SMMU_REG.CR0, SMMU_REG.CR0ACK);
    if (ret !== 0) {
      this.dmesg.smmu("err", "failed to clear cr0");
      return ret;
    }
    yield write(this.reg(SMMU_REG.CR1), CR1_VALUE);
    yield write(this.reg(SMMU_REG.CR2), CR2_PTM | CR2_RECINVSID);
    yield write64(this.reg(SMMU_REG.STRTAB_BASE), this.strtabBase);
    yield write(this.reg(SMMU_REG.STRTAB_BASE_CFG), this.strtabBaseCfg);
    const q = this.cmdq.q;
    yield write64(this.reg(SMMU_REG.CMDQ_BASE), q.qBase);
    yield write(q.prodReg, q.llq.prod);
    yield write(q.consReg, q.llq.cons);
    let enables = CR0_CMDQEN;
    ret = yield* this.writeRegSync(enables, SMMU_REG.CR0, SMMU_REG.CR0ACK);
    if (ret !== 0) {
      this.dmesg.smmu("err", "failed to enable command queue");
      return ret;
    }
    // Invalidate any cached configuration, then any stale TLB entries.
    yield* this.issueCmdWithSync(0, { op: "CFGI_STE_RANGE", sid: 0, range: CFGI_ALL_RANGE });
    if (this.features.hyp) yield* this.issueCmdWithSync(0, { op: "TLBI_EL2_ALL" });
    yield* this.issueCmdWithSync(0, { op: "TLBI_NSNH_ALL" });
    // Event queue: BASE in page 0, PROD/CONS in page 1, then CR0.EVTQEN.
    const e = this.evtq;
    yield write64(this.reg(SMMU_REG.EVENTQ_BASE), e.qBase);
    yield write(e.prodReg, e.llq.prod);
    yield write(e.consReg, e.llq.cons);
    enables |= CR0_EVTQEN;
    ret = yield* this.writeRegSync(enables, SMMU_REG.CR0, SMMU_REG.CR0ACK);
    if (ret !== 0) {
      this.dmesg.smmu("err", "failed to enable event queue");
      return ret;
    }
    // arm_smmu_setup_irqs: disable, clear the MSI address registers, enable.
    ret = yield* this.writeRegSync(0, SMMU_REG.IRQ_CTRL, SMMU_REG.IRQ_CTRLACK);
    if (ret !== 0) {
      this.dmesg.smmu("err", "failed to disable irqs");
      this.dmesg.smmu("err", "failed to setup irqs");
      return ret;
    }
    yield write64(this.reg(SMMU_REG.GERROR_IRQ_CFG0), 0n);
    yield write64(this.reg(SMMU_REG.EVENTQ_IRQ_CFG0), 0n);
    ret = yield* this.writeRegSync(
      IRQ_CTRL_EVTQ_IRQEN | IRQ_CTRL_GERROR_IRQEN,
      SMMU_REG.IRQ_CTRL,
      SMMU_REG.IRQ_CTRLACK,
    );
    if (ret !== 0) this.dmesg.smmu("warn", "failed to enable irqs");
    enables |= CR0_SMMUEN;
    ret = yield* this.writeRegSync(enables, SMMU_REG.CR0, SMMU_REG.CR0ACK);
    if (ret !== 0) {
      this.dmesg.smmu("err", "failed to enable SMMU interface");
      return ret;
    }
    if (this.implOps) {
      ret = yield* this.implOps.deviceReset(this);
      if (ret !== 0) {
        this.dmesg.smmu("err", "failed to reset impl");
        return ret;
      }
    }
    return 0;
  }

  // --------------------------------------------------------- command queue ----

  /** arm_smmu_get_cmdq: the impl's secondary queue for `cmd`, else the SMMU's own. */
  getCmdq(cmd: Command, cpu: number): ArmSmmuCmdq {
    return this.implOps?.getSecondaryCmdq(this, cmd, cpu) ?? this.cmdq;
  }

  /** arm_smmu_cmdq_supports_cmd. */
  cmdqSupportsCmd(cmdq: ArmSmmuCmdq, cmd: Command): boolean {
    return cmdq.supportsCmd === null || cmdq.supportsCmd(cmd);
  }

  /** arm_smmu_cmdq_build_cmd: the two dwords. */
  buildCmd(cmd: Command): [bigint, bigint] {
    return encode(cmd);
  }

  /**
   * arm_smmu_cmdq_build_sync_cmd: MSH=ISH, MSIATTR=OIWB, CS=SEV (this SMMU has no MSI, so
   * no MSIPOLL); CS forced to NONE on a busy-polled (CMDQV) queue. spec: linux §2.4, §5.
   */
  buildSyncCmd(cmdq: ArmSmmuCmdq): [bigint, bigint] {
    return encode({
      op: "CMD_SYNC",
      cs: cmdq.busyPolling ? CS.NONE : CS.SEV,
      msh: SYNC_MSH_ISH,
      msiattr: SYNC_MSIATTR_OIWB,
      msidata: 0,
      msiaddr: 0n,
    });
  }

  private queuePollInit(): QueuePoll {
    return {
      timeout: this.ctx.now() + ARM_SMMU_POLL_TIMEOUT_US * NS_PER_US,
      delayUs: 1,
      spinCnt: 0,
      wfe: this.features.sev,
    };
  }

  /** queue_poll: -ETIMEDOUT past the deadline; else WFE, a cpu_relax spin, or udelay doubling. */
  private *queuePoll(qp: QueuePoll): ActorBody<number> {
    if (this.ctx.now() > qp.timeout) return -ERRNO.ETIMEDOUT;
    if (qp.wfe) {
      yield delay(WFE_NS);
    } else if (++qp.spinCnt < ARM_SMMU_POLL_SPIN_COUNT) {
      yield delay(CPU_RELAX_NS);
    } else {
      yield delay(qp.delayUs * NS_PER_US);
      qp.delayUs *= 2;
      qp.spinCnt = 0;
    }
    return 0;
  }

  /**
   * arm_smmu_cmdq_poll_until_not_full: with nobody waiting on a sync (the exclusive lock
   * is free) read CONS once into the shadow and return; else wait on the shadow until it is
   * not full, up to 1 s. The exclusive section is not held across the read [model].
   */
  private *pollUntilNotFull(cmdq: ArmSmmuCmdq): ActorBody<number> {
    const q = cmdq.q;
    if (cmdq.lock === 0) {
      q.llq.cons = ((yield read(q.consReg)) as number) >>> 0;
      return 0;
    }
    const qp = this.queuePollInit();
    for (;;) {
      if (!qIsFull(q.llq.prod, q.llq.cons, q.maxNShift)) return 0;
      const ret = yield* this.queuePoll(qp);
      if (ret !== 0) return ret;
    }
  }

  /**
   * __arm_smmu_cmdq_poll_until_consumed: take the shadow, then read CONS until it has moved
   * past the CMD_SYNC at `syncProd`, with queue_poll's back-off. `llq` is left as the
   * caller's view (prod = the shadow prod when the wait began, cons = last CONS read).
   */
  private *pollUntilConsumed(cmdq: ArmSmmuCmdq, syncProd: number, llq: Llq): ActorBody<number> {
    const q = cmdq.q;
    const qp = this.queuePollInit();
    llq.prod = q.llq.prod;
    llq.cons = q.llq.cons;
    for (;;) {
      if (qConsumedPast(llq.cons, syncProd, q.maxNShift)) return 0;
      llq.cons = ((yield read(q.consReg)) as number) >>> 0;
      const ret = yield* this.queuePoll(qp);
      if (ret !== 0) return ret;
    }
  }

  /**
   * arm_smmu_cmdq_issue_cmdlist: reserve n (+1 for the sync) entries on the shadow, write
   * them and the CMD_SYNC into the ring, write PROD, and when `sync` wait for the CMD_SYNC
   * ("CMD_SYNC timeout at …", rate-limited, on the SMMU device). A queue that stays full
   * makes the wait for space log "CMDQ timeout" and retry, as Linux does (forever).
   * `cmds` holds two u64 per command. 0 or -ETIMEDOUT. spec: linux §2.4, §4.5.
   */
  *issueCmdlist(
    cmdq: ArmSmmuCmdq,
    cmds: readonly bigint[],
    n: number,
    sync: boolean,
  ): ActorBody<number> {
    const q = cmdq.q;
    const shift = q.maxNShift;
    const total = n + (sync ? 1 : 0);
    // 1. Allocate some space in the queue.
    while (qFreeSpace(q.llq.prod, q.llq.cons, shift) < total) {
      const r = yield* this.pollUntilNotFull(cmdq);
      if (r !== 0) {
        cmdq.stats.fullTimeouts++;
        if (this.dmesg.ratelimit(ISSUE_FN, "full")) this.dmesg.smmu("err", "CMDQ timeout");
      }
    }
    // 2. Write our commands into the queue; 3. the CMD_SYNC after them. (No yield: atomic.)
    const start = q.llq.prod;
    for (let i = 0; i < n; i++) {
      const addr = qEntryAddress(q.baseDma, qAdvance(start, i, shift), shift);
      this.ctx.ramWrite64(addr, cmds[2 * i] ?? 0n);
      this.ctx.ramWrite64(addr + 8, cmds[2 * i + 1] ?? 0n);
    }
    const syncProd = qAdvance(start, n, shift);
    if (sync) {
      const [s0, s1] = this.buildSyncCmd(cmdq);
      const addr = qEntryAddress(q.baseDma, syncProd, shift);
      this.ctx.ramWrite64(addr, s0);
      this.ctx.ramWrite64(addr + 8, s1);
      // arm_smmu_cmdq_shared_lock: held while we wait for our sync.
      cmdq.lock++;
    }
    const prod = qAdvance(start, total, shift);
    q.llq.prod = prod;
    cmdq.stats.batches++;
    cmdq.stats.commands += n;
    // 4. Publish: the owner writes PROD (same step as the reservation, so monotonic).
    yield write(q.prodReg, prod);
    if (!sync) return 0;
    cmdq.stats.syncs++;
    // 5. Wait for our CMD_SYNC.
    const llq: Llq = { prod: 0, cons: 0 };
    const ret = yield* this.pollUntilConsumed(cmdq, syncProd, llq);
    if (ret !== 0) {
      cmdq.stats.syncTimeouts++;
      if (this.dmesg.ratelimit(ISSUE_FN, "sync")) {
        const hwprod = ((yield read(q.prodReg)) as number) >>> 0;
        const hwcons = ((yield read(q.consReg)) as number) >>> 0;
        this.dmesg.smmu(
          "err",
          sprintf(
            "CMD_SYNC timeout at 0x%08x [hwprod 0x%08x, hwcons 0x%08x]",
            llq.prod,
            hwprod,
            hwcons,
          ),
        );
      }
    }
    // arm_smmu_cmdq_shared_tryunlock fails for the last holder, who updates the shadow cons.
    if (cmdq.lock === 1) q.llq.cons = llq.cons;
    cmdq.lock--;
    return ret;
  }

  /** __arm_smmu_cmdq_issue_cmd: one command on the queue get_cmdq picks for it. */
  *issueCmd(cpu: number, cmd: Command, sync: boolean): ActorBody<number> {
    return yield* this.issueCmdlist(this.getCmdq(cmd, cpu), this.buildCmd(cmd), 1, sync);
  }

  /** arm_smmu_cmdq_issue_cmd_with_sync. */
  *issueCmdWithSync(cpu: number, cmd: Command): ActorBody<number> {
    return yield* this.issueCmd(cpu, cmd, true);
  }

  /** arm_smmu_cmdq_batch_init: the batch is bound to the queue of its first command. */
  batchInit(cpu: number, cmd: Command): ArmSmmuCmdqBatch {
    return { cmdq: this.getCmdq(cmd, cpu), num: 0, cmds: [], cpu, errors: 0 };
  }

  private batchReinit(b: ArmSmmuCmdqBatch, cmd: Command): void {
    b.cmdq = this.getCmdq(cmd, b.cpu);
    b.num = 0;
    b.cmds.length = 0;
  }

  /**
   * arm_smmu_cmdq_batch_add: a command the batch's queue does not support flushes the
   * batch with a CMD_SYNC and starts a new one on the queue chosen for it; a full batch
   * (64) is flushed without a sync. spec: linux §4.5.
   */
  *batchAdd(b: ArmSmmuCmdqBatch, cmd: Command): ActorBody<void> {
    if (!this.cmdqSupportsCmd(b.cmdq, cmd)) {
      if ((yield* this.issueCmdlist(b.cmdq, b.cmds, b.num, true)) !== 0) b.errors++;
      this.batchReinit(b, cmd);
    }
    if (b.num === CMDQ_BATCH_ENTRIES) {
      yield* this.issueCmdlist(b.cmdq, b.cmds, b.num, false);
      this.batchReinit(b, cmd);
    }
    const [d0, d1] = this.buildCmd(cmd);
    b.cmds.push(d0, d1);
    b.num++;
  }

  /** arm_smmu_cmdq_batch_submit: issue with a CMD_SYNC. 0 or -ETIMEDOUT. */
  *batchSubmit(b: ArmSmmuCmdqBatch): ActorBody<number> {
    const ret = yield* this.issueCmdlist(b.cmdq, b.cmds, b.num, true);
    if (ret !== 0) b.errors++;
    return ret;
  }

  // ------------------------------------------------------------- errors ----

  /**
   * __arm_smmu_cmdq_skip_err: report CONS.ERR; for an illegal (or unknown) command dump
   * it and turn it into a CMD_SYNC (CS=NONE on a busy-polled queue) in the ring. Only the
   * ring entry changes: never the shadow state. spec: linux §2.2, §4.6.
   */
  *skipErr(cmdq: ArmSmmuCmdq): ActorBody<void> {
    const q = cmdq.q;
    const cons = ((yield read(q.consReg)) as number) >>> 0;
    const idx = consErr(cons);
    this.dmesg.smmu("err", sprintf("CMDQ error (cons 0x%08x): %s", cons, cmdqErrorString(idx)));
    switch (idx) {
      case CMDQ_ERR.ABT:
        this.dmesg.smmu("err", "retrying command fetch");
        return;
      case CMDQ_ERR.NONE:
        return;
      case CMDQ_ERR.ATC_INV_SYNC:
        // CONS still points at the CMD_SYNC, which the hardware executes again.
        return;
      default:
        break;
    }
    const addr = qEntryAddress(q.baseDma, cons, q.maxNShift);
    const dw0 = this.ramRead64(addr);
    const dw1 = this.ramRead64(addr + 8);
    this.dmesg.smmu("err", "skipping command in error state:");
    this.dmesg.smmu("err", sprintf("\t0x%016llx", dw0));
    this.dmesg.smmu("err", sprintf("\t0x%016llx", dw1));
    const [s0, s1] = encode({
      op: "CMD_SYNC",
      cs: cmdq.busyPolling ? CS.NONE : CS.SEV,
      msh: SYNC_MSH_ISH,
      msiattr: SYNC_MSIATTR_OIWB,
      msidata: 0,
      msiaddr: 0n,
    });
    this.ctx.ramWrite64(addr, s0);
    this.ctx.ramWrite64(addr + 8, s1);
  }

  private ramRead64(gpa: number): bigint {
    const lo = this.ctx.ramRead32(gpa) >>> 0;
    const hi = this.ctx.ramRead32(gpa + 4) >>> 0;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /**
   * arm_smmu_gerror_handler for the errors this model raises: a CMDQ error is skipped on
   * the main CMDQ, then GERRORN = GERROR. True when something was pending (IRQ_HANDLED).
   */
  *gerrorHandler(): ActorBody<boolean> {
    const gerror = ((yield read(this.reg(SMMU_REG.GERROR))) as number) >>> 0;
    const gerrorn = ((yield read(this.reg(SMMU_REG.GERRORN))) as number) >>> 0;
    const active = (gerror ^ gerrorn) >>> 0;
    if (!(active & GERROR_ERR_MASK)) return false;
    this.dmesg.smmu(
      "warn",
      sprintf("unexpected global error reported (0x%08x), this could be serious", active),
    );
    if (active & GERROR_CMDQ_ERR) yield* this.skipErr(this.cmdq);
    yield write(this.reg(SMMU_REG.GERRORN), gerror);
    return true;
  }
}

/** A PCI endpoint's name from its StreamID: QEMU's IORT maps RID to SID one to one. */
function pciName(sid: number): string {
  return sprintf("0000:%02x:%02x.%d", (sid >> 8) & 0xff, (sid >> 3) & 0x1f, sid & 7);
}
