import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadScenario, loadScenarioFile } from "./load.js";
import { formatScenarioOutcome, runScenario, scenarioOnMachine } from "./run.js";

describe("running scenarios", () => {
  for (const f of readdirSync("scenarios")
    .filter((x) => x.endsWith(".yaml"))
    .sort()) {
    it(`passes the example ${f}`, () => {
      const sc = loadScenarioFile(join("scenarios", f));
      assert.ok(sc.ok, sc.ok ? "" : JSON.stringify(sc.error));
      const out = runScenario(sc.value);
      assert.deepEqual(out.failures, []);
      assert.equal(out.passed, true);
    });
  }

  it("reports a failed read expectation at its line and column", () => {
    const sc = loadScenario(
      "name: t\nguest:\n  - read: { addr: cmdqv+0x4, size: 4, expect: 0x4012 }\n",
      "t.yaml",
    );
    assert.ok(sc.ok);
    const out = runScenario(sc.value);
    assert.equal(out.passed, false);
    assert.equal(out.failures.length, 1);
    assert.deepEqual(out.failures[0]?.at, { line: 3, col: 5 });
    assert.match(out.failures[0]!.message, /gave 0x4011, expected 0x4012/);
  });

  it("fails a scenario that violates an invariant it did not declare", () => {
    const text = [
      "name: t",
      "machine: { profile: qemu-v5 }",
      "guest:",
      "  - boot: { vcmdq_rings: [0x40601000, auto], cmdq_max_sz_shift: 12 }",
      "  - workload: { invalidations: 2, vcpus: 2, mix: { tlbi_nh_va: 1 } }",
      "",
    ].join("\n");
    const sc = loadScenario(text, "t.yaml");
    assert.ok(sc.ok);
    const out = runScenario(sc.value);
    assert.equal(out.passed, false);
    const f = out.failures.find(
      (x) => x.message === "invariant no-silent-hang violated, and the scenario does not expect it",
    );
    assert.ok(f, JSON.stringify(out.failures));
    // The workload after which the hang was seen, on line 5; not the file alone.
    assert.deepEqual(f.at, { line: 5, col: 5 });
    assert.equal(f.step, 1);
    assert.match(
      formatScenarioOutcome(out),
      /^ {2}t\.yaml:5:5: invariant no-silent-hang violated, and the scenario does not expect it$/m,
    );
  });

  it("reports a fault plan that breaks the VMM's own setup as the run's outcome", () => {
    const sc = loadScenario("name: t\nfaults: { nth: 1 }\nguest:\n  - boot: {}\n", "t.yaml");
    assert.ok(sc.ok);
    const out = runScenario(sc.value);
    assert.equal(out.passed, false);
    assert.match(out.setupError ?? "", /failed/);
  });

  it("names the step after which each unexpected violation was first seen, not the last one", () => {
    const text = [
      "name: t",
      "guest:",
      "  - boot: { vcmdq_rings: [auto, 0x40601000], cmdq_max_sz_shift: 12 }",
      "  - advance: 1ms",
      "  - advance: 1ms",
      "",
    ].join("\n");
    const sc = loadScenario(text, "t.yaml");
    assert.ok(sc.ok);
    const out = runScenario(sc.value);
    assert.deepEqual(
      out.failures.map((f) => [f.at.line, f.step, f.message]),
      [[3, 0, "invariant hw-queues-match violated, and the scenario does not expect it"]],
    );
  });

  it("marks a violation the scenario expects as expected, and one it does not as plain VIOLATED", () => {
    const sc = loadScenarioFile(join("scenarios", "review-case2.yaml"));
    assert.ok(sc.ok);
    const out = runScenario(sc.value);
    assert.equal(out.passed, true);
    const text = formatScenarioOutcome(out);
    assert.match(text, /^ {2}no-silent-hang {7}VIOLATED \(expected\): the guest's CMD_SYNC/m);
    assert.match(text, /^scenario review-case2 \(scenarios\/review-case2\.yaml\): passed$/m);
    // The same program with no expectation: the violation is not marked expected.
    const bare = runScenario({
      ...sc.value,
      guest: sc.value.guest.filter((s) => s.kind !== "expect"),
    });
    const bareText = formatScenarioOutcome(bare);
    assert.match(bareText, /^ {2}no-silent-hang {7}VIOLATED: the guest's CMD_SYNC/m);
    assert.doesNotMatch(bareText, /\(expected\)/);
  });
});

describe("a scenario on another machine (scenarioOnMachine)", () => {
  const case2 = () => {
    const sc = loadScenarioFile(join("scenarios", "review-case2.yaml"));
    assert.ok(sc.ok);
    return sc.value;
  };

  it("takes the new machine whole when every step still fits it", () => {
    const sc = case2();
    const r = scenarioOnMachine(sc, { ...sc.machine, profile: "reference", seed: 9 });
    assert.ok(r.ok);
    assert.equal(r.value.machine.profile, "reference");
    assert.equal(r.value.machine.seed, 9);
    assert.deepEqual(r.value.guest, sc.guest);
  });

  it("refuses a boot with more rings than the VCMDQs, at the boot step", () => {
    const sc = case2();
    const r = scenarioOnMachine(sc, { ...sc.machine, vcmdqs: 1 });
    assert.ok(!r.ok);
    assert.deepEqual(r.error.at, sc.guest[0]!.at);
    assert.equal(r.error.message, "the boot step places 2 rings for 1 VCMDQ(s)");
  });

  it("refuses a workload on more vCPUs than the machine has, and a RAM offset past its end", () => {
    const sc = case2();
    const few = scenarioOnMachine(sc, { ...sc.machine, vcpus: 1 });
    assert.ok(!few.ok);
    assert.equal(few.error.step, 2);
    const t = loadScenario(
      "name: t\nguest:\n  - read: { addr: ram+0x300000, size: 4 }\n",
      "t.yaml",
    );
    assert.ok(t.ok);
    const small = scenarioOnMachine(t.value, { ...t.value.machine, ramSize: 2 ** 21 });
    assert.ok(!small.ok);
    assert.deepEqual(small.error.at, { line: 3, col: 5 });
    assert.match(small.error.message, /ram\+0x300000 is past the end of RAM \(0x200000 bytes\)/);
  });

  it("reseeds a probability fault plan that took the machine's seed, and keeps one of its own", () => {
    const load = (faults: string) => {
      const sc = loadScenario(`name: t\nfaults: ${faults}\nguest:\n  - boot: {}\n`, "t.yaml");
      assert.ok(sc.ok, JSON.stringify(sc.ok ? "" : sc.error));
      return sc.value;
    };
    const seedOf = (sc: ReturnType<typeof load>) => {
      const r = scenarioOnMachine(sc, { ...sc.machine, seed: 42 });
      assert.ok(r.ok);
      const plan = r.value.machine.faultPlan;
      return plan.kind === "probability" ? plan.seed : null;
    };
    assert.equal(seedOf(load('{ probability: { "hw_queue_alloc:pin": 0.5 } }')), 42);
    assert.equal(seedOf(load('{ probability: { "hw_queue_alloc:pin": 0.5 }, seed: 7 }')), 7);
  });
});
