// Cache vs hardware routing (spec qemu §2.6), the page0 overlay (§1.6), the review's
// Case 1 and Case 2 (qemu §3.6), and hardware errors reaching the guest (§1.7).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BITS, VCMDQ0 } from "../regs/cmdqv.js";
import type { Command } from "../smmu/commands.js";
import { CS, encode, OPCODE } from "../smmu/commands.js";
import { linuxBringUp, OFF } from "../vmm/tegra241-cmdqv/guest-steps.js";
import type { ProfileName } from "../vmm/tegra241-cmdqv/profile.js";
import { createTestbed, type Testbed } from "./testbed.js";

const Q0 = 0x4020_0000;
const Q1 = 0x4040_0000;
const LOG2 = 12;
/** Misaligned for a 64 KiB queue: the driver refuses it with EINVAL (-22). spec: linux §3.5. */
const MISALIGNED = 0x4060_1000;
const ONE_SECOND = 1_000_000_000;

function bringUp(profile: ProfileName, q0 = Q0, q1 = Q1): Testbed {
  const tb = createTestbed({ profile });
  linuxBringUp(tb, [
    { gpa: q0, log2size: LOG2 },
    { gpa: q1, log2size: LOG2 },
  ]);
  tb.step(10_000);
  return tb;
}

function putCommand(tb: Testbed, ringGpa: number, index: number, cmd: Command): void {
  const [dw0, dw1] = encode(cmd);
  tb.as.write64(ringGpa + 16 * index, dw0);
  tb.as.write64(ringGpa + 16 * index + 8, dw1);
}

const TLBI_ASID: Command = { op: "TLBI_NH_ASID", vmid: 0, asid: 5 };
const SYNC: Command = { op: "CMD_SYNC", cs: CS.NONE, msh: 0, msiattr: 0, msidata: 0, msiaddr: 0n };

describe("page0 routing and the guest map", () => {
  it("serves an allocated queue's page0 from hardware, with no trap through the VINTF window", () => {
    const tb = bringUp("qemu-v7");
    assert.equal(tb.r32(OFF.page0(0, VCMDQ0.STATUS)) & 1, 1);
    const traps = tb.as.traps();
    const direct = tb.as.directAccesses();
    for (let i = 0; i < 10; i++) tb.r32(OFF.page0(0, VCMDQ0.CONS));
    assert.equal(tb.as.traps(), traps, "no VM exit through the RAM-device map");
    assert.equal(tb.as.directAccesses(), direct + 10);
    tb.r32(OFF.page0(0, VCMDQ0.CONS, false));
    assert.equal(tb.as.traps(), traps + 1, "the direct aperture (0x10000) is always trapped");
  });

  it("lets the guest's commands be consumed by hardware with no VM exit per command", () => {
    const tb = bringUp("qemu-latest");
    putCommand(tb, Q0, 0, TLBI_ASID);
    putCommand(tb, Q0, 1, SYNC);
    const traps = tb.as.traps();
    tb.w32(OFF.page0(0, VCMDQ0.PROD), 2);
    tb.step(10_000);
    assert.equal(tb.r32(OFF.page0(0, VCMDQ0.CONS)), 2);
    assert.equal(tb.as.traps(), traps);
    const fx = tb.host.hw.effects.entries();
    assert.equal(fx.length, 1);
    assert.equal(fx[0]?.opcode, OPCODE.TLBI_NH_ASID);
    assert.equal(fx[0]?.asid, 5);
  });

  it("syncs cached CONS, PROD and CONFIG into the host page after allocation, so an early enable takes", () => {
    const tb = createTestbed({ profile: "qemu-v7" });
    // Enable the queue through the trapped direct aperture before BASE is programmed.
    tb.w32(OFF.CONFIG, tb.r32(OFF.CONFIG));
    tb.w32(OFF.alloc(0), 1);
    tb.w32(OFF.page0(0, VCMDQ0.CONFIG, false), BITS.CMDQ_EN);
    tb.w32(OFF.VINTF0_CONFIG, BITS.VINTF_ENABLE);
    tb.w64(OFF.page1(0, 0, false), BigInt(Q0) | BigInt(LOG2));
    tb.step(10_000);
    assert.equal(
      tb.r32(OFF.page0(0, VCMDQ0.STATUS)) & 1,
      1,
      "hardware enabled from the synced CONFIG",
    );
  });

  it("zeroes the cached page0 on free in qemu-v7 but not in qemu-v5", () => {
    for (const [profile, zeroed] of [
      ["qemu-v7", true],
      ["qemu-v5", false],
    ] as const) {
      const tb = createTestbed({ profile });
      tb.w32(OFF.page0(0, VCMDQ0.PROD, false), 7);
      tb.w32(OFF.alloc(0), 1);
      tb.w32(OFF.VINTF0_CONFIG, BITS.VINTF_ENABLE);
      tb.w64(OFF.page1(0, 0, false), BigInt(Q0) | BigInt(LOG2));
      assert.equal(tb.dev.hwQueues().length, 1, profile);
      tb.w32(OFF.alloc(0), 0);
      assert.equal(tb.r32(OFF.page0(0, VCMDQ0.PROD, false)), zeroed ? 0 : 7, profile);
    }
  });

  it("keeps a persistent page0 region disabled rather than removed in qemu-latest", () => {
    const tb = bringUp("qemu-latest");
    tb.w32(OFF.VINTF0_CONFIG, 0);
    const overlay = tb.as.regions().find((r) => r.kind === "overlay");
    assert.equal(overlay?.enabled, false);
    const v7 = bringUp("qemu-v7");
    v7.w32(OFF.VINTF0_CONFIG, 0);
    assert.equal(
      v7.as.regions().find((r) => r.kind === "overlay"),
      undefined,
    );
  });
});

