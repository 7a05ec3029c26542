// The exploration report (`cmdqv explore … --report FILE.html`): what an exploration
// found, as one self-contained HTML page — the table per profile and invariant, the
// counts of paths, states and distinct states, a chart of states over the exploration,
// and each counterexample with its minimal sequence and, embedded, the run report of its
// replay (the page `cmdqv run --replay FILE --report` writes, run here on the model).
//
// API (for the CLI):
//
//   const sampler = new ExploreSampler({ now });            // src/explore/explore-samples.ts
//   const result = explore(opts, progress, sampler);
//   const data = buildExploreReport({ command, options: opts, result, samples:
//     exploreSamples(sampler, result), elapsedSeconds, jobs, replayFiles });
//   const bytes = writeExploreReport("out.html", data);     // or renderExploreReportHtml(data)
//
// docs/report.md ("The exploration report") says what each part shows.

import { writeFileSync } from "node:fs";
import { INVARIANT_NAMES } from "../check/invariants.js";
import type { ExploreSample, ExploreSampler } from "../explore/explore-samples.js";
import {
  counterexampleLines,
  type ExploreOptions,
  type ExploreResult,
  exploreTable,
  type FoundViolation,
} from "../explore/explorer.js";
import { formatStepRecord } from "../explore/orderings.js";
import type { ReplayFile } from "../explore/replay.js";
import { runReplayFile } from "../explore/replay-run.js";
import { describeFaultPlan } from "../host/faults.js";
import type { MachineConfig } from "../machine/config.js";
import { createMachine, type Machine } from "../machine/machine.js";
import type { TraceSink } from "../trace/trace.js";
import {
  EXPLORE_REPORT_VERSION,
  type ExploreCounterexample,
  type ExploreReportData,
  type ExploreRow,
} from "./explore-report-data.js";
import { renderExploreReportHtml } from "./explore-report-html.js";
import { type ReplayForReport, replayRunReportData } from "./replay-report.js";
import type { RunReportData } from "./report-data.js";
import { reportCollectorFor } from "./run-report.js";
import { renderRunReportHtml } from "./run-report-html.js";

export interface ExploreReportInput {
  /** The command line, for the header: `cmdqv explore --profile qemu-v5 …`. */
  readonly command: string;
  readonly options: ExploreOptions;
  readonly result: ExploreResult;
  /** The chart's points (exploreSamples). */
  readonly samples: readonly ExploreSample[];
  readonly elapsedSeconds: number;
  /** Worker threads that expanded the search (1: none but the main thread). */
  readonly jobs: number;
  /** The replay file written for each violation, in the order of `result.violations`. */
  readonly replayFiles: readonly (string | undefined)[];
}

/** The sampler's points, ending on the result's own figures. */
export function exploreSamples(s: ExploreSampler, r: ExploreResult): ExploreSample[] {
  return s.samples({
    paths: r.paths,
    states: r.states,
    distinct: r.distinctStates,
    violations: r.violations.length,
  });
}

function machineText(c: MachineConfig): string {
  return `profile ${c.profile}, RAM ${c.ramSize / 2 ** 20} MiB on ${c.ramPage} pages, ${c.vcmdqs} VCMDQs, ${c.vcpus} vCPUs, cmdqv=${c.cmdqv}`;
}

/** The options of the search that shape its figures, as label and value. */
function optionRows(o: ExploreOptions): [string, string][] {
  const rows: [string, string][] = [["mode", o.mode]];
  if (o.mode === "interleavings") {
    rows.push(["depth", String(o.depth ?? 6)], ["invalidations", String(o.invalidations ?? 40)]);
  } else {
    rows.push(["queues", String(o.queues)]);
    rows.push(["extras", o.extras.length > 0 ? o.extras.join(", ") : "none"]);
  }
  if (o.mode === "orderings") rows.push(["host call failures", o.faults ? "explored" : "off"]);
  if (o.mode === "swarm")
    rows.push(["runs", String(o.runs ?? 1000)], ["seed", String(o.seed ?? 1)]);
  if (o.maxPaths !== undefined) rows.push(["max paths", String(o.maxPaths)]);
  return rows;
}

/** The value of the explorer's printed table row `label`, if it has one. */
function tableValue(rows: readonly (readonly [string, string])[], label: string) {
  return rows.find(([k]) => k === label)?.[1];
}

