// `cmdqv explore`: run the orderings program under a choice source in one of three modes
// and judge every run by the invariants.
// - orderings: exhaustive, level by level: each distinct state (fingerprinted) is expanded
//   once, from the least choice list reaching it, so a state reached twice is explored
//   once (orders of commuting writes collapse there). The figures are those of a
//   depth-first odometer over choice vectors that cuts each run at a state already seen,
//   whatever the number of threads expanding a level (`--jobs`);
// - fail-nth: one fixed order (the listed one, or a given choice list), failing each host
//   call after the machine's set-up in turn until a run consumes no injected failure
//   (iommufd_fail_nth); calls keep their numbers from the machine's creation;
// - swarm: seeded random orders, each run with its own random fault probability; a sample,
//   never an exhausted space.
// Each violated invariant yields a minimal counterexample: the choice list, shrunk.

import { INVARIANT_NAMES, type InvariantName, type Violation } from "../check/invariants.js";
import { describeFaultPlan, FAULT_SITES, type FaultSite } from "../host/faults.js";
import { type MachineConfig, machineConfig } from "../machine/config.js";
import type { PageSizeName } from "../mem/types.js";
import { DepthBoundedChoice, ExhaustiveChoice, RandomChoice, ReplayChoice } from "../sim/choice.js";
import { Prng } from "../util/prng.js";
import { CMDQV_COMMAND, shellWord } from "../util/shell.js";
import type { ProfileName } from "../vmm/tegra241-cmdqv/profile.js";
import type { ExploreSampler } from "./explore-samples.js";
import { runInterleavings } from "./interleavings.js";
import { ReusedMachine } from "./machine-snapshot.js";
import {
  buildSteps,
  type ExtraStep,
  formatStepRecord,
  type OrderingsOptions,
  type RunOutcome,
  runMachine,
  runOrderings,
  setupCalls,
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
}

export interface FoundViolation {
  readonly invariant: InvariantName;
  readonly message: string;
  /** Runs that violated this invariant. */
  readonly count: number;
  readonly replay: ReplayFile;
}

/**
 * What became of the space: every path run ("exhausted"), cut by maxPaths ("cut"), or
 * sampled at random (swarm, which never exhausts anything).
 */
export type ExploreSpace = "exhausted" | "cut" | "sampled";

export interface ExploreResult {
  /** Runs: each ends at a state already explored, or runs to the end. */
  readonly paths: number;
  /** Steps run, over all runs (a run replays its prefix, so a state counts each time). */
  readonly states: number;
  /** Distinct states by fingerprint (interleavings: distinct states at the workload's end). */
  readonly distinctStates: number;
  readonly pruned: number;
  readonly violations: readonly FoundViolation[];
  /** True when the space was exhausted: `space === "exhausted"`. */
  readonly complete: boolean;
  readonly space: ExploreSpace;
  /** fail-nth: the calls failed, one per run, after the set-up's calls 1..setup. */
  readonly failedCalls?: { readonly setup: number; readonly first: number; readonly last: number };
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

function spaceText(r: ExploreResult): string {
  switch (r.space) {
    case "exhausted":
      return "exhausted";
    case "cut":
      return "cut by --max-paths";
    case "sampled":
      return `sampled: ${r.paths} seeded random runs, not exhaustive`;
  }
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
    ["space", spaceText(r)],
  ];
  const f = r.failedCalls;
  if (f)
    rows.push([
      "host calls failed",
      f.last >= f.first
        ? `${f.first} to ${f.last}, one per run (1 to ${f.setup} are the machine's set-up)`
        : `none (the set-up's ${f.setup} calls are all there are)`,
    ]);
  rows.push(["elapsed", `${run.elapsedSeconds.toFixed(2)} s`]);
  rows.push(["states/s", rateText(r.states, run.elapsedSeconds)]);
  rows.push(["paths/s", rateText(r.paths, run.elapsedSeconds)]);
  for (const inv of INVARIANT_NAMES) {
    const v = r.violations.find((x) => x.invariant === inv);
    rows.push([inv, v ? `VIOLATED in ${v.count} runs` : "ok"]);
  }
  return rows;
}

/** Per second of `seconds`, rounded; undefined when no time was measured. */
export function perSecond(n: number, seconds: number): number | undefined {
  return seconds > 0 ? Math.round(n / seconds) : undefined;
}

function rateText(n: number, seconds: number): string {
  return String(perSecond(n, seconds) ?? "-");
}

