// A guest test rig: the production machine (createMachine) with the Linux-like guest put
// on it (attachLinuxGuest), for tests that run guest driver code directly.
//
// Two ways to run guest code:
// - run(body): one actor to completion (runToCompletion). After each of its operations
//   the VMM's vEVENTQ handler runs if its fd is readable, and a raised CMDQV IRQ (or SMMU
//   GERROR IRQ) runs the guest ISR to completion inline, on the same vCPU.
// - runConcurrent(actors): several vCPU actors through the discrete-event Scheduler; the
//   vEVENTQ handler and the guest IRQ are services, and the ISR is an actor of its own
//   (one at a time: a threaded, IRQF_ONESHOT handler; an edge during it runs it again).

import type { ActorBody, GuestContext } from "../guest/actor.js";
import type { ArmSmmuV3 } from "../guest/arm-smmu-v3.js";
import type { DmaAllocator } from "../guest/dma.js";
import type { GuestDmesg } from "../guest/dmesg.js";
import {
  DEFAULT_TIMING,
  type ExecCounters,
  runToCompletion,
  type Timing,
} from "../guest/execute.js";
import type { Tegra241Cmdqv, Tegra241CmdqvOptions } from "../guest/tegra241-cmdqv.js";
import type { Host } from "../host/host.js";
import { machineConfig } from "../machine/config.js";
import { attachLinuxGuest } from "../machine/guest.js";
import { createMachine, type Machine } from "../machine/machine.js";
import type { AddressSpace } from "../mem/address-space.js";
import type { PageSizeName } from "../mem/types.js";
import type { VirtualClock } from "../util/clock.js";
import type { ProfileName } from "../vmm/tegra241-cmdqv/profile.js";
import { RandomChoice } from "./choice.js";
import { Scheduler } from "./scheduler.js";

export interface GuestRigOptions {
  readonly profile: ProfileName;
  readonly ramPage?: PageSizeName;
  readonly ramSize?: number;
  readonly seed?: number;
  readonly numVcmdqs?: number;
  /** Guest driver options of the CMDQV (its base is the machine's). */
  readonly cmdqv?: Omit<Tegra241CmdqvOptions, "base">;
  /** No CMDQV on the machine (arm-smmuv3 cmdqv=off): the SMMU driver alone. */
  readonly noCmdqv?: boolean;
  readonly cmdqMaxSzShift?: number;
  /** Keep dev_dbg lines. */
  readonly dmesgDebug?: boolean;
  readonly timing?: Timing;
}

export interface ConcurrentActor<R> {
  readonly name: string;
  readonly body: ActorBody<R>;
}

export interface ConcurrentOptions {
  /** Seed of the scheduler's choice source (default 1). */
  readonly seed?: number;
  /** Stop once virtual time reaches this (absolute ns). */
  readonly untilNs?: number;
  readonly maxSteps?: number;
}

export interface ConcurrentResult<R> {
  /** Each actor's return value, undefined when it did not finish. */
  readonly results: (R | undefined)[];
  readonly outcome: "done" | "until" | "limit";
  readonly counters: readonly ExecCounters[];
}

export class GuestRig {
  readonly machine: Machine;
  readonly host: Host;
  readonly as: AddressSpace;
  readonly clock: VirtualClock;
  readonly timing: Timing;
  readonly dma: DmaAllocator;
  readonly dmesg: GuestDmesg;
  readonly ctx: GuestContext;
  readonly smmu: ArmSmmuV3;
  readonly cmdqv: Tegra241Cmdqv | null;
  /** Counters of everything run through run(). */
  readonly counters: ExecCounters = { exits: 0, direct: 0, ops: 0 };

  private cmdqvIrqSeen = 0;
  private gerrorSeen = 0;
  private isrRunning = false;

