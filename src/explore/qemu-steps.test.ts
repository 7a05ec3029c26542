// The orderings program's steps as qtest lines (qemu-steps.ts), run against scripted
// replies: the lines each step sends, and what the guest concludes from what it reads.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CS, encode } from "../smmu/commands.js";
import { exploreMachine } from "./explorer.js";
import { buildSteps } from "./orderings.js";
import { formatStep, parseStep, qemuStepNames, ReplayStepError } from "./qemu-orderings.js";
import {
  commandBytes,
  isQemuStep,
  QemuGuest,
  qemuRingGpa,
  runProgram,
  stepProgram,
} from "./qemu-steps.js";

/** QEMU's replies, as qtest gives them: writes OK, reads a value, clock_step the new time. */
function qemuLike(read: (addr: number, n: number) => number) {
  let now = 0;
  const reads = new Map<number, number>();
  return (line: string): string => {
    const [cmd, a, b] = line.split(" ");
    if (cmd === "clock_step") {
      now += Number(a);
      return `OK ${now}`;
    }
    if (cmd === "readl") {
      const addr = Number(a);
      const n = (reads.get(addr) ?? 0) + 1;
      reads.set(addr, n);
      return `OK 0x${read(addr, n).toString(16).padStart(8, "0")}`;
    }
    if (cmd === "system_reset") return "OK";
    assert.ok(["writel", "writeq", "write"].includes(cmd!), `unexpected ${line}`);
    assert.ok(b !== undefined);
    return "OK";
  };
}

const CMDQV = 0x0c08_0000;
const VI_P0 = CMDQV + 0x3_0000;
const zeros = qemuLike(() => 0);

function run(name: string, g: QemuGuest, reply = zeros) {
  return runProgram(stepProgram(name, g), reply).lines;
}

