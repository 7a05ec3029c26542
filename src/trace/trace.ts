// The trace port: components emit structured events (the analogue of QEMU's trace-events)
// only when tracing is on, so a disabled tracer costs one property read on hot paths.

import type { Clock } from "../util/clock.js";

export type TraceArgs = Readonly<Record<string, string | number | boolean | null>>;

export interface TraceEvent {
  /** Virtual ns. */
  readonly t: number;
  /** Who did it: "guest.vcpu0", "vmm.cmdqv", "host.kernel", "host.hw", … */
  readonly actor: string;
  readonly name: string;
  readonly args: TraceArgs;
}

export interface Tracer {
  readonly enabled: boolean;
  emit(actor: string, name: string, args: TraceArgs): void;
}

/**
 * Where a streaming tracer hands each event as it happens: a file writer (src/cli/output.ts)
 * or anything else that does not need the whole trace at once.
 */
export interface TraceSink {
  event(e: TraceEvent): void;
}

/** Tracing off: nothing is recorded. */
export const NULL_TRACER: Tracer = { enabled: false, emit: () => {} };

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

  named(name: string): TraceEvent[] {
    return this.events.filter((e) => e.name === name);
  }
}