/** Rows of [label, value] as aligned text, one row a line. */
export function formatTable(rows: readonly (readonly [string, string])[]): string {
  const w = Math.max(0, ...rows.map((x) => x[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n");
}

/** The lines that follow a violated invariant's row: its fault plan, sequence and replay. */
export function counterexampleLines(v: FoundViolation, file: string | undefined): string[] {
  const lines = [`${v.invariant}: ${v.message}`];
  const plan = v.replay.mode === "orderings" ? v.replay.faultPlan : undefined;
  if (plan && plan.kind !== "none") lines.push(`  fault plan: ${describeFaultPlan(plan)}`);
  lines.push(`  minimal sequence: ${v.replay.steps.join(" → ")}`);
  if (file !== undefined) lines.push(`  replay: ${CMDQV_COMMAND} run --replay ${shellWord(file)}`);
  return lines;
}

function orderingsOptions(o: ExploreOptions, faults: boolean): OrderingsOptions {
  return { machine: o.machine, queues: o.queues, extras: o.extras, faults };
}

/** Each violated invariant once, with the first message a run gave for it. */
export interface RunViolation {
  readonly invariant: InvariantName;
  readonly message: string;
}

function firstPerInvariant(vs: readonly Violation[]): RunViolation[] {
  const out: RunViolation[] = [];
  for (const v of vs)
    if (!out.some((x) => x.invariant === v.invariant))
      out.push({ invariant: v.invariant, message: v.message });
  return out;
}

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < Math.min(a.length, b.length); i++)
    if (a[i] !== b[i]) return (a[i] ?? 0) < (b[i] ?? 0);
  return a.length < b.length;
}

/**
 * Runs per violated invariant, and the run each counterexample starts from: the first
 * added, or (`least`) the least choice list, which the depth-first order meets first.
 */
class Collector {
  readonly byInvariant = new Map<
    InvariantName,
    { message: string; choices: number[]; count: number; faultPlan: OrderingsReplay["faultPlan"] }
  >();
  private readonly least: boolean;

  constructor(least: boolean) {
    this.least = least;
  }

  add(
    vs: readonly RunViolation[],
    choices: readonly number[],
    faultPlan: OrderingsReplay["faultPlan"],
  ): void {
    for (const v of vs) {
      const e = this.byInvariant.get(v.invariant);
      if (!e)
        this.byInvariant.set(v.invariant, {
          message: v.message,
          choices: [...choices],
          count: 1,
          faultPlan,
        });
      else {
        e.count++;
        if (this.least && lexLess(choices, e.choices)) {
          e.message = v.message;
          e.choices = [...choices];
          e.faultPlan = faultPlan;
        }
      }
    }
  }
}

/** The machines built for explored runs, each restored for every run on it. */
const reused = new WeakMap<MachineConfig, ReusedMachine>();

/**
 * The machine runs on `cfg` restore instead of building one, if they can: not when its
 * plan names calls from the machine's creation (the plan is then part of the build).
 */
function reusedMachine(cfg: MachineConfig): ReusedMachine | undefined {
  if (cfg.faultPlan.kind === "nth" || cfg.faultPlan.kind === "site") return undefined;
  let r = reused.get(cfg);
  if (r === undefined) {
    r = new ReusedMachine(runMachine(cfg));
    reused.set(cfg, r);
  }
  return r;
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
    false,
    {},
    faultPlan ? undefined : reusedMachine(o.machine),
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
  base: Omit<ExploreResult, "violations" | "complete">,
): ExploreResult {
  const violations: FoundViolation[] = [];
  for (const [inv, e] of c.byInvariant) {
    const choices = shrink(o, faults, e.choices, inv, e.faultPlan);
    const out = violates(o, faults, choices, inv, e.faultPlan);
    const steps = out ? out.steps : [];
    const message =
      out?.checker.violations().find((x) => x.invariant === inv)?.message ?? e.message;
    violations.push({
      invariant: inv,
      message,
      count: e.count,
      replay: {
        cmdqv_replay: 1,
        mode: "orderings",
        fault_numbering: "machine-creation",
        machine: o.machine,
        queues: o.queues,
        extras: [...o.extras],
        faults,
        choices,
        invariant: inv,
        message,
        steps: steps.map(formatStepRecord),
        injected: steps.flatMap((s) => (s.faults ?? []).map((f) => ({ step: s.step, ...f }))),
        faultPlan: e.faultPlan,
      },
    });
  }
  violations.sort((a, b) => a.invariant.localeCompare(b.invariant));
  return { ...base, complete: base.space === "exhausted", violations };
}

/** `sampler`, when given, is told of every path's end (the report's chart of states). */
export function explore(
  o: ExploreOptions,
  progress?: Progress,
  sampler?: ExploreSampler,
): ExploreResult {
  switch (o.mode) {
    case "orderings":
      return exploreOrderings(o, progress, sampler);
    case "fail-nth":
      return exploreFailNth(o, progress, sampler);
    case "swarm":
      return exploreSwarm(o, progress, sampler);
    case "interleavings":
      return exploreInterleavings(o, progress, sampler);
  }
}

// ---- orderings: the level-by-level search ---------------------------------------------

/** A state the orderings search expands: the least choice list that reaches it. */
export interface SearchItem {
  readonly path: readonly number[];
  /** Explored steps applied on the way. */
  readonly depth: number;
  /** No step is left: expanding it runs the syncs to the end, each fault choice there a run. */
  readonly terminal: boolean;
}

/** One run an expansion made: one more step from its item (or, from a terminal one, to the end). */
export interface SearchRun {
  /** Every choice the run consulted. */
  readonly path: readonly number[];
  /** Steps it ran. */
  readonly steps: number;
  /** The state it stopped at (-1: it ran to the end). */
  readonly fingerprint: number;
  readonly terminal: boolean;
  readonly violations: readonly RunViolation[];
}

/**
 * Expand states: every run that takes one more step from each (every step left, and with
 * faults every host call of that step that may fail), or from a terminal state every run
 * to the end. Pure: the same items give the same runs on any thread.
 */
export function expandItems(o: ExploreOptions, items: readonly SearchItem[]): SearchRun[][] {
  return items.map((it) => {
    const runs: SearchRun[] = [];
    const choice = new ExhaustiveChoice(it.path);
    const limits = it.terminal ? {} : { stopAfter: it.depth + 1 };
    const reuse = reusedMachine(o.machine);
    do {
      const out = runOrderings(orderingsOptions(o, o.faults), choice, null, false, limits, reuse);
      runs.push({
        path: [...choice.recorded()],
        steps: out.states,
        fingerprint: out.fingerprint ?? -1,
        terminal: out.terminal ?? false,
        violations: firstPerInvariant(out.checker.violations()),
      });
    } while (choice.next());
    return runs;
  });
}

/** States per chunk: one thread takes the most; several start with the least. */
const MIN_CHUNK = 8;
const MAX_CHUNK = 64;

/** A chunk of a level's states, handed to whichever thread is free. */
export interface SearchChunk {
  readonly id: number;
  readonly items: readonly SearchItem[];
}

/**
 * The orderings search, level by level (a level: the states after as many steps). Chunks of
 * states are expanded anywhere and in any order (`take`, `put`) and merged in order, so
 * the result depends on neither threads nor timing. A state's first run in that order
 * comes from the least choice list reaching it: it is expanded; every other run reaching
 * it ends there, as a run of a depth-first odometer that cuts at states already seen
 * would. So paths, cut runs, distinct states and runs per violation are that search's, on
 * one thread or many. The next level's chunks are handed out as soon as the runs that
 * make them are merged: threads do not wait at the end of a level. `--max-paths` keeps
 * the first N runs in this order.
 */
export class OrderingsSearch {
  private readonly o: ExploreOptions;
  private readonly progress: Progress | undefined;
  private readonly sampler: ExploreSampler | undefined;
  private readonly width: number;
  /** States per chunk of the level being built. */
  private size: number;
  /** States of the level being built so far. */
  private levelStates = 0;
  private readonly visited = new Set<number>();
  private readonly c = new Collector(true);
  /** Chunks made and not yet handed out, in id order. */
  private readonly ready: SearchChunk[] = [];
  /** Every chunk not yet merged, by id. */
  private readonly items = new Map<number, readonly SearchItem[]>();
  private readonly pending = new Map<number, readonly (readonly SearchRun[])[]>();
  private nextId = 0;
  /** Chunks merged: the next to merge has this id. */
  private merged = 0;
  /** The last chunk of the level being merged; states it leads to are the next level's. */
  private levelEnd = 0;
  /** The next level's states met so far, not yet in a chunk. */
  private building: SearchItem[] = [];
  private paths = 0;
  private states = 0;
  private pruned = 0;
  private cut = false;

  /** `width`: threads expanding at once (one thread takes the states in larger chunks). */
  constructor(o: ExploreOptions, width: number, progress?: Progress, sampler?: ExploreSampler) {
    this.o = o;
    this.width = width;
    this.size = width > 1 ? MIN_CHUNK : MAX_CHUNK;
    this.progress = progress;
    this.sampler = sampler;
    this.emit([{ path: [], depth: 0, terminal: false }]);
  }

  private emit(items: SearchItem[]): void {
    const id = this.nextId++;
    this.items.set(id, items);
    this.ready.push({ id, items });
  }

  /** The next chunk to expand; "wait" while chunks are out that may make more; null when done. */
  take(): SearchChunk | "wait" | null {
    if (this.cut) return null;
    const c = this.ready.shift();
    if (c) return c;
    return this.merged < this.nextId ? "wait" : null;
  }

  /** The runs of chunk `id` (one list per state), in any order of ids. */
  put(id: number, runs: readonly (readonly SearchRun[])[]): void {
    if (this.cut || id < this.merged) return;
    this.pending.set(id, runs);
    for (let k = this.merged; !this.cut && this.pending.has(k); k = this.merged) {
      const r = this.pending.get(k)!;
      this.pending.delete(k);
      this.mergeChunk(this.items.get(k)!, r);
      this.items.delete(k);
      this.merged++;
      if (k === this.levelEnd && !this.cut) {
        // The level is merged: the next one is whole.
        if (this.building.length > 0) this.emit(this.building);
        this.building = [];
        // The level after the one now whole goes out in chunks sized on this one: about
        // four per thread, so each has one in hand while the main thread merges another,
        // and fewer, larger ones when levels are wide (each chunk is a message each way).
        if (this.width > 1)
          this.size = Math.min(
            MAX_CHUNK,
            Math.max(MIN_CHUNK, Math.floor(this.levelStates / (4 * this.width))),
          );
        this.levelStates = 0;
        if (
          this.nextId > this.merged &&
          this.o.maxPaths !== undefined &&
          this.paths >= this.o.maxPaths
        )
          this.cut = true;
        this.levelEnd = this.nextId - 1;
      }
    }
    this.progress?.({
      paths: this.paths,
      states: this.states,
      distinct: this.visited.size,
      violations: this.c.byInvariant.size,
    });
  }

  private mergeChunk(items: readonly SearchItem[], runs: readonly (readonly SearchRun[])[]): void {
    const max = this.o.maxPaths;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      for (const run of runs[i]!) {
        if (max !== undefined && this.paths >= max) {
          this.cut = true;
          return;
        }
        this.states += run.steps;
        if (!item.terminal && !this.visited.has(run.fingerprint)) {
          this.visited.add(run.fingerprint);
          this.building.push({ path: run.path, depth: item.depth + 1, terminal: run.terminal });
          this.levelStates++;
          if (this.building.length === this.size) {
            this.emit(this.building);
            this.building = [];
          }
          continue;
        }
        // A run that ends: at a state already reached by a lesser list, or at the end.
        if (!item.terminal) this.pruned++;
        this.paths++;
        this.c.add(run.violations, run.path, undefined);
        this.sampler?.pathEnded(
          this.paths,
          this.states,
          this.visited.size,
          this.c.byInvariant.size,
        );
      }
    }
  }

  /** The result, counterexamples shrunk (call once the search is done). */
  result(): ExploreResult {
    return finish(this.o, this.o.faults, this.c, {
      paths: this.paths,
      states: this.states,
      distinctStates: this.visited.size,
      pruned: this.pruned,
      space: this.cut ? "cut" : "exhausted",
    });
  }
}

