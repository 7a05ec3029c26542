// `--trace` (`cmdqv run`, `cmdqv qtest`, `cmdqv qemu`, `cmdqv host`): QEMU's `-trace`
// syntax over our event names (src/trace/events.ts). Each value is QEMU's option string:
//   PATTERN              the same as enable=PATTERN
//   enable=PATTERN       turn on the events PATTERN matches (`*`, `?`; a leading `-` turns
//                        them off again); cmdqv also takes more patterns after commas
//   events=FILE          a file of patterns, one a line; empty lines and `#` lines skipped
//   file=FILE            the events go to FILE as JSON Lines (the native trace), not stderr
// and the flag repeats; rules apply in the order given (src/trace/pattern.ts). Keys combine
// with commas as QEMU's do: `--trace enable=smmuv3_*,file=out.jsonl`. Without file=, the
// events print on stderr one a line, as QEMU's log backend prints them. With no pattern at
// all (`--trace file=out.jsonl`), every event is on. `help` (or `enable=help`) lists the
// event names, as `-trace help` does.

import { readFileSync, statSync } from "node:fs";
import { TRACE_EVENT_NAMES } from "../trace/events.js";
import { type TraceRule, traceRule, unmatchedRuleWarnings } from "../trace/pattern.js";
import type { TraceArgs, TraceEvent, TraceSink } from "../trace/trace.js";
import { qemuTraceLine } from "../vmm/tegra241-cmdqv/trace-events.js";
import { isHelpValue } from "./log-flag.js";
import { UsageError } from "./options.js";

/** What the `--trace` values ask for. */
export interface TraceSpec {
  /** The rules in order; `*` alone when no pattern was given. */
  readonly rules: readonly TraceRule[];
  /** Where JSON Lines go; undefined: stderr, as text. */
  readonly file: string | undefined;
}

/** The largest events=FILE read (a pattern file is a few lines; this refuses a wrong path). */
export const MAX_EVENTS_FILE_BYTES = 1 << 20;

/** What a bare `--trace` means to `cmdqv qemu`/`host`/`qtest`: the CMDQV and SMMUv3-accel events. */
export const DEFAULT_TRACE = "tegra241_cmdqv*,smmuv3_accel*";

/** Whether a value asks for the event list (`help`, `?`, `enable=help`). */
function asksHelp(v: string): boolean {
  return (
    isHelpValue(v) || v.split(",").some((p) => p.startsWith("enable=") && isHelpValue(p.slice(7)))
  );
}

/** `-trace help`: every event name, one a line. */
export function traceHelpText(): string {
  return `${TRACE_EVENT_NAMES.join("\n")}\n`;
}

/**
 * Commander's parser for a repeatable `--trace`: collects the values; `help` prints the
 * event names and ends the command, as `-trace help` ends QEMU. Syntax is checked here.
 */
export function traceOption(v: string, prev: readonly string[] | undefined): string[] {
  if (asksHelp(v)) {
    process.stdout.write(traceHelpText());
    process.exit(0);
  }
  // An empty value is left to main.ts's one check of empty values.
  if (v !== "") splitValue(v);
  return [...(prev ?? []), v];
}

interface Part {
  readonly key: "enable" | "events" | "file";
  readonly value: string;
}

/** One value's key=value parts (a bare first part is enable=, QEMU's implied key). */
function splitValue(v: string): Part[] {
  const parts: Part[] = [];
  for (const [i, p] of v.split(",").entries()) {
    const eq = p.indexOf("=");
    const key = eq < 0 ? "enable" : p.slice(0, eq);
    const value = eq < 0 ? p : p.slice(eq + 1);
    if (eq < 0 && i > 0 && parts.at(-1)?.key !== "enable")
      throw new UsageError(
        `--trace: ${JSON.stringify(p)} in ${JSON.stringify(v)} has no key (enable=, events=, file=)`,
      );
    if (key !== "enable" && key !== "events" && key !== "file")
      throw new UsageError(
        `--trace: unknown key ${JSON.stringify(key)} in ${JSON.stringify(v)} (enable=, events=, file=)`,
      );
    if (value === "")
      throw new UsageError(`--trace: ${key}= needs a value in ${JSON.stringify(v)}`);
    parts.push({ key, value });
  }
  return parts;
}

