// Virtual time in nanoseconds. Nothing below the CLI reads the wall clock: time comes in
// through this port, so a run replays bit for bit. Components that evolve with time
// (the CMDQV hardware's handshakes and consumer) subscribe and are advanced in order.

export interface Clock {
  /** Virtual nanoseconds since the world started. */
  now(): number;
}

export interface TimeListener {
  /** Bring the component's state up to virtual time `t` (monotonic). */
  advanceTo(t: number): void;
}

export class VirtualClock implements Clock {
  private t = 0;
  private readonly listeners: TimeListener[] = [];

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  subscribe(listener: TimeListener): void {
    this.listeners.push(listener);
  }

  /** Advance by `ns` (≥ 0) and let every listener catch up. */
  advance(ns: number): number {
    if (!(ns >= 0) || !Number.isFinite(ns)) throw new RangeError(`advance(${ns}): not a duration`);
    return this.set(this.t + ns);
  }

  /** Move to absolute time `t`; time never goes backwards (a smaller t is a no-op). */
  set(t: number): number {
    if (!Number.isFinite(t)) throw new RangeError(`set(${t}): not a time`);
    if (t > this.t) this.t = t;
    for (const l of this.listeners) l.advanceTo(this.t);
    return this.t;
  }
}
