// The world: a machine (simulated host + VMM) with its Linux-like guest, a scheduler over
// the guest's actors (vCPUs, the interrupt handler) and the VMM's event loop, driven by
// one choice source, with the invariants checked after every step.
//
// A world is driven by program steps (boot, raw accesses, workloads, time, reset). Each
// step is recorded; with the choices the scheduler made, the record is the world's
// snapshot: restoring replays it deterministically (generators cannot be copied, and
// replay is how a stateless model checker restores state).

import { type GuestView, guestRevocation, InvariantChecker } from "../check/invariants.js";
import { type ActorBody, type GuestContext, read, read64, write, write64 } from "../guest/actor.js";
import type { ArmSmmuV3 } from "../guest/arm-smmu-v3.js";
import type { GuestDmesg } from "../guest/dmesg.js";
import type { Tegra241Cmdqv, Tegra241Vcmdq } from "../guest/tegra241-cmdqv.js";
import { type WorkloadKind, type WorkloadStats, workload } from "../guest/workload.js";
import type { MachineConfig } from "../machine/config.js";
import { attachLinuxGuest } from "../machine/guest.js";
import { createMachine, type Machine } from "../machine/machine.js";
import { TEGRA241_CMDQV_IO_LEN } from "../regs/cmdqv.js";
import type { Tracer, TraceSink } from "../trace/trace.js";
import { err, ok, type Result } from "../util/result.js";
import { type ChoiceSource, RandomChoice, ReplayChoice } from "./choice.js";
import { Scheduler } from "./scheduler.js";

export interface WorldOptions {
  readonly machine: MachineConfig;
  /** Trace events: `true` keeps them (machine.traceEvents); a sink gets them as they happen. */
  readonly trace?: boolean | TraceSink;
  /** Default: seeded random from machine.seed. */
  readonly choice?: ChoiceSource;
  /**
   * Misplace LVCMDQ rings: bytes past the driver's naturally aligned buffer, per LVCMDQ
   * (0 = where the driver puts it). How a scenario forces a misaligned BASE (EINVAL).
   */
  readonly vcmdqRingOffsets?: readonly number[];
  /** Put LVCMDQ rings at these guest-physical addresses (null: the driver's choice). */
  readonly vcmdqRingAddrs?: readonly (number | null)[];
  /** The guest driver's cap on queue size (log2 entries). */
  readonly cmdqMaxSzShift?: number;
  readonly dmesgDebug?: boolean;
  /** The scheduler step cap of one program step (default WORLD_MAX_STEPS). */
  readonly maxSteps?: number;
}

/** A program step, as recorded for snapshots and replays. */
export type WorldStep =
  | { readonly kind: "boot" }
  | {
      readonly kind: "write";
      readonly addr: number;
      readonly size: 1 | 2 | 4 | 8;
      readonly value: string;
    }
  | { readonly kind: "read"; readonly addr: number; readonly size: 1 | 2 | 4 | 8 }
  | {
      readonly kind: "workload";
      readonly invalidations: number;
      readonly vcpus: number;
      readonly weights?: Readonly<Partial<Record<WorkloadKind, number>>>;
    }
  | { readonly kind: "advance"; readonly ns: number }
  | { readonly kind: "reset" };

export interface WorldSnapshot {
  readonly machine: MachineConfig;
  readonly steps: readonly WorldStep[];
  readonly choices: readonly number[];
  /**
   * The seed when the world drew its choices at random: a fresh source with that seed,
   * asked the same questions, answers the same and then goes on as the original would.
   */
  readonly randomSeed?: number;
  readonly vcmdqRingOffsets?: readonly number[];
  readonly vcmdqRingAddrs?: readonly (number | null)[];
  readonly cmdqMaxSzShift?: number;
}

/**
 * The scheduler step cap of one program step, so a wedged guest cannot spin forever. A
 * workload of MAX_WORKLOAD_INVALIDATIONS (guest/workload.ts) fits well within it; a step that hits
 * it anyway is recorded (World.cutShort) for the caller to report.
 */
export const WORLD_MAX_STEPS = 50_000_000;

