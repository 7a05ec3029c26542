import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GuestDmesg, timestamp } from "./dmesg.js";

function clockAt(t: { ns: number }) {
  return { now: () => t.ns };
}

describe("guest dmesg", () => {
  it("stamps lines as [%5lu.%06lu] in virtual time", () => {
    assert.equal(timestamp(0), "[    0.000000] ");
    assert.equal(timestamp(1_049_503_123), "[    1.049503] ");
    assert.equal(timestamp(123_456_789_000_000), "[123456.789000] ");
  });

  it("prefixes SMMU and CMDQV messages as dev_printk and dev_fmt do", () => {
    const t = { ns: 2_000 };
    const d = new GuestDmesg(clockAt(t));
    d.smmu("err", "failed to reset impl");
    d.cmdqv("err", "CMDQV: failed to enable, STATUS=0x00000000");
    assert.deepEqual(d.lines(), [
      "[    0.000002] arm-smmu-v3 arm-smmu-v3.0.auto: failed to reset impl",
      "[    0.000002] platform NVDA200C:00: tegra241_cmdqv: CMDQV: failed to enable, STATUS=0x00000000",
    ]);
    assert.equal(d.text(), `${d.lines().join("\n")}\n`);
  });

  it("drops dev_dbg lines unless debug is on", () => {
    const t = { ns: 0 };
    const quiet = new GuestDmesg(clockAt(t));
    quiet.cmdqv("debug", "VINTF0: VCMDQ0/LVCMDQ0: inited");
    assert.deepEqual(quiet.messages(), []);
    const loud = new GuestDmesg(clockAt(t), { debug: true });
    loud.cmdqv("debug", "VINTF0: VCMDQ0/LVCMDQ0: inited");
    assert.equal(loud.messages().length, 1);
  });

  it("rate-limits a call site to 10 lines per 5 s and reports the suppressed count", () => {
    const t = { ns: 1 };
    const d = new GuestDmesg(clockAt(t));
    let printed = 0;
    for (let i = 0; i < 15; i++) {
      if (d.ratelimit("arm_smmu_cmdq_issue_cmdlist", "sync")) printed++;
      t.ns += 100_000_000;
    }
    assert.equal(printed, 10);
    assert.equal(d.suppressed("arm_smmu_cmdq_issue_cmdlist", "sync"), 5);
    // Another call site in the same function has its own budget.
    assert.equal(d.ratelimit("arm_smmu_cmdq_issue_cmdlist", "full"), true);
    t.ns += 5_000_000_000;
    assert.equal(d.ratelimit("arm_smmu_cmdq_issue_cmdlist", "sync"), true);
    assert.deepEqual(d.messages(), ["arm_smmu_cmdq_issue_cmdlist: 5 callbacks suppressed"]);
  });
});
