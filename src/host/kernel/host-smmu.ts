// The host's own SMMUv3 as the kernel sees it: its ID registers (what IOMMU_GET_HW_INFO
// returns and what caps a HW queue's size), the features Linux derives from them, the
// VMID space stage-2 domains draw from, and the main command queue the kernel issues
// invalidations on for a VMM (spec: linux §3.2, §3.3 step 2, §3.5, §3.10).
//
// The main CMDQ is not a ring here: the kernel's issue path always completes (its own
// CMD_SYNC wait cannot time out in this model); what it executes goes to the effects log.

import { OPCODE } from "../../smmu/commands.js";
import { Ida } from "./ida.js";

/** SMMU_IDR0..5, IIDR, AIDR of the host SMMU. */
export interface HostSmmuConfig {
  readonly idr: readonly [number, number, number, number, number, number];
  readonly iidr: number;
  readonly aidr: number;
  /** ARM_SMMU_OPT_CMDQ_FORCE_SYNC (an erratum option): refuses vIOMMUs (linux §3.3). */
  readonly forceSync: boolean;
}

/**
 * Defaults [inf]: no public source gives Grace's ID registers. IDR0 = S2P, S1P, TTF
 * AArch64, COHACC, BTM, HTTU=2, HYP, ATS, ASID16, MSI, SEV, PRI, VMW, VMID16, CD2L,
 * 2-level stream table (0x080f76bb). IDR1 = SIDSIZE 16, SSIDSIZE 20, PRIQS/EVENTQS 19 and
 * CMDQS 19 in bits [25:21] (0x02739d10; the brief's and QEMU's host value). IDR3 = HAD,
 * XNX, RIL, BBML2, no FWB. IDR5 = OAS 48 bits, 4K/16K/64K granules, VAX 52 bits.
 * IIDR = Arm MMU-700 (product 0x487, implementer 0x43b); AIDR = SMMUv3.2.
 */
export const DEFAULT_HOST_SMMU: HostSmmuConfig = {
  idr: [0x080f_76bb, 0x0273_9d10, 0, 0x0000_1414, 0, 0x0000_0475],
  iidr: 0x4870_043b,
  aidr: 0x02,
  forceSync: false,
};

/** IDR field positions Linux reads (arm-smmu-v3.h). */
const IDR0_S2P = 1 << 0;
const IDR0_S1P = 1 << 1;
const IDR0_VMID16 = 1 << 18;
const IDR1_CMDQS_SHIFT = 21;
const IDR1_CMDQS_MASK = 0x1f;
const IDR3_FWB = 1 << 8;

export interface HostSmmuStats {
  /** Commands issued on the main CMDQ (CMD_SYNCs included). */
  readonly mainCmds: number;
  readonly mainSyncs: number;
}

/**
 * Called for every non-SYNC command the main CMDQ executes (the effects log), with the
 * command's four u32 words (dword0[31:0], dword0[63:32], dword1[31:0], dword1[63:32]).
 */
export type MainCmdqSink = (w0: number, w1: number, w2: number, w3: number) => void;

export class HostSmmu {
  readonly cfg: HostSmmuConfig;
  /** ARM_SMMU_FEAT_NESTING = TRANS_S1 && TRANS_S2. */
  readonly nesting: boolean;
  readonly s2fwb: boolean;
  readonly vmidBits: number;
  private readonly vmids = new Ida();
  private readonly sink: MainCmdqSink;
  private mainCmds = 0;
  private mainSyncs = 0;

  constructor(cfg: HostSmmuConfig, sink: MainCmdqSink) {
    this.cfg = cfg;
    this.sink = sink;
    const idr0 = cfg.idr[0] >>> 0;
    this.nesting = (idr0 & IDR0_S1P) !== 0 && (idr0 & IDR0_S2P) !== 0;
    this.s2fwb = ((cfg.idr[3] >>> 0) & IDR3_FWB) !== 0;
    this.vmidBits = (idr0 & IDR0_VMID16) !== 0 ? 16 : 8;
  }

  /** IDR1.CMDQS, bits [25:21]. */
  cmdqs(): number {
    return ((this.cfg.idr[1] >>> 0) >>> IDR1_CMDQS_SHIFT) & IDR1_CMDQS_MASK;
  }

  /** arm_smmu_domain_finalise_s2: ida_alloc_range(vmid_map, 1, 2^vmid_bits − 1). */
  allocVmid(): number {
    return this.vmids.allocRange(1, 2 ** this.vmidBits - 1);
  }

  freeVmid(vmid: number): void {
    if (vmid !== 0) this.vmids.free(vmid);
  }

  liveVmids(): number[] {
    return this.vmids.ids();
  }

  /**
   * arm_smmu_cmdq_issue_cmdlist on the main CMDQ: execute the `n` commands of `words`
   * from word `start` on (four u32 words each), then a CMD_SYNC when `sync`. Always
   * completes (0) in this model.
   */
  issueCmdlist(words: Uint32Array, start: number, n: number, sync: boolean): number {
    for (let i = start, end = start + 4 * n; i < end; i += 4) {
      const w0 = words[i]!;
      this.mainCmds++;
      if ((w0 & 0xff) === OPCODE.CMD_SYNC) this.mainSyncs++;
      else this.sink(w0, words[i + 1]!, words[i + 2]!, words[i + 3]!);
    }
    if (sync) {
      this.mainCmds++;
      this.mainSyncs++;
    }
    return 0;
  }

  stats(): HostSmmuStats {
    return { mainCmds: this.mainCmds, mainSyncs: this.mainSyncs };
  }
}
