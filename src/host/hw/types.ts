// The contract of the simulated CMDQV silicon, as the host kernel and the tests see it.
// The hardware is an MMIO device over the host aperture (config page, global VCMDQ
// pages, VINTF pages for every VINTF), evolves with virtual time (enable handshakes,
// the command consumer), raises an edge-triggered IRQ, and records every executed
// invalidation in an effects log (the TLB/ATC model).

import type { MmioDevice } from "../../mem/types.js";
import { V_CONFIG_RESET } from "../../regs/cmdqv.js";
import type { TimeListener } from "../../util/clock.js";

/**
 * Behaviour that no public source pins down (spec linux §8). Each is a named option
 * with the most plausible default; docs/hardware.md explains each choice.
 */
export interface HwUnknowns {
  /** §8.2: error maps (LVCMDQ/VINTF/CMDQ) clear when GERRORN acks GERROR. Default true. */
  readonly errMapsClearOnAck: boolean;
  /** §8.3: CONS.ERR for a disallowed opcode on a HYP_OWN=0 VINTF. Default ILL_OPCODE (1). */
  readonly guestFilterError: 1 | 4;
  /** §8.3: CONS.ERR for ATC_INV whose vSID matches no SID_MATCH slot. Default ILL_ACCESS (4). */
  readonly unmatchedSidError: 1 | 4;
  /** CONS.ERR for CMD_SYNC with CS≠NONE (VCMDQs support CS_NONE only, linux §2.4). Default 1. */
  readonly syncCsError: 1 | 4;
  /** §8.5: unmapped LVCMDQ slots read 0 and drop writes. Default true (no other mode yet). */
  readonly unmappedLvcmdqReadsZero: true;
}

export interface HwConfig {
  /** PARAM fields. Defaults: VER 1, 128 VCMDQs (log2 7), 64 VINTFs (log2 6), 16 SIDs (log2 4). */
  readonly version: number;
  readonly numVcmdqLog2: number;
  readonly numVintfLog2: number;
  readonly numSidLog2: number;
  /** Host-physical base of the CMDQV aperture (the mmap of VINTF page0 points into it). */
  readonly basePhys: number;
  /** Virtual ns from a CONFIG write to STATUS following it, at every level. */
  readonly handshakeNs: number;
  /** Virtual ns the consumer spends per command. */
  readonly cmdNs: number;
  /** Capacity of the effects ring (older entries are overwritten; totals keep counting). */
  readonly effectsCapacity: number;
  readonly unknowns: HwUnknowns;
  /**
   * Power-on value of the Config-page CONFIG register (STATUS.CMDQV_ENABLED follows its
   * bit 0 at reset). No source gives the silicon's value: the default is QEMU's emulated
   * V_CONFIG_RESET (0x00020083, CMDQV_EN=1). spec: linux §1.8, qemu §2.7, linux §8.1.
   */
  readonly configReset?: number;
}

export const DEFAULT_HW_UNKNOWNS: HwUnknowns = {
  errMapsClearOnAck: true,
  guestFilterError: 1,
  unmatchedSidError: 4,
  syncCsError: 1,
  unmappedLvcmdqReadsZero: true,
};

export const DEFAULT_HW_CONFIG: HwConfig = {
  version: 1,
  numVcmdqLog2: 7,
  numVintfLog2: 6,
  numSidLog2: 4,
  basePhys: 0x0_1000_0000_0000,
  handshakeNs: 500,
  cmdNs: 10,
  effectsCapacity: 1 << 16,
  unknowns: DEFAULT_HW_UNKNOWNS,
  configReset: V_CONFIG_RESET,
};

/** Who executed an invalidation: a VCMDQ of the CMDQV, or the SMMU's main CMDQ (the host
 * kernel on a VMM's behalf, spec linux §3.10). */
export type EffectSource = "vcmdq" | "main-cmdq";

/** Sizes derived from HwConfig (what PARAM advertises). spec: linux §1.7. */
export interface HwGeometry {
  readonly numVcmdqs: number;
  readonly numVintfs: number;
  readonly lvcmdqsPerVintf: number;
  /** SID_MATCH/SID_REPLACE slots per VINTF: 1 << numSidLog2, capped at 16 (linux §1.3). */
  readonly numSids: number;
  /** The PARAM register value. */
  readonly param: number;
}

/** What an executed invalidation did, as recorded in the effects log. */
export interface Effect {
  /** Sequence number in the effects log (0 = first record since creation or clear()). */
  readonly seq: number;
  readonly source: EffectSource;
  /** Virtual time of execution. */
  readonly t: number;
  /** Global VCMDQ index that executed it, or -1 for the main CMDQ. */
  readonly vcmdq: number;
  /** Owning VINTF, or -1 when the queue is not mapped to one. */
  readonly vintf: number;
  readonly opcode: number;
  /** VMID used (after substitution for a guest-owned VINTF). */
  readonly vmid: number;
  readonly asid: number;
  /** Physical SID for ATC_INV (after SID_MATCH/SID_REPLACE) or another SID-carrying
   * command, else 0. */
  readonly sid: number;
  /** Address field (dword1 bits [63:12], or [51:12] for TLBI_S2_IPA, as a byte
   * address) for VA/IPA/ATC invalidations, else 0. */
  readonly addr: bigint;
}

export interface IrqSink {
  /** One rising edge of the CMDQV interrupt. */
  edge(): void;
}

/** Counters the hardware keeps (diagnostics; not architected registers). */
export interface HwStats {
  /** Commands consumed without error (CONS moved past them). */
  readonly commands: number;
  readonly commandsPerQueue: readonly number[];
  /** Of those: TLBI_* and ATC_INV executed (also in the effects log). */
  readonly invalidations: number;
  readonly syncs: number;
  /** CFGI_*, PREFETCH_*, PRI_RESP, RESUME, STALL_TERM on hypervisor-owned queues. */
  readonly noops: number;
  /** Command errors raised, total and by CONS.ERR code (only non-zero codes listed). */
  readonly errors: number;
  readonly errorsByCode: Readonly<Record<number, number>>;
  /** Errors that raised an IRQ edge / that VI_INT_MASK suppressed. */
  readonly irqEdges: number;
  readonly irqMasked: number;
  /** Times the IrqSinks were called (edges within one step coalesce, see docs). */
  readonly irqDeliveries: number;
  /** Guest/host programming errors on the MMIO interface, total and by kind. */
  readonly badAccesses: number;
  readonly badBySize: number;
  readonly badUnknownOffset: number;
  readonly badReadOnlyWrite: number;
  /** Writes to CONS/BASE while the queue is enabled (ignored). */
  readonly badLockedWrite: number;
  /** 1/2-byte reads (served from the containing u32). */
  readonly narrowReads: number;
  /** Accesses to VINTF LVCMDQ slots with no VCMDQ mapped (read 0, write dropped). */
  readonly unmappedSlotAccesses: number;
  /** CMDQ_ALLOC changes that broke "map ascending / unmap descending" (linux §2.5). */
  readonly mapOrderViolations: number;
}

/** What the host kernel and the world use of the CMDQV silicon (CmdqvHardware). */
export interface CmdqvDevice extends MmioDevice, TimeListener {
  readonly geometry: HwGeometry;
  readonly basePhys: number;
  /** Bytes of MMIO decoded from basePhys. */
  readonly size: number;
  /** Edges are delivered after the step or MMIO write that raised them. */
  onIrq(sink: IrqSink): void;
  stats(): HwStats;
  /** Power-on register values. */
  reset(): void;
}
