// Command queue error codes reported in CONS.ERR, bits [30:24]. spec: linux §2.2, §5.

import { fieldMask, fieldOf } from "../regs/regdef.js";
import { SMMU_F } from "../regs/smmuv3.js";

/** CONS.ERR codes. Names follow Linux's indices; 4 is QEMU's CERROR_ILL_ACCESS. */
export const CMDQ_ERR = {
  NONE: 0,
  /** Illegal command (QEMU CERROR_ILL_OPCODE). */
  ILL: 1,
  /** Abort on command fetch. */
  ABT: 2,
  /** ATC invalidate timeout (Linux's ATC_INV index). */
  ATC_INV_SYNC: 3,
  /** Unknown to Linux; it handles it like ILL. */
  ILL_ACCESS: 4,
} as const;

export type CmdqErrName = keyof typeof CMDQ_ERR;
export type CmdqErrCode = (typeof CMDQ_ERR)[CmdqErrName];

/** CONS.ERR: bits [30:24] of CMDQ_CONS and of a VCMDQ's CONS. spec: linux §2.2. */
const CONS_ERR = SMMU_F.CMDQ_CONS.ERR;
const CONS_ERR_MASK = fieldMask(CONS_ERR);

const STRINGS: readonly string[] = [
  "No error",
  "Illegal command",
  "Abort on command fetch",
  "ATC invalidate timeout",
];

/** The string Linux's skip-error path prints for a code; codes it does not know print "Unknown". */
export function cmdqErrorString(code: number): string {
  return (Number.isInteger(code) ? STRINGS[code] : undefined) ?? "Unknown";
}

const NAMES: readonly string[] = ["NONE", "ILL", "ABT", "ATC_INV_SYNC", "ILL_ACCESS"];

/** Short name for traces: "ILL", or "ERR(0x7f)" for a code outside the table. */
export function cmdqErrorName(code: number): string {
  return (Number.isInteger(code) ? NAMES[code] : undefined) ?? `ERR(0x${code.toString(16)})`;
}

/** CONS.ERR of a CONS register value. */
export function consErr(cons: number): number {
  return fieldOf(cons, CONS_ERR);
}

/** A CONS value with CONS.ERR replaced by `code` (0..127; wider is a model bug). */
export function withConsErr(cons: number, code: number): number {
  if (!Number.isInteger(code) || code < 0 || code > 0x7f)
    throw new RangeError(`CONS.ERR ${code} outside 0..127`);
  return ((cons & ~CONS_ERR_MASK) | (code << CONS_ERR.shift)) >>> 0;
}
