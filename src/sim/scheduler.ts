// A discrete-event scheduler over actors. Each step runs one operation of one runnable
// actor, picked through the choice source when several could run, so the same seed or
// choice list replays the same interleaving. An actor that delays sleeps until its wake
// time; when every actor sleeps, virtual time jumps to the earliest wake-up.
// Services (the VMM's vEVENTQ fd handler, a pending guest interrupt) are runnable only
// while they have work, and never keep a run alive on their own.
// A finished actor leaves the slot list (its counters go to its name's totals), so a step
// scans only live actors however many have come and gone (one per guest interrupt).

import type { ActorBody, GuestOp } from "../guest/actor.js";
import { type ExecCounters, executeOp, type Timing } from "../guest/execute.js";
import type { AddressSpace } from "../mem/address-space.js";
import { KVM_MMIO } from "../trace/events.js";
import { NULL_TRACER, type Tracer } from "../trace/trace.js";
import type { VirtualClock } from "../util/clock.js";
import type { ChoiceSource } from "./choice.js";

/** kvm_mmio for a trapped access that ended at `end`: from the access to the end of its handling. */
function traceTrap(
  tracer: Tracer,
  actor: string,
  op: Exclude<GuestOp, { op: "delay" }>,
  gpa: string,
  val: string | null,
  end: number,
  timing: Timing,
): void {
  tracer.put({
    t: end - timing.trapNs,
    actor,
    name: KVM_MMIO,
    ph: "X",
    dur: timing.trapNs,
    args: {
      type: op.op === "read" || op.op === "read64" ? "read" : "write",
      len: op.op === "read64" || op.op === "write64" ? 8 : op.size,
      gpa,
      val,
    },
  });
}

export interface ActorInfo {
  readonly name: string;
  readonly done: boolean;
  readonly counters: Readonly<ExecCounters>;
}

interface Slot {
  readonly name: string;
  readonly body: ActorBody<unknown>;
  readyAt: number;
  sent: number | bigint | undefined;
  done: boolean;
  readonly counters: ExecCounters;
}

export interface Service {
  readonly name: string;
  /** True while the service has work (it is then one of the runnable choices). */
  pending(): boolean;
  /** Do one unit of work (runs atomically). */
  run(): void;
}

export class Scheduler {
  private readonly clock: VirtualClock;
  private readonly as: AddressSpace;
  private readonly timing: Timing;
  private readonly choice: ChoiceSource;
  /** Live actors, in spawn order (the order the runnable set lists them). */
  private readonly slots: Slot[] = [];
  /** Every name spawned, in first-spawn order, with the counters of its finished actors. */
  private readonly finished = new Map<string, ExecCounters>();
  private readonly services: Service[] = [];
  /** Scratch for the runnable set (indices; services are encoded as −1−k). */
  private readonly runnable: number[] = [];
  private stepCount = 0;
  private readonly tracer: Tracer;

  constructor(
    clock: VirtualClock,
    as: AddressSpace,
    timing: Timing,
    choice: ChoiceSource,
    tracer: Tracer = NULL_TRACER,
  ) {
    this.clock = clock;
    this.as = as;
    this.timing = timing;
    this.choice = choice;
    this.tracer = tracer;
  }

  spawn(name: string, body: ActorBody<unknown>, delayNs = 0): void {
    if (!this.finished.has(name)) this.finished.set(name, { exits: 0, direct: 0, ops: 0 });
    this.slots.push({
      name,
      body,
      readyAt: this.clock.now() + delayNs,
      sent: undefined,
      done: false,
      counters: { exits: 0, direct: 0, ops: 0 },
    });
  }

  addService(s: Service): void {
    this.services.push(s);
  }

  /** True while some actor has not finished. */
  alive(): boolean {
    for (const s of this.slots) if (!s.done) return true;
    return false;
  }

  running(name: string): boolean {
    for (const s of this.slots) if (s.name === name && !s.done) return true;
    return false;
  }

  steps(): number {
    return this.stepCount;
  }

