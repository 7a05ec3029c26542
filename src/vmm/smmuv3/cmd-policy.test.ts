// The main CMDQ's per-opcode action, held over all 256 opcodes to what QEMU's
// smmuv3_cmdq_consume does (the accepted list confirmed on QEMU 7.2 over qtest, and the
// accel forwarding of smmuv3-accel.c).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SMMU_BITS } from "../../regs/smmuv3.js";
import { CMD_SSEC } from "../../smmu/commands.js";
import { CMD_ACTION, cmdAction, isUnknownToQemu } from "./cmd-policy.js";
import { QEMU_ACCEL, type Smmuv3Profile } from "./profile.js";

const A = CMD_ACTION;
const BOTH = SMMU_BITS.IDR0_S1P | SMMU_BITS.IDR0_S2P;
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
/** Opcodes QEMU's switch has a case for. */
const KNOWN = new Set([
  ...range(0x01, 0x06),
  ...range(0x10, 0x13),
  0x18,
  0x1a,
  ...range(0x20, 0x23),
  0x28,
  0x2a,
  0x30,
  0x40,
  0x41,
  ...range(0x44, 0x46),
]);

/** What the accelerated SMMUv3 does with `op` (both stages supported, no SSEC). */
function accelExpected(op: number): number {
  if (!KNOWN.has(op)) return A.ILL;
  if (op === 0x46) return A.SYNC;
  if (op === 0x03) return A.INSTALL_STE;
  if (op === 0x04) return A.INSTALL_STE_RANGE;
  if (op === 0x05 || op === 0x06 || op === 0x40) return A.FORWARD_SID;
  if ((op >= 0x10 && op <= 0x13) || op === 0x30) return A.FORWARD;
  return A.ACCEPT;
}

describe("the main CMDQ's opcode policy", () => {
  it("gives every one of the 256 opcodes QEMU's action under the accel profile", () => {
    for (let op = 0; op < 256; op++) {
      assert.equal(
        cmdAction(op, op, BOTH, QEMU_ACCEL),
        accelExpected(op),
        `opcode 0x${op.toString(16)}`,
      );
      assert.equal(isUnknownToQemu(op), !KNOWN.has(op), `opcode 0x${op.toString(16)}`);
    }
  });

  it("refuses CFGI commands with SSEC and stage-1/stage-2 TLBIs the IDRs do not support", () => {
    for (const op of [0x03, 0x04, 0x05, 0x06])
      assert.equal(cmdAction(op, op | CMD_SSEC, BOTH, QEMU_ACCEL), A.ILL);
    for (const op of range(0x10, 0x13)) {
      assert.equal(cmdAction(op, op, SMMU_BITS.IDR0_S2P, QEMU_ACCEL), A.ILL);
      assert.equal(cmdAction(op, op | CMD_SSEC, SMMU_BITS.IDR0_S1P, QEMU_ACCEL), A.FORWARD);
    }
    for (const op of [0x28, 0x2a]) {
      assert.equal(cmdAction(op, op, SMMU_BITS.IDR0_S1P, QEMU_ACCEL), A.ILL);
      assert.equal(cmdAction(op, op, SMMU_BITS.IDR0_S2P, QEMU_ACCEL), A.ACCEPT);
    }
    // TLBI_NSNH_ALL has no stage check.
    assert.equal(cmdAction(0x30, 0x30, 0, QEMU_ACCEL), A.FORWARD);
  });

  it("accepts without forwarding or installing when the profile is not accelerated", () => {
    const plain: Smmuv3Profile = {
      ...QEMU_ACCEL,
      accel: false,
      installSte: false,
      stageChecks: false,
    };
    for (let op = 0; op < 256; op++) {
      const want = !KNOWN.has(op) ? A.ILL : op === 0x46 ? A.SYNC : A.ACCEPT;
      assert.equal(cmdAction(op, op, 0, plain), want, `opcode 0x${op.toString(16)}`);
    }
  });
});
