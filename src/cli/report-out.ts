// `cmdqv run … --report FILE.html`: the path is checked before the run (as the trace
// files' are), the report's collector is teed into the run's trace sink, and after the
// run the page is written and reported on stderr: `wrote r.html (2.1 MB, 299 927 events)`.
// The report itself is src/report/run-report.ts.

import { resolve } from "node:path";
import type { RunReportData } from "../report/report-data.js";
import { buildRunReport, type RunReportInput, writeRunReport } from "../report/run-report.js";
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
  writeReportData(path, buildRunReport(input));
}

/** Write a report's data as its page, and say so on stderr. */
export function writeReportData(path: string, data: RunReportData): void {
  const bytes = writeRunReport(path, data);
  reportWritten([{ path, bytes, events: data.timeline.total }]);
}
