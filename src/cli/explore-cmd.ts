// `cmdqv explore`: orderings / fail-nth / swarm exploration with invariants. Prints a
// progress line on a TTY, a final table (or --json), writes one replay file per violated
// invariant, and exits 1 when any invariant is violated.

import { join } from "node:path";
import { Worker } from "node:worker_threads";
import {
  EXPLORE_MODES,
  type ExploreOptions,
  type ExploreResult,
  explore,
  exploreMachine,
  exploreTable,
  type FoundViolation,
  formatTable,
  orderingsShards,
} from "../explore/explorer.js";
import { EXTRA_STEPS } from "../explore/orderings.js";
import { FAULT_SITES } from "../host/faults.js";
import { exploreQemuCommand } from "./explore-qemu-cmd.js";
import {
  checkOutputDir,
  parseChoice,
  parseIntFlag,
  parseList,
  parseProfile,
  parseRamPage,
  UsageError,
  writeOutFile,
} from "./options.js";
import { ProgressLine } from "./progress.js";

export interface ExploreFlags {
  profile: string;
  mode: string;
  queues: string;
  extras: string;
  faults: boolean;
  maxPaths?: string;
  runs: string;
  seed: string;
  jobs: string;
  json: boolean;
  out: string;
  ramPage: string;
  listSites: boolean;
  depth: string;
  invalidations: string;
  /** model (default) or qemu: real QEMU 11.1, one process per path (explore-qemu-cmd.ts). */
  vmm?: string;
  faultSites?: string;
  qemu?: string;
  profileSource?: string;
}

export async function exploreCommand(f: ExploreFlags): Promise<number> {
  if (f.listSites) {
    for (const s of FAULT_SITES) console.log(s);
    return 0;
  }
  // Replay files are written at the end: a place they cannot go is refused before the work.
  checkOutputDir("--out", f.out);
  const vmm = parseChoice("--vmm", f.vmm ?? "model", ["model", "qemu"] as const);
  if (vmm === "qemu") return exploreQemuCommand(f);
  for (const [flag, v] of [
    ["--fault-sites", f.faultSites],
    ["--qemu", f.qemu],
  ] as const)
    if (v !== undefined) throw new UsageError(`${flag} needs --vmm qemu`);
  const profile = parseProfile(f.profile);
  const mode = parseChoice("--mode", f.mode, EXPLORE_MODES);
  const queues = parseIntFlag("--queues", f.queues, 1, 8);
  const opts: ExploreOptions = {
    mode,
    machine: exploreMachine(profile, parseRamPage(f.ramPage), queues),
    queues,
    extras: parseList("--extras", f.extras, EXTRA_STEPS),
    faults: f.faults,
    runs: parseIntFlag("--runs", f.runs, 1, 1e9),
    depth: parseIntFlag("--depth", f.depth, 0, 64),
    invalidations: parseIntFlag("--invalidations", f.invalidations, 1, 1e6),
    seed: parseIntFlag("--seed", f.seed, 0, 0xffff_ffff),
    ...(f.maxPaths !== undefined
      ? { maxPaths: parseIntFlag("--max-paths", f.maxPaths, 1, 1e12) }
      : {}),
  };
  const jobs = parseIntFlag("--jobs", f.jobs, 1, 64);
  if (jobs > 1 && mode !== "orderings")
    throw new UsageError(
      `--jobs: only --mode orderings is sharded across threads, got --mode ${mode}`,
    );
  const progress = new ProgressLine(!f.json);
  const t0 = Date.now();
  // Paths to run, when known: swarm's --runs, or the --max-paths bound.
  const total =
    mode === "swarm" ? Math.min(opts.runs ?? 1000, opts.maxPaths ?? Infinity) : opts.maxPaths;
  const show = (p: { paths: number; states: number; violations: number }) => {
    const s = (Date.now() - t0) / 1000;
    progress.update(
      `explore ${profile} ${mode}: ${Math.round(p.states / Math.max(s, 1e-3))} states/s, ${p.violations} violated invariants`,
      { done: p.paths, total, unit: "paths" },
    );
  };
  // Workers only for shards with work: as many as first choices, and as --max-paths allows.
  const shards = jobs > 1 && mode === "orderings" ? orderingsShards(opts, jobs) : [opts];
  const result = shards.length > 1 ? await sharded(shards, show) : explore(opts, show);
  progress.done();
  const elapsed = (Date.now() - t0) / 1000;
  const files = writeReplays(f.out, profile, result.violations);
  if (f.json) {
    console.log(
      JSON.stringify({
        profile,
        mode,
        paths: result.paths,
        states: result.states,
        distinct_states: result.distinctStates,
        elapsed_s: Number(elapsed.toFixed(3)),
        complete: result.complete,
        workers: shards.length > 1 ? shards.length : 0,
        violations: result.violations.map((v, i) => ({
          invariant: v.invariant,
          replay: files[i],
          message: v.message,
          runs: v.count,
        })),
      }),
    );
  } else {
    printTable(profile, mode, result, elapsed, files);
  }
  return result.violations.length > 0 ? 1 : 0;
}

