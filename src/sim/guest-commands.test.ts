// The guest's command path after bring-up (spec linux §4.5, §4.6, §2.3, §3.10): what goes
// to a VCMDQ with no VM exit and what goes to the trapped main CMDQ, the hardware's VMID
// and SID substitution, batching, the ISR's skip of an illegal command, and two vCPUs
// sharing one VCMDQ.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ActorBody, GuestOp } from "../guest/actor.js";
import { workload } from "../guest/workload.js";
import { CMDQV_BASE, PHYS_SID, VIRT_SID } from "../machine/testbed.js";
import { type Command, decode, encode, OPCODE } from "../smmu/commands.js";
import { GuestRig } from "./guest-rig.js";

function booted(): GuestRig {
  const rig = new GuestRig({ profile: "qemu-latest" });
  assert.equal(rig.boot(), 0);
  return rig;
}

/** Effects recorded by the hardware since `from` (a totals().all mark). */
function effectsSince(rig: GuestRig, from: number) {
  return rig.host.hw.effects.entries().filter((e) => e.seq > from);
}

const TLBI_VA: Command = {
  op: "TLBI_NH_VA",
  vmid: 0,
  asid: 7,
  addr: 0x20_0000n,
  num: 0,
  scale: 0,
  leaf: 1,
  ttl: 3,
  tg: 1,
};
const TLBI_ASID: Command = { op: "TLBI_NH_ASID", vmid: 0, asid: 7 };
const ATC_INV: Command = {
  op: "ATC_INV",
  sid: VIRT_SID,
  ssv: 0,
  ssid: 0,
  global: 0,
  addr: 0n,
  size: 52,
};

