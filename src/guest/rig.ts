// A guest test rig: the device-model testbed (simulated host + the CMDQV device model at
// 0x0C00_0000) plus the VMM's SMMUv3 accel front at 0x0905_0000 in the same address space
// (its host port forwards to IOMMU_HWPT_INVALIDATE on the vIOMMU), a guest DMA allocator
// at the top of guest RAM, a GuestContext, the guest dmesg, and the guest drivers.
//
// Two ways to run guest code:
// - run(body): one actor to completion (runToCompletion). After each of its operations
//   the VMM's vEVENTQ handler runs if its fd is readable, and a raised CMDQV IRQ (or SMMU
//   GERROR IRQ) runs the guest ISR to completion inline, on the same vCPU.
// - runConcurrent(actors): several vCPU actors through the discrete-event Scheduler; the
//   vEVENTQ handler and the guest IRQ are services, and the ISR is an actor of its own
//   (one at a time: a threaded, IRQF_ONESHOT handler; an edge during it runs it again).

import type { Host } from "../host/host.js";
import type { AddressSpace } from "../mem/address-space.js";
import type { PageSizeName } from "../mem/types.js";
import { RandomChoice } from "../sim/choice.js";
import { Scheduler } from "../sim/scheduler.js";
import type { VirtualClock } from "../util/clock.js";
import { CountingIrq } from "../util/irq.js";
import { Smmuv3Accel } from "../vmm/smmuv3/smmuv3.js";
import { viommuInvalidatePort } from "../vmm/smmuv3/viommu-port.js";
import type { ProfileName } from "../vmm/tegra241-cmdqv/profile.js";
import {
  CMDQV_BASE,
  createTestbed,
  type Testbed,
  VIRT_SID,
} from "../vmm/tegra241-cmdqv/testbed.js";
import type { ActorBody, GuestContext } from "./actor.js";
import { ArmSmmuV3 } from "./arm-smmu-v3.js";
import { guestContext } from "./context.js";
import { DmaAllocator } from "./dma.js";
import { GuestDmesg } from "./dmesg.js";
import { DEFAULT_TIMING, type ExecCounters, runToCompletion, type Timing } from "./execute.js";
import { Tegra241Cmdqv, type Tegra241CmdqvOptions } from "./tegra241-cmdqv.js";

/** QEMU virt's SMMUv3 MMIO base and region size. */
export const SMMU_BASE = 0x0905_0000;
export const SMMU_REGION_SIZE = 0x2_0000;

export interface GuestRigOptions {
  readonly profile: ProfileName;
  readonly ramPage?: PageSizeName;
  readonly ramSize?: number;
  readonly seed?: number;
  readonly numVcmdqs?: number;
  /** Guest driver options of the CMDQV (base is the testbed's). */
  readonly cmdqv?: Omit<Tegra241CmdqvOptions, "base">;
  /** No CMDQV in the guest's ACPI tables: the SMMU driver alone. */
  readonly noCmdqv?: boolean;
  readonly cmdqMaxSzShift?: number;
  /** Keep dev_dbg lines. */
  readonly dmesgDebug?: boolean;
  /** Bytes at the top of RAM the DMA allocator may use (default 256 MiB or half of RAM). */
  readonly dmaBytes?: number;
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
  readonly tb: Testbed;
  readonly host: Host;
  readonly as: AddressSpace;
  readonly clock: VirtualClock;
  readonly timing: Timing;
  /** The VMM's SMMUv3 accel front. */
  readonly vsmmu: Smmuv3Accel;
  readonly smmuIrqs: {
    readonly eventq: CountingIrq;
    readonly priq: CountingIrq;
    readonly cmdSync: CountingIrq;
    readonly gerror: CountingIrq;
  };
  /** Every command the front forwarded to IOMMU_HWPT_INVALIDATE (as the guest wrote it). */
  readonly hostInvalidations: [bigint, bigint][] = [];
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
    this.tb = createTestbed({
      profile: o.profile,
      ...(o.ramPage !== undefined ? { ramPage: o.ramPage } : {}),
      ...(o.ramSize !== undefined ? { ramSize: o.ramSize } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.numVcmdqs !== undefined ? { numVcmdqs: o.numVcmdqs } : {}),
    });
    const tb = this.tb;
    this.host = tb.host;
    this.as = tb.as;
    this.clock = tb.host.clock;
    this.timing = o.timing ?? DEFAULT_TIMING;

    const recorded = this.hostInvalidations;
    const viommuId = tb.viommuId;
    const hostPort = viommuInvalidatePort(
      tb.host.iommufd,
      () => viommuId,
      (sid) => sid === VIRT_SID,
      (e) => recorded.push([e[0], e[1]]),
    );
    this.smmuIrqs = {
      eventq: new CountingIrq(),
      priq: new CountingIrq(),
      cmdSync: new CountingIrq(),
      gerror: new CountingIrq(),
    };
    this.vsmmu = new Smmuv3Accel({
      mem: tb.as,
      host: hostPort,
      log: tb.log,
      irqs: this.smmuIrqs,
      minRamPageSize: tb.smmu.minRamPageSize(),
    });
    // The CMDQV device model clamped IDR1.CMDQS on the testbed's SMMU port (qemu §2.9):
    // the guest reads it from this front.
    this.vsmmu.setCmdqs(tb.smmu.getCmdqs());
    const mapped = tb.as.addMmio("smmuv3", SMMU_BASE, SMMU_REGION_SIZE, this.vsmmu);
    if (!mapped.ok) throw new Error(mapped.error.message);

    const ramTop = tb.ram.gpaBase + tb.ram.size;
    const dmaBytes = o.dmaBytes ?? Math.min(0x1000_0000, tb.ram.size / 2);
    this.dma = new DmaAllocator(ramTop - dmaBytes, ramTop);
    this.dmesg = new GuestDmesg(this.clock, { debug: o.dmesgDebug ?? false });
    this.ctx = guestContext(tb.as, this.clock, this.dmesg, this.dma);
    this.cmdqv = o.noCmdqv ? null : new Tegra241Cmdqv({ base: CMDQV_BASE, ...(o.cmdqv ?? {}) });
    this.smmu = new ArmSmmuV3(
      this.ctx,
      this.dmesg,
      {
        base: SMMU_BASE,
        ...(o.cmdqMaxSzShift !== undefined ? { cmdqMaxSzShift: o.cmdqMaxSzShift } : {}),
      },
      this.cmdqv ?? undefined,
    );
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
    return this.cmdqv !== null && this.tb.irq.raises > this.cmdqvIrqSeen;
  }

  private gerrorPending(): boolean {
    return this.smmuIrqs.gerror.raises > this.gerrorSeen;
  }

  private *withInterrupts<R>(body: ActorBody<R>): ActorBody<R> {
    let sent: number | bigint | undefined;
    for (;;) {
      const r = body.next(sent);
      if (r.done) return r.value;
      sent = yield r.value;
      if (this.tb.dev.eventsPending()) this.tb.dev.handleVeventq();
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
          this.cmdqvIrqSeen = this.tb.irq.raises;
          yield* this.cmdqv.isr(this.smmu);
        }
        if (this.gerrorPending()) {
          this.gerrorSeen = this.smmuIrqs.gerror.raises;
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
    const dev = this.tb.dev;
    sched.addService({
      name: "vmm.veventq",
      pending: () => dev.eventsPending(),
      run: () => {
        dev.handleVeventq();
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

export function createGuestRig(o: GuestRigOptions): GuestRig {
  return new GuestRig(o);
}
