// QEMU's trace event patterns over our event names (`-trace PATTERN`, `-trace
// enable=PATTERN`, the lines of `-trace events=FILE`), as QEMU's trace/control.c applies
// them, read for facts only:
//   - a pattern is glib's g_pattern_match_simple: `*` matches any run of characters (none
//     too), `?` exactly one, everything else itself; no escapes, no classes;
//   - a leading `-` disables what the rest matches instead of enabling it;
//   - rules apply in order, each setting the state of every event it matches, so the last
//     rule that matches an event decides (an event no rule matches stays off);
//   - a name without `*` or `?` that names no event is warned about:
//     "trace event 'NAME' does not exist". QEMU says nothing of a glob that matches
//     nothing; cmdqv warns about it too ("trace pattern 'P' matches no event"), as a typo in
//     a glob is as likely.
//
// A filter decides once per name and remembers, so a sink that asks per event pays one
// map lookup.

import type { TraceEvent, TraceSink } from "./trace.js";

export interface TraceRule {
  /** False for a `-PATTERN` rule. */
  readonly enable: boolean;
  /** The glob, without its `-`. */
  readonly pattern: string;
  /** Where the rule was written, for warnings: `FILE:LINE` of an events file; else absent. */
  readonly origin?: string;
}

/** QEMU's trace_event_is_pattern: a wildcard makes a glob. */
export function isTracePattern(p: string): boolean {
  return p.includes("*") || p.includes("?");
}

/** One rule from its text: `-PATTERN` disables, anything else enables. */
export function traceRule(text: string, origin?: string): TraceRule {
  const enable = !text.startsWith("-");
  return {
    enable,
    pattern: enable ? text : text.slice(1),
    ...(origin !== undefined ? { origin } : {}),
  };
}

/**
 * g_pattern_match_simple: `*` any run, `?` one character, the rest literal. Greedy with one
 * backtrack point (the last `*`), so linear-ish and never exponential.
 */
export function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    const c = pattern[p];
    if (c === "*") {
      star = p++;
      mark = n;
    } else if (c !== undefined && (c === "?" || c === name[n])) {
      p++;
      n++;
    } else if (star >= 0) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

/** Which events a list of rules turns on: the last rule matching a name decides. */
export class TraceFilter {
  private readonly rules: readonly TraceRule[];
  private readonly decided = new Map<string, boolean>();

  constructor(rules: readonly TraceRule[]) {
    this.rules = rules;
  }

  enabled(name: string): boolean {
    const known = this.decided.get(name);
    if (known !== undefined) return known;
    let on = false;
    for (const r of this.rules) if (globMatch(r.pattern, name)) on = r.enable;
    this.decided.set(name, on);
    return on;
  }

  /** The names of `names` the rules turn on, in their order. */
  select(names: readonly string[]): string[] {
    return names.filter((n) => this.enabled(n));
  }
}

/**
 * The warnings QEMU (and cmdqv, for globs) gives for rules that match no event of `names`,
 * one per rule, with the rule's origin in front when it came from a file.
 */
export function unmatchedRuleWarnings(
  rules: readonly TraceRule[],
  names: readonly string[],
): string[] {
  const out: string[] = [];
  for (const r of rules) {
    if (names.some((n) => globMatch(r.pattern, n))) continue;
    const what = isTracePattern(r.pattern)
      ? `trace pattern '${r.pattern}' matches no event`
      : `trace event '${r.pattern}' does not exist`;
    out.push(r.origin !== undefined ? `${r.origin}: warning: ${what}` : `warning: ${what}`);
  }
  return out;
}

/** Hands a sink only the events a filter turns on. */
export class FilteredSink implements TraceSink {
  private readonly filter: TraceFilter;
  private readonly sink: TraceSink;

  constructor(filter: TraceFilter, sink: TraceSink) {
    this.filter = filter;
    this.sink = sink;
  }

  event(e: TraceEvent): void {
    if (this.filter.enabled(e.name)) this.sink.event(e);
  }
}
