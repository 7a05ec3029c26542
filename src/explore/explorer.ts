// `cmdqv explore`: run the orderings program under a choice source in one of three modes
// and judge every run by the invariants.
// - orderings: exhaustive (odometer over choice vectors), states fingerprinted so a state
//   reached twice is explored once (orders of commuting writes collapse there);
// - fail-nth: one fixed order (the listed one, or a given choice list), failing the 1st,
//   2nd, … host call until a run consumes no injected failure (iommufd_fail_nth);
// - swarm: seeded random orders, each run with its own random fault probability.
// Each violated invariant yields a minimal counterexample: the choice list, shrunk.

import { INVARIANT_NAMES, type InvariantName, type Violation } from "../check/invariants.js";
import { FAULT_SITES, type FaultSite } from "../host/faults.js";
import { type MachineConfig, machineConfig } from "../machine/config.js";
import type { PageSizeName } from "../mem/types.js";
import { DepthBoundedChoice, ExhaustiveChoice, RandomChoice, ReplayChoice } from "../sim/choice.js";
import { Prng } from "../util/prng.js";
import type { ProfileName } from "../vmm/tegra241-cmdqv/profile.js";
import { runInterleavings } from "./interleavings.js";
import {
  buildSteps,
  type ExtraStep,
  type OrderingsOptions,
  type RunOutcome,
  runOrderings,
} from "./orderings.js";
import type { OrderingsReplay, ReplayFile } from "./replay.js";

export const EXPLORE_MODES = ["orderings", "fail-nth", "swarm", "interleavings"] as const;
export type ExploreMode = (typeof EXPLORE_MODES)[number];

export interface ExploreOptions {
  readonly mode: ExploreMode;
  readonly machine: MachineConfig;
  readonly queues: number;
  readonly extras: readonly ExtraStep[];
  /** orderings: also explore which single host call fails. */
  readonly faults: boolean;
  /** Stop after this many runs (a bound for CI); undefined = until exhausted. */
  readonly maxPaths?: number;
  /** swarm: number of random runs and the seed of the first. */
  readonly runs?: number;
  readonly seed?: number;
  /** fail-nth: the order to sweep (a choice list; default: the listed order). */
  readonly order?: readonly number[];
  /** interleavings: branching choices enumerated per run (later ones take the first option). */
  readonly depth?: number;
  /** interleavings: invalidations the vCPUs issue together. */
  readonly invalidations?: number;
  /** orderings: explore only runs whose first choice is ≡ shard (mod shards). */
  readonly shard?: number;
  readonly shards?: number;
}

export interface FoundViolation {
  readonly invariant: InvariantName;
  readonly message: string;
  /** Runs that violated this invariant. */
  readonly count: number;
  readonly replay: ReplayFile;
}

export interface ExploreResult {
  readonly paths: number;
  readonly states: number;
  readonly distinctStates: number;
  readonly pruned: number;
  readonly violations: readonly FoundViolation[];
  /** True when the space was exhausted (not cut by maxPaths). */
  readonly complete: boolean;
}

export type Progress = (p: {
  paths: number;
  states: number;
  distinct: number;
  violations: number;
}) => void;

/**
 * The machine an exploration runs on: the default machine under `profile` with RAM on
 * `ramPage` pages, its VINTF sized to hold the `queues` explored VCMDQs (a power of two,
 * at least 2).
 */
export function exploreMachine(
  profile: ProfileName,
  ramPage: PageSizeName,
  queues: number,
): MachineConfig {
  return machineConfig({
    profile,
    ramPage,
    vcmdqs: Math.max(2, 2 ** Math.ceil(Math.log2(queues))),
  });
}

/**
 * The table `cmdqv explore` prints, as rows of [label, value]: the run's figures, then
 * every invariant, "ok" or "VIOLATED in N runs".
 */
