// qtest sessions from fixture scripts (src/qtest/fixtures/*.qtest) against the simulated
// machine: "> line" is sent, "< reply" must be the exact reply, "<~ regex" must match it,
// and a "# machine: …" line gives the machine options.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createMachine } from "../machine/machine.js";
import { MachineTarget } from "../qtest/machine-target.js";
import { QtestSession } from "../qtest/protocol.js";
import { machineFromFlags } from "./machine-flags.js";

const DIR = "src/qtest/fixtures";

function flagsOf(text: string): Record<string, string> {
  const m = /^# machine: (.*)$/m.exec(text);
  const out: Record<string, string> = {};
  const words = (m?.[1] ?? "").split(/\s+/).filter(Boolean);
  for (let i = 0; i < words.length; i += 2) {
    const key = words[i]!.replace(/^--/, "").replace(/-([a-z])/g, (_, c: string) =>
      c.toUpperCase(),
    );
    out[key] = words[i + 1]!;
  }
  return out;
}

function runFixture(text: string): void {
  const m = createMachine(machineFromFlags(flagsOf(text)));
  assert.ok(m.ok, m.ok ? "" : m.error);
  const replies: string[] = [];
  const session = new QtestSession(new MachineTarget(m.value), (l) => replies.push(l));
  // Expectations check the replies to the command sent just before them, in order.
  let expectAt = 0;
  text.split("\n").forEach((line, i) => {
    const where = `line ${i + 1}`;
    if (line.startsWith("> ")) {
      expectAt = replies.length;
      session.handleLine(line.slice(2));
    } else if (line.startsWith("< ")) assert.equal(replies[expectAt++], line.slice(2), where);
    else if (line.startsWith("<~ ")) {
      const got = replies[expectAt++] ?? "";
      assert.match(got, new RegExp(line.slice(3)), where);
    }
  });
}

describe("qtest fixture scripts against the machine", () => {
  for (const f of readdirSync(DIR)
    .filter((x) => x.endsWith(".qtest"))
    .sort()) {
    it(`plays ${f}`, () => runFixture(readFileSync(join(DIR, f), "utf8")));
  }
});

describe("machine target extensions", () => {
  function session() {
    const m = createMachine(machineFromFlags({}));
    assert.ok(m.ok);
    const out: string[] = [];
    const s = new QtestSession(new MachineTarget(m.value), (l) => out.push(l));
    return { m: m.value, s, out };
  }

  it("arms a fault with cmdqv_fault so the next HW queue allocation fails", () => {
    const { s, out } = session();
    s.handleLine("cmdqv_fault hw_queue_alloc:pin 1");
    s.handleLine("writel 0x0c081000 0x1");
    s.handleLine("writel 0x0c080200 0x1");
    s.handleLine("writeq 0x0c0c0000 0x4020000c");
    s.handleLine("readl 0x0c090010");
    assert.equal(out[0], "OK");
    assert.equal(out.at(-1), "OK 0x0000000000000004", "CMDQ_INIT_ERR after the injected failure");
  });

  it("resets the system with cmdqv_reset and reports the CMDQV interrupt after irq_intercept_in", () => {
    const { m, s, out } = session();
    s.handleLine("irq_intercept_in /machine/gic");
    m.cmdqvIrq.raise();
    m.cmdqvIrq.lower();
    s.handleLine("writel 0x0c08001c 0x1");
    s.handleLine("cmdqv_reset");
    s.handleLine("readl 0x0c08001c");
    assert.deepEqual(out, [
      "OK",
      "IRQ raise 116",
      "IRQ lower 116",
      "OK",
      "OK",
      "OK 0x0000000000000000",
    ]);
  });

  it("answers malformed extension arguments with FAIL and goes on", () => {
    const { s, out } = session();
    s.handleLine("cmdqv_fault hw_queue_alloc:pin zero");
    s.handleLine("cmdqv_unknown");
    s.handleLine("readl 0x0c080004");
    assert.match(out[0]!, /^FAIL cmdqv_fault: N must be/);
    assert.equal(out[1], "FAIL Unknown command 'cmdqv_unknown'");
    assert.equal(out[2], "OK 0x0000000000004011");
  });
});
