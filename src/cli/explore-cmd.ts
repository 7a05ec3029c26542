// `cmdqv explore`: orderings / fail-nth / swarm exploration with invariants. Prints a
// progress line on a TTY, a final table (or --json), writes one replay file per violated
// invariant, and exits 1 when any invariant is violated. `--jobs N` expands the orderings
// search's levels on N worker threads; the figures are the same as on one. `--report
// FILE.html` writes the exploration report (src/report/explore-report.ts).

import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { ExploreSampler } from "../explore/explore-samples.js";
import {
  counterexampleLines,
  EXPLORE_MODES,
  type ExploreOptions,
  type ExploreResult,
  expandItems,
  explore,
  exploreMachine,
  exploreTable,
  type FoundViolation,
  formatTable,
  OrderingsSearch,
  orderingsWorkers,
  type Progress,
  perSecond,
  type SearchChunk,
  type SearchRun,
} from "../explore/explorer.js";
import { EXTRA_STEPS } from "../explore/orderings.js";
import { FAULT_SITES } from "../host/faults.js";
import {
  buildExploreReport,
  exploreSamples,
  writeExploreReport,
} from "../report/explore-report.js";
import { shellWord } from "../util/shell.js";
import { exploreQemuCommand } from "./explore-qemu-cmd.js";
import { exploreWorkerModule } from "./explore-worker-bundle.js";
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
import { checkOutputFile, formatBytes } from "./output-files.js";
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
  /** --report: the exploration report, one self-contained HTML page. */
  report?: string;
}

export async function exploreCommand(f: ExploreFlags): Promise<number> {
  if (f.listSites) {
    for (const s of FAULT_SITES) console.log(s);
    return 0;
  }
  // Replay files are written at the end: a place they cannot go is refused before the work.
  checkOutputDir("--out", f.out);
  const vmm = parseChoice("--vmm", f.vmm ?? "model", ["model", "qemu"] as const);
  if (f.report !== undefined) {
    if (vmm === "qemu")
      throw new UsageError(
        "--report: not with --vmm qemu (the report draws the model's runs; real QEMU's paths leave no trace to draw)",
      );
    checkOutputFile("--report", f.report);
  }
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
  const show: Progress = (p) => {
    const s = (Date.now() - t0) / 1000;
    progress.update(
      `explore ${profile} ${mode}: ${p.distinct} distinct states, ${Math.round(p.states / Math.max(s, 1e-3))} states/s, ${p.violations} violated invariants`,
      { done: p.paths, total, unit: "paths" },
    );
  };
  // Threads only as many as have work: the first level's steps, and --max-paths.
  const workers = jobs > 1 && mode === "orderings" ? orderingsWorkers(opts, jobs) : 1;
  // The report's chart: the figures as paths end, with the wall time (ms from the start).
  const sampler =
    f.report !== undefined ? new ExploreSampler({ now: () => Date.now() - t0 }) : undefined;
  const result =
    workers > 1 ? await onWorkers(opts, workers, show, sampler) : explore(opts, show, sampler);
  progress.done();
  const elapsed = (Date.now() - t0) / 1000;
  const files = writeReplays(f.out, profile, result.violations);
  if (f.report !== undefined && sampler !== undefined) {
    const bytes = writeExploreReport(
      f.report,
      buildExploreReport({
        command: commandLine(),
        options: opts,
        result,
        samples: exploreSamples(sampler, result),
        elapsedSeconds: elapsed,
        jobs: workers,
        replayFiles: files,
      }),
    );
    process.stderr.write(`wrote ${f.report} (${formatBytes(bytes)})\n`);
  }
  if (f.json) {
    console.log(
      JSON.stringify({
        profile,
        mode,
        paths: result.paths,
        states: result.states,
        distinct_states: result.distinctStates,
        elapsed_s: Number(elapsed.toFixed(3)),
        states_per_s: perSecond(result.states, elapsed) ?? null,
        paths_per_s: perSecond(result.paths, elapsed) ?? null,
        complete: result.complete,
        space: result.space,
        ...(result.failedCalls
          ? {
              setup_calls: result.failedCalls.setup,
              failed_calls: [result.failedCalls.first, result.failedCalls.last],
            }
          : {}),
        workers: workers > 1 ? workers : 0,
        violations: result.violations.map((v, i) => ({
          invariant: v.invariant,
          replay: files[i],
          message: v.message,
          runs: v.count,
          steps: v.replay.steps,
          ...(v.replay.mode === "orderings" && v.replay.faultPlan
            ? { fault_plan: v.replay.faultPlan }
            : {}),
        })),
      }),
    );
  } else {
    printTable(profile, mode, result, elapsed, files);
  }
  return result.violations.length > 0 ? 1 : 0;
}