describe("the orderings steps as qtest lines", () => {
  it("writes BASE_L0 and BASE_H0 to VCMDQ0's global page1 and settles 10 µs after each", () => {
    const g = new QemuGuest();
    assert.deepEqual(run("BASE_L0", g), ["writel 0xc0a0000 0x4020000c", "clock_step 10000"]);
    assert.deepEqual(run("BASE_H0", g), ["writel 0xc0a0004 0x0", "clock_step 10000"]);
    assert.deepEqual(run("BASE_L1", g), ["writel 0xc0a0080 0x4040000c", "clock_step 10000"]);
    assert.equal(g.ringOf(0), 0x4020_0000);
  });

  it("maps a queue with ALLOC (VINTF0, LVCMDQ i, ALLOCATED) and enables the VINTF and the CMDQV", () => {
    const g = new QemuGuest();
    assert.deepEqual(run("ALLOC1", g), ["writel 0xc080204 0x3", "clock_step 10000"]);
    assert.deepEqual(run("VINTF_EN", g), ["writel 0xc081000 0x20001", "clock_step 10000"]);
    const config = qemuLike((a) => (a === CMDQV ? 0x0002_0082 : 0));
    assert.deepEqual(run("CMDQV_EN", g, config), [
      "readl 0xc080000",
      "writel 0xc080000 0x20083",
      "clock_step 10000",
    ]);
    assert.deepEqual(run("CONFIG_REWRITE", g, config), [
      "readl 0xc080000",
      "writel 0xc080000 0x20082",
      "clock_step 10000",
    ]);
  });

  it("polls EN_OK after an enable with Linux's back-off and stops at the first read that has it", () => {
    const g = new QemuGuest();
    const lines = run(
      "ENABLE0",
      g,
      qemuLike((a, n) => (a === VI_P0 + 0x0c && n >= 3 ? 1 : 0)),
    );
    assert.deepEqual(lines, [
      "writel 0xc0b0008 0x1",
      "clock_step 1000",
      "readl 0xc0b000c",
      "clock_step 2000",
      "readl 0xc0b000c",
      "clock_step 4000",
      "readl 0xc0b000c",
      "clock_step 10000",
    ]);
    assert.equal(g.enabledSeen[0], true);
  });

  it("gives up on EN_OK after a second of polling and remembers the queue as not enabled", () => {
    const g = new QemuGuest();
    const lines = run("ENABLE1", g);
    const steps = lines.filter((l) => l.startsWith("clock_step")).map((l) => Number(l.slice(11)));
    assert.equal(lines[0], "writel 0xc0b0088 0x1");
    assert.equal(steps.at(-1), 10_000, "the settle");
    const waited = steps.slice(0, -1).reduce((a, b) => a + b, 0);
    assert.ok(waited > 1e9 && waited < 2.2e9, `polled for ${waited} ns`);
    assert.equal(g.enabledSeen[1], false);
  });

  it("sends nothing for the SYNC of a queue the guest never saw enabled", () => {
    const g = new QemuGuest();
    assert.deepEqual(run("SYNC0", g), []);
    assert.deepEqual(g.silentTimeouts(), []);
  });

  it("writes TLBI_NH_ASID and CMD_SYNC at PROD, moves PROD past them, and is done when CONS gets there", () => {
    const g = new QemuGuest();
    g.enabledSeen[0] = true;
    const lines = run(
      "SYNC0",
      g,
      qemuLike((a, n) => {
        if (a === VI_P0 + 0x04) return 5; // PROD
        if (a === VI_P0) return n >= 2 ? 7 : 5; // CONS
        return 0;
      }),
    );
    const tlbi = commandBytes(encode({ op: "TLBI_NH_ASID", vmid: 0, asid: 1 }));
    const sync = commandBytes(
      encode({ op: "CMD_SYNC", cs: CS.NONE, msh: 0, msiattr: 0, msidata: 0, msiaddr: 0n }),
    );
    assert.deepEqual(lines, [
      "readl 0xc0b0010",
      "readl 0xc0b0004",
      `write 0x40200050 16 ${tlbi}`,
      `write 0x40200060 16 ${sync}`,
      "writel 0xc0b0004 0x7",
      "clock_step 1000",
      "readl 0xc0b0000",
      "readl 0xc0b0010",
      "clock_step 2000",
      "readl 0xc0b0000",
    ]);
    assert.deepEqual(g.silentTimeouts(), []);
  });

  it("records a silent hang when CONS never moves and GERROR never changes for a second", () => {
    const g = new QemuGuest();
    g.enabledSeen[1] = true;
    run("SYNC1", g);
    assert.equal(g.silentTimeouts().length, 1);
    assert.equal(g.silentTimeouts()[0]!.queue, "VCMDQ1");
    assert.ok(g.silentTimeouts()[0]!.t > 1e9, "at QEMU's virtual time after the poll");
  });

  it("takes CONS.ERR or a GERROR change as an error the guest sees, not a hang", () => {
    for (const read of [
      (a: number) => (a === VI_P0 ? 0x0100_0000 : 0), // CONS.ERR = ILL
      (a: number, n: number) => (a === VI_P0 + 0x10 && n >= 2 ? 1 : 0), // GERROR.CMDQ_ERR
    ]) {
      const g = new QemuGuest();
      g.enabledSeen[0] = true;
      run("SYNC0", g, qemuLike(read));
      assert.deepEqual(g.silentTimeouts(), []);
    }
  });

  it("re-programs BASE with one 64-bit write to a later ring slot, which the next SYNC uses", () => {
    const g = new QemuGuest();
    assert.deepEqual(run("REPROGRAM0", g), [
      `writeq 0xc0a0000 0x${(qemuRingGpa(0, true) | 12).toString(16)}`,
      "clock_step 10000",
    ]);
    assert.equal(g.ringOf(0), qemuRingGpa(0, true));
    g.enabledSeen[0] = true;
    const lines = run("SYNC0", g);
    assert.match(lines[2]!, new RegExp(`^write 0x${qemuRingGpa(0, true).toString(16)} 16 `));
  });

  it("writes a command's 16 bytes little endian, as qtest's write wants them", () => {
    assert.equal(
      commandBytes([0x0102n, 0xffn << 56n]),
      `0x0201${"00".repeat(6)}${"00".repeat(7)}ff`,
    );
  });

  it("refuses a QEMU reply that is not OK, naming the line", () => {
    assert.throws(
      () => run("ALLOC0", new QemuGuest(), () => "FAIL Unknown command"),
      /"writel 0xc080200 0x1" → "FAIL Unknown command"/,
    );
  });

  it("knows every step of the model's program, RESET as QEMU's system_reset", () => {
    const machine = exploreMachine("qemu-latest", "2M", 2);
    const all = buildSteps({
      machine,
      queues: 2,
      extras: [
        "cmdqv-reenable",
        "vintf-reenable",
        "config-rewrite",
        "reprogram",
        "alloc-toggle",
        "reset",
      ],
      faults: false,
    }).map((s) => s.name);
    assert.deepEqual(
      all.filter((n) => !isQemuStep(n)),
      [],
    );
    assert.deepEqual(run("RESET", new QemuGuest()).slice(0, 1), ["system_reset"]);
    assert.throws(() => run("NOPE", new QemuGuest()), /no qtest translation for the step "NOPE"/);
  });

  it("lists the steps in the model explorer's order, so a choice list means the same order", () => {
    assert.deepEqual(qemuStepNames(1, ["config-rewrite"]), [
      "BASE_L0",
      "BASE_H0",
      "ALLOC0",
      "ENABLE0",
      "CMDQV_EN",
      "VINTF_EN",
      "CONFIG_REWRITE",
    ]);
  });
});

describe("replay steps", () => {
  it("reads the model's fault annotation and its own, and writes back what it read", () => {
    assert.deepEqual(parseStep("VINTF_EN [fail hw_queue_alloc:copy_to_user (call 5)]"), {
      step: "VINTF_EN",
      fail: { site: "hw_queue_alloc:copy_to_user", nth: 1 },
    });
    assert.deepEqual(parseStep("SYNC1"), { step: "SYNC1" });
    const r = {
      step: "CMDQV_EN",
      fault: { site: "hw_queue_alloc:obj_alloc", nth: 2, call: 9 },
    } as const;
    assert.equal(formatStep(r), "CMDQV_EN [fail hw_queue_alloc:obj_alloc #2 (call 9)]");
    assert.deepEqual(parseStep(formatStep(r)), {
      step: "CMDQV_EN",
      fail: { site: "hw_queue_alloc:obj_alloc", nth: 2 },
    });
  });

  it("names the step when its fault site is unknown or it does not parse", () => {
    assert.throws(() => parseStep("VINTF_EN [fail nowhere (call 1)]"), ReplayStepError);
    assert.throws(() => parseStep("two words"), /a replay step reads/);
  });
});
