// The "orderings" program: the guest's configuration writes for N VCMDQs (BASE_L, BASE_H
// and ALLOC per queue; CMDQV_EN; VINTF_EN; optionally disable/re-enable, re-program,
// ALLOC toggles, a CONFIG re-write and a reset) in an order the choice source picks, then
// the Linux-like enable of each queue through the VINTF aperture and a short workload
// (TLBI_NH_ASID + CMD_SYNC, CONS polled for 1 s). Invariants are checked after every step.
// A host call may fail (one per run) when the choice source says so: fail-nth as a choice.
// Every step records the host calls that failed in it, numbered from the machine's creation.

import { type GuestView, InvariantChecker } from "../check/invariants.js";
import { type FaultRecord, type FaultSite, formatFault } from "../host/faults.js";
import type { MachineConfig } from "../machine/config.js";
import { createMachine, type Machine } from "../machine/machine.js";
import { APERTURE, BITS, CFG, VCMDQ0, VCMDQ1 } from "../regs/cmdqv.js";
import type { ChoiceSource } from "../sim/choice.js";
import { CS, encode } from "../smmu/commands.js";
import type { TraceSink } from "../trace/trace.js";
import { err, ok, type Result } from "../util/result.js";
import { Hasher, machineFingerprint } from "./fingerprint.js";
import type { ReusedMachine } from "./machine-snapshot.js";

/** Optional steps beyond the gate writes. */
export const EXTRA_STEPS = [
  "cmdqv-reenable",
  "vintf-reenable",
  "config-rewrite",
  "reprogram",
  "alloc-toggle",
  "reset",
] as const;
export type ExtraStep = (typeof EXTRA_STEPS)[number];

export interface OrderingsOptions {
  readonly machine: MachineConfig;
  /** VCMDQs whose gate writes are explored (≤ machine.vcmdqs). */
  readonly queues: number;
  readonly extras: readonly ExtraStep[];
  /** Explore "which host call fails" (at most one per run). */
  readonly faults: boolean;
  /** Queue ring log2 entries (default 12: 64 KiB rings, 2 MiB aligned slots). */
  readonly log2size?: number;
}

export interface StepRecord {
  readonly step: string;
  /**
   * The host calls that failed during this step, if any, as `SITE (call N)` (comma
   * separated), N numbered from the machine's creation: chosen by the explorer or by the
   * run's fault plan.
   */
  readonly fault?: string;
  /** The same failed calls as data. */
  readonly faults?: readonly FaultRecord[];
}

export interface RunOutcome {
  /** Cut at a state already explored (its future is known). */
  readonly pruned: boolean;
  readonly steps: readonly StepRecord[];
  readonly checker: InvariantChecker;
  readonly machine: Machine | null;
  readonly states: number;
  /** Host calls the machine's set-up made: the explored phase's calls are numbered after them. */
  readonly setupCalls: number;
  /** With `stopAfter`: the fingerprint of the state the run stopped at. */
  readonly fingerprint?: number;
  /** With `stopAfter`: whether no step is left at that state (the run would sync next). */
  readonly terminal?: boolean;
}

const RING_SLOT = 0x20_0000;
/**
 * The hardware's effects log in an explored run. A run executes a few invalidations (a
 * TLBI and a CMD_SYNC per queue), and the checker reads them after every step; the
 * default 65 536-entry log made each run allocate and zero 2 MB, a third of the
 * explorer's time, and the page faults and unmaps of it kept `--jobs` threads from
 * running side by side.
 */
const RUN_EFFECTS = 256;
const SETTLE_NS = 10_000;
const ONE_SECOND = 1_000_000_000;

interface Step {
  readonly name: string;
  apply(g: Guest): void;
}

/** Register-level guest access to the CMDQV window. */
class Guest implements GuestView {
  readonly m: Machine;
  private readonly base: number;
  readonly silent: { queue: string; t: number }[] = [];
  /** What the guest's enable poll saw per queue (Linux caches it in vcmdq->enabled). */
  readonly enabledSeen: boolean[] = [];

  constructor(m: Machine) {
    this.m = m;
    this.base = m.config.cmdqvBase;
  }

  w32(off: number, v: number): void {
    this.m.as.write(this.base + off, 4, v);
  }

  r32(off: number): number {
    return this.m.as.read(this.base + off, 4);
  }

  w64(off: number, v: bigint): void {
    this.m.as.write64(this.base + off, v);
  }

  silentTimeouts(): readonly { readonly queue: string; readonly t: number }[] {
    return this.silent;
  }
}

