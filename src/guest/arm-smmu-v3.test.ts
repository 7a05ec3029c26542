import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SMMU_REG } from "../regs/smmuv3.js";
import type { ActorBody, GuestContext } from "./actor.js";
import { ARM_SMMU_FEAT, ArmSmmuV3 } from "./arm-smmu-v3.js";
import { GuestDmesg } from "./dmesg.js";

const BASE = 0x0c00_0000;
/** QEMU 11.1's SMMU ID registers as a real Linux 7.3 guest read them (IIDR reads as 0). */
const QEMU_IDR = { IDR0: 0x0d44_141a, IDR1: 0x0113_0510, IDR3: 0x1404, IDR5: 0x75, IIDR: 0 };

/** Run `body`, answering each register read from `regs` (by SMMU offset); no time passes. */
function drive<R>(body: ActorBody<R>, regs: Record<string, number>): R {
  const byOff = new Map<number, number>();
  for (const [k, v] of Object.entries(regs)) byOff.set(SMMU_REG[k as keyof typeof SMMU_REG], v);
  let sent: number | bigint | undefined;
  for (;;) {
    const r = body.next(sent);
    if (r.done) return r.value;
    sent = r.value.op === "read" ? (byOff.get(r.value.addr - BASE) ?? 0) : undefined;
  }
}

function smmu(): { smmu: ArmSmmuV3; dmesg: GuestDmesg } {
  const dmesg = new GuestDmesg({ now: () => 0 });
  const ctx: GuestContext = {
    now: () => 0,
    dmesg: (l) => dmesg.printk("info", l),
    allocDma: () => undefined,
    ramWrite64: () => {},
    ramRead32: () => 0,
    ramWrite32: () => {},
  };
  return { smmu: new ArmSmmuV3(ctx, dmesg, { base: BASE }), dmesg };
}

describe("arm-smmu-v3 hardware probe", () => {
  it("derives Linux 7.3's features from QEMU 11.1's ID registers: 0x01008305, oas 48-bit", () => {
    const { smmu: s, dmesg } = smmu();
    s.featureBits = ARM_SMMU_FEAT.COHERENCY; // the IORT's COHACC override, as probe() sets it
    assert.equal(drive(s.hwProbe(), QEMU_IDR), 0);
    assert.equal(s.featureBits, 0x0100_8305);
    assert.equal(s.oas, 48);
    assert.equal(s.evtq.maxNShift, 17, "min(EVTQ_MAX_SZ_SHIFT, IDR1.EVENTQS = 19)");
    assert.equal(s.cmdq.q.maxNShift, 8);
    assert.deepEqual(dmesg.messages(), [
      "arm-smmu-v3 arm-smmu-v3.0.auto: oas 48-bit (features 0x01008305)",
    ]);
  });

  it("refuses big-endian translation tables and warns when IDR0.COHACC disagrees with the firmware", () => {
    const be = smmu();
    const idr0Be = (QEMU_IDR.IDR0 & ~(3 << 21)) | (3 << 21);
    assert.equal(drive(be.smmu.hwProbe(), { ...QEMU_IDR, IDR0: idr0Be }), -6);
    assert.deepEqual(be.dmesg.messages(), [
      "arm-smmu-v3 arm-smmu-v3.0.auto: unknown/unsupported TT endianness!",
    ]);
    const nc = smmu(); // no COHACC override from the firmware
    assert.equal(drive(nc.smmu.hwProbe(), { ...QEMU_IDR, IDR5: 0x77 }), 0);
    assert.deepEqual(nc.dmesg.messages(), [
      "arm-smmu-v3 arm-smmu-v3.0.auto: IDR0.COHACC overridden by FW configuration (false)",
      "arm-smmu-v3 arm-smmu-v3.0.auto: unknown output address size. Truncating to 48-bit",
      "arm-smmu-v3 arm-smmu-v3.0.auto: oas 48-bit (features 0x01008205)",
    ]);
  });

  it("prints option mask 0x0 and no companion line without a CMDQV", () => {
    const { smmu: s, dmesg } = smmu();
    drive(s.probe(), { ...QEMU_IDR, IDR0: 0 });
    assert.deepEqual(dmesg.messages().slice(0, 1), [
      "arm-smmu-v3 arm-smmu-v3.0.auto: option mask 0x0",
    ]);
  });
});