/** A program step the step cap cut short. */
export interface WorldCut {
  readonly step: WorldStep["kind"];
  /** The cap it hit (scheduler steps in that program step). */
  readonly maxSteps: number;
  /** What was cut, in a sentence. */
  readonly message: string;
}

export class World implements GuestView {
  readonly machine: Machine;
  readonly dmesg: GuestDmesg;
  readonly smmu: ArmSmmuV3;
  readonly cmdqv: Tegra241Cmdqv | null;
  readonly ctx: GuestContext;
  readonly checker: InvariantChecker;
  readonly sched: Scheduler;
  readonly choice: ChoiceSource;
  readonly tracer: Tracer;
  private readonly opts: WorldOptions;
  private readonly program: WorldStep[] = [];
  private randomSeed: number | undefined;
  private cmdqvIrqSeen = 0;
  private gerrorSeen = 0;
  private isrRunning = false;
  private bootResult: number | null = null;
  readonly workloads: WorkloadStats[] = [];
  /** Called every few thousand scheduler steps (the CLI's progress line). */
  onProgress: ((w: World) => void) | null = null;
  private readonly silent: { queue: string; t: number }[] = [];
  private readonly cuts: WorldCut[] = [];
  /**
   * VCMDQs (global index) the guest took away from its own driver since it last booted,
   * or all of them ("all"): their CMD_SYNC timeouts are not silent hangs (guestRevocation).
   */
  private revoked: Set<number> | "all" = new Set();
  /** Per queue, the CMD_SYNC timeouts already excused as the guest's own doing. */
  private readonly excused = new Map<Tegra241Vcmdq, number>();

  private constructor(o: WorldOptions, machine: Machine) {
    this.opts = o;
    this.machine = machine;
    this.tracer = machine.tracer;
    this.choice = o.choice ?? new RandomChoice(o.machine.seed);
    if (!o.choice) this.randomSeed = o.machine.seed;
    const m = machine;
    const clock = m.clock;
    const ringOffsets = o.vcmdqRingOffsets;
    const ringAddrs = o.vcmdqRingAddrs;
    const guest = attachLinuxGuest(m, {
      cmdqv: {
        ...(ringOffsets ? { ringOffsets } : {}),
        ...(ringAddrs ? { ringAddrs } : {}),
      },
      ...(o.cmdqMaxSzShift !== undefined ? { cmdqMaxSzShift: o.cmdqMaxSzShift } : {}),
      ...(o.dmesgDebug !== undefined ? { dmesgDebug: o.dmesgDebug } : {}),
    });
    this.dmesg = guest.dmesg;
    this.ctx = guest.ctx;
    this.cmdqv = guest.cmdqv;
    this.smmu = guest.smmu;
    const as = m.as;
    this.checker = new InvariantChecker(m, this);
    this.sched = new Scheduler(clock, as, m.config.timing, this.choice, this.tracer);
    this.sched.addService({
      name: "vmm.veventq",
      pending: () => m.eventsPending(),
      run: () => {
        m.pollEvents();
      },
    });
    this.sched.addService({
      name: "guest.irq",
      pending: () => !this.isrRunning && this.irqPending(),
      run: () => {
        this.isrRunning = true;
        this.sched.spawn("guest.isr", this.interrupts());
      },
    });
  }

  static create(o: WorldOptions): Result<World, string> {
    const m = createMachine(o.machine, { trace: o.trace ?? false });
    if (!m.ok) return err(m.error);
    return ok(new World(o, m.value));
  }

  /** Rebuild a world from a snapshot by replaying its steps and choices. */
  static restore(s: WorldSnapshot, trace?: boolean): Result<World, string> {
    const w = World.create({
      machine: s.machine,
      choice:
        s.randomSeed !== undefined ? new RandomChoice(s.randomSeed) : new ReplayChoice(s.choices),
      ...(trace !== undefined ? { trace } : {}),
      ...(s.vcmdqRingOffsets ? { vcmdqRingOffsets: s.vcmdqRingOffsets } : {}),
      ...(s.vcmdqRingAddrs ? { vcmdqRingAddrs: s.vcmdqRingAddrs } : {}),
      ...(s.cmdqMaxSzShift !== undefined ? { cmdqMaxSzShift: s.cmdqMaxSzShift } : {}),
    });
    if (!w.ok) return w;
    for (const step of s.steps) w.value.apply(step);
    return w;
  }

