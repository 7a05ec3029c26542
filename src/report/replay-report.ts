// A replay's steps for the run report: each step with the virtual time it ended, and the
// step after which the file's invariant was first violated.
//
// An orderings run checks the invariants after every step but does not say when a step
// ended, so the report replays the recorded choices again, stopping after 1, 2, … explored
// steps (runOrderings' `stopAfter`): the machine's clock then is the step's end. The
// checker stamps a violation with the clock when it checks, right after the step, so the
// first step ending at or after a violation's time is the step that violated it. These
// runs are short (a few register writes each). The SYNC steps that follow the explored ones
// cannot be stopped after: a violation found after the last explored step belongs to the
// one SYNC step when there is one, else to the SYNC step of the VCMDQ the violation names,
// else to the last step (the teardown found it). An interleavings run has its boot, the
// hardware event (its time is in its text) and the workload; a violation belongs to the
// workload once the guest booted.

import type { Violation } from "../check/invariants.js";
import { runOrderings } from "../explore/orderings.js";
import type { ReplayFile } from "../explore/replay.js";
import type { Machine } from "../machine/machine.js";
import { ReplayChoice } from "../sim/choice.js";
import type { ReportCollector } from "./report-collector.js";
import type { CompareData, RunReportData, StepData, StepsData } from "./report-data.js";
import { buildRunReport, captureQueues, verdictsOf } from "./run-report.js";

/** What the replay did: its step texts, its violations, and the clock at its end. */
export interface ReplayOutcome {
  readonly steps: readonly string[];
  readonly violations: readonly Violation[];
  readonly endNs: number;
  /** Trace events the replay emitted. */
  readonly events: number;
  readonly reproduced: boolean;
}

/** A replay's outcome with the file it replayed (its machine, mode and invariant). */
export interface ReplayForReport extends ReplayOutcome {
  readonly file: ReplayFile;
}

/**
 * Each explored step of an orderings replay (not its SYNC steps): the time it ended and
 * the trace events emitted by then.
 */
function orderingsStepEnds(
  f: Extract<ReplayFile, { mode: "orderings" }>,
): { readonly t: number; readonly seq: number }[] {
  const machine = f.faultPlan ? { ...f.machine, faultPlan: f.faultPlan } : f.machine;
  const ends: { t: number; seq: number }[] = [];
  for (let k = 1; ; k++) {
    let seq = 0;
    const out = runOrderings(
      { machine, queues: f.queues, extras: f.extras, faults: f.faults },
      new ReplayChoice(f.choices),
      null,
      {
        event: () => {
          seq++;
        },
      },
      { stopAfter: k },
    );
    // Past the explored steps the run goes on to its SYNC steps: no prefix stops there.
    if (out.fingerprint === undefined || out.machine === null) break;
    ends.push({ t: out.machine.host.clock.now(), seq });
    if (out.terminal === true) break;
  }
  return ends;
}

/** The step (index) a violation found after the explored steps belongs to. */
function afterExplored(steps: readonly string[], from: number, message: string): number | null {
  const rest = steps.length - from;
  if (rest <= 0) return steps.length > 0 ? steps.length - 1 : null;
  if (rest === 1) return from;
  const q = /VCMDQ(\d+)/.exec(message)?.[1];
  if (q !== undefined) {
    const k = steps.findIndex((s, i) => i >= from && s.startsWith(`SYNC${q}`));
    if (k >= 0) return k;
  }
  return steps.length - 1;
}

/**
 * The replay's steps for the page, with their end times where known, and a function that
 * gives each violation its step (for the verdicts).
 */
export function replaySteps(
  f: ReplayFile,
  out: ReplayOutcome,
): { readonly steps: StepsData; readonly stepOf: (v: Violation) => number | null } {
  const list: StepData[] = [];
  let stepOf: (v: Violation) => number | null;
  if (f.mode === "orderings") {
    const ends = orderingsStepEnds(f);
    out.steps.forEach((text, i) => {
      const end = ends[i];
      if (end !== undefined) list.push({ text, t: end.t, seq: end.seq });
      else if (i === out.steps.length - 1) list.push({ text, t: out.endNs, seq: out.events });
      else list.push({ text });
    });
    stepOf = (v) => {
      // The first explored step after which the same invariant shows: its end is v.t or later.
      const k = ends.findIndex((e) => e.t >= v.t);
      if (k >= 0) return k;
      return afterExplored(out.steps, ends.length, v.message);
    };
  } else {
    const booted = out.steps[0]?.endsWith("→ 0") ?? false;
    out.steps.forEach((text, i) => {
      const at = /^at (\d+) ns:/.exec(text)?.[1];
      const t = at !== undefined ? Number(at) : i === out.steps.length - 1 ? out.endNs : undefined;
      list.push(t !== undefined ? { text, t } : { text });
    });
    stepOf = () => (booted ? out.steps.length - 1 : 0);
  }
  const v = out.violations.find((x) => x.invariant === f.invariant);
  return {
    steps: {
      list,
      violating: v !== undefined ? stepOf(v) : null,
      invariant: f.invariant,
      message: v?.message ?? f.message,
      reproduced: out.reproduced,
    },
    stepOf,
  };
}

/**
 * The run report's data for a replay that ran on `machine` with `collector` as (or teed
 * into) its trace sink: its steps (with times, the violating one marked), the rings as
 * last seen before the VM's teardown (the collector's observed PROD/CONS), and, when
 * `reference` is given (the same steps run under the reference profile), the comparison.
 * `cmdqv run --replay --report` and the exploration report's embedded replays both use it.
 */
export function replayRunReportData(
  command: string,
  machine: Machine,
  run: ReplayForReport,
  collector: ReportCollector,
  notes: readonly string[],
  reference: ReplayForReport | null,
): RunReportData {
  const own = replaySteps(run.file, run);
  let compare: CompareData | null = null;
  if (reference !== null) {
    const ref = replaySteps(reference.file, reference);
    compare = {
      profile: reference.file.machine.profile,
      verdicts: verdictsOf(reference.violations, ref.stepOf),
      steps: ref.steps,
    };
  }
  return buildRunReport({
    kind: "replay",
    command,
    machine,
    collector,
    queues: captureQueues(
      machine,
      "when the replay ended: PROD and CONS as last seen before the VM's teardown",
      collector.observedRings(),
    ),
    violations: run.violations,
    stepOf: own.stepOf,
    steps: own.steps,
    compare,
    notes,
  });
}