describe("the review's failure cases (spec qemu §3.6)", () => {
  it("Case 1 under qemu-v5: VCMDQ0 succeeds, VCMDQ1 fails, and the guest reads STATUS=0 for VCMDQ1 from hardware", () => {
    const tb = bringUp("qemu-v5", Q0, MISALIGNED);
    assert.deepEqual(tb.log.text("error"), ["IOMMU_HW_QUEUE_ALLOC failed: error -22"]);
    tb.step(ONE_SECOND);
    assert.equal(tb.r32(OFF.page0(0, VCMDQ0.STATUS)), 1, "VCMDQ0 enabled");
    // Page0 is guest-mapped after VCMDQ0's success: VCMDQ1's slot goes to hardware, which has no queue.
    assert.equal(tb.r32(OFF.page0(1, VCMDQ0.STATUS)), 0, "failed to enable, STATUS=0x00000000");
    assert.equal(tb.r32(OFF.page0(1, VCMDQ0.GERROR)), 0);
    assert.equal(tb.r32(OFF.page0(1, VCMDQ0.GERRORN)), 0);
    assert.equal(tb.r32(OFF.page0(1, VCMDQ0.CONS)), 0);
  });

  it("Case 2 under qemu-v5: VCMDQ0 fails, the cache reports it enabled, and commands are never consumed", () => {
    const tb = bringUp("qemu-v5", MISALIGNED, Q1);
    assert.equal(tb.log.text("error")[0], "IOMMU_HW_QUEUE_ALLOC failed: error -22");
    assert.equal(tb.dev.page0Mapped(), true);
    assert.ok(!tb.as.regions().some((r) => r.kind === "overlay"), "page0 is not guest-mapped");
    assert.equal(tb.r32(OFF.page0(0, VCMDQ0.STATUS)), 1, "the cache says EN_OK");
    assert.equal(tb.r32(OFF.page0(0, VCMDQ0.GERROR)), 0, "and no error");
    putCommand(tb, MISALIGNED, 0, TLBI_ASID);
    putCommand(tb, MISALIGNED, 1, SYNC);
    tb.w32(OFF.page0(0, VCMDQ0.PROD), 2);
    tb.step(ONE_SECOND);
    assert.equal(tb.r32(OFF.page0(0, VCMDQ0.PROD)), 2, "hwprod 0x00000002");
    assert.equal(tb.r32(OFF.page0(0, VCMDQ0.CONS)), 0, "hwcons 0x00000000: CMD_SYNC timeout");
  });

  it("Case 2 is fixed in qemu-v7: the guest sees VCMDQ0 fail to enable, and CMDQ_INIT_ERR in the direct aperture", () => {
    const tb = bringUp("qemu-v7", MISALIGNED, Q1);
    assert.equal(tb.log.text("error")[0], "IOMMU_HW_QUEUE_ALLOC failed: Invalid argument");
    tb.step(ONE_SECOND);
    assert.equal(
      tb.r32(OFF.page0(0, VCMDQ0.STATUS)),
      0,
      "the VINTF window reaches hardware: not enabled",
    );
    assert.equal(
      tb.r32(OFF.page0(0, VCMDQ0.GERROR, false)) & BITS.GERROR_CMDQ_INIT_ERR,
      BITS.GERROR_CMDQ_INIT_ERR,
    );
    assert.equal(tb.r32(OFF.page0(0, VCMDQ0.STATUS, false)), 0, "the cache no longer fakes EN_OK");
  });
});

describe("hardware errors reach the guest (spec qemu §1.7)", () => {
  function illegalOnQueue0(profile: ProfileName, masked: boolean): Testbed {
    const tb = bringUp(profile);
    if (masked) tb.w32(OFF.VI_INT_MASK_0, 1);
    // TLBI_NH_ALL is not accepted by a guest-owned VCMDQ. spec: linux §2.3.
    putCommand(tb, Q0, 0, { op: "TLBI_NH_ALL", vmid: 0 });
    tb.w32(OFF.page0(0, VCMDQ0.PROD), 1);
    tb.step(10_000);
    return tb;
  }

  it("sets VI_ERR_MAP, LVCMDQ_ERR_MAP and CMDQ_ERR_MAP and pulses the IRQ", () => {
    const tb = illegalOnQueue0("qemu-v7", false);
    assert.equal(tb.r32(OFF.page0(0, VCMDQ0.CONS)) >>> 24, 1, "CONS.ERR = ILL");
    assert.equal(tb.r32(OFF.VI_ERR_MAP_0), 1);
    assert.equal(tb.r32(OFF.VINTF0_LVCMDQ_ERR_MAP_0), 1);
    assert.equal(tb.r64(OFF.VINTF0_LVCMDQ_ERR_MAP_0), 1n, "readq returns MAP_0 zero-extended");
    assert.equal(tb.r32(OFF.CMDQ_ERR_MAP_0), 1);
    assert.equal(tb.irq.raises, 1);
    assert.equal(tb.irq.level, false, "a pulse: raised then lowered");
  });

  it("is masked by VI_INT_MASK in qemu-v7 but not in qemu-v5", () => {
    assert.equal(illegalOnQueue0("qemu-v7", true).irq.raises, 0);
    assert.equal(illegalOnQueue0("qemu-v5", true).irq.raises, 1);
  });
});