  snapshot(): WorldSnapshot {
    return {
      machine: this.opts.machine,
      steps: [...this.program],
      choices: [...this.choice.recorded()],
      ...(this.randomSeed !== undefined ? { randomSeed: this.randomSeed } : {}),
      ...(this.opts.vcmdqRingOffsets ? { vcmdqRingOffsets: this.opts.vcmdqRingOffsets } : {}),
      ...(this.opts.vcmdqRingAddrs ? { vcmdqRingAddrs: this.opts.vcmdqRingAddrs } : {}),
      ...(this.opts.cmdqMaxSzShift !== undefined
        ? { cmdqMaxSzShift: this.opts.cmdqMaxSzShift }
        : {}),
    };
  }

  // ---- GuestView (no-silent-hang) --------------------------------------------------------

  /**
   * CMD_SYNC timeouts on a VCMDQ the guest believed enabled, while it had seen no error
   * (no CMDQV interrupt was handled): the guest was never told anything went wrong.
   */
  silentTimeouts(): readonly { readonly queue: string; readonly t: number }[] {
    return this.silent;
  }

  private noteSilence(): void {
    const v = this.cmdqv?.vintf0();
    if (!v || (this.cmdqv?.isrRuns ?? 0) > 0) return;
    for (const q of v.lvcmdqs) {
      if (!q?.enabled) continue;
      const timeouts = q.cmdq.stats.syncTimeouts;
      if (timeouts === 0 || timeouts <= (this.excused.get(q) ?? 0)) continue;
      if (this.revoked === "all" || this.revoked.has(q.idx)) {
        // The guest disabled or moved this queue behind its driver's back: its own doing.
        this.excused.set(q, timeouts);
        continue;
      }
      const name = `VCMDQ${q.idx}`;
      if (!this.silent.some((s) => s.queue === name))
        this.silent.push({ queue: name, t: this.machine.clock.now() });
    }
  }

  // ---- interrupts ------------------------------------------------------------------------

  private irqPending(): boolean {
    return (
      (this.cmdqv !== null && this.machine.cmdqvIrq.raises > this.cmdqvIrqSeen) ||
      this.machine.smmuIrqs.gerror.raises > this.gerrorSeen
    );
  }

  /** The guest's threaded handlers, run again while new edges arrive (one at a time). */
  private *interrupts(): ActorBody<void> {
    try {
      while (this.irqPending()) {
        if (this.cmdqv && this.machine.cmdqvIrq.raises > this.cmdqvIrqSeen) {
          this.cmdqvIrqSeen = this.machine.cmdqvIrq.raises;
          yield* this.cmdqv.isr(this.smmu);
        }
        if (this.machine.smmuIrqs.gerror.raises > this.gerrorSeen) {
          this.gerrorSeen = this.machine.smmuIrqs.gerror.raises;
          yield* this.smmu.gerrorHandler();
        }
      }
    } finally {
      this.isrRunning = false;
    }
  }

  // ---- running ---------------------------------------------------------------------------

  /**
   * Run the scheduler until its actors are done, checking invariants after each step. A
   * run that hits the step cap is recorded as a cut of `step`.
   */
  private runActors(step: WorldStep, untilNs?: number): "done" | "until" | "limit" {
    const clock = this.machine.clock;
    const maxSteps = this.opts.maxSteps ?? WORLD_MAX_STEPS;
    const issued = this.invalidationsIssued();
    const r = this.sched.run({
      maxSteps,
      ...(untilNs !== undefined ? { until: () => clock.now() >= untilNs } : {}),
      afterStep: () => {
        this.noteSilence();
        this.checker.check();
        if (this.onProgress && (this.sched.steps() & 0x1fff) === 0) this.onProgress(this);
      },
    });
    if (r === "limit") {
      const what =
        step.kind === "workload"
          ? `the workload was cut with ${this.invalidationsIssued() - issued} of ${step.invalidations} invalidations issued`
          : `the ${step.kind} step was cut before its guest actors finished`;
      this.cuts.push({
        step: step.kind,
        maxSteps,
        message: `${what}: it hit the scheduler's cap of ${maxSteps} steps per program step (at ${clock.now()} ns)`,
      });
    }
    return r;
  }

