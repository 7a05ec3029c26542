// What QEMU's smmuv3_cmdq_consume does with each opcode of the main command queue, as a
// small integer per command (no allocation on the consumer's path).
//
// facts: QEMU hw/arm/smmuv3.c smmuv3_cmdq_consume (the switch) and
//   hw/arm/smmuv3-internal.h (SMMUCommandType, CMD_SSEC).
// Confirmed on QEMU 7.2.22 over qtest: opcodes 0x01-0x06, 0x10-0x13, 0x18, 0x1a,
//   0x20-0x23, 0x28, 0x2a, 0x30, 0x40, 0x41, 0x44-0x46 are accepted; every other opcode
//   (including 0x00 and 0x07 CFGI_ALL, which has an enum value but no case) is CERROR_ILL;
//   CFGI_STE/STE_RANGE/CD/CD_ALL with SSEC (dword0 bit 10) are CERROR_ILL.

import { SMMU_BITS } from "../../regs/smmuv3.js";
import { CMD_SSEC, OPCODE } from "../../smmu/commands.js";
import type { Smmuv3Profile } from "./profile.js";

/** Opcodes QEMU accepts that src/smmu/commands.ts does not name. facts: smmuv3-internal.h. */
export const QEMU_EXTRA_OPCODE = {
  TLBI_EL3_ALL: 0x18,
  TLBI_EL3_VA: 0x1a,
  TLBI_EL2_VAA: 0x23,
} as const;

export const CMD_ACTION = {
  /** Consumed with no effect the model tracks (prefetch, CFGI_STE*, EL2/EL3 TLBIs, …). */
  ACCEPT: 0,
  /** CERROR_ILL: CONS stops at the command. */
  ILL: 1,
  /** CMD_SYNC. */
  SYNC: 2,
  /** A TLBI forwarded to the host with no SID (accel). */
  FORWARD: 3,
  /** CFGI_CD / CFGI_CD_ALL / ATC_INV: forwarded only for a SID with a vDEVICE (accel). */
  FORWARD_SID: 4,
  /** CFGI_STE: the accel core installs the STE of the device with this SID (accel). */
  INSTALL_STE: 5,
  /** CFGI_STE_RANGE (CFGI_ALL): the accel core installs the STEs of the devices in range. */
  INSTALL_STE_RANGE: 6,
} as const;
export type CmdAction = (typeof CMD_ACTION)[keyof typeof CMD_ACTION];

/**
 * The action for a command with opcode `op` and first word `w0`, given the profile and the
 * current IDR0 (stage support).
 */
export function cmdAction(op: number, w0: number, idr0: number, p: Smmuv3Profile): CmdAction {
  const A = CMD_ACTION;
  switch (op) {
    case OPCODE.CMD_SYNC:
      return A.SYNC;
    case OPCODE.PREFETCH_CFG:
    case OPCODE.PREFETCH_ADDR:
      return A.ACCEPT;
    case OPCODE.CFGI_STE:
      if (w0 & CMD_SSEC) return A.ILL;
      return p.installSte ? A.INSTALL_STE : A.ACCEPT;
    case OPCODE.CFGI_STE_RANGE:
      if (w0 & CMD_SSEC) return A.ILL;
      return p.installSte ? A.INSTALL_STE_RANGE : A.ACCEPT;
    case OPCODE.CFGI_CD:
    case OPCODE.CFGI_CD_ALL:
      if (w0 & CMD_SSEC) return A.ILL;
      return p.accel ? A.FORWARD_SID : A.ACCEPT;
    case OPCODE.TLBI_NH_ALL:
    case OPCODE.TLBI_NH_ASID:
    case OPCODE.TLBI_NH_VA:
    case OPCODE.TLBI_NH_VAA:
      if (p.stageChecks && !(idr0 & SMMU_BITS.IDR0_S1P)) return A.ILL;
      return p.accel ? A.FORWARD : A.ACCEPT;
    case OPCODE.TLBI_NSNH_ALL:
      return p.accel ? A.FORWARD : A.ACCEPT;
    case OPCODE.TLBI_S12_VMALL:
    case OPCODE.TLBI_S2_IPA:
      if (p.stageChecks && !(idr0 & SMMU_BITS.IDR0_S2P)) return A.ILL;
      return A.ACCEPT;
    case OPCODE.ATC_INV:
      return p.accel ? A.FORWARD_SID : A.ACCEPT;
    case QEMU_EXTRA_OPCODE.TLBI_EL3_ALL:
    case QEMU_EXTRA_OPCODE.TLBI_EL3_VA:
    case OPCODE.TLBI_EL2_ALL:
    case OPCODE.TLBI_EL2_ASID:
    case OPCODE.TLBI_EL2_VA:
    case QEMU_EXTRA_OPCODE.TLBI_EL2_VAA:
    case OPCODE.PRI_RESP:
    case OPCODE.RESUME:
    case OPCODE.STALL_TERM:
      return A.ACCEPT;
    default:
      return A.ILL;
  }
}

/** A profile under which only an unknown opcode is ILL (for isUnknownToQemu). */
const QEMU_ALL_KNOWN: Smmuv3Profile = {
  name: "all-known",
  idr: [0, 0, 0, 0, 0, 0],
  gbpa: false,
  stageChecks: false,
  illLogAnyCause: false,
  idrsPersistAcrossReset: false,
  accel: false,
  installSte: false,
  autoAccelProps: false,
  accelVeventq: false,
};

/** True when QEMU's switch has no case for `op` (its `default:` → CERROR_ILL). */
export function isUnknownToQemu(op: number): boolean {
  return (
    cmdAction(op, 0, SMMU_BITS.IDR0_S1P | SMMU_BITS.IDR0_S2P, QEMU_ALL_KNOWN) === CMD_ACTION.ILL
  );
}
