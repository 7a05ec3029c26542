import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { machineConfig } from "../machine/config.js";
import { ExhaustiveChoice, ReplayChoice } from "../sim/choice.js";
import type { ProfileName } from "../vmm/tegra241-cmdqv/profile.js";
import { type ExploreOptions, explore, exploreTable } from "./explorer.js";
import { runInterleavings } from "./interleavings.js";
import { buildSteps, runOrderings } from "./orderings.js";
import { parseReplay } from "./replay-load.js";

/**
 * The search the level-by-level one must agree with: a depth-first odometer over choice
 * vectors on one thread, each run cut at a state an earlier run reached.
 */
function depthFirst(o: ExploreOptions) {
  const visited = new Set<number>();
  const runs = new Map<string, number>();
  const choice = new ExhaustiveChoice();
  let paths = 0;
  let pruned = 0;
  do {
    const out = runOrderings(
      { machine: o.machine, queues: o.queues, extras: o.extras, faults: o.faults },
      choice,
      visited,
    );
    paths++;
    if (out.pruned) pruned++;
    for (const inv of new Set(out.checker.violations().map((v) => v.invariant)))
      runs.set(inv, (runs.get(inv) ?? 0) + 1);
  } while (choice.next());
  return { paths, pruned, distinct: visited.size, runs: [...runs].sort() };
}

/** One explored VCMDQ keeps each exhaustive run under a second; two are checked where it matters. */
function opts(profile: ProfileName, over: Partial<ExploreOptions> = {}): ExploreOptions {
  return {
    mode: "orderings",
    machine: machineConfig({ profile }),
    queues: 1,
    extras: [],
    faults: true,
    ...over,
  };
}

describe("explore orderings", () => {
  it("rediscovers the review's Case 2 under qemu-v5: a failed allocation leaves the guest hanging in silence", () => {
    const r = explore(opts("qemu-v5"));
    assert.equal(r.complete, true);
    const hang = r.violations.find((v) => v.invariant === "no-silent-hang");
    assert.ok(hang, "no-silent-hang found");
    assert.match(hang.message, /CMD_SYNC on VCMDQ0 timed out/);
    assert.ok(hang.replay.steps.some((s) => s.includes("[fail hw_queue_alloc:")));
  });

  it("finds the refused destroy and the leak under qemu-v7 when CONFIG.EN=1 is re-written with two queues live", () => {
    const r = explore(opts("qemu-v7", { queues: 2, faults: false }));
    assert.ok(r.violations.some((v) => v.invariant === "no-refused-destroy"));
    assert.ok(r.violations.some((v) => v.invariant === "no-leak"));
  });

  it("finds under qemu-v7 a guest that enabled its queue before allocation, told EN_OK by the cache, hanging when the allocation fails", () => {
    const r = explore(opts("qemu-v7"));
    const hang = r.violations.find((v) => v.invariant === "no-silent-hang");
    assert.ok(hang);
    const steps = hang.replay.steps;
    const enable = steps.indexOf("ENABLE0");
    const failed = steps.findIndex((s) => s.includes("[fail hw_queue_alloc:"));
    assert.ok(enable >= 0 && failed > enable, steps.join(" "));
  });

  it("finds nothing under the reference design with two queues, faults included", () => {
    const r = explore(opts("reference", { queues: 2 }));
    assert.equal(r.complete, true);
    assert.deepEqual(r.violations, []);
    assert.ok(r.distinctStates > 100, `explored ${r.distinctStates} states`);
  });

  it("explores fewer runs than orders by cutting at states already explored", () => {
    const r = explore(opts("reference", { faults: false }));
    // 6 writes have 6! = 720 orders; fingerprints collapse commuting ones.
    assert.ok(r.paths < 720 / 4, `${r.paths} paths`);
    assert.ok(r.pruned > 0);
  });

  it("reports the paths, cut runs, distinct states and runs per violation of a depth-first search", () => {
    for (const o of [
      opts("qemu-v7"),
      opts("qemu-latest", { extras: ["config-rewrite"], faults: false }),
    ]) {
      const r = explore(o);
      assert.deepEqual(
        {
          paths: r.paths,
          pruned: r.pruned,
          distinct: r.distinctStates,
          runs: r.violations.map((v) => [v.invariant, v.count]),
        },
        depthFirst(o),
      );
      assert.ok(r.violations.length > 0);
    }
  });

  it("stops at --max-paths and says the space was not exhausted", () => {
    const r = explore(opts("qemu-latest", { maxPaths: 5 }));
    assert.equal(r.paths, 5);
    assert.equal(r.complete, false);
  });

  it("writes replay files that reproduce the violation from their choices alone", () => {
    const r = explore(opts("qemu-latest", { queues: 2, faults: false }));
    const v = r.violations.find((x) => x.invariant === "no-leak");
    assert.ok(v);
    const parsed = parseReplay(JSON.stringify(v.replay), "x.json");
    assert.ok(parsed.ok);
    const f = parsed.value;
    assert.equal(f.mode, "orderings");
    if (f.mode !== "orderings") return;
    const out = runOrderings(
      { machine: f.machine, queues: f.queues, extras: f.extras, faults: f.faults },
      new ReplayChoice(f.choices),
      null,
    );
    assert.ok(out.checker.violations().some((x) => x.invariant === "no-leak"));
  });

  it("shrinks counterexamples: trailing zero choices are dropped", () => {
    const r = explore(opts("qemu-v7"));
    for (const v of r.violations) assert.notEqual(v.replay.choices.at(-1), 0);
  });

  it("with extra steps, finds that re-writing CONFIG.EN=1 silently disables a live queue upstream", () => {
    const r = explore(
      opts("qemu-latest", { extras: ["config-rewrite"], faults: false, queues: 1 }),
    );
    const hang = r.violations.find((v) => v.invariant === "no-silent-hang");
    assert.ok(hang, "silent hang after CONFIG_REWRITE");
    assert.ok(hang.replay.steps.includes("CONFIG_REWRITE"));
    const ref = explore(
      opts("reference", { extras: ["config-rewrite"], faults: false, queues: 1 }),
    );
    assert.deepEqual(ref.violations, []);
  });
});

