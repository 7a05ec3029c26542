// The native trace: one JSON object per line, in event order. It is the source of truth
// (diff-friendly for golden tests); other formats are exported from it.
//
// An instant is {t, actor, name, args}; a slice or counter adds `ph` (and an "X" slice
// `dur`). Lines are in the order events were emitted, which is not always the order of `t`:
// a complete slice is written when it ends with `t` its start, and the hardware emits
// its events as it catches up with the clock.

import type { TraceEvent, TracePhase } from "./trace.js";

/** One event as its line of the file, newline included. */
export function jsonlLine(e: TraceEvent): string {
  if (e.ph === undefined)
    return `${JSON.stringify({ t: e.t, actor: e.actor, name: e.name, args: e.args })}\n`;
  return `${JSON.stringify(
    e.dur === undefined
      ? { t: e.t, actor: e.actor, name: e.name, ph: e.ph, args: e.args }
      : { t: e.t, actor: e.actor, name: e.name, ph: e.ph, dur: e.dur, args: e.args },
  )}\n`;
}

const PHASES: ReadonlySet<string> = new Set<TracePhase>(["X", "B", "E", "C"]);

export function toJsonl(events: readonly TraceEvent[]): string {
  let out = "";
  for (const e of events) out += jsonlLine(e);
  return out;
}

/** Parse a JSONL trace back (for tools and tests); bad lines are reported by number. */
export function fromJsonl(text: string): { events: TraceEvent[]; errors: string[] } {
  const events: TraceEvent[] = [];
  const errors: string[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      const o = JSON.parse(line) as Partial<Record<keyof TraceEvent, unknown>>;
      if (
        typeof o.t !== "number" ||
        typeof o.actor !== "string" ||
        typeof o.name !== "string" ||
        (o.ph !== undefined && !(typeof o.ph === "string" && PHASES.has(o.ph))) ||
        (o.dur !== undefined && typeof o.dur !== "number")
      )
        errors.push(`line ${i + 1}: not a trace event`);
      else {
        const base = {
          t: o.t,
          actor: o.actor,
          name: o.name,
          args: (o.args ?? {}) as TraceEvent["args"],
        };
        if (o.ph === undefined) events.push(base);
        else if (typeof o.dur === "number")
          events.push({ ...base, ph: o.ph as TracePhase, dur: o.dur });
        else events.push({ ...base, ph: o.ph as TracePhase });
      }
    } catch {
      errors.push(`line ${i + 1}: not JSON`);
    }
  });
  return { events, errors };
}