  /** Live actors at present (finished ones are gone). */
  liveActors(): number {
    return this.slots.length;
  }

  /**
   * One entry per actor name, in first-spawn order: the counters of every actor of that
   * name, finished or live; `done` while none of them is live.
   */
  actors(): ActorInfo[] {
    const out: ActorInfo[] = [];
    for (const [name, past] of this.finished) {
      const counters = { ...past };
      let done = true;
      for (const s of this.slots)
        if (s.name === name) {
          done = false;
          counters.exits += s.counters.exits;
          counters.direct += s.counters.direct;
          counters.ops += s.counters.ops;
        }
      out.push({ name, done, counters });
    }
    return out;
  }

  /** Run one operation (or one service unit). False when nothing is left to run. */
  step(): boolean {
    const r = this.runnable;
    r.length = 0;
    let now = this.clock.now();
    let earliest = Number.POSITIVE_INFINITY;
    let anyAlive = false;
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i]!;
      if (s.done) continue;
      anyAlive = true;
      if (s.readyAt <= now) r.push(i);
      else if (s.readyAt < earliest) earliest = s.readyAt;
    }
    for (let k = 0; k < this.services.length; k++) if (this.services[k]!.pending()) r.push(-1 - k);
    if (r.length === 0) {
      if (!anyAlive) return false;
      // Everyone sleeps: jump to the first wake-up (hardware catches up on the way).
      this.clock.set(earliest);
      now = this.clock.now();
      for (let i = 0; i < this.slots.length; i++) {
        const s = this.slots[i]!;
        if (!s.done && s.readyAt <= now) r.push(i);
      }
      for (let k = 0; k < this.services.length; k++)
        if (this.services[k]!.pending()) r.push(-1 - k);
    }
    const pick = r.length === 1 ? r[0]! : r[this.choice.int(r.length)]!;
    this.stepCount++;
    if (pick < 0) {
      this.services[-1 - pick]!.run();
      return true;
    }
    const s = this.slots[pick]!;
    const next = s.body.next(s.sent);
    if (next.done) {
      s.done = true;
      s.sent = undefined;
      const past = this.finished.get(s.name)!;
      past.exits += s.counters.exits;
      past.direct += s.counters.direct;
      past.ops += s.counters.ops;
      // Out of the scanned list, keeping spawn order (no array is allocated).
      const slots = this.slots;
      for (let k = pick; k < slots.length - 1; k++) slots[k] = slots[k + 1]!;
      slots.length--;
      return true;
    }
    const op = next.value;
    if (op.op === "delay") {
      s.counters.ops++;
      s.readyAt = now + op.ns;
      s.sent = undefined;
    } else {
      const exits = s.counters.exits;
      s.sent = executeOp(op, this.as, this.clock, this.timing, s.counters);
      if (this.tracer.enabled) {
        const v = op.op === "write" || op.op === "write64" ? op.value : s.sent;
        const addr = `0x${op.addr.toString(16)}`;
        const value =
          typeof v === "bigint"
            ? `0x${v.toString(16)}`
            : typeof v === "number"
              ? `0x${(v >>> 0).toString(16)}`
              : null;
        const exit = s.counters.exits > exits;
        // A trapped access is a slice: the VM exit's cost, which executeOp charged.
        if (exit) traceTrap(this.tracer, s.name, op, addr, value, this.clock.now(), this.timing);
        this.tracer.emit(s.name, op.op, { addr, value, exit });
      }
    }
    return true;
  }

  /** Step until nothing is left, `until()` holds, or `maxSteps` more steps ran. */
  run(
    opts: { until?: () => boolean; maxSteps?: number; afterStep?: () => void } = {},
  ): "done" | "until" | "limit" {
    const limit = opts.maxSteps ?? Number.POSITIVE_INFINITY;
    for (let n = 0; n < limit; n++) {
      if (opts.until?.()) return "until";
      if (!this.step()) return "done";
      opts.afterStep?.();
    }
    return "limit";
  }
}
