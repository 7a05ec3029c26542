// One fault numbering everywhere (docs/scenarios.md, "Fault numbering"): host calls are
// numbered from the machine's creation in scenarios, explore's fail-nth, replay files and
// what is printed, and every counterexample names the call it failed.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DEFAULT_MACHINE, machineConfig } from "../machine/config.js";
import { loadScenario } from "../scenario/load.js";
import { runScenario } from "../scenario/run.js";
import { ReplayChoice } from "../sim/choice.js";
import { explore, exploreMachine } from "./explorer.js";
import { runOrderings, setupCalls } from "./orderings.js";
import type { OrderingsReplay } from "./replay.js";
import { parseReplay } from "./replay-load.js";

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function failNth() {
  const machine = exploreMachine("qemu-latest", "2M", 1);
  const r = explore({ mode: "fail-nth", machine, queues: 1, extras: [], faults: true });
  const v = r.violations.find((x) => x.invariant === "no-silent-hang");
  assert.ok(v, "fail-nth finds the silent hang under qemu-latest");
  assert.equal(v.replay.mode, "orderings");
  return { r, replay: v.replay as OrderingsReplay, machine };
}

/** The "Fault numbering" section of docs/scenarios.md. */
function numberingDoc(): string {
  const doc = readFileSync("docs/scenarios.md", "utf8");
  const at = doc.indexOf("### Fault numbering");
  assert.ok(at >= 0, 'docs/scenarios.md has a "Fault numbering" section');
  return doc.slice(at, doc.indexOf("\n## ", at));
}

function scenario(faults: string) {
  const sc = loadScenario(`name: t\nfaults: ${faults}\nguest:\n  - boot: {}\n`, "t.yaml");
  assert.ok(sc.ok, sc.ok ? "" : JSON.stringify(sc.error));
  return runScenario(sc.value);
}