export function exploreTable(
  r: ExploreResult,
  run: { readonly profile: string; readonly mode: string; readonly elapsedSeconds: number },
): [string, string][] {
  const rows: [string, string][] = [
    ["profile", run.profile],
    ["mode", run.mode],
    ["paths", String(r.paths)],
    ["states", String(r.states)],
    ["distinct states", String(r.distinctStates)],
    ["space", r.complete ? "exhausted" : "cut by --max-paths"],
    ["elapsed", `${run.elapsedSeconds.toFixed(2)} s`],
  ];
  for (const inv of INVARIANT_NAMES) {
    const v = r.violations.find((x) => x.invariant === inv);
    rows.push([inv, v ? `VIOLATED in ${v.count} runs` : "ok"]);
  }
  return rows;
}

/** Rows of [label, value] as aligned text, one row a line. */
export function formatTable(rows: readonly (readonly [string, string])[]): string {
  const w = Math.max(0, ...rows.map((x) => x[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n");
}

function orderingsOptions(o: ExploreOptions, faults: boolean): OrderingsOptions {
  return { machine: o.machine, queues: o.queues, extras: o.extras, faults };
}

class Collector {
  readonly byInvariant = new Map<
    InvariantName,
    { first: Violation; choices: number[]; count: number; faultPlan: OrderingsReplay["faultPlan"] }
  >();

  add(out: RunOutcome, choices: readonly number[], faultPlan: OrderingsReplay["faultPlan"]): void {
    const seen = new Set<InvariantName>();
    for (const v of out.checker.violations()) {
      if (seen.has(v.invariant)) continue;
      seen.add(v.invariant);
      const e = this.byInvariant.get(v.invariant);
      if (e) e.count++;
      else
        this.byInvariant.set(v.invariant, { first: v, choices: [...choices], count: 1, faultPlan });
    }
  }
}

/** Does replaying `choices` still violate `inv`? */
function violates(
  o: ExploreOptions,
  faults: boolean,
  choices: readonly number[],
  inv: InvariantName,
  faultPlan: OrderingsReplay["faultPlan"],
): RunOutcome | null {
  const machine = faultPlan ? { ...o.machine, faultPlan } : o.machine;
  const out = runOrderings(
    { ...orderingsOptions(o, faults), machine },
    new ReplayChoice(choices),
    null,
  );
  return out.checker.violations().some((v) => v.invariant === inv) ? out : null;
}

/**
 * Shrink a choice list while it still violates `inv`: drop the tail, then lower each
 * choice (to 0 first, then by one). Choices past the end replay as 0, so shorter and
 * smaller lists are simpler runs. Bounded, deterministic.
 */
export function shrink(
  o: ExploreOptions,
  faults: boolean,
  choices: readonly number[],
  inv: InvariantName,
  faultPlan: OrderingsReplay["faultPlan"],
): number[] {
  let best = [...choices];
  let budget = 400;
  const tryCand = (cand: number[]): boolean => {
    if (budget-- <= 0) return false;
    if (violates(o, faults, cand, inv, faultPlan)) {
      best = cand;
      return true;
    }
    return false;
  };
  // Trailing zeros are implicit.
  while (best.length > 0 && best[best.length - 1] === 0) best.pop();
  let improved = true;
  while (improved && budget > 0) {
    improved = false;
    for (let cut = best.length - 1; cut >= 0 && budget > 0; cut--) {
      if (tryCand(best.slice(0, cut))) {
        improved = true;
        break;
      }
    }
    for (let i = 0; i < best.length && budget > 0; i++) {
      const v = best[i]!;
      if (v === 0) continue;
      const zero = [...best];
      zero[i] = 0;
      if (tryCand(zero)) {
        improved = true;
        continue;
      }
      const dec = [...best];
      dec[i] = v - 1;
      if (tryCand(dec)) improved = true;
    }
    while (best.length > 0 && best[best.length - 1] === 0) best.pop();
  }
  return best;
}

function finish(
  o: ExploreOptions,
  faults: boolean,
  c: Collector,
  base: Omit<ExploreResult, "violations">,
): ExploreResult {
  const violations: FoundViolation[] = [];
  for (const [inv, e] of c.byInvariant) {
    const choices = shrink(o, faults, e.choices, inv, e.faultPlan);
    const out = violates(o, faults, choices, inv, e.faultPlan);
    const steps = out ? out.steps : [];
    const v = out?.checker.violations().find((x) => x.invariant === inv) ?? e.first;
    violations.push({
      invariant: inv,
      message: v.message,
      count: e.count,
      replay: {
        cmdqv_replay: 1,
        mode: "orderings",
        machine: e.faultPlan ? { ...o.machine, faultPlan: e.faultPlan } : o.machine,
        queues: o.queues,
        extras: [...o.extras],
        faults,
        choices,
        invariant: inv,
        message: v.message,
        steps: steps.map((s) => (s.fault ? `${s.step} [fail ${s.fault}]` : s.step)),
        faultPlan: e.faultPlan,
      },
    });
  }
  violations.sort((a, b) => a.invariant.localeCompare(b.invariant));
  return { ...base, violations };
}

/**
 * The shards `explore --jobs N` runs in the orderings mode, one worker each: shard s
 * takes the runs whose first choice is ≡ s (mod shards). Only as many shards as there
 * are first choices, and as the path budget allows, so no worker starts without work;
 * a budget (maxPaths) is split among them, the first ones taking one more, so the
 * shards together run at most maxPaths paths. Deterministic: which paths run does not
 * depend on the threads' timing.
 */
export function orderingsShards(o: ExploreOptions, jobs: number): ExploreOptions[] {
  const firstChoices = buildSteps(orderingsOptions(o, o.faults)).length;
  const shards = Math.max(1, Math.min(jobs, firstChoices, o.maxPaths ?? jobs));
  if (shards === 1) return [o];
  return Array.from({ length: shards }, (_, shard) => ({
    ...o,
    shard,
    shards,
    ...(o.maxPaths !== undefined
      ? {
          maxPaths: Math.floor(o.maxPaths / shards) + (shard < o.maxPaths % shards ? 1 : 0),
        }
      : {}),
  }));
}

export function explore(o: ExploreOptions, progress?: Progress): ExploreResult {
  switch (o.mode) {
    case "orderings":
      return exploreOrderings(o, progress);
    case "fail-nth":
      return exploreFailNth(o, progress);
    case "swarm":
      return exploreSwarm(o, progress);
    case "interleavings":
      return exploreInterleavings(o, progress);
  }
}

function exploreOrderings(o: ExploreOptions, progress?: Progress): ExploreResult {
  const c = new Collector();
  const visited = new Set<number>();
  const shards = o.shards ?? 1;
  const shard = o.shard ?? 0;
  const firstChoices = buildSteps(orderingsOptions(o, o.faults)).length;
  let paths = 0;
  let states = 0;
  let pruned = 0;
  let complete = true;
  // Shard by the first choice: this worker enumerates the subtrees of its first steps.
  outer: for (let first = shard; first < firstChoices; first += shards) {
    const choice = new ExhaustiveChoice(shards > 1 ? [first] : []);
    do {
      if (o.maxPaths !== undefined && paths >= o.maxPaths) {
        complete = false;
        break outer;
      }
      const out = runOrderings(orderingsOptions(o, o.faults), choice, visited);
      paths++;
      states += out.states;
      if (out.pruned) pruned++;
      c.add(out, choice.recorded() as number[], undefined);
      if (progress && paths % 64 === 0)
        progress({ paths, states, distinct: visited.size, violations: c.byInvariant.size });
    } while (choice.next());
    if (shards <= 1) break;
  }
  return finish(o, o.faults, c, { paths, states, distinctStates: visited.size, pruned, complete });
}

function exploreFailNth(o: ExploreOptions, progress?: Progress): ExploreResult {
  const c = new Collector();
  const order = o.order ?? [];
  let paths = 0;
  let states = 0;
  let complete = true;
  for (let nth = 1; ; nth++) {
    if (o.maxPaths !== undefined && paths >= o.maxPaths) {
      complete = false;
      break;
    }
    const faultPlan = { kind: "nth", nth } as const;
    const out = runOrderings(
      { ...orderingsOptions(o, false), machine: { ...o.machine, faultPlan } },
      new ReplayChoice(order),
      null,
    );
    paths++;
    states += out.states;
    c.add(out, [...order], faultPlan);
    progress?.({ paths, states, distinct: states, violations: c.byInvariant.size });
    // Stop when a run consumed no injected failure: every host call has been failed once.
    if ((out.machine?.host.faults.injectedFaults().length ?? 0) === 0) break;
  }
  return finish(o, false, c, { paths, states, distinctStates: states, pruned: 0, complete });
}

function exploreSwarm(o: ExploreOptions, progress?: Progress): ExploreResult {
  const c = new Collector();
  const runs = o.runs ?? 1000;
  const seed0 = o.seed ?? 1;
  const probs = [0, 0, 0.02, 0.1, 0.3];
  let paths = 0;
  let states = 0;
  const visited = new Set<number>();
  for (let r = 0; r < runs; r++) {
    if (o.maxPaths !== undefined && paths >= o.maxPaths) break;
    const seed = (seed0 + r) >>> 0;
    const p = probs[new Prng(seed).int(probs.length)]!;
    const faultPlan = p > 0 ? ({ kind: "probability", seed, p: allSites(p) } as const) : undefined;
    const choice = new RandomChoice(seed);
    const machine = faultPlan ? { ...o.machine, faultPlan } : o.machine;
    const out = runOrderings({ ...orderingsOptions(o, false), machine }, choice, null);
    paths++;
    states += out.states;
    c.add(out, choice.recorded() as number[], faultPlan);
    if (progress && paths % 64 === 0)
      progress({ paths, states, distinct: visited.size, violations: c.byInvariant.size });
  }
  return finish(o, false, c, { paths, states, distinctStates: states, pruned: 0, complete: true });
}

function allSites(p: number): Partial<Record<FaultSite, number>> {
  const out: Partial<Record<FaultSite, number>> = {};
  for (const s of FAULT_SITES) out[s] = p;
  return out;
}

/**
 * Interleavings: every order (to `depth` branching choices) of the vCPUs' steps, the
 * VMM's vEVENT handling, the guest's interrupt and a hardware command error, with the
 * error's moment and code chosen too. Counterexamples replay from their choice lists.
 */
function exploreInterleavings(o: ExploreOptions, progress?: Progress): ExploreResult {
  const depth = o.depth ?? 6;
  const invalidations = o.invalidations ?? 40;
  const vcpus = Math.max(2, o.machine.vcpus);
  const inner = new ExhaustiveChoice();
  const found = new Map<InvariantName, FoundViolation>();
  // Distinct machine states at the end of a run (runs here are not cut by fingerprints).
  const ends = new Set<number>();
  let paths = 0;
  let states = 0;
  let complete = true;
  do {
    if (o.maxPaths !== undefined && paths >= o.maxPaths) {
      complete = false;
      break;
    }
    const choice = new DepthBoundedChoice(inner, depth);
    const out = runInterleavings(
      { machine: o.machine, invalidations, vcpus, inject: true },
      choice,
    );
    paths++;
    states += out.world.sched.steps();
    ends.add(out.endState);
    for (const v of out.world.checker.violations()) {
      const prev = found.get(v.invariant);
      if (prev) {
        found.set(v.invariant, { ...prev, count: prev.count + 1 });
        continue;
      }
      found.set(v.invariant, {
        invariant: v.invariant,
        message: v.message,
        count: 1,
        replay: {
          cmdqv_replay: 1,
          mode: "interleavings",
          machine: o.machine,
          invalidations,
          vcpus,
          inject: true,
          choices: [...choice.recorded()],
          invariant: v.invariant,
          message: v.message,
          steps: [...out.steps],
        },
      });
    }
    if (progress && paths % 16 === 0)
      progress({ paths, states, distinct: paths, violations: found.size });
  } while (inner.next());
  return {
    paths,
    states,
    distinctStates: ends.size,
    pruned: 0,
    complete,
    violations: [...found.values()].sort((a, b) => a.invariant.localeCompare(b.invariant)),
  };
}
