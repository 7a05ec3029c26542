// What a VCMDQ does with one fetched command: classify it, apply the guest-owned VINTF
// restriction and its VMID/SID substitution, or report the CONS.ERR code. Pure functions
// over the four command words (w0..w3 = dword0 lo/hi, dword1 lo/hi), allocation-free;
// the hardware class owns the queue registers and the time loop.

import { F } from "../../regs/cmdqv.js";
import {
  CS,
  cmdOpcode,
  cmdSid,
  cmdSyncCs,
  OPCODE,
  type OpName,
  withSid,
} from "../../smmu/commands.js";
import { CMDQ_ERR } from "../../smmu/errors.js";
import type { HwUnknowns } from "./types.js";

/** What executing an (accepted) command means for the model. */
export const CMD_CLASS = {
  /** Not an architected opcode: CONS.ERR = ILL (SMMUv3 CERROR_ILL). */
  ILLEGAL: 0,
  /** TLBI_* and ATC_INV: recorded in the effects log. */
  INVALIDATION: 1,
  /** CFGI_*, PREFETCH_*, PRI_RESP, RESUME, STALL_TERM: no TLB/ATC effect in this model. */
  NOOP: 2,
  CMD_SYNC: 3,
} as const;

/** Class per opcode byte, derived from the opcode table (spec: linux §5). */
export const OP_CLASS: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const name of Object.keys(OPCODE) as OpName[]) {
    const op = OPCODE[name];
    if (name === "CMD_SYNC") t[op] = CMD_CLASS.CMD_SYNC;
    else if (name.startsWith("TLBI_") || name === "ATC_INV") t[op] = CMD_CLASS.INVALIDATION;
    else t[op] = CMD_CLASS.NOOP;
  }
  return t;
})();

/**
 * Opcodes a VCMDQ of a HYP_OWN=0 VINTF accepts: TLBI_NH_ASID, TLBI_NH_VA, ATC_INV (the
 * Linux filter, spec: linux §2.3 [src]) and CMD_SYNC, which the driver appends to the
 * same queue (linux §2.3 [inf]; its CS is checked separately).
 */
export const GUEST_ALLOWED: Uint8Array = (() => {
  const t = new Uint8Array(256);
  t[OPCODE.TLBI_NH_ASID] = 1;
  t[OPCODE.TLBI_NH_VA] = 1;
  t[OPCODE.ATC_INV] = 1;
  t[OPCODE.CMD_SYNC] = 1;
  return t;
})();

const VIRT_SID_MASK = (1 << F.SID_MATCH.VIRT_SID.width) - 1;
const PHYS_SID_MASK = (1 << F.SID_REPLACE.PHYS_SID.width) - 1;

/**
 * The SID_REPLACE slot whose SID_MATCH is enabled and names `vsid`, or -1. Slots are
 * searched in index order, so the lowest matching slot wins when software programs the
 * same vSID twice [inf: undocumented]. spec: linux §1.3, §2.3 [inf].
 */
export function matchSid(
  sidMatch: Uint32Array,
  base: number,
  numSids: number,
  vsid: number,
): number {
  for (let s = 0; s < numSids; s++) {
    const m = sidMatch[base + s]!;
    if ((m & 1) === 1 && ((m >>> 1) & VIRT_SID_MASK) === vsid) return s;
  }
  return -1;
}

/** Everything filterCommand needs about the queue's owner. */
export interface OwnerView {
  /** True for a queue mapped to a VINTF whose CONFIG.HYP_OWN = 0. */
  guest: boolean;
  /** CONFIG.VMID of that VINTF. */
  vmid: number;
  sidMatch: Uint32Array;
  sidReplace: Uint32Array;
  /** Index of the VINTF's slot 0 in sidMatch/sidReplace. */
  sidBase: number;
  numSids: number;
}

/**
 * Check one command and translate it in place (`words` = w0..w3). Returns 0 when the
 * command executes (see OP_CLASS for what that means), else the CONS.ERR code.
 */
export function filterCommand(words: Uint32Array, own: OwnerView, unknowns: HwUnknowns): number {
  const w0 = words[0]!;
  const op = cmdOpcode(w0);
  const cls = OP_CLASS[op]!;
  // "only support CS_NONE in the CS field of CMD_SYNC" holds for every VCMDQ, whoever
  // owns it. spec: linux §2.4 [src ML]; the error code is HwUnknowns.syncCsError.
  if (cls === CMD_CLASS.CMD_SYNC) return cmdSyncCs(w0) === CS.NONE ? 0 : unknowns.syncCsError;
  if (!own.guest) {
    // Hypervisor-owned: any architected command runs unchanged; anything else is an
    // illegal command as on an SMMUv3 CMDQ. spec: linux §2.2.
    return cls === CMD_CLASS.ILLEGAL ? CMDQ_ERR.ILL : 0;
  }
  // Guest-owned VINTF: TLB and ATC invalidations only. spec: linux §2.3. The error code
  // for a disallowed opcode is not documented (linux §8.3): HwUnknowns.guestFilterError.
  if (GUEST_ALLOWED[op] !== 1) return unknowns.guestFilterError;
  if (op === OPCODE.ATC_INV) {
    // The hardware translates the guest's vSID through SID_MATCH/SID_REPLACE. spec: linux
    // §2.3 [inf]; an unmatched vSID's code is HwUnknowns.unmatchedSidError (§8.3).
    const s = matchSid(own.sidMatch, own.sidBase, own.numSids, cmdSid(words[1]!));
    if (s < 0) return unknowns.unmatchedSidError;
    words[1] = withSid(words[1]!, own.sidReplace[own.sidBase + s]! & PHYS_SID_MASK);
    return 0;
  }
  // TLBI_NH_ASID / TLBI_NH_VA: the VINTF's VMID replaces the guest's. spec: linux §2.3
  // [inf]. Other fields stay as the guest wrote them (linux §8.6 leaves that open).
  // own.vmid is CONFIG.VMID, 16 bits by construction: withVmid's range check is left out
  // of this per-command path, its field placement kept.
  words[1] = ((words[1]! & 0xffff_0000) | own.vmid) >>> 0;
  return 0;
}
