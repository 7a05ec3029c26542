// `cmdqv run`: the main job. Without a scenario it runs the built-in default: boot the
// guest on the default machine, bring up both VCMDQs, run 100 000 invalidations from the
// vCPUs, tear the VM down, and print what happened. Exit 1 when an invariant is violated,
// EXIT_CUT_SHORT when the run hit the world's step cap (and no invariant was violated).

import { MAX_WORKLOAD_INVALIDATIONS } from "../guest/workload.js";
import { exitBaseline, formatSummary, invariantResults, summarize } from "../report/summary.js";
import { formatScenarioError, loadScenarioFile } from "../scenario/load.js";
import { formatScenarioOutcome, runScenario } from "../scenario/run.js";
import { World, type WorldCut } from "../sim/world.js";
import { EXIT } from "./exit.js";
import { type MachineFlags, machineFromFlags } from "./machine-flags.js";
import { parseIntFlag, UsageError } from "./options.js";
import { withTraceFiles } from "./output.js";
import { ProgressLine } from "./progress.js";

export interface RunFlags extends MachineFlags {
  trace?: string;
  perfetto?: string;
  invalidations?: string;
}

/**
 * The exit status of a run the step cap cut short (WORLD_MAX_STEPS, src/sim/world.ts) with
 * no invariant violated: its summary covers only the part that ran (exit.ts).
 */
export const EXIT_CUT_SHORT = EXIT.cutShort;

/** Internal knobs for tests: a smaller step cap than the world's. */
export interface RunInternals {
  readonly maxSteps?: number;
}

/** Say on stderr what the step cap cut; the exit status for a run that would return `code`. */
export function reportCuts(who: string, cuts: readonly WorldCut[], code: number): number {
  if (cuts.length === 0) return code;
  for (const c of cuts) console.error(`${who}: cut short: ${c.message}`);
  console.error(`${who}: the summary covers only the part of the run before the cut`);
  return code === 0 ? EXIT_CUT_SHORT : code;
}

/** The default mix: mostly VCMDQ traffic, with CFGI_CD to show the trapped main CMDQ. */
export const DEFAULT_MIX = { TLBI_NH_VA: 6, TLBI_NH_ASID: 2, ATC_INV: 1, CFGI_CD: 1 } as const;

export function defaultRun(f: RunFlags, internals: RunInternals = {}): number {
  const machine = machineFromFlags(f);
  const total =
    f.invalidations !== undefined
      ? parseIntFlag("--invalidations", f.invalidations, 0, MAX_WORKLOAD_INVALIDATIONS)
      : 100_000;
  return withTraceFiles(f.trace, f.perfetto, (sink) => {
    const w = World.create({
      machine,
      ...(sink ? { trace: sink } : {}),
      ...(internals.maxSteps !== undefined ? { maxSteps: internals.maxSteps } : {}),
    });
    if (!w.ok) throw new UsageError(`the machine could not be built: ${w.error}`);
    return runDefault(w.value, machine.vcpus, total);
  });
}

function runDefault(world: World, vcpus: number, total: number): number {
  const progress = new ProgressLine();
  world.onProgress = (x) =>
    progress.update("cmdqv run", { done: x.invalidationsIssued(), total, unit: "invalidations" });
  world.boot();
  const before = exitBaseline(world);
  if (total > 0)
    world.apply({
      kind: "workload",
      invalidations: total,
      vcpus,
      weights: DEFAULT_MIX,
    });
  progress.done();
  const taken = summarize(world, before);
  // QEMU exits: the teardown invariants (nothing refused, nothing left) are judged too.
  world.teardown();
  const s = { ...taken, invariants: invariantResults(world) };
  console.log(formatSummary(s));
  return reportCuts("cmdqv run", world.cutShort(), s.invariants.every((i) => i.ok) ? 0 : 1);
}

/** `cmdqv run scenario.yaml`: errors in the file name file:line:col; exit 1 when it fails. */
export function scenarioRun(path: string, f: RunFlags): number {
  const loaded = loadScenarioFile(path);
  if (!loaded.ok) {
    for (const e of loaded.error) console.error(formatScenarioError(e));
    return 2;
  }
  const sc = loaded.value;
  return withTraceFiles(f.trace, f.perfetto, (sink) => {
    const progress = new ProgressLine();
    const out = runScenario(sc, sink ?? false, (w) => {
      progress.update(`cmdqv run ${sc.name}`, {
        done: w.invalidationsIssued(),
        unit: "invalidations",
      });
    });
    progress.done();
    console.log(formatScenarioOutcome(out));
    if (out.setupError !== undefined) return 1;
    return reportCuts(`cmdqv run ${sc.name}`, out.world?.cutShort() ?? [], out.passed ? 0 : 1);
  });
}