/**
 * Threads worth starting for `explore --jobs N` in the orderings mode: no more than the
 * first level's steps (what the second level is made of) nor than the path budget.
 */
export function orderingsWorkers(o: ExploreOptions, jobs: number): number {
  const firstSteps = buildSteps(orderingsOptions(o, o.faults)).length;
  return Math.max(1, Math.min(jobs, firstSteps, o.maxPaths ?? jobs));
}

function exploreOrderings(
  o: ExploreOptions,
  progress?: Progress,
  sampler?: ExploreSampler,
): ExploreResult {
  const search = new OrderingsSearch(o, 1, progress, sampler);
  for (let c = search.take(); c !== null; c = search.take()) {
    if (c === "wait") throw new Error("orderings search: a chunk is out on one thread");
    search.put(c.id, expandItems(o, c.items));
  }
  return search.result();
}

// ---- fail-nth and swarm -----------------------------------------------------------------

function exploreFailNth(
  o: ExploreOptions,
  progress?: Progress,
  sampler?: ExploreSampler,
): ExploreResult {
  const c = new Collector(false);
  const order = o.order ?? [];
  // Calls keep their numbers from the machine's creation: the set-up's come first.
  const setup = setupCalls(o.machine).calls;
  const seen = new Set<number>();
  let paths = 0;
  let states = 0;
  let last = setup;
  let space: ExploreSpace = "exhausted";
  for (let nth = setup + 1; ; nth++) {
    if (o.maxPaths !== undefined && paths >= o.maxPaths) {
      space = "cut";
      break;
    }
    const faultPlan = { kind: "nth", nth } as const;
    const out = runOrderings(
      { ...orderingsOptions(o, false), machine: { ...o.machine, faultPlan } },
      new ReplayChoice(order),
      null,
      false,
      { seen },
    );
    paths++;
    states += out.states;
    c.add(firstPerInvariant(out.checker.violations()), order, faultPlan);
    sampler?.pathEnded(paths, states, seen.size, c.byInvariant.size);
    progress?.({ paths, states, distinct: seen.size, violations: c.byInvariant.size });
    // Stop when a run consumed no injected failure: every host call has been failed once.
    if ((out.machine?.host.faults.injectedFaults().length ?? 0) === 0) break;
    last = nth;
  }
  return finish(o, false, c, {
    paths,
    states,
    distinctStates: seen.size,
    pruned: 0,
    space,
    failedCalls: { setup, first: setup + 1, last },
  });
}

