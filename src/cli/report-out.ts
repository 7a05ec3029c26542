// `cmdqv run … --report FILE.html`: the path is checked before the run (as the trace
// files' are), the report's collector is teed into the run's trace sink, and after the
// run the page is written and reported on stderr: `wrote r.html (2.1 MB, 299 927 events)`.
// The report itself is src/report/run-report.ts.

import { resolve } from "node:path";
import type { ReplayFile } from "../explore/replay.js";
import type { Machine } from "../machine/machine.js";
import { replaySteps } from "../report/replay-report.js";
import type { ReportCollector } from "../report/report-collector.js";
import type { CompareData } from "../report/report-data.js";
import {
  buildRunReport,
  captureQueues,
  type RunReportInput,
  verdictsOf,
  writeRunReport,
} from "../report/run-report.js";
import type { TraceEvent, TraceSink } from "../trace/trace.js";
import { UsageError } from "./options.js";
import { checkOutputFile, reportWritten } from "./output-files.js";
import { traceSpec } from "./trace-flag.js";

/**
 * --report's path, checked before the run: writable, not a directory, and not a file a
 * trace flag writes too.
 */
export function checkReportFile(
  report: string,
  trace: readonly string[] | undefined,
  perfetto: string | undefined,
): void {
  checkOutputFile("--report", report);
  const others: [string, string | undefined][] = [
    ["--trace", traceSpec(trace)?.file],
    ["--perfetto", perfetto],
  ];
  for (const [flag, path] of others)
    if (path !== undefined && resolve(path) === resolve(report))
      throw new UsageError(
        `--report and ${flag} name the same file ${JSON.stringify(report)}: give two files`,
      );
}

/** Both sinks (either may be absent): every event to each. */
export function teeSink(a: TraceSink | null, b: TraceSink | null): TraceSink | null {
  if (a === null) return b;
  if (b === null) return a;
  return {
    event(e: TraceEvent) {
      a.event(e);
      b.event(e);
    },
  };
}

/** Build the report, write it, and say so on stderr. */
export function writeReportFile(path: string, input: RunReportInput): void {
  const data = buildRunReport(input);
  const bytes = writeRunReport(path, data);
  reportWritten([{ path, bytes, events: data.timeline.total }]);
}

/** What `cmdqv run --replay` hands the report about one replay on the model. */
export interface ReplayForReport {
  readonly file: ReplayFile;
  readonly steps: readonly string[];
  readonly violations: RunReportInput["violations"];
  readonly reproduced: boolean;
  /** The machine's clock when the replay ended. */
  readonly endNs: number;
  /** Trace events the replay emitted. */
  readonly events: number;
}

/**
 * The report of a replay: its steps (with times, the violating one marked) and, when
 * `reference` is given (the same steps run under the reference profile), the comparison.
 */
export function writeReplayReport(
  path: string,
  command: string,
  machine: Machine,
  run: ReplayForReport,
  collector: ReportCollector,
  notes: readonly string[],
  reference: ReplayForReport | null,
): void {
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
  writeReportFile(path, {
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