describe("command routing after bring-up", () => {
  it("sends TLBI_NH_VA, TLBI_NH_ASID and ATC_INV to the vCPU's VCMDQ with no VM exit", () => {
    const rig = booted();
    const mark = rig.host.hw.effects.totals().all;
    const traps = rig.as.traps();
    const cmds: readonly Command[] = [TLBI_VA, TLBI_ASID, ATC_INV];
    for (const cpu of [0, 1]) {
      for (const cmd of cmds) {
        assert.equal(rig.smmu.getCmdq(cmd, cpu), rig.cmdqv?.vintf0()?.lvcmdqs[cpu]?.cmdq);
        assert.equal(rig.run(rig.smmu.issueCmdWithSync(cpu, cmd)), 0);
      }
    }
    assert.equal(rig.as.traps(), traps, "no VM exit per command");
    const fx = effectsSince(rig, mark - 1);
    assert.equal(fx.length, 6);
    assert.ok(fx.every((e) => e.source === "vcmdq"));
    const vmid = fx[0]?.vmid ?? 0;
    assert.notEqual(vmid, 0, "the VINTF's VMID, not the guest's 0");
    assert.ok(fx.every((e) => e.vmid === vmid || e.opcode === OPCODE.ATC_INV));
    const atc = fx.filter((e) => e.opcode === OPCODE.ATC_INV);
    assert.deepEqual(
      atc.map((e) => e.sid),
      [PHYS_SID, PHYS_SID],
      "ATC_INV's vSID replaced by the physical SID",
    );
    assert.deepEqual(
      fx.filter((e) => e.opcode === OPCODE.TLBI_NH_VA).map((e) => e.addr),
      [0x20_0000n, 0x20_0000n],
    );
    // VCMDQ0 took cpu0's commands, VCMDQ1 cpu1's.
    assert.equal(new Set(fx.slice(0, 3).map((e) => e.vcmdq)).size, 1);
    assert.notEqual(fx[0]?.vcmdq, fx[3]?.vcmdq);
  });

  it("sends CFGI_* and TLBI_NH_ALL to the trapped main CMDQ, which forwards them to the host", () => {
    const rig = booted();
    const mark = rig.host.hw.effects.totals().all;
    const traps = rig.as.traps();
    const cfgiCd: Command = { op: "CFGI_CD", sid: VIRT_SID, ssid: 0, leaf: 1 };
    const nhAll: Command = { op: "TLBI_NH_ALL", vmid: 0 };
    for (const cmd of [cfgiCd, nhAll]) {
      assert.equal(rig.smmu.getCmdq(cmd, 0), rig.smmu.cmdq);
      assert.equal(rig.run(rig.smmu.issueCmdWithSync(0, cmd)), 0);
    }
    assert.ok(rig.as.traps() > traps, "main CMDQ accesses trap");
    const fx = effectsSince(rig, mark - 1);
    assert.deepEqual(
      fx.map((e) => e.opcode).filter((op) => op !== OPCODE.CMD_SYNC),
      [OPCODE.CFGI_CD, OPCODE.TLBI_NH_ALL],
      "the host SMMU executed what the front forwarded",
    );
    assert.ok(fx.every((e) => e.source === "main-cmdq"));
    const nh = fx.find((e) => e.opcode === OPCODE.TLBI_NH_ALL);
    assert.ok(nh);
    assert.notEqual(nh.vmid, 0, "the host forced the vIOMMU's VMID");
    const cd = fx.find((e) => e.opcode === OPCODE.CFGI_CD);
    assert.equal(cd?.sid, PHYS_SID);
  });

  it("flushes a VCMDQ batch with a CMD_SYNC when a command its queue does not take is added", () => {
    const rig = booted();
    const vcmdq0 = rig.cmdqv?.vintf0()?.lvcmdqs[0]?.cmdq;
    assert.ok(vcmdq0);
    const prod0 = vcmdq0.q.llq.prod;
    const main0 = rig.smmu.cmdq.q.llq.prod;
    const cfgiCd: Command = { op: "CFGI_CD", sid: VIRT_SID, ssid: 0, leaf: 1 };
    const ret = rig.run(
      (function* (): ActorBody<number> {
        const b = rig.smmu.batchInit(0, TLBI_VA);
        assert.equal(b.cmdq, vcmdq0);
        yield* rig.smmu.batchAdd(b, TLBI_VA);
        yield* rig.smmu.batchAdd(b, TLBI_ASID);
        yield* rig.smmu.batchAdd(b, cfgiCd);
        assert.equal(b.cmdq, rig.smmu.cmdq, "the new batch is on the main CMDQ");
        return yield* rig.smmu.batchSubmit(b);
      })(),
    );
    assert.equal(ret, 0);
    assert.equal(vcmdq0.q.llq.prod - prod0, 3, "two commands and a CMD_SYNC on VCMDQ0");
    assert.equal(rig.smmu.cmdq.q.llq.prod - main0, 2, "CFGI_CD and a CMD_SYNC on the main CMDQ");
    // The VCMDQ's sync is CS=NONE; the main CMDQ's is CS=SEV.
    const at = (base: number, idx: number) => {
      const lo = rig.as.read(base + 16 * idx, 4);
      const hi = rig.as.read(base + 16 * idx + 4, 4);
      const lo1 = rig.as.read(base + 16 * idx + 8, 4);
      const hi1 = rig.as.read(base + 16 * idx + 12, 4);
      return decode((BigInt(hi) << 32n) | BigInt(lo), (BigInt(hi1) << 32n) | BigInt(lo1));
    };
    const vSync = at(vcmdq0.q.baseDma, prod0 + 2);
    assert.equal(vSync.op === "CMD_SYNC" && vSync.cs, 0);
    const mSync = at(rig.smmu.cmdq.q.baseDma, main0 + 1);
    assert.equal(mSync.op === "CMD_SYNC" && mSync.cs, 2);
  });

  it("sends everything to the main CMDQ when bypass_vcmdq is set", () => {
    const rig = new GuestRig({ profile: "qemu-latest", cmdqv: { bypassVcmdq: true } });
    assert.equal(rig.boot(), 0);
    assert.equal(rig.smmu.getCmdq(TLBI_ASID, 0), rig.smmu.cmdq);
  });
});

describe("the guest ISR (spec linux §4.6)", () => {
  it("skips an illegal command forced onto a VCMDQ, acks GERROR, and consumption resumes", () => {
    const rig = booted();
    const vcmdq = rig.cmdqv?.vintf0()?.lvcmdqs[0];
    assert.ok(vcmdq);
    const before = rig.dmesg.messages().length;
    // TLBI_NH_ALL is not accepted by a guest-owned VCMDQ (spec linux §2.3).
    const ret = rig.run(
      rig.smmu.issueCmdlist(vcmdq.cmdq, encode({ op: "TLBI_NH_ALL", vmid: 0 }), 1, true),
    );
    assert.equal(ret, 0, "the CMD_SYNC completed once the bad entry became a CMD_SYNC");
    assert.equal(rig.machine.cmdqvIrq.raises, 1);
    assert.equal(rig.cmdqv?.isrRuns, 1);
    assert.deepEqual(rig.dmesg.messages().slice(before), [
      "platform NVDA200C:00: tegra241_cmdqv: unexpected error reported. vintf_map: 0000000000000001, vcmdq_map 00000000:00000000:00000000:00000001",
      "arm-smmu-v3 arm-smmu-v3.0.auto: CMDQ error (cons 0x01000000): Illegal command",
      "arm-smmu-v3 arm-smmu-v3.0.auto: skipping command in error state:",
      "arm-smmu-v3 arm-smmu-v3.0.auto: \t0x0000000000000010",
      "arm-smmu-v3 arm-smmu-v3.0.auto: \t0x0000000000000000",
    ]);
    // The ring entry is now CMD_SYNC with CS=NONE, MSH=ISH, MSIATTR=OIWB.
    const base = vcmdq.cmdq.q.baseDma;
    assert.equal(rig.as.read(base, 4), 0x0fc0_0046);
    const mark = rig.host.hw.effects.totals().all;
    assert.equal(rig.run(rig.smmu.issueCmdWithSync(0, TLBI_ASID)), 0);
    const fx = effectsSince(rig, mark - 1);
    assert.deepEqual(
      fx.map((e) => e.opcode),
      [OPCODE.TLBI_NH_ASID],
      "the queue consumes again; the bad command never reached the TLBs",
    );
  });
});