describe("fault numbering", () => {
  it("a fail-nth counterexample names the call it failed, in its steps, its injected list and its plan", () => {
    const { replay } = failNth();
    const plan = replay.faultPlan;
    assert.ok(plan?.kind === "nth", JSON.stringify(plan));
    assert.equal(replay.fault_numbering, "machine-creation");
    assert.deepEqual(
      replay.injected?.map((f) => f.call),
      [plan.nth],
    );
    const [f] = replay.injected ?? [];
    assert.ok(f);
    assert.ok(
      replay.steps.includes(`${f.step} [fail ${f.site} (call ${plan.nth})]`),
      replay.steps.join(" "),
    );
    // Replayed from the file, the run fails the same call and violates the same invariant.
    const parsed = parseReplay(JSON.stringify(replay), "f.json");
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
    const file = parsed.value as OrderingsReplay;
    const machine = file.faultPlan ? { ...file.machine, faultPlan: file.faultPlan } : file.machine;
    const out = runOrderings(
      { machine, queues: file.queues, extras: file.extras, faults: file.faults },
      new ReplayChoice(file.choices),
      null,
    );
    assert.deepEqual(out.machine?.host.faults.injectedFaults(), [{ site: f.site, call: f.call }]);
    assert.ok(out.checker.violations().some((v) => v.invariant === replay.invariant));
  });

  it("cmdqv run --replay of a fail-nth file prints the failed call and reproduces the violation", () => {
    const dir = mkdtempSync(join(tmpdir(), "cmdqv-fault-numbering-"));
    made.push(dir);
    const run = (args: string[]) =>
      spawnSync(process.execPath, ["bin/cmdqv.js", ...args], { encoding: "utf8" });
    const ex = run(["explore", "--mode", "fail-nth", "--queues", "1", "--out", dir]);
    assert.equal(ex.status, 1, ex.stderr);
    const file = join(dir, "qemu-latest-no-silent-hang.json");
    const replay = JSON.parse(readFileSync(file, "utf8")) as OrderingsReplay;
    const [f] = replay.injected ?? [];
    assert.ok(f);
    const fault = `${f.site} (call ${f.call})`;
    assert.ok(ex.stdout.includes(`[fail ${fault}]`), ex.stdout);
    assert.match(
      ex.stdout,
      /host calls failed\s+\d+ to \d+, one per run \(1 to \d+ are the machine's set-up\)/,
    );
    const re = run(["run", "--replay", file]);
    assert.equal(re.status, 1, re.stderr);
    assert.ok(re.stdout.includes(`${f.step}   [host call failed: ${fault}]`), re.stdout);
    assert.match(re.stdout, /\nreproduced: no-silent-hang/);
  });

  it("explore fail-nth fails the calls after the set-up, numbered as a scenario's faults: numbers them", () => {
    const { r, machine } = failNth();
    const setup = setupCalls(machine).calls;
    assert.deepEqual([r.failedCalls?.setup, r.failedCalls?.first], [setup, setup + 1]);
    // A scenario's machine makes the same set-up calls: call `setup + 1` is the first one
    // past its cold-plug (the machine is built, and the fault lands in the guest's boot).
    assert.equal(setupCalls(DEFAULT_MACHINE).calls, setup);
    const past = scenario(`{ nth: ${setup + 1} }`);
    assert.equal(past.setupError, undefined);
    assert.deepEqual(
      past.world?.machine.host.faults.injectedFaults().map((f) => f.call),
      [setup + 1],
    );
  });

  it("a scenario's faults: { nth: 1 } fails the call the docs say, and the docs give the set-up's true size", () => {
    const doc = numberingDoc().replace(/\s+/g, " ");
    assert.match(doc, /Call 1 is IOMMU_IOAS_ALLOC's object allocation \(`ioas_alloc:obj_alloc`\)/);
    assert.match(doc, /`faults: \{ nth: 1 \}` stops the cold-plug there/);
    assert.match(scenario("{ nth: 1 }").setupError ?? "", /^IOMMU_IOAS_ALLOC failed/);
    assert.equal(
      scenario("{ nth: 1 }").setupError,
      scenario("{ site: ioas_alloc:obj_alloc }").setupError,
    );
    const setup = setupCalls(DEFAULT_MACHINE).calls;
    const v5 = setupCalls(machineConfig({ profile: "qemu-v5" })).calls;
    assert.match(
      doc,
      new RegExp(
        `${setup} on the default machine and on the explorer's \\(${v5} under \`qemu-v5\``,
      ),
    );
    assert.equal(setupCalls(exploreMachine("qemu-latest", "2M", 2)).calls, setup);
  });

  it("renumbers an old replay file's plan by the set-up's calls, and refuses a current one that names a set-up call", () => {
    const { replay } = failNth();
    const plan = replay.faultPlan;
    assert.ok(plan?.kind === "nth");
    const setup = setupCalls(replay.machine).calls;
    // As the explorer wrote it before: the plan counted from the end of the set-up.
    const { fault_numbering: _, ...old } = {
      ...replay,
      faultPlan: { kind: "nth", nth: plan.nth - setup },
      machine: { ...replay.machine, faultPlan: { kind: "nth", nth: plan.nth - setup } },
      steps: replay.steps.map((s) => s.replace(`(call ${plan.nth})`, `(call ${plan.nth - setup})`)),
    };
    assert.notDeepEqual(old.steps, replay.steps);
    const loaded = parseReplay(JSON.stringify(old), "old.json");
    assert.ok(loaded.ok, loaded.ok ? "" : loaded.error);
    const f = loaded.value as OrderingsReplay;
    assert.deepEqual([f.faultPlan, f.machine.faultPlan], [plan, plan]);
    assert.deepEqual(f.steps, replay.steps);
    assert.equal(f.fault_numbering, "machine-creation");
    const siteOld = parseReplay(
      JSON.stringify({
        ...old,
        faultPlan: { kind: "site", site: "hwpt_alloc:obj_alloc", nth: 1 },
        machine: replay.machine,
      }),
      "old.json",
    );
    assert.ok(siteOld.ok && siteOld.value.mode === "orderings");
    assert.deepEqual(siteOld.value.faultPlan, {
      kind: "site",
      site: "hwpt_alloc:obj_alloc",
      nth: 1 + (setupCalls(replay.machine).siteCalls["hwpt_alloc:obj_alloc"] ?? 0),
    });
    const refused = parseReplay(
      JSON.stringify({ ...replay, faultPlan: { kind: "nth", nth: 3 } }),
      "new.json",
    );
    assert.equal(
      refused.ok ? "" : refused.error,
      `new.json: faultPlan.nth: 3 is a call of the machine's set-up (${setup} call(s), numbered from its creation); an explored run fails a call after it`,
    );
  });
});
