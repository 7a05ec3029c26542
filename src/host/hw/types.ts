// The contract of the simulated CMDQV silicon, as the host kernel and the tests see it.
// The hardware is an MMIO device over the host aperture (config page, global VCMDQ
// pages, VINTF pages for every VINTF), evolves with virtual time (enable handshakes,
// the command consumer), raises an edge-triggered IRQ, and records every executed
// invalidation in an effects log (the TLB/ATC model).

import type { TimeListener } from "../../sim/clock.js";
import type { MmioDevice } from "../../mem/types.js";

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
};

/** What an executed invalidation did, as recorded in the effects log. */
export interface Effect {
  /** Virtual time of execution. */
  readonly t: number;
  /** Global VCMDQ index that executed it. */
  readonly vcmdq: number;
  /** Owning VINTF, or -1 when the queue is not mapped to one. */
  readonly vintf: number;
  readonly opcode: number;
  /** VMID used (after substitution for a guest-owned VINTF). */
  readonly vmid: number;
  readonly asid: number;
  /** Physical SID for ATC_INV (after SID_MATCH/SID_REPLACE), else 0. */
  readonly sid: number;
  /** Address field (dword1 bits [63:12] << 12) for VA/ATC invalidations, else 0. */
  readonly addr: bigint;
}

export interface IrqSink {
  /** One rising edge of the CMDQV interrupt. */
  edge(): void;
}
