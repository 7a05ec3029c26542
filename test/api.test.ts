// The programmatic API, imported by the package's name as a user imports it: Node resolves
// "cmdqv" from inside the package through package.json "exports" (self-reference), and
// tsc (moduleResolution nodenext) does the same, so this also checks that entry point.

import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import {
  buildMachine,
  explore,
  formatScenarioError,
  PROFILE_NAMES,
  runScenario,
  type ScenarioDocument,
  serveQtest,
} from "cmdqv";

/** The review's Case 2 as data, minus its expectation that the guest hangs. */
function case2(profile: string): ScenarioDocument {
  return {
    name: "case2-as-data",
    machine: { profile },
    guest: [
      { boot: { vcmdq_rings: [0x4060_1000, "auto"], cmdq_max_sz_shift: 12 } },
      { workload: { invalidations: 2, vcpus: 2, mix: { tlbi_nh_va: 1 } } },
    ],
  };
}

describe("the cmdqv API, imported by the package's name", () => {
  it("builds a machine for a profile, with the CMDQV at QEMU virt's base", () => {
    assert.deepEqual(PROFILE_NAMES, [
      "qemu-v5",
      "qemu-v7",
      "qemu-11.1",
      "qemu-latest",
      "reference",
    ]);
    const m = buildMachine({ profile: "qemu-v7" });
    assert.ok(m.ok, m.ok ? "" : m.error);
    assert.equal(m.value.config.profile, "qemu-v7");
    assert.ok(m.value.cmdqv, "a CMDQV device");
    const region = m.value.as.regions().find((r) => r.name === "tegra241-cmdqv");
    assert.equal(region?.base, 0x0c08_0000);
    // Overrides reach the machine; cmdqv off leaves the SMMUv3 alone.
    const off = buildMachine({ profile: "qemu-v7", cmdqv: "off", vcmdqs: 4 });
    assert.ok(off.ok);
    assert.equal(off.value.cmdqv, null);
    assert.equal(off.value.config.vcmdqs, 4);
    assert.throws(() => buildMachine({ profile: "qemu-v9" as never }), RangeError);
  });

  it("runs a scenario given as data, and reports an invariant it violates under qemu-v5", () => {
    const r = runScenario(case2("qemu-v5"));
    assert.ok(r.ok, r.ok ? "" : r.error.map(formatScenarioError).join("\n"));
    assert.equal(r.value.file, "<object>");
    assert.equal(r.value.passed, false);
    assert.ok(r.value.violated.includes("no-silent-hang"), r.value.violated.join(","));
    assert.deepEqual(
      r.value.failures.map((f) => f.message),
      ["invariant no-silent-hang violated, and the scenario does not expect it"],
    );
    assert.match(r.value.report, /scenario case2-as-data \(<object>\): FAILED/);
    assert.match(r.value.report, /no-silent-hang\s+VIOLATED/);
    assert.deepEqual(r.value.cutShort, [], "the run completed");
    // The corrected design tells the guest: no hang.
    const ref = runScenario(case2("reference"));
    assert.ok(ref.ok);
    assert.ok(!ref.value.violated.includes("no-silent-hang"), ref.value.violated.join(","));
  });

  it("names a data scenario's failed step by its index", () => {
    const r = runScenario({
      name: "t",
      guest: [{ boot: {} }, { read: { addr: "cmdqv+0x4", size: 4, expect: "0x4012" } }],
    });
    assert.ok(r.ok);
    assert.equal(r.value.passed, false);
    assert.equal(r.value.failures[0]?.step, 1);
    assert.match(r.value.report, /^ {2}<object>: guest\[1\]: read cmdqv\+0x4 \(4 bytes\) gave /m);
  });

  it("reports a data scenario's mistakes by their path", () => {
    const r = runScenario({
      name: "bad",
      machine: { vcmdqs: 3 },
      guest: [{ write: { addr: "cmdqv+0xZZ", value: 1 } }],
    });
    assert.ok(!r.ok);
    const lines = r.error.map(formatScenarioError);
    assert.ok(
      lines.some((l) => l.startsWith("<object>: machine.vcmdqs: ")),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) => l.startsWith("<object>: guest[0].write.addr: ")),
      lines.join("\n"),
    );
  });

  it("runs a scenario file", () => {
    const r = runScenario("scenarios/review-case2.yaml");
    assert.ok(r.ok);
    assert.equal(r.value.name, "review-case2");
    assert.equal(r.value.passed, true);
    assert.deepEqual(r.value.violated, ["no-silent-hang"]);
    const missing = runScenario("scenarios/no-such.yaml");
    assert.ok(!missing.ok);
    assert.equal(formatScenarioError(missing.error[0]!), "scenarios/no-such.yaml: no such file");
  });

  it("explores, bounded, and returns the table", () => {
    const r = explore({ profile: "qemu-v5", queues: 1, maxPaths: 20 });
    assert.equal(r.paths, 20);
    assert.equal(r.complete, false);
    assert.deepEqual(r.table[0], ["profile", "qemu-v5"]);
    assert.ok(r.table.some(([k, v]) => k === "space" && v === "cut by --max-paths"));
    assert.ok(r.table.some(([k]) => k === "no-silent-hang"));
    assert.equal(r.text.split("\n").length, r.table.length);
  });

  it("explores a space to the end and returns its counterexamples", () => {
    const r = explore({ profile: "qemu-v5", queues: 1 });
    assert.equal(r.complete, true);
    const hang = r.counterexamples.find((c) => c.invariant === "no-silent-hang");
    assert.ok(hang, "no-silent-hang found");
    assert.ok(hang.replay.steps.some((s) => s.includes("[fail hw_queue_alloc:")));
    assert.match(r.text, /no-silent-hang\s+VIOLATED in \d+ runs/);
  });

  it("serves qtest on a stream", async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let text = "";
    output.setEncoding("latin1");
    output.on("data", (chunk: string) => {
      text += chunk;
    });
    const s = serveQtest({ input, output, machine: { profile: "qemu-v7" } });
    assert.ok(s.ok, s.ok ? "" : s.error);
    assert.equal(s.value.machine.config.profile, "qemu-v7");
    input.end("endianness\nreadl 0x0c080000\nwritel 0x40000000 0x12345678\nread 0x40000000 4\n");
    await s.value.done;
    assert.deepEqual(text.split("\n").slice(0, -1), [
      "OK little",
      "OK 0x0000000000020083",
      "OK",
      "OK 0x78563412",
    ]);
    assert.deepEqual(s.value.violated(), []);
  });
});