  /** Program steps the step cap cut short, in order (empty for a complete run). */
  cutShort(): readonly WorldCut[] {
    return this.cuts;
  }

  /** Note what a step takes away from the guest's driver (no-silent-hang's rule). */
  private noteRevocation(step: WorldStep): void {
    if (step.kind === "boot") this.revoked = new Set();
    else if (step.kind === "reset") this.revoked = "all";
    else if (step.kind === "write" && this.revoked !== "all") {
      const off = step.addr - this.machine.config.cmdqvBase;
      if (off < 0 || off >= TEGRA241_CMDQV_IO_LEN) return;
      const r = guestRevocation(off, step.size, BigInt(step.value), this.machine.config.vcmdqs);
      if (r === "all") this.revoked = "all";
      else if (r !== null) for (const q of r) this.revoked.add(q);
    }
  }

  /** Apply one program step (and record it). */
  apply(step: WorldStep): number | bigint | undefined {
    this.program.push(step);
    this.noteRevocation(step);
    switch (step.kind) {
      case "boot": {
        let result = 0;
        this.sched.spawn(
          "guest.vcpu0",
          (function* (smmu: ArmSmmuV3): ActorBody<void> {
            result = yield* smmu.probe();
          })(this.smmu),
        );
        this.runActors(step);
        this.bootResult = result;
        return result;
      }
      case "write": {
        const v = BigInt(step.value);
        this.sched.spawn(
          "guest.vcpu0",
          (function* (): ActorBody<void> {
            yield step.size === 8 ? write64(step.addr, v) : write(step.addr, Number(v), step.size);
          })(),
        );
        this.runActors(step);
        return undefined;
      }
      case "read": {
        let value: number | bigint = 0;
        this.sched.spawn(
          "guest.vcpu0",
          (function* (): ActorBody<void> {
            value = (yield step.size === 8 ? read64(step.addr) : read(step.addr, step.size)) as
              | number
              | bigint;
          })(),
        );
        this.runActors(step);
        return value;
      }
      case "workload": {
        const budget = { remaining: step.invalidations };
        for (let cpu = 0; cpu < step.vcpus; cpu++) {
          const stats = this.workloads;
          const body = workload(this.smmu, cpu, {
            seed: this.machine.config.seed,
            batches: Number.MAX_SAFE_INTEGER,
            vsid: this.machine.config.virtSid,
            budget,
            ...(step.weights ? { weights: step.weights } : {}),
          });
          this.sched.spawn(
            `guest.vcpu${cpu}`,
            (function* (): ActorBody<void> {
              stats.push(yield* body);
            })(),
          );
        }
        this.runActors(step);
        return undefined;
      }
      case "advance": {
        const until = this.machine.clock.now() + step.ns;
        // Let services (the VMM event loop, interrupts) run while time passes.
        if (this.runActors(step, until) !== "limit") {
          this.machine.clock.set(until);
          this.runActors(step);
        }
        return undefined;
      }
      case "reset": {
        this.machine.reset();
        this.checker.check();
        return undefined;
      }
    }
  }

  /** Add an actor to the next program step's run (e.g. an explorer's event injector). */
  spawn(name: string, body: ActorBody<unknown>): void {
    this.sched.spawn(name, body);
  }

  /** Invalidation commands the guest has issued so far (both paths, CMD_SYNCs excluded). */
  invalidationsIssued(): number {
    let n = this.smmu.cmdq.stats.commands;
    for (const q of this.cmdqv?.vintf0()?.lvcmdqs ?? []) if (q) n += q.cmdq.stats.commands;
    return n;
  }

  boot(): number {
    return this.apply({ kind: "boot" }) as number;
  }

  lastBootResult(): number | null {
    return this.bootResult;
  }

  /** VM teardown: the VMM releases its host objects; the teardown invariants are checked. */
  teardown(): void {
    const problems = this.machine.teardown();
    this.checker.checkTeardown(problems);
  }
}
