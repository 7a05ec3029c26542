// Export to the Chrome/Perfetto Trace Event Format (JSON): one process, one track (tid)
// per actor, named with metadata events. An instant becomes a thread-scoped instant
// (`ph: "i"`); a slice a complete event (`"X"`, with `dur`) or a begin/end pair
// (`"B"`/`"E"`) on its actor's track, which the emitters keep properly nested (Perfetto
// rejects overlapping slices on one track); a counter a `"C"` event named after its actor,
// so Perfetto draws one counter track per actor and argument ("hw.vcmdq2 prod"), with the
// catalogue's event name as its category. Timestamps are microseconds (virtual ns / 1000).
//
// The encoder works event by event, so a trace can be written as it happens with memory
// bounded by the number of actors: a track's metadata events go just before its first
// instant (the format allows metadata anywhere in the array).

import type { TraceEvent } from "./trace.js";

interface ChromeEvent {
  name: string;
  cat?: string;
  ph: "i" | "M" | "X" | "B" | "E" | "C";
  ts?: number;
  dur?: number;
  pid: number;
  tid: number;
  s?: "t";
  args: Readonly<Record<string, unknown>>;
}

const PID = 1;

/** Tracks in first-seen order, so the same trace always gets the same tids. */
export function actorTracks(events: readonly TraceEvent[]): Map<string, number> {
  const tracks = new Map<string, number>();
  for (const e of events) if (!tracks.has(e.actor)) tracks.set(e.actor, tracks.size + 1);
  return tracks;
}

/** One trace event as a Trace Event Format event on track `tid`. */
function chromeEvent(e: TraceEvent, tid: number): ChromeEvent {
  // Trace Event timestamps are microseconds; ours are virtual nanoseconds.
  const ts = e.t / 1000;
  const cat = e.actor.split(".")[0] ?? e.actor;
  switch (e.ph) {
    case undefined:
      return { name: e.name, cat, ph: "i", s: "t", ts, pid: PID, tid, args: e.args };
    case "X":
      return {
        name: e.name,
        cat,
        ph: "X",
        ts,
        dur: (e.dur ?? 0) / 1000,
        pid: PID,
        tid,
        args: e.args,
      };
    case "C":
      return { name: e.actor, cat: e.name, ph: "C", ts, pid: PID, tid, args: e.args };
    default:
      return { name: e.name, cat, ph: e.ph, ts, pid: PID, tid, args: e.args };
  }
}

/** A Perfetto file in pieces: head(), then event(e) for each event in order, then tail(). */
export class PerfettoEncoder {
  private readonly tracks = new Map<string, number>();
  private readonly processName: string;

  constructor(processName = "cmdqv") {
    this.processName = processName;
  }

  /** The opening of the document, with the process's name. */
  head(): string {
    const p: ChromeEvent = {
      name: "process_name",
      ph: "M",
      ts: 0,
      pid: PID,
      tid: 0,
      args: { name: this.processName },
    };
    return `{"traceEvents":[${JSON.stringify(p)}`;
  }

  /** One event (preceded by its track's metadata the first time its actor is seen). */
  event(e: TraceEvent): string {
    let out = "";
    let tid = this.tracks.get(e.actor);
    if (tid === undefined) {
      tid = this.tracks.size + 1;
      this.tracks.set(e.actor, tid);
      const name: ChromeEvent = {
        name: "thread_name",
        ph: "M",
        ts: 0,
        pid: PID,
        tid,
        args: { name: e.actor },
      };
      const sort: ChromeEvent = {
        name: "thread_sort_index",
        ph: "M",
        ts: 0,
        pid: PID,
        tid,
        args: { sort_index: tid },
      };
      out = `,${JSON.stringify(name)},${JSON.stringify(sort)}`;
    }
    return `${out},${JSON.stringify(chromeEvent(e, tid))}`;
  }

  /** The closing of the document. */
  tail(): string {
    return `],"displayTimeUnit":"ns"}`;
  }
}

export function toPerfetto(events: readonly TraceEvent[], processName = "cmdqv"): string {
  const enc = new PerfettoEncoder(processName);
  const parts = [enc.head()];
  for (const e of events) parts.push(enc.event(e));
  parts.push(enc.tail());
  return parts.join("");
}