describe("explore fail-nth and swarm", () => {
  it("fails the 1st, 2nd, … host call until a run consumes no injected failure", () => {
    const r = explore(opts("reference", { mode: "fail-nth" }));
    assert.equal(r.complete, true);
    assert.ok(r.paths > 3, `${r.paths} runs`);
    assert.deepEqual(r.violations, []);
  });

  it("finds Case 2 under qemu-v5 by failing the nth host call in the listed order", () => {
    const r = explore(opts("qemu-v5", { mode: "fail-nth" }));
    assert.ok(r.violations.some((v) => v.invariant === "no-silent-hang"));
  });

  it("counts fail-nth's distinct states by fingerprint", () => {
    const r = explore(opts("qemu-v5", { mode: "fail-nth" }));
    assert.ok(
      r.distinctStates > 0 && r.distinctStates < r.states,
      `${r.distinctStates} of ${r.states}`,
    );
  });

  it("says a swarm sampled the space, never that it exhausted it, and counts distinct states by fingerprint", () => {
    const r = explore(opts("qemu-latest", { mode: "swarm", runs: 40, seed: 3 }));
    assert.equal(r.paths, 40);
    assert.equal(r.space, "sampled");
    assert.equal(r.complete, false);
    const table = exploreTable(r, { profile: "qemu-latest", mode: "swarm", elapsedSeconds: 0 });
    const space = table.find(([k]) => k === "space")?.[1] ?? "";
    assert.doesNotMatch(space, /exhausted/);
    assert.match(space, /^sampled: 40 seeded random runs/);
    // Runs repeat states (every run starts with the same machine): fewer distinct than run.
    assert.ok(
      r.distinctStates > 0 && r.distinctStates < r.states,
      `${r.distinctStates} of ${r.states}`,
    );
    // The same runs, counted state by state, give the same number.
    const again = explore(opts("qemu-latest", { mode: "swarm", runs: 40, seed: 3 }));
    assert.equal(again.distinctStates, r.distinctStates);
  });

  it("gives the same result for the same swarm seed", () => {
    const a = explore(opts("qemu-v5", { mode: "swarm", runs: 60, seed: 9 }));
    const b = explore(opts("qemu-v5", { mode: "swarm", runs: 60, seed: 9 }));
    assert.deepEqual(
      a.violations.map((v) => [v.invariant, v.count, v.replay.choices]),
      b.violations.map((v) => [v.invariant, v.count, v.replay.choices]),
    );
  });
});

describe("orderings program", () => {
  it("lists the gate writes of every queue plus CMDQV and VINTF enable, and the chosen extras", () => {
    const steps = buildSteps({
      machine: machineConfig(),
      queues: 2,
      extras: ["reset", "reprogram"],
      faults: false,
    });
    assert.deepEqual(
      steps.map((s) => s.name),
      [
        "BASE_L0",
        "BASE_H0",
        "ALLOC0",
        "BASE_L1",
        "BASE_H1",
        "ALLOC1",
        "ENABLE0",
        "ENABLE1",
        "CMDQV_EN",
        "VINTF_EN",
        "RESET",
        "REPROGRAM0",
        "REPROGRAM1",
      ],
    );
  });

  it("rejects a replay file with a bad field by naming it", () => {
    const r = parseReplay('{"cmdqv_replay":1,"mode":"orderings"}', "bad.json");
    assert.equal(r.ok, false);
    assert.match(r.ok ? "" : r.error, /^bad\.json: machine: /);
    assert.deepEqual(parseReplay("{", "b.json").ok, false);
  });
});

describe("explore interleavings", () => {
  it("carries a hardware command error to the guest's ISR, which skips it, and the workload completes", () => {
    const out = runInterleavings(
      {
        machine: machineConfig({ profile: "qemu-latest" }),
        invalidations: 40,
        vcpus: 2,
        inject: true,
      },
      new ReplayChoice([]),
    );
    assert.ok((out.world.cmdqv?.isrRuns ?? 0) >= 1, out.steps.join(" | "));
    assert.ok(
      out.world.dmesg
        .lines()
        .some((l) => l.includes("CMDQ error (cons 0x01000000): Illegal command")),
    );
    assert.deepEqual(out.world.checker.violations(), []);
    assert.equal(out.world.invalidationsIssued() >= 40, true);
  });

  it("enumerates interleavings of vCPUs, vEVENT delivery, the interrupt and the error's moment and code", () => {
    for (const profile of ["qemu-v7", "reference"] as const) {
      const r = explore(opts(profile, { mode: "interleavings", depth: 3 }));
      assert.equal(r.complete, true);
      assert.ok(r.paths >= 9, `${profile}: ${r.paths} paths`);
      assert.deepEqual(r.violations, [], profile);
    }
  });
});
