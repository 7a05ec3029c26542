// The trace port: components emit structured events (the analogue of QEMU's trace-events)
// only when tracing is on, so a disabled tracer costs one property read on hot paths.

import type { Clock } from "../util/clock.js";

export type TraceArgs = Readonly<Record<string, string | number | boolean | null>>;

/**
 * What an event is on its actor's track (absent: an instant). "X" a complete slice of
 * `dur` ns starting at `t`; "B"/"E" the begin and end of a slice (properly nested with the
 * track's other slices); "C" a counter sample, each argument one series.
 */
export type TracePhase = "X" | "B" | "E" | "C";

export interface TraceEvent {
  /** Virtual ns (a slice's start). */
  readonly t: number;
  /** Who did it: "guest.vcpu0", "vmm.cmdqv", "host.kernel", "hw.vcmdq0", … */
  readonly actor: string;
  /** A name in the catalogue (src/trace/events.ts). */
  readonly name: string;
  readonly args: TraceArgs;
  readonly ph?: TracePhase;
  /** Virtual ns, for "X". */
  readonly dur?: number;
}

export interface Tracer {
  readonly enabled: boolean;
  /** An instant, now. */
  emit(actor: string, name: string, args: TraceArgs): void;
  /**
   * An event with its own time and phase: slices, counters, and events of the hardware,
   * which runs behind the clock and knows when each command completed.
   */
  put(e: TraceEvent): void;
}

/**
 * Where a streaming tracer hands each event as it happens: a file writer (src/cli/output.ts)
 * or anything else that does not need the whole trace at once.
 */
export interface TraceSink {
  event(e: TraceEvent): void;
}

/** Tracing off: nothing is recorded. */
export const NULL_TRACER: Tracer = { enabled: false, emit: () => {}, put: () => {} };

/** Hands every event to a sink as it happens and keeps none (`cmdqv run --trace`). */
export class StreamingTracer implements Tracer {
  readonly enabled = true;

  private readonly clock: Clock;
  private readonly sink: TraceSink;

  constructor(clock: Clock, sink: TraceSink) {
    this.clock = clock;
    this.sink = sink;
  }

  emit(actor: string, name: string, args: TraceArgs): void {
    this.sink.event({ t: this.clock.now(), actor, name, args });
  }

  put(e: TraceEvent): void {
    this.sink.event(e);
  }
}

/** Keeps every event in memory (tests and short runs). */
export class RecordingTracer implements Tracer {
  readonly enabled = true;
  readonly events: TraceEvent[] = [];

  private readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  emit(actor: string, name: string, args: TraceArgs): void {
    this.events.push({ t: this.clock.now(), actor, name, args });
  }

  put(e: TraceEvent): void {
    this.events.push(e);
  }

  named(name: string): TraceEvent[] {
    return this.events.filter((e) => e.name === name);
  }
}
