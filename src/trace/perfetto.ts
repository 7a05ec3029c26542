// Export to the Chrome/Perfetto Trace Event Format (JSON): one process, one track (tid)
// per actor, named with metadata events; each trace event becomes a thread-scoped
// instant. Perfetto rejects overlapping slices on one track, and instants never overlap.
//
// The encoder works event by event, so a trace can be written as it happens with memory
// bounded by the number of actors: a track's metadata events go just before its first
// instant (the format allows metadata anywhere in the array).

import type { TraceEvent } from "./trace.js";

interface ChromeEvent {
  name: string;
  cat?: string;
  ph: "i" | "M";
  ts?: number;
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
        pid: PID,
        tid,
        args: { name: e.actor },
      };
      const sort: ChromeEvent = {
        name: "thread_sort_index",
        ph: "M",
        pid: PID,
        tid,
        args: { sort_index: tid },
      };
      out = `,${JSON.stringify(name)},${JSON.stringify(sort)}`;
    }
    const instant: ChromeEvent = {
      name: e.name,
      cat: e.actor.split(".")[0] ?? e.actor,
      ph: "i",
      s: "t",
      // Trace Event timestamps are microseconds; ours are virtual nanoseconds.
      ts: e.t / 1000,
      pid: PID,
      tid,
      args: e.args,
    };
    return `${out},${JSON.stringify(instant)}`;
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