/** `cmdqv explore …` as it was typed (each word as the shell would need it), for the report. */
function commandLine(): string {
  return ["cmdqv", ...process.argv.slice(2).map(shellWord)].join(" ");
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
    for (const line of counterexampleLines(v, files[i])) console.log(line);
  });
}

/** Chunks a worker holds at once. */
const IN_HAND = 2;

/** What a worker posts: that it is ready, then the runs of each chunk it was handed. */
type WorkerMessage =
  | { readonly ready: true }
  | { readonly id: number; readonly runs: SearchRun[][] };

/**
 * The orderings search with its levels expanded on `n` worker threads: each takes the next
 * chunk when it is free; the search merges chunks in order, so the figures are those of
 * one thread. Until every thread is ready (the bundle made, the threads started), the
 * main thread expands chunks itself, so no time is lost waiting for them. A worker that
 * fails stops the others, so the error is reported at once.
 */
async function onWorkers(
  o: ExploreOptions,
  n: number,
  show: Progress,
  sampler?: ExploreSampler,
): Promise<ExploreResult> {
  const search = new OrderingsSearch(o, n, show, sampler);
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      /** A worker once per chunk it can take now. */
      const idle: Worker[] = [];
      let ready = 0;
      let out = 0;
      let over = false;
      let assisting = false;
      const fail = (e: unknown) => {
        if (over) return;
        over = true;
        reject(e);
      };
      const pump = () => {
        if (over) return;
        for (let c = idle.length > 0 ? search.take() : "wait"; ; c = search.take()) {
          if (c === null) {
            if (out === 0) {
              over = true;
              resolve();
            }
            return;
          }
          if (c === "wait") break;
          out++;
          idle.shift()!.postMessage(c satisfies SearchChunk);
          if (idle.length === 0) break;
        }
        if (ready < n && !assisting) {
          assisting = true;
          setImmediate(assist);
        }
      };
      // One chunk on the main thread, between messages, while a thread is still starting.
      const assist = () => {
        assisting = false;
        if (over || ready >= n) return;
        const c = search.take();
        if (c === null) {
          if (out === 0) {
            over = true;
            resolve();
          }
          return;
        }
        if (c === "wait") return;
        try {
          search.put(c.id, expandItems(o, c.items));
        } catch (e) {
          fail(e);
          return;
        }
        pump();
      };
      const start = (url: URL) => {
        for (let k = 0; k < n && !over; k++) {
          const w = new Worker(url, { workerData: o });
          workers.push(w);
          w.on("message", (m: WorkerMessage) => {
            if ("ready" in m) {
              ready++;
              // Two chunks in hand: the next is there when one is done, whenever the main
              // thread gets to merge it.
              for (let i = 0; i < IN_HAND; i++) idle.push(w);
            } else {
              out--;
              search.put(m.id, m.runs);
              idle.push(w);
            }
            pump();
          });
          w.on("error", fail);
          w.on("exit", (code) =>
            fail(new Error(`explore worker ${k} exited (${code}) in the middle of the search`)),
          );
        }
      };
      exploreWorkerModule().then(start, fail);
      pump();
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return search.result();
}