/** An old-style `--trace out.jsonl`: no event name has a `/` or ends so. */
function looksLikeFile(pattern: string): boolean {
  return pattern.includes("/") || /\.jsonl?$/.test(pattern);
}

/** The rules of an events file: one a line, empty and `#` lines skipped, each with FILE:LINE. */
function eventsFileRules(path: string): TraceRule[] {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_EVENTS_FILE_BYTES)
      throw new UsageError(
        `--trace events=${path}: ${size} bytes, more than a pattern file's ${MAX_EVENTS_FILE_BYTES}`,
      );
    text = readFileSync(path, "utf8");
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(
      `--trace events=${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  const rules: TraceRule[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    rules.push(traceRule(line, `${path}:${i + 1}`));
  }
  return rules;
}

/**
 * The spec of a command's `--trace` values (undefined when none was given). Patterns that
 * match no event name are warned about on `warn`, in QEMU's words, and do not stop the run.
 */
export function traceSpec(
  values: readonly string[] | undefined,
  warn: (line: string) => void = (l) => process.stderr.write(`cmdqv: ${l}\n`),
  names: readonly string[] = TRACE_EVENT_NAMES,
): TraceSpec | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const rules: TraceRule[] = [];
  let file: string | undefined;
  let patterns = false;
  for (const v of values)
    for (const p of splitValue(v)) {
      if (p.key === "file") {
        if (file !== undefined && file !== p.value)
          throw new UsageError(
            `--trace: file= given twice (${file}, ${p.value}); one file takes the trace`,
          );
        file = p.value;
      } else {
        patterns = true;
        if (p.key === "enable" && looksLikeFile(p.value))
          throw new UsageError(
            `--trace ${p.value}: a trace file is --trace file=${p.value} (a bare value is an event pattern)`,
          );
        if (p.key === "enable") rules.push(traceRule(p.value));
        else rules.push(...eventsFileRules(p.value));
      }
    }
  for (const w of unmatchedRuleWarnings(rules, names)) warn(w);
  return { rules: patterns ? rules : [traceRule("*")], file };
}

/**
 * The `-trace enable=…` patterns real QEMU gets for our `--trace` values (`cmdqv qemu`,
 * `host`, `qtest --vmm qemu`): QEMU matches them against its own event names and warns about
 * the ones it lacks. file= is refused: the JSON Lines trace is our model's.
 */
export function qemuTracePatterns(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const out: string[] = [];
  for (const v of values)
    for (const p of splitValue(v)) {
      if (p.key === "file")
        throw new UsageError(
          "--trace file=: the JSON Lines trace is our model's; real QEMU prints its trace events on its console",
        );
      if (p.key === "enable") out.push(p.value);
      else out.push(...eventsFileRules(p.value).map((r) => `${r.enable ? "" : "-"}${r.pattern}`));
    }
  return out;
}

function argText(v: TraceArgs[string]): string {
  if (typeof v !== "string") return String(v);
  // Bare when it reads as one word, else quoted (a condensed ioctl line has spaces).
  return v !== "" && !/[\s"=]/.test(v) ? v : JSON.stringify(v);
}

/**
 * An event as QEMU's log trace backend prints it: the name and its formatted arguments.
 * Events QEMU has (tegra241_cmdqv_*) take QEMU's own format; the others `name key=value …`.
 */
export function traceLine(e: TraceEvent): string {
  const qemu = qemuTraceLine(e.name, e.args);
  if (qemu !== null) return qemu;
  let line = e.name;
  for (const [k, v] of Object.entries(e.args)) line += ` ${k}=${argText(v)}`;
  return line;
}

/** Prints each event as its `traceLine` (the trace without file=, on stderr). */
export class TraceLinePrinter implements TraceSink {
  private readonly write: (text: string) => void;

  constructor(write: (text: string) => void) {
    this.write = write;
  }

  event(e: TraceEvent): void {
    this.write(`${traceLine(e)}\n`);
  }
}