function ringGpa(cfg: MachineConfig, i: number, alt = false): number {
  // Rings sit in 2 MiB slots from RAM base + 2 MiB; a re-programmed ring uses a later slot.
  return cfg.ramBase + RING_SLOT * (1 + i + (alt ? 8 : 0));
}

function baseValue(cfg: MachineConfig, i: number, log2: number, alt = false): bigint {
  return BigInt(ringGpa(cfg, i, alt)) | BigInt(log2);
}

const p0 = (i: number, reg: number) => APERTURE.VINTF_PAGE0 + APERTURE.VCMDQ_STRIDE * i + reg;
const p1 = (i: number, reg: number) => APERTURE.VCMDQ_PAGE1 + APERTURE.VCMDQ_STRIDE * i + reg;

export function buildSteps(o: OrderingsOptions): Step[] {
  const cfg = o.machine;
  const log2 = o.log2size ?? 12;
  const steps: Step[] = [];
  for (let i = 0; i < o.queues; i++) {
    const base = baseValue(cfg, i, log2);
    steps.push({
      name: `BASE_L${i}`,
      apply: (g) => g.w32(p1(i, VCMDQ1.BASE_L), Number(base & 0xffff_ffffn)),
    });
    steps.push({
      name: `BASE_H${i}`,
      apply: (g) => g.w32(p1(i, VCMDQ1.BASE_H), Number(base >> 32n)),
    });
    steps.push({
      name: `ALLOC${i}`,
      apply: (g) => g.w32(CFG.CMDQ_ALLOC_0 + 4 * i, (i << 1) | BITS.ALLOC),
    });
  }
  for (let i = 0; i < o.queues; i++)
    // The guest's VCMDQ enable, through the VINTF aperture as Linux does (trapped until
    // page0 is guest-mapped, then straight to hardware).
    steps.push({ name: `ENABLE${i}`, apply: (g) => enableQueue(g, i) });
  steps.push({
    name: "CMDQV_EN",
    apply: (g) => g.w32(CFG.CONFIG, g.r32(CFG.CONFIG) | BITS.CMDQV_EN),
  });
  steps.push({
    name: "VINTF_EN",
    apply: (g) => g.w32(CFG.VINTF_0, BITS.VINTF_HYP_OWN | BITS.VINTF_ENABLE),
  });
  for (const x of o.extras) {
    switch (x) {
      case "cmdqv-reenable":
        steps.push({
          name: "CMDQV_REENABLE",
          apply: (g) => {
            const c = g.r32(CFG.CONFIG);
            g.w32(CFG.CONFIG, c & ~BITS.CMDQV_EN);
            g.w32(CFG.CONFIG, c | BITS.CMDQV_EN);
          },
        });
        break;
      case "vintf-reenable":
        steps.push({
          name: "VINTF_REENABLE",
          apply: (g) => {
            g.w32(CFG.VINTF_0, 0);
            g.w32(CFG.VINTF_0, BITS.VINTF_ENABLE);
          },
        });
        break;
      case "config-rewrite":
        steps.push({ name: "CONFIG_REWRITE", apply: (g) => g.w32(CFG.CONFIG, g.r32(CFG.CONFIG)) });
        break;
      case "reprogram":
        for (let i = 0; i < o.queues; i++) {
          const alt = baseValue(cfg, i, log2, true);
          steps.push({ name: `REPROGRAM${i}`, apply: (g) => g.w64(p1(i, VCMDQ1.BASE_L), alt) });
        }
        break;
      case "alloc-toggle":
        for (let i = 0; i < o.queues; i++)
          steps.push({
            name: `ALLOC_TOGGLE${i}`,
            apply: (g) => {
              g.w32(CFG.CMDQ_ALLOC_0 + 4 * i, i << 1);
              g.w32(CFG.CMDQ_ALLOC_0 + 4 * i, (i << 1) | BITS.ALLOC);
            },
          });
        break;
      case "reset":
        steps.push({ name: "RESET", apply: (g) => g.m.reset() });
        break;
    }
  }
  return steps;
}

/** Linux's poll: read until `done`, 1 µs then doubling back-off, 1 s timeout. */
function pollFor(g: Guest, read: () => number, done: (v: number) => boolean): boolean {
  const m = g.m;
  for (let waited = 0, step = 1000; waited <= ONE_SECOND; waited += step, step *= 2) {
    m.host.clock.advance(step);
    m.pollEvents();
    if (done(read())) return true;
  }
  return false;
}

/**
 * The guest enables queue i as Linux's vcmdq_hw_init does: CONFIG.EN through the VINTF
 * aperture, then poll STATUS.EN_OK for 1 s and remember what it saw.
 */