function exploreSwarm(
  o: ExploreOptions,
  progress?: Progress,
  sampler?: ExploreSampler,
): ExploreResult {
  const c = new Collector(false);
  const runs = o.runs ?? 1000;
  const seed0 = o.seed ?? 1;
  const probs = [0, 0, 0.02, 0.1, 0.3];
  let paths = 0;
  let states = 0;
  // Every state a run passes, by fingerprint (nothing is cut: runs are independent samples).
  const seen = new Set<number>();
  for (let r = 0; r < runs; r++) {
    if (o.maxPaths !== undefined && paths >= o.maxPaths) break;
    const seed = (seed0 + r) >>> 0;
    const p = probs[new Prng(seed).int(probs.length)]!;
    const faultPlan = p > 0 ? ({ kind: "probability", seed, p: allSites(p) } as const) : undefined;
    const choice = new RandomChoice(seed);
    const machine = faultPlan ? { ...o.machine, faultPlan } : o.machine;
    const out = runOrderings({ ...orderingsOptions(o, false), machine }, choice, null, false, {
      seen,
    });
    paths++;
    states += out.states;
    c.add(firstPerInvariant(out.checker.violations()), choice.recorded(), faultPlan);
    sampler?.pathEnded(paths, states, seen.size, c.byInvariant.size);
    if (progress && paths % 64 === 0)
      progress({ paths, states, distinct: seen.size, violations: c.byInvariant.size });
  }
  return finish(o, false, c, {
    paths,
    states,
    distinctStates: seen.size,
    pruned: 0,
    space: "sampled",
  });
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
function exploreInterleavings(
  o: ExploreOptions,
  progress?: Progress,
  sampler?: ExploreSampler,
): ExploreResult {
  const depth = o.depth ?? 6;
  const invalidations = o.invalidations ?? 40;
  const vcpus = Math.max(2, o.machine.vcpus);
  const inner = new ExhaustiveChoice();
  const found = new Map<InvariantName, FoundViolation>();
  // Distinct machine states at the end of a run (runs here are not cut by fingerprints).
  const ends = new Set<number>();
  let paths = 0;
  let states = 0;
  let space: ExploreSpace = "exhausted";
  do {
    if (o.maxPaths !== undefined && paths >= o.maxPaths) {
      space = "cut";
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
    sampler?.pathEnded(paths, states, ends.size, found.size);
    if (progress && paths % 16 === 0)
      progress({ paths, states, distinct: ends.size, violations: found.size });
  } while (inner.next());
  return {
    paths,
    states,
    distinctStates: ends.size,
    pruned: 0,
    complete: space === "exhausted",
    space,
    violations: [...found.values()].sort((a, b) => a.invariant.localeCompare(b.invariant)),
  };
}