  constructor(o: GuestRigOptions) {
    const built = createMachine(
      machineConfig({
        profile: o.profile,
        cmdqv: o.noCmdqv ? "off" : "on",
        ...(o.ramPage !== undefined ? { ramPage: o.ramPage } : {}),
        ...(o.ramSize !== undefined ? { ramSize: o.ramSize } : {}),
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
        ...(o.numVcmdqs !== undefined ? { vcmdqs: o.numVcmdqs } : {}),
        ...(o.timing !== undefined ? { timing: o.timing } : {}),
      }),
    );
    if (!built.ok) throw new Error(`guest rig: the machine could not be built: ${built.error}`);
    const m = built.value;
    this.machine = m;
    this.host = m.host;
    this.as = m.as;
    this.clock = m.clock;
    this.timing = o.timing ?? DEFAULT_TIMING;
    const guest = attachLinuxGuest(m, {
      ...(o.cmdqv !== undefined ? { cmdqv: o.cmdqv } : {}),
      ...(o.cmdqMaxSzShift !== undefined ? { cmdqMaxSzShift: o.cmdqMaxSzShift } : {}),
      ...(o.dmesgDebug !== undefined ? { dmesgDebug: o.dmesgDebug } : {}),
    });
    this.dma = guest.dma;
    this.dmesg = guest.dmesg;
    this.ctx = guest.ctx;
    this.smmu = guest.smmu;
    this.cmdqv = guest.cmdqv;
  }

  /** The guest boots: the SMMU probe (with the CMDQV as its impl). 0 or -errno. */
  boot(): number {
    return this.run(this.smmu.probe());
  }

  /** Run one actor to completion, servicing the vEVENTQ fd and guest IRQs after each op. */
  run<R>(body: ActorBody<R>): R {
    return runToCompletion(
      this.withInterrupts(body),
      this.as,
      this.clock,
      this.timing,
      this.counters,
    );
  }

  /** A CMDQV IRQ edge the guest has not handled yet. */
  cmdqvIrqPending(): boolean {
    return this.cmdqv !== null && this.machine.cmdqvIrq.raises > this.cmdqvIrqSeen;
  }

  private gerrorPending(): boolean {
    return this.machine.smmuIrqs.gerror.raises > this.gerrorSeen;
  }

  private *withInterrupts<R>(body: ActorBody<R>): ActorBody<R> {
    let sent: number | bigint | undefined;
    for (;;) {
      const r = body.next(sent);
      if (r.done) return r.value;
      sent = yield r.value;
      if (this.machine.eventsPending()) this.machine.pollEvents();
      if (!this.isrRunning && (this.cmdqvIrqPending() || this.gerrorPending()))
        yield* this.interrupts();
    }
  }

  /** Run the guest's handlers for every pending edge, again while new edges arrive. */
  private *interrupts(): ActorBody<void> {
    this.isrRunning = true;
    try {
      while (this.cmdqvIrqPending() || this.gerrorPending()) {
        if (this.cmdqvIrqPending() && this.cmdqv) {
          this.cmdqvIrqSeen = this.machine.cmdqvIrq.raises;
          yield* this.cmdqv.isr(this.smmu);
        }
        if (this.gerrorPending()) {
          this.gerrorSeen = this.machine.smmuIrqs.gerror.raises;
          yield* this.smmu.gerrorHandler();
        }
      }
    } finally {
      this.isrRunning = false;
    }
  }

  /**
   * Run several actors (vCPUs) concurrently through the Scheduler, with the VMM's vEVENTQ
   * handler and the guest IRQ as services; the ISR runs as its own actor.
   */
  runConcurrent<R>(
    actors: readonly ConcurrentActor<R>[],
    opts: ConcurrentOptions = {},
  ): ConcurrentResult<R> {
    const sched = new Scheduler(this.clock, this.as, this.timing, new RandomChoice(opts.seed ?? 1));
    const results: (R | undefined)[] = actors.map(() => undefined);
    actors.forEach((a, i) => {
      sched.spawn(
        a.name,
        capture(a.body, (v) => (results[i] = v)),
      );
    });
    const m = this.machine;
    sched.addService({
      name: "vmm.veventq",
      pending: () => m.eventsPending(),
      run: () => {
        m.pollEvents();
      },
    });
    sched.addService({
      name: "guest.irq",
      pending: () => !this.isrRunning && (this.cmdqvIrqPending() || this.gerrorPending()),
      run: () => {
        this.isrRunning = true;
        sched.spawn("guest.isr", this.interrupts());
      },
    });
    const until = opts.untilNs;
    const outcome = sched.run({
      ...(until !== undefined ? { until: () => this.clock.now() >= until } : {}),
      ...(opts.maxSteps !== undefined ? { maxSteps: opts.maxSteps } : {}),
    });
    const counters = sched
      .actors()
      .filter((a) => a.name !== "guest.isr")
      .map((a) => ({ ...a.counters }));
    return { results, outcome, counters };
  }
}

function* capture<R>(body: ActorBody<R>, done: (v: R) => void): ActorBody<void> {
  done(yield* body);
}
