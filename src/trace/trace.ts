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

/** Tracing off: nothing is recorded. */
export const NULL_TRACER: Tracer = { enabled: false, emit: () => {} };

/** Keeps every event in memory (tests, `cmdqv run --trace`). */
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