describe("the SMMU's GERROR interrupt", () => {
  it("skips an illegal command on the main CMDQ and the CMD_SYNC behind it completes", () => {
    const rig = booted();
    const before = rig.dmesg.messages().length;
    const cons = rig.smmu.cmdq.q.llq.prod;
    const bad = encode({ op: "UNKNOWN", opcode: 0x7f, dw0: 0x7fn, dw1: 0n });
    assert.equal(rig.run(rig.smmu.issueCmdlist(rig.smmu.cmdq, bad, 1, true)), 0);
    assert.equal(rig.machine.smmuIrqs.gerror.raises, 1);
    assert.deepEqual(rig.dmesg.messages().slice(before), [
      "arm-smmu-v3 arm-smmu-v3.0.auto: unexpected global error reported (0x00000001), this could be serious",
      `arm-smmu-v3 arm-smmu-v3.0.auto: CMDQ error (cons 0x010000${cons.toString(16).padStart(2, "0")}): Illegal command`,
      "arm-smmu-v3 arm-smmu-v3.0.auto: skipping command in error state:",
      "arm-smmu-v3 arm-smmu-v3.0.auto: \t0x000000000000007f",
      "arm-smmu-v3 arm-smmu-v3.0.auto: \t0x0000000000000000",
    ]);
  });
});

describe("the guest ISR among running vCPUs", () => {
  it("runs as its own actor when the IRQ arrives while vCPUs issue commands", () => {
    const rig = booted();
    const vcmdq0 = rig.cmdqv?.vintf0()?.lvcmdqs[0];
    assert.ok(vcmdq0);
    const bad = encode({ op: "TLBI_NH_ALL", vmid: 0 });
    const run = rig.runConcurrent<unknown>([
      { name: "cpu0", body: rig.smmu.issueCmdlist(vcmdq0.cmdq, bad, 1, true) },
      {
        name: "cpu1",
        body: workload(rig.smmu, 1, { seed: 1, batches: 30, vsid: VIRT_SID, maxThinkNs: 1_000 }),
      },
    ]);
    assert.equal(run.outcome, "done");
    assert.equal(run.results[0], 0, "cpu0's CMD_SYNC completed after the ISR's skip");
    assert.equal((run.results[1] as { timeouts: number }).timeouts, 0);
    assert.equal(rig.cmdqv?.isrRuns, 1);
    assert.ok(
      rig.dmesg
        .messages()
        .includes("arm-smmu-v3 arm-smmu-v3.0.auto: CMDQ error (cons 0x01000000): Illegal command"),
    );
  });
});