function enableQueue(g: Guest, i: number): void {
  g.w32(p0(i, VCMDQ0.CONFIG), BITS.CMDQ_EN);
  g.enabledSeen[i] = pollFor(
    g,
    () => g.r32(p0(i, VCMDQ0.STATUS)),
    (v) => (v & 1) === 1,
  );
  // A queue not seen enabled is a visible "failed to enable": the guest stops using it.
}

/**
 * After the explored writes: a queue the guest saw enabled gets TLBI_NH_ASID + CMD_SYNC,
 * and CONS is polled with Linux's back-off for 1 s. A timeout with nothing visible to
 * the guest is a silent hang.
 */
function syncQueue(g: Guest, i: number, log2: number): void {
  const m = g.m;
  const clock = m.host.clock;
  if (!g.enabledSeen[i]) return;
  const gerror0 = g.r32(p0(i, VCMDQ0.GERROR));
  const prod = g.r32(p0(i, VCMDQ0.PROD)) & BITS.INDEX_MASK;
  const mask = (1 << log2) - 1;
  const gpa = ringAt(g, i);
  const put = (idx: number, dw: readonly [bigint, bigint]) => {
    m.as.write64(gpa + 16 * (idx & mask), dw[0]);
    m.as.write64(gpa + 16 * (idx & mask) + 8, dw[1]);
  };
  put(prod, encode({ op: "TLBI_NH_ASID", vmid: 0, asid: 1 }));
  put(
    prod + 1,
    encode({ op: "CMD_SYNC", cs: CS.NONE, msh: 0, msiattr: 0, msidata: 0, msiaddr: 0n }),
  );
  const target = (prod + 2) & ((2 << log2) - 1);
  g.w32(p0(i, VCMDQ0.PROD), target);
  for (let waited = 0, step = 1000; waited <= ONE_SECOND; waited += step, step *= 2) {
    clock.advance(step);
    m.pollEvents();
    const cons = g.r32(p0(i, VCMDQ0.CONS));
    if ((cons & ((2 << log2) - 1)) === target) return;
    // CONS.ERR or a GERROR change: the error is visible to the guest, not a silent hang.
    if (cons >>> 24 !== 0 || g.r32(p0(i, VCMDQ0.GERROR)) !== gerror0) return;
  }
  g.silent.push({ queue: `VCMDQ${i}`, t: clock.now() });
}

/** Where the guest believes queue i's ring is: the BASE it last programmed (cached). */
function ringAt(g: Guest, i: number): number {
  const q = g.m.cmdqv?.cachedQueue(i);
  return q ? q.gpa : ringGpa(g.m.config, i);
}

/** How far a run goes, and what it records of the states it passes. */
export interface RunLimits {
  /**
   * Stop right after this many explored steps, with the fingerprint of the state reached
   * (the level-by-level search expands one step at a time).
   */
  readonly stopAfter?: number;
  /** Record the fingerprint of every state passed, cutting nothing (distinct states of sampled runs). */
  readonly seen?: Set<number>;
}

/**
 * The host calls a machine's set-up makes (QEMU's cold-plug of the device), in all and per
 * site. Explored runs number their calls after these: the first call an exploration can
 * fail is `calls + 1` (docs/scenarios.md, "Fault numbering").
 */
export function setupCalls(machine: MachineConfig): SetupCalls {
  const r = setupCallsOf(machine);
  if (!r.ok) throw new Error(`the explored machine could not be built: ${r.error}`);
  return r.value;
}

export interface SetupCalls {
  readonly calls: number;
  readonly siteCalls: Readonly<Partial<Record<FaultSite, number>>>;
}

/** setupCalls, with a machine that cannot be built as an error value. */
export function setupCallsOf(machine: MachineConfig): Result<SetupCalls, string> {
  const m = createMachine({ ...machine, faultPlan: { kind: "none" } });
  if (!m.ok) return err(m.error);
  const st = m.value.host.faults.state();
  m.value.teardown();
  return ok({ calls: st.calls, siteCalls: st.siteCalls });
}

/** The step as sequences print it: `ENABLE0 [fail hw_queue_alloc:obj_alloc (call 31)]`. */
export function formatStepRecord(s: StepRecord): string {
  return s.fault ? `${s.step} [fail ${s.fault}]` : s.step;
}

/**
 * The machine a run is built on: `cfg` with the run's small effects log and, unless the
 * plan names calls from the machine's creation (`nth`, `site`), no fault plan yet (the
 * run arms it once the machine is set up).
 */
