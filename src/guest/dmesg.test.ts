import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DMESG_BUF_BYTES, DMESG_MAX_RECORDS, GuestDmesg, timestamp } from "./dmesg.js";

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

  it("keeps the last 4096 records as the kernel's 128 KiB log buffer does, and counts the ones it dropped", () => {
    assert.equal(DMESG_MAX_RECORDS, 4096);
    assert.equal(DMESG_BUF_BYTES, 128 * 1024);
    const t = { ns: 0 };
    const d = new GuestDmesg(clockAt(t));
    // Short messages: the record count, not the text, is what runs out.
    for (let i = 0; i < 500_000; i++) {
      d.printk("err", `e${i}`);
      t.ns += 1000;
    }
    const kept = d.messages();
    assert.equal(kept.length, 4096);
    assert.equal(d.dropped(), 500_000 - 4096);
    assert.equal(kept[0], `e${500_000 - 4096}`);
    assert.equal(kept.at(-1), "e499999");
    assert.equal(d.entries().length, 4096);
    assert.equal(d.lines().length, 4096);
    assert.deepEqual(d.listing().slice(0, 2), [
      "… 495904 earlier messages dropped (the log buffer holds 4096 records, 128 KiB of text)",
      d.lines()[0],
    ]);
    assert.equal(d.text().split("\n").length, 4097);
  });

  it("drops the oldest records when long messages fill the 128 KiB of text first", () => {
    const d = new GuestDmesg(clockAt({ ns: 0 }));
    const long = "x".repeat(1000);
    for (let i = 0; i < 1000; i++) d.printk("info", `${i} ${long}`);
    const kept = d.messages();
    const bytes = kept.reduce((n, m) => n + m.length, 0);
    assert.ok(bytes <= DMESG_BUF_BYTES, `${bytes} bytes kept`);
    assert.ok(bytes > DMESG_BUF_BYTES - 1010, "as many as fit");
    assert.equal(d.dropped() + kept.length, 1000);
    assert.ok(kept.at(-1)?.startsWith("999 "));
    assert.deepEqual(new GuestDmesg(clockAt({ ns: 0 })).listing(), []);
  });
});
