// A replay file run again on the model: the orderings program or the interleavings
// workload, with the file's machine (and, for orderings, its fault plan) and its recorded
// choices. What to print or draw of the run is the caller's (`cmdqv run --replay`, the
// exploration report's embedded run reports).

import { ReplayChoice } from "../sim/choice.js";
import type { TraceSink } from "../trace/trace.js";
import { type InterleavingsOutcome, runInterleavings } from "./interleavings.js";
import { type RunOutcome, runOrderings } from "./orderings.js";
import type { ReplayFile } from "./replay.js";

export type ReplayedRun =
  | { readonly mode: "orderings"; readonly out: RunOutcome; readonly choice: ReplayChoice }
  | {
      readonly mode: "interleavings";
      readonly out: InterleavingsOutcome;
      readonly choice: ReplayChoice;
    };

/** Run `f`'s recorded choices again; trace events go to `trace` (false: none recorded). */
export function runReplayFile(f: ReplayFile, trace: boolean | TraceSink): ReplayedRun {
  const choice = new ReplayChoice(f.choices);
  if (f.mode === "orderings") {
    const machine = f.faultPlan ? { ...f.machine, faultPlan: f.faultPlan } : f.machine;
    const opts = { machine, queues: f.queues, extras: f.extras, faults: f.faults };
    return { mode: "orderings", out: runOrderings(opts, choice, null, trace), choice };
  }
  const opts = {
    machine: f.machine,
    invalidations: f.invalidations,
    vcpus: f.vcpus,
    inject: f.inject,
  };
  return { mode: "interleavings", out: runInterleavings(opts, choice, trace), choice };
}