function writeReplays(dir: string, profile: string, vs: readonly FoundViolation[]): string[] {
  if (vs.length === 0) return [];
  return vs.map((v) => {
    const path = join(dir, `${profile}-${v.invariant}.json`);
    writeOutFile("--out", path, `${JSON.stringify(v.replay, null, 2)}\n`);
    return path;
  });
}

function printTable(
  profile: string,
  mode: string,
  r: ExploreResult,
  elapsed: number,
  files: readonly string[],
): void {
  console.log(formatTable(exploreTable(r, { profile, mode, elapsedSeconds: elapsed })));
  r.violations.forEach((v, i) => {
    console.log("");
    console.log(`${v.invariant}: ${v.message}`);
    console.log(`  minimal sequence: ${v.replay.steps.join(" → ")}`);
    console.log(`  replay: cmdqv run --replay ${files[i]}`);
  });
}

/**
 * Run one worker thread per shard and merge their results. A worker that fails (or ends
 * without a result) stops the others, so the error is reported at once.
 */
async function sharded(
  shards: readonly ExploreOptions[],
  show: (p: { paths: number; states: number; violations: number }) => void,
): Promise<ExploreResult> {
  const live = shards.map(() => ({ paths: 0, states: 0, violations: 0 }));
  const workers: Worker[] = [];
  const parts = await Promise.all(
    shards.map(
      (workerData, shard) =>
        new Promise<ExploreResult>((resolve, reject) => {
          const w = new Worker(new URL("./explore-worker.mjs", import.meta.url), { workerData });
          workers.push(w);
          let done = false;
          w.on("message", (m: { kind: string; p?: never; result?: ExploreResult }) => {
            if (m.kind === "progress" && m.p) {
              live[shard] = m.p;
              show(
                live.reduce((a, b) => ({
                  paths: a.paths + b.paths,
                  states: a.states + b.states,
                  violations: Math.max(a.violations, b.violations),
                })),
              );
            } else if (m.kind === "result" && m.result) {
              done = true;
              resolve(m.result);
            }
          });
          w.on("error", reject);
          w.on("exit", (code) => {
            if (!done)
              reject(new Error(`explore worker ${shard} exited (${code}) without a result`));
          });
        }),
    ),
  ).catch(async (e: unknown) => {
    await Promise.all(workers.map((w) => w.terminate()));
    throw e;
  });
  const byInv = new Map<string, FoundViolation>();
  for (const p of parts)
    for (const v of p.violations) {
      const prev = byInv.get(v.invariant);
      if (!prev || v.replay.choices.length < prev.replay.choices.length)
        byInv.set(v.invariant, { ...v, count: v.count + (prev?.count ?? 0) });
      else byInv.set(v.invariant, { ...prev, count: prev.count + v.count });
    }
  return {
    paths: parts.reduce((a, p) => a + p.paths, 0),
    states: parts.reduce((a, p) => a + p.states, 0),
    // Shards keep separate visited sets: a state met in two shards is counted twice.
    distinctStates: parts.reduce((a, p) => a + p.distinctStates, 0),
    pruned: parts.reduce((a, p) => a + p.pruned, 0),
    complete: parts.every((p) => p.complete),
    violations: [...byInv.values()].sort((a, b) => a.invariant.localeCompare(b.invariant)),
  };
}
