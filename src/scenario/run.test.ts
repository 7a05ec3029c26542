import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadScenario, loadScenarioFile } from "./load.js";
import { runScenario } from "./run.js";

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
    assert.ok(
      out.failures.some(
        (f) =>
          f.message === "invariant no-silent-hang violated, and the scenario does not expect it",
      ),
    );
  });

  it("reports a fault plan that breaks the VMM's own setup as the run's outcome", () => {
    const sc = loadScenario("name: t\nfaults: { nth: 1 }\nguest:\n  - boot: {}\n", "t.yaml");
    assert.ok(sc.ok);
    const out = runScenario(sc.value);
    assert.equal(out.passed, false);
    assert.match(out.setupError ?? "", /failed/);
  });
});
