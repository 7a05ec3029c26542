// The native trace: one JSON object per line, in event order. It is the source of truth
// (diff-friendly for golden tests); other formats are exported from it.

import type { TraceEvent } from "./trace.js";

/** One event as its line of the file, newline included. */
export function jsonlLine(e: TraceEvent): string {
  return `${JSON.stringify({ t: e.t, actor: e.actor, name: e.name, args: e.args })}\n`;
}

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
      const o = JSON.parse(line) as Partial<TraceEvent>;
      if (typeof o.t !== "number" || typeof o.actor !== "string" || typeof o.name !== "string")
        errors.push(`line ${i + 1}: not a trace event`);
      else events.push({ t: o.t, actor: o.actor, name: o.name, args: o.args ?? {} });
    } catch {
      errors.push(`line ${i + 1}: not JSON`);
    }
  });
  return { events, errors };
}