describe("a VCMDQ that nobody consumes (qemu-v5, Case 2)", () => {
  it("times out each CMD_SYNC, then logs CMDQ timeout when the queue is full while others wait", () => {
    // 128-entry rings; VCMDQ0's ring is 0x100 bytes off its 2 KiB alignment, so the host
    // never allocates it. cpu0 and cpu2 fill it (63 commands + a sync each); cpu4 finds
    // it full while both still hold the lock for their syncs.
    const rig = new GuestRig({
      profile: "qemu-v5",
      cmdqMaxSzShift: 7,
      cmdqv: { ringOffsets: [0x100] },
    });
    assert.equal(rig.boot(), 0);
    const cmdq = rig.cmdqv?.vintf0()?.lvcmdqs[0]?.cmdq;
    assert.ok(cmdq);
    const [d0, d1] = encode(TLBI_ASID);
    const batch = (n: number) => Array.from({ length: 2 * n }, (_, i) => (i % 2 === 0 ? d0 : d1));
    function* after(ns: number, n: number): ActorBody<number> {
      yield { op: "delay", ns };
      return yield* rig.smmu.issueCmdlist(cmdq!, batch(n), n, true);
    }
    const t0 = rig.clock.now();
    const run = rig.runConcurrent<number>(
      [
        { name: "cpu0", body: after(0, 63) },
        { name: "cpu2", body: after(10_000, 63) },
        { name: "cpu4", body: after(20_000, 1) },
      ],
      { untilNs: t0 + 1_500_000_000 },
    );
    assert.equal(run.outcome, "until", "cpu4 spins on a full queue, as Linux does");
    assert.deepEqual(run.results.slice(0, 2), [-110, -110]);
    const smmuLines = rig.dmesg
      .messages()
      .filter((m) => m.includes("timeout"))
      .map((m) => m.replace("arm-smmu-v3 arm-smmu-v3.0.auto: ", ""));
    // cpu4 waited on the shadow (the lock was held) and gave up first; the "at" value is
    // the shadow prod when each wait began (cpu0 before cpu2 reserved, cpu2 after).
    assert.deepEqual(smmuLines, [
      "CMDQ timeout",
      "CMD_SYNC timeout at 0x00000040 [hwprod 0x00000080, hwcons 0x00000000]",
      "CMD_SYNC timeout at 0x00000080 [hwprod 0x00000080, hwcons 0x00000000]",
    ]);
    assert.equal(cmdq.stats.fullTimeouts, 1);
  });
});

/** Forward an actor's ops, reporting PROD writes to `prodReg`. */
function* watchProd(
  body: ActorBody<unknown>,
  prodReg: number,
  name: string,
  log: [string, number][],
): ActorBody<unknown> {
  let sent: number | bigint | undefined;
  for (;;) {
    const r = body.next(sent);
    if (r.done) return r.value;
    const op: GuestOp = r.value;
    if (op.op === "write" && op.addr === prodReg) log.push([name, op.value]);
    sent = yield op;
  }
}

describe("vCPUs and workloads", () => {
  it("keeps PROD monotonic when two vCPUs share a VCMDQ, and every sync completes", () => {
    const rig = booted();
    const vcmdq = rig.cmdqv?.vintf0()?.lvcmdqs[0];
    assert.ok(vcmdq);
    const writes: [string, number][] = [];
    const opts = { seed: 11, batches: 40, vsid: VIRT_SID, maxThinkNs: 2_000 } as const;
    // cpu0 and cpu2 both map to LVCMDQ0 (lidx = cpu % 2).
    const run = rig.runConcurrent(
      [0, 2].map((cpu) => ({
        name: `cpu${cpu}`,
        body: watchProd(workload(rig.smmu, cpu, opts), vcmdq.cmdq.q.prodReg, `cpu${cpu}`, writes),
      })),
      { seed: 5 },
    );
    assert.equal(run.outcome, "done");
    for (const r of run.results) assert.equal((r as { timeouts: number }).timeouts, 0);
    assert.equal(writes.length, 80);
    for (let i = 1; i < writes.length; i++)
      assert.ok(
        writes[i]![1] > writes[i - 1]![1],
        `PROD went ${writes[i - 1]![1]} → ${writes[i]![1]}`,
      );
    let switches = 0;
    for (let i = 1; i < writes.length; i++) if (writes[i]![0] !== writes[i - 1]![0]) switches++;
    assert.ok(switches > 10, "the two vCPUs interleaved on the queue");
    assert.equal(
      rig.as.read(CMDQV_BASE + 0x3_0000, 4),
      vcmdq.cmdq.q.llq.prod,
      "hardware consumed up to PROD",
    );
    assert.equal(
      run.counters.reduce((n, c) => n + c.exits, 0),
      0,
      "no VM exits",
    );
  });

  it("is deterministic: the same seed issues the same invalidations", () => {
    const once = () => {
      const rig = booted();
      const mark = rig.host.hw.effects.totals().all;
      const run = rig.runConcurrent(
        [0, 1, 2, 3].map((cpu) => ({
          name: `cpu${cpu}`,
          body: workload(rig.smmu, cpu, {
            seed: 42,
            batches: 20,
            vsid: VIRT_SID,
            maxThinkNs: 5_000,
          }),
        })),
        { seed: 9 },
      );
      const fx = effectsSince(rig, mark - 1).map((e) => `${e.t} ${e.vcmdq} ${e.opcode} ${e.addr}`);
      return { results: run.results, fx, dmesg: rig.dmesg.lines(), t: rig.clock.now() };
    };
    const a = once();
    const b = once();
    assert.deepEqual(a, b);
    const issued = a.results.reduce((n, r) => n + (r?.invalidations ?? 0), 0);
    assert.equal(a.fx.length, issued, "every invalidation reached the hardware");
  });
});
