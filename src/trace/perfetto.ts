// Export to the Chrome/Perfetto Trace Event Format (JSON): one process, one track (tid)
// per actor, named with metadata events; each trace event becomes a thread-scoped
// instant. Perfetto rejects overlapping slices on one track, and instants never overlap.

import type { TraceEvent } from "./trace.js";

interface ChromeEvent {
  name: string;
  cat?: string;
  ph: "i" | "M";
  ts?: number;
  pid: number;
  tid: number;
  s?: "t";
  args: Record<string, unknown>;
}

const PID = 1;

/** Tracks in first-seen order, so the same trace always gets the same tids. */
export function actorTracks(events: readonly TraceEvent[]): Map<string, number> {
  const tracks = new Map<string, number>();
  for (const e of events) if (!tracks.has(e.actor)) tracks.set(e.actor, tracks.size + 1);
  return tracks;
}

export function toPerfetto(events: readonly TraceEvent[], processName = "cmdqv"): string {
  const tracks = actorTracks(events);
  const out: ChromeEvent[] = [
    { name: "process_name", ph: "M", pid: PID, tid: 0, args: { name: processName } },
  ];
  for (const [actor, tid] of tracks) {
    out.push({ name: "thread_name", ph: "M", pid: PID, tid, args: { name: actor } });
    out.push({ name: "thread_sort_index", ph: "M", pid: PID, tid, args: { sort_index: tid } });
  }
  for (const e of events) {
    out.push({
      name: e.name,
      cat: e.actor.split(".")[0] ?? e.actor,
      ph: "i",
      s: "t",
      // Trace Event timestamps are microseconds; ours are virtual nanoseconds.
      ts: e.t / 1000,
      pid: PID,
      tid: tracks.get(e.actor)!,
      args: { ...e.args },
    });
  }
  return JSON.stringify({ traceEvents: out, displayTimeUnit: "ns" });
}