export function runMachine(cfg: MachineConfig, trace: boolean | TraceSink = false): Machine {
  const fromCreation = cfg.faultPlan.kind === "nth" || cfg.faultPlan.kind === "site";
  const built = fromCreation ? cfg : { ...cfg, faultPlan: { kind: "none" as const } };
  const m = createMachine(
    { ...built, hostHw: { effectsCapacity: RUN_EFFECTS, ...built.hostHw } },
    { trace },
  );
  if (!m.ok) throw new Error(`the explored machine could not be built: ${m.error}`);
  return m.value;
}

/**
 * One run: build the machine, apply the steps in the order `choice` picks (cutting the
 * run when a state repeats), then enable and sync every queue, tear down, and check.
 * With `reuse`, the machine is not built but restored: one `runMachine(o.machine)` made
 * once (a plan naming calls from the creation, or a trace, cannot be restored); the
 * outcome's machine is then valid until the next run on it.
 *
 * Host calls are numbered from the machine's creation, as everywhere (docs/scenarios.md,
 * "Fault numbering"). A plan that names calls (`nth`, `site`) is the machine's from its
 * creation, as a scenario's; the explored calls come after the set-up's, so a plan naming a
 * set-up call fails the build. A probability plan is armed once the machine is set up (its
 * draws start there), so a random fault never stops the cold-plug.
 */
export function runOrderings(
  o: OrderingsOptions,
  choice: ChoiceSource,
  visited: Set<number> | null,
  trace?: boolean | TraceSink,
  limits: RunLimits = {},
  reuse?: ReusedMachine,
): RunOutcome {
  const plan = o.machine.faultPlan;
  const fromCreation = plan.kind === "nth" || plan.kind === "site";
  if (reuse !== undefined && (fromCreation || (trace !== undefined && trace !== false)))
    throw new Error("runOrderings: a reused machine is built without a fault plan and a trace");
  const machine = reuse !== undefined ? reuse.fresh() : runMachine(o.machine, trace ?? false);
  const faults = machine.host.faults;
  const setup = faults.callCount();
  if (!fromCreation) faults.setPlan(plan);
  const g = new Guest(machine);
  const checker = new InvariantChecker(machine, g);
  const records: StepRecord[] = [];
  let faultUsed = false;
  if (o.faults) {
    faults.setChooser(() => {
      if (faultUsed) return false;
      if (choice.int(2) === 1) {
        faultUsed = true;
        return true;
      }
      return false;
    });
  }
  const steps = buildSteps(o);
  const log2 = o.log2size ?? 12;
  const finish = (pruned: boolean, fingerprint?: number): RunOutcome => ({
    pruned,
    steps: records,
    checker,
    machine,
    states: records.length,
    setupCalls: setup,
    ...(fingerprint !== undefined ? { fingerprint, terminal: steps.length === 0 } : {}),
  });
  // A step's record names the host calls that failed during it, whoever failed them.
  const record = (name: string, injectedBefore: number) => {
    const all = faults.injectedFaults();
    if (all.length === injectedBefore) {
      records.push({ step: name });
      return;
    }
    const failed = all.slice(injectedBefore);
    records.push({ step: name, fault: failed.map(formatFault).join(", "), faults: failed });
  };

  while (steps.length > 0) {
    const k = choice.int(steps.length);
    const step = steps.splice(k, 1)[0]!;
    const before = faults.injectedFaults().length;
    step.apply(g);
    machine.host.clock.advance(SETTLE_NS);
    machine.pollEvents();
    record(step.name, before);
    checker.check();
    const stop = limits.stopAfter !== undefined && records.length >= limits.stopAfter;
    const cut = visited !== null && (choice.pastPrefix?.() ?? true);
    if (stop || cut || limits.seen) {
      const h = machineFingerprint(machine, new Hasher());
      h.u32(faultUsed ? 1 : 0);
      for (const s of steps) for (let c = 0; c < s.name.length; c++) h.u32(s.name.charCodeAt(c));
      const fp = h.digest();
      limits.seen?.add(fp);
      if (stop) return finish(false, fp);
      if (cut && visited) {
        if (visited.has(fp)) return finish(true);
        visited.add(fp);
      }
    }
  }
  for (let i = 0; i < o.queues; i++) {
    const before = faults.injectedFaults().length;
    syncQueue(g, i, log2);
    record(`SYNC${i}`, before);
    checker.check();
  }
  faults.setChooser(null);
  const problems = machine.teardown();
  checker.checkTeardown(problems);
  return finish(false);
}
