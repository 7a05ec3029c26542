// `cmdqv run`: the main job. Without a scenario it runs the built-in default: boot the
// guest on the default machine, bring up both VCMDQs, run 100 000 invalidations from the
// vCPUs, tear the VM down, and print what happened. Exit 1 when an invariant is violated.

import { exitBaseline, formatSummary, invariantResults, summarize } from "../report/summary.js";
import { formatScenarioError, loadScenarioFile } from "../scenario/load.js";
import { formatScenarioOutcome, runScenario } from "../scenario/run.js";
import { World } from "../sim/world.js";
import { type MachineFlags, machineFromFlags } from "./machine-flags.js";
import { parseIntFlag, UsageError } from "./options.js";
import { writeTraces } from "./output.js";
import { ProgressLine } from "./progress.js";

export interface RunFlags extends MachineFlags {
  trace?: string;
  perfetto?: string;
  invalidations?: string;
}

/** The default mix: mostly VCMDQ traffic, with CFGI_CD to show the trapped main CMDQ. */
export const DEFAULT_MIX = { TLBI_NH_VA: 6, TLBI_NH_ASID: 2, ATC_INV: 1, CFGI_CD: 1 } as const;

export function defaultRun(f: RunFlags): number {
  const machine = machineFromFlags(f);
  const total =
    f.invalidations !== undefined
      ? parseIntFlag("--invalidations", f.invalidations, 0, 1e9)
      : 100_000;
  const trace = Boolean(f.trace || f.perfetto);
  const w = World.create({ machine, trace });
  if (!w.ok) throw new UsageError(`the machine could not be built: ${w.error}`);
  const world = w.value;
  const progress = new ProgressLine();
  world.onProgress = (x) =>
    progress.update(`cmdqv run: ${x.invalidationsIssued()}/${total} invalidations issued`);
  world.boot();
  const before = exitBaseline(world);
  if (total > 0)
    world.apply({
      kind: "workload",
      invalidations: total,
      vcpus: machine.vcpus,
      weights: DEFAULT_MIX,
    });
  progress.done();
  const taken = summarize(world, before);
  // QEMU exits: the teardown invariants (nothing refused, nothing left) are judged too.
  world.teardown();
  const s = { ...taken, invariants: invariantResults(world) };
  console.log(formatSummary(s));
  if (trace) writeTraces(world.machine.traceEvents, f.trace, f.perfetto);
  return s.invariants.every((i) => i.ok) ? 0 : 1;
}

/** `cmdqv run scenario.yaml`: errors in the file name file:line:col; exit 1 when it fails. */
export function scenarioRun(path: string, f: RunFlags): number {
  const loaded = loadScenarioFile(path);
  if (!loaded.ok) {
    for (const e of loaded.error) console.error(formatScenarioError(e));
    return 2;
  }
  const sc = loaded.value;
  const trace = Boolean(f.trace || f.perfetto);
  const progress = new ProgressLine();
  const out = runScenario(sc, trace, (w) => {
    progress.update(`cmdqv run ${sc.name}: ${w.invalidationsIssued()} invalidations issued`);
  });
  progress.done();
  console.log(formatScenarioOutcome(out));
  if (out.setupError !== undefined) return 1;
  if (trace) writeTraces(out.world?.machine.traceEvents ?? [], f.trace, f.perfetto);
  return out.passed ? 0 : 1;
}