/** The report's data: the table, the counts, the samples and each counterexample with its run report. */
export function buildExploreReport(input: ExploreReportInput): ExploreReportData {
  const { options: o, result: r } = input;
  const profile = o.machine.profile;
  const printed = exploreTable(r, {
    profile,
    mode: o.mode,
    elapsedSeconds: input.elapsedSeconds,
  });
  const table: ExploreRow[] = INVARIANT_NAMES.map((invariant) => {
    const v = r.violations.find((x) => x.invariant === invariant);
    return { invariant, cells: [{ profile, ok: v === undefined, runs: v?.count ?? 0 }] };
  });
  const failedCalls = tableValue(printed, "host calls failed");
  return {
    version: EXPLORE_REPORT_VERSION,
    kind: "explore",
    title: `cmdqv explore: ${profile}, ${o.mode}`,
    header: {
      command: input.command,
      mode: o.mode,
      vmm: "model",
      machine: machineText(o.machine),
      options: optionRows(o),
      jobs: input.jobs,
    },
    profiles: [profile],
    table,
    counts: {
      paths: r.paths,
      states: r.states,
      distinctStates: r.distinctStates,
      pruned: r.pruned,
      space: r.space,
      spaceText: tableValue(printed, "space") ?? r.space,
      ...(failedCalls !== undefined ? { failedCalls } : {}),
      elapsedSeconds: input.elapsedSeconds,
    },
    samples: input.samples,
    counterexamples: r.violations.map((v, i) => counterexample(v, profile, input.replayFiles[i])),
  };
}

function counterexample(
  v: FoundViolation,
  profile: string,
  file: string | undefined,
): ExploreCounterexample {
  const f = v.replay;
  const plan = f.mode === "orderings" ? f.faultPlan : undefined;
  // The command as `cmdqv explore` prints it under the counterexample.
  const replayLine = counterexampleLines(v, file).find((l) => l.startsWith("  replay: "));
  const replayCommand = replayLine?.slice("  replay: ".length) ?? null;
  return {
    invariant: v.invariant,
    profile,
    message: v.message,
    runs: v.count,
    steps: f.steps,
    minimal: f.mode === "orderings",
    injected: f.mode === "orderings" ? (f.injected ?? []) : [],
    faultPlan: plan && plan.kind !== "none" ? describeFaultPlan(plan) : null,
    replayFile: file ?? null,
    replayCommand,
    runReport: renderRunReportHtml(replayReportData(f, replayCommand ?? "cmdqv run --replay")),
  };
}

/** What replaying a file on the model did. */
interface Replayed {
  readonly machine: Machine;
  readonly outcome: ReplayForReport;
}

/** Replay `f` on the model, its trace events to `sink` (when given) and counted. */
function replayOnModel(f: ReplayFile, sink: TraceSink | null): Replayed {
  let events = 0;
  const run = runReplayFile(f, {
    event(e) {
      events++;
      sink?.event(e);
    },
  });
  const machine = run.mode === "orderings" ? run.out.machine : run.out.world.machine;
  if (machine === null) throw new Error(`the replay of ${f.invariant} built no machine`);
  const violations =
    run.mode === "orderings" ? run.out.checker.violations() : run.out.world.checker.violations();
  const steps = run.mode === "orderings" ? run.out.steps.map(formatStepRecord) : run.out.steps;
  return {
    machine,
    outcome: {
      file: f,
      steps,
      violations,
      endNs: machine.host.clock.now(),
      events,
      reproduced: violations.some((x) => x.invariant === f.invariant),
    },
  };
}

/**
 * The same steps under reference, as `cmdqv run --replay --report` sets them beside the
 * replay's: null when the file is reference's, or reference cannot build its machine.
 */
function underReference(f: ReplayFile): ReplayForReport | null {
  const r: ReplayFile = { ...f, machine: { ...f.machine, profile: "reference" } };
  if (f.machine.profile === "reference") return null;
  // Orderings arm their fault plan once the machine is up: the build itself has none.
  const built = createMachine(
    r.mode === "orderings" ? { ...r.machine, faultPlan: { kind: "none" } } : r.machine,
  );
  if (!built.ok) return null;
  return replayOnModel(r, null).outcome;
}

/**
 * The run report's data for a counterexample's replay: what `cmdqv run --replay FILE
 * --report` shows (its steps with the violating one marked, the verdicts, timeline, rings,
 * and the same steps under reference beside them), built by the same replayRunReportData.
 */
export function replayReportData(f: ReplayFile, command: string): RunReportData {
  const collector = reportCollectorFor(f.machine);
  const { machine, outcome } = replayOnModel(f, collector);
  return replayRunReportData(
    command,
    machine,
    outcome,
    collector,
    [`a counterexample of ${f.invariant} found by cmdqv explore`],
    underReference(f),
  );
}

/** Write the page; the number of bytes written. */
export function writeExploreReport(path: string, data: ExploreReportData): number {
  const html = renderExploreReportHtml(data);
  writeFileSync(path, html);
  return Buffer.byteLength(html);
}
