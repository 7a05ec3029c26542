// Writing trace files for `cmdqv run`: native JSON Lines and Perfetto trace-event JSON.
// The files are opened before the run (a path that cannot be written is refused at once)
// and events are written as they happen, through a buffer of at most FLUSH_BYTES per
// file, so memory stays bounded however long the run is.

import { closeSync, openSync, writeSync } from "node:fs";
import { jsonlLine } from "../trace/jsonl.js";
import { FilteredSink, TraceFilter, traceRule } from "../trace/pattern.js";
import { PerfettoEncoder } from "../trace/perfetto.js";
import type { TraceEvent, TraceSink } from "../trace/trace.js";
import { ConsoleFromTrace, parseLogItems } from "./log-flag.js";
import { UsageError } from "./options.js";
import { checkTraceFiles, reportWritten, type WrittenFile } from "./output-files.js";
import { TraceLinePrinter, type TraceSpec, traceSpec } from "./trace-flag.js";

/** Buffered text of one file is written out once it reaches this many UTF-16 units. */
export const FLUSH_BYTES = 1 << 20;

class TraceFile {
  private fd: number | null;
  private buf = "";
  /** Bytes handed to the file so far (after flushes). */
  written = 0;
  /** Events encoded into the file so far. */
  events = 0;
  /** The longest the buffer has been (for tests of the bound). */
  peakBuffered = 0;
  private readonly flag: string;
  readonly path: string;
  private readonly encode: (e: TraceEvent) => string;
  private readonly tail: string;

  constructor(
    flag: string,
    path: string,
    head: string,
    encode: (e: TraceEvent) => string,
    tail: string,
  ) {
    this.flag = flag;
    this.path = path;
    this.encode = encode;
    this.tail = tail;
    try {
      this.fd = openSync(path, "w");
    } catch (e) {
      throw this.error(e);
    }
    this.buf = head;
  }

  private error(e: unknown): UsageError {
    return new UsageError(
      `${this.flag}: cannot write ${JSON.stringify(this.path)} (${(e as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }

  event(e: TraceEvent): void {
    this.events++;
    this.buf += this.encode(e);
    if (this.buf.length >= FLUSH_BYTES) this.flush();
  }

  private flush(): void {
    if (this.fd === null || this.buf === "") return;
    if (this.buf.length > this.peakBuffered) this.peakBuffered = this.buf.length;
    try {
      this.written += writeSync(this.fd, this.buf);
    } catch (e) {
      this.discard();
      throw this.error(e);
    }
    this.buf = "";
  }

  /** Write the end of the document and close the file. */
  close(): void {
    if (this.fd === null) return;
    this.buf += this.tail;
    this.flush();
    this.discard();
  }

  private discard(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    this.buf = "";
    try {
      closeSync(fd);
    } catch {
      // Closing after a failed write: the write's error is the one reported.
    }
  }
}

/** The trace files of one run: a sink for the model, closed (completed) after the run. */
export class TraceFiles implements TraceSink {
  private readonly files: TraceFile[];
  /** Where events go: the files (--trace's through its patterns) and any live printer. */
  private readonly sinks: TraceSink[];

  private constructor(files: TraceFile[], sinks: TraceSink[]) {
    this.files = files;
    this.sinks = sinks;
  }

  /**
   * Open the outputs asked for (null when none is). `trace` is --trace's spec (a plain path:
   * every event to that JSON Lines file): its events=/enable= patterns select what reaches
   * its file, or stderr without file=; Perfetto gets every event. `live` sinks (the console
   * under --log) see every event too. Text lines go through `write`. A path that cannot be
   * written is refused.
   */
  static open(
    trace?: TraceSpec | string,
    perfetto?: string,
    live: readonly TraceSink[] = [],
    write: (text: string) => void = stderrLine,
  ): TraceFiles | null {
    const spec = typeof trace === "string" ? { rules: [traceRule("*")], file: trace } : trace;
    const files: TraceFile[] = [];
    const sinks: TraceSink[] = [];
    try {
      if (spec !== undefined) {
        const filter = new TraceFilter(spec.rules);
        if (spec.file !== undefined) {
          const f = new TraceFile("--trace", spec.file, "", jsonlLine, "");
          files.push(f);
          sinks.push(new FilteredSink(filter, f));
        } else sinks.push(new FilteredSink(filter, new TraceLinePrinter(write)));
      }
      if (perfetto) {
        const enc = new PerfettoEncoder();
        const f = new TraceFile(
          "--perfetto",
          perfetto,
          enc.head(),
          (e) => enc.event(e),
          enc.tail(),
        );
        files.push(f);
        sinks.push(f);
      }
    } catch (e) {
      for (const f of files) f.close();
      throw e;
    }
    sinks.push(...live);
    return sinks.length > 0 ? new TraceFiles(files, sinks) : null;
  }

  event(e: TraceEvent): void {
    for (const s of this.sinks) s.event(e);
  }

  /** What each file holds so far: its path, bytes written and events. */
  written(): WrittenFile[] {
    return this.files.map((f) => ({ path: f.path, bytes: f.written, events: f.events }));
  }

  /** The most text any file held in memory before it was written out. */
  peakBuffered(): number {
    let most = 0;
    for (const f of this.files) most = Math.max(most, f.peakBuffered);
    return most;
  }

  /** Complete and close every file (the Perfetto document's closing bracket included). */
  close(): void {
    let first: unknown = null;
    for (const f of this.files) {
      try {
        f.close();
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== null) throw first;
  }
}

/**
 * A line on stderr while a run may show its progress line there: on a terminal the
 * progress line is cleared first (it is drawn again at its next update).
 */
export function stderrLine(text: string): void {
  process.stderr.write(process.stderr.isTTY ? `\r\x1b[2K${text}` : text);
}

/**
 * Run `body` with the trace outputs open, and complete them whatever happens. `trace` is
 * --trace's values (trace-flag.ts), `log` --log's (its console lines reach us as the
 * machine's trace events, so --log alone turns the tracer on).
 */
export function withTraceFiles<T>(
  trace: readonly string[] | undefined,
  perfetto: string | undefined,
  body: (sink: TraceFiles | null) => T,
  log?: string,
): T {
  const spec = traceSpec(trace);
  checkTraceFiles(spec?.file, perfetto);
  const live = log !== undefined ? [new ConsoleFromTrace(parseLogItems(log), stderrLine)] : [];
  const files = TraceFiles.open(spec, perfetto, live);
  let result: T;
  try {
    result = body(files);
  } catch (e) {
    try {
      files?.close();
    } catch {
      // The run's own error is the one to report.
    }
    throw e;
  }
  files?.close();
  if (files) reportWritten(files.written());
  return result;
}
