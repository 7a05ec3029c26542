// The orderings program on real QEMU 11.1: `cmdqv explore --vmm qemu` and
// `cmdqv run --replay FILE --vmm qemu`. Each path gets a fresh QEMU process on a fresh
// simulated host (a new process is the one reset through which nothing can leak from
// one path into the next), its steps become qtest lines (qemu-steps.ts), a host call may
// fail where the choice source says so (the model explorer's fail-nth as a choice, asked
// by the host of this path), and the invariants are judged from outside QEMU: the relay's
// checker (hw-queues-match from what the guest programmed, no-refused-destroy, no-leak,
// isolation) plus no-silent-hang from what the guest read. Teardown is QEMU's exit: its
// files close and the kernel's release must take every object down.
//
// The model explorer's state fingerprints do not apply (QEMU's state is not ours to hash),
// so every order is run; the first counterexample of each invariant in odometer order is
// kept, which is already the least choice vector that shows it (the model's shrinking
// would re-run QEMU hundreds of times for nothing). Wall-clock time stays with the
// caller: the hardware's ticker and an optional watchdog are handed in.

import { INVARIANT_NAMES, type InvariantName, type Violation } from "../check/invariants.js";
import { FAULT_SITES, type FaultSite } from "../host/faults.js";
import type { Host } from "../host/host.js";
import { type QtestSession, startQtestSession } from "../real-qemu/in-process.js";
import type { Ticker } from "../real-qemu/session.js";
import { type ChoiceSource, ExhaustiveChoice } from "../sim/choice.js";
import type { TraceSink } from "../trace/trace.js";
import {
  type ExploreResult,
  exploreMachine,
  exploreTable,
  type FoundViolation,
} from "./explorer.js";
import { buildSteps, type ExtraStep } from "./orderings.js";
import { isQemuStep, QemuGuest, stepProgram } from "./qemu-steps.js";
import type { OrderingsReplay } from "./replay.js";

export interface QemuRunOptions {
  /** The hardware's wall-clock tick; a no-op keeps a path deterministic (the relay steps
   * the host after every reply, by as much as QEMU's clock moved). */
  readonly ticker: Ticker;
  /**
   * Calls `fn` every `ms` of wall time until stopped: with it, a QEMU that leaves one line
   * unanswered for `lineTimeoutMs` is stopped and the path fails with its console.
   */
  readonly watchdog?: Ticker;
  readonly lineTimeoutMs?: number;
  /** Another qemu-system-aarch64 instead of the fetched 11.1. */
  readonly qemu?: string;
  /** Queue ring log2 entries (default 12, as the model). */
  readonly log2size?: number;
  /** Watches the path for a report (src/report/qemu-replay-report.ts). */
  readonly observer?: QemuRunObserver;
}

/**
 * What a run report of a path on real QEMU is drawn from: the host's trace, each qtest
 * line with its reply, and QEMU's console (with its `-trace` lines), in the order they
 * happen; the observer reads the times from the host's clock.
 */
export interface QemuRunObserver {
  /** The host's trace events (kernel, CMDQV hardware) as they happen. */
  readonly hostTrace: TraceSink;
  /** QEMU's `-trace enable=` patterns (their lines come on the console). */
  readonly qemuTrace: readonly string[];
  /** The path's host, once it is up. */
  started(host: Host): void;
  /** A line the guest sends, before QEMU has it. */
  sent(line: string): void;
  /** QEMU's (or the relay's) reply to that line. */
  replied(reply: string): void;
  /** A line QEMU printed on its console. */
  console(line: string): void;
  /** A step ended (its invariants are checked next). */
  stepEnded(): void;
}

export interface QemuOrderingsOptions extends QemuRunOptions {
  readonly queues: number;
  readonly extras: readonly ExtraStep[];
  /** Explore "which host call fails" (at most one per path). */
  readonly faults: boolean;
  /** Only calls at these sites may be failed (default: every site). */
  readonly faultSites?: readonly FaultSite[];
  readonly maxPaths?: number;
  /** QEMU processes at once: shards of the first choice (no state is cut, so they split the space). */
  readonly jobs?: number;
  /** Asked before each path: true ends the exploration there (Ctrl-C), paths in hand finish. */
  readonly stop?: () => boolean;
}

export interface QemuStepRecord {
  readonly step: string;
  /**
   * The host call failed during this step: its site, which call at that site in the step
   * (1-based, what a replay arms), and its number counted from the host's creation (QEMU's
   * realize included), as every fault is numbered (docs/scenarios.md, "Fault numbering").
   */
  readonly fault?: { readonly site: FaultSite; readonly nth: number; readonly call: number };
}

export interface QemuRunOutcome {
  readonly steps: readonly QemuStepRecord[];
  readonly violations: readonly Violation[];
  /** Every line the guest sent, `cmdqv_fault` before a step whose host call failed:
   * `cmdqv qtest --vmm qemu < script` plays the same path. */
  readonly script: readonly string[];
  /** The same lines, each with QEMU's (or the relay's) reply: what the guest saw. */
  readonly transcript: readonly { readonly line: string; readonly reply: string }[];
  /** The host's ioctl log, condensed (vEVENTQ reads left out). */
  readonly ioctls: readonly string[];
  readonly console: readonly string[];
  readonly hostDmesg: readonly string[];
  /** Host objects the VMM forgot after a refused destroy, judged from outside (StreamAccount). */
  readonly leakedObjects: readonly number[];
  /** QEMU as the session resolved it ("QEMU 11.1.3 (Debian)" or a binary's path). */
  readonly qemu: string;
}

/** QEMU ended, or stopped answering, in the middle of a path. */
export class QemuPathError extends Error {
  override readonly name = "QemuPathError";
}

/** A replay file's step that names no step (or no fault site) the translation knows. */
export class ReplayStepError extends Error {
  override readonly name = "ReplayStepError";
}

/** What one path does: which step comes next, and whether a host call fails. */
interface PathPlan {
  /** Pick (and remove) the next step among those left. */
  next(left: string[]): string;
  /** Asked at every host fault-site check of the explored phase (null: never fail). */
  readonly fail: ((site: FaultSite) => boolean) | null;
  /** Faults armed before a step (a replay): `cmdqv_fault SITE N` lines. */
  armsFor(step: string, index: number): readonly { site: FaultSite; nth: number }[];
}

/** The steps of the orderings program, named and listed as the model's explorer lists them. */
export function qemuStepNames(queues: number, extras: readonly ExtraStep[]): string[] {
  const machine = exploreMachine("qemu-latest", "2M", queues);
  return buildSteps({ machine, queues, extras, faults: false }).map((s) => s.name);
}

/** "VINTF_EN [fail SITE (call N)]" (the model's form) or "[fail SITE #k (call N)]" (k-th call at SITE in the step). */
export function formatStep(r: QemuStepRecord): string {
  if (!r.fault) return r.step;
  const k = r.fault.nth > 1 ? ` #${r.fault.nth}` : "";
  return `${r.step} [fail ${r.fault.site}${k} (call ${r.fault.call})]`;
}

/** A step line of a replay file: its name and the host call to fail in it, if any. */
export function parseStep(s: string): { step: string; fail?: { site: FaultSite; nth: number } } {
  const m = /^(\S+)(?:\s+\[fail\s+(\S+?)(?:\s+#(\d+))?(?:\s+\(call\s+\d+\))?\])?\s*$/.exec(s);
  if (!m)
    throw new ReplayStepError(
      `a replay step reads "NAME" or "NAME [fail SITE (call N)]", got "${s}"`,
    );
  const site = m[2];
  if (site === undefined) return { step: m[1]! };
  if (!(FAULT_SITES as readonly string[]).includes(site))
    throw new ReplayStepError(`unknown fault site "${site}" in the step "${s}"`);
  return { step: m[1]!, fail: { site: site as FaultSite, nth: m[3] ? Number(m[3]) : 1 } };
}

/** The lines of the host log a person reads: the vEVENTQ polls left out. */
function condensedLog(s: QtestSession): string[] {
  return s.rq.host.iommufd.log.condensed().filter((l) => !l.startsWith("read(veventq)"));
}

async function runPath(
  o: QemuRunOptions,
  names: readonly string[],
  plan: PathPlan,
): Promise<QemuRunOutcome> {
  const guest = new QemuGuest(o.log2size ?? 12);
  const seen = o.observer;
  const s = await startQtestSession({
    ticker: o.ticker,
    guest,
    ...(seen !== undefined
      ? {
          hostTrace: seen.hostTrace,
          trace: seen.qemuTrace,
          onConsoleLine: (l: string) => seen.console(l),
        }
      : {}),
    // RESET is system_reset, which only QEMU's monitor can do.
    ...(names.includes("RESET") ? { qmp: true } : {}),
    ...(o.qemu !== undefined ? { qemu: o.qemu } : {}),
  });
  const script: string[] = [];
  const transcript: { line: string; reply: string }[] = [];
  const records: QemuStepRecord[] = [];
  seen?.started(s.rq.host);
  let stopWatch = () => {};
  try {
    const died = s.rq.exited.then((e) => {
      throw new QemuPathError(
        `QEMU ended in the middle of the path (${e.message}) after ${records.map(formatStep).join(" → ") || "no step"}; console:\n${s.rq.qemu.consoleLines().join("\n")}`,
      );
    });
    died.catch(() => {});
    let outstanding: { line: string; ticks: number } | null = null;
    let wedged: (e: Error) => void = () => {};
    const hung = new Promise<never>((_, reject) => {
      wedged = reject;
    });
    hung.catch(() => {});
    if (o.watchdog) {
      const period = 250;
      const limit = Math.max(1, Math.ceil((o.lineTimeoutMs ?? 30_000) / period));
      stopWatch = o.watchdog(period, () => {
        if (outstanding !== null && ++outstanding.ticks > limit)
          wedged(
            new QemuPathError(
              `QEMU gave no reply to "${outstanding.line}" within ${(limit * period) / 1000} s; console:\n${s.rq.qemu.consoleLines().join("\n")}`,
            ),
          );
      });
    }
    const send = async (line: string): Promise<string> => {
      script.push(line);
      outstanding = { line, ticks: 0 };
      seen?.sent(line);
      const reply = await Promise.race([s.send(line), died, hung]);
      seen?.replied(reply);
      outstanding = null;
      transcript.push({ line, reply });
      return reply;
    };
    // QEMU's realize is over once the relay's first probe is answered: the explored phase
    // starts here. Its calls keep the numbers they have counted from the host's creation
    // (realize's calls included), as every fault the model prints (docs/scenarios.md).
    await Promise.race([s.relay.drained(), died, hung]);
    const faults = s.rq.host.faults;
    // The step under way: the site calls made before it, and the call the chooser failed.
    const cur: {
      sites: Readonly<Partial<Record<FaultSite, number>>>;
      /** The call the chooser failed in this step (at most one). */
      chosen: { site: FaultSite; nth: number }[];
      used: boolean;
    } = { sites: {}, chosen: [], used: false };
    const fail = plan.fail;
    if (fail)
      faults.setChooser((site) => {
        if (cur.used || !fail(site)) return false;
        cur.used = true;
        cur.chosen.push({
          site,
          nth: (faults.state().siteCalls[site] ?? 0) - (cur.sites[site] ?? 0),
        });
        return true;
      });
    const run = async (name: string, index: number) => {
      cur.sites = faults.state().siteCalls;
      cur.chosen.length = 0;
      const injected = faults.injectedFaults().length;
      const arms = plan.armsFor(name, index);
      for (const a of arms) {
        const r = await send(`cmdqv_fault ${a.site} ${a.nth}`);
        if (!r.startsWith("OK")) throw new QemuPathError(`cmdqv_fault ${a.site} ${a.nth} → ${r}`);
      }
      const at = script.length;
      const p = stepProgram(name, guest);
      for (let r = p.next(); !r.done; ) r = p.next(await send(r.value));
      // The chooser failed a call: the script arms the same failure before the step.
      const chosen = cur.chosen[0];
      if (chosen) {
        const line = `cmdqv_fault ${chosen.site} ${chosen.nth}`;
        script.splice(at, 0, line);
        transcript.splice(transcript.length - (script.length - 1 - at), 0, { line, reply: "OK" });
      }
      const hit = faults.injectedFaults()[injected];
      const nth = chosen?.nth ?? arms.find((a) => a.site === hit?.site)?.nth ?? 1;
      records.push(
        hit ? { step: name, fault: { site: hit.site, nth, call: hit.call } } : { step: name },
      );
      seen?.stepEnded();
      s.relay.checker.check();
    };
    const left = [...names];
    let index = 0;
    while (left.length > 0) await run(plan.next(left), index++);
    const queues = names.filter((n) => n.startsWith("ALLOC") && !n.startsWith("ALLOC_")).length;
    for (let i = 0; i < queues; i++) await run(`SYNC${i}`, index++);
    faults.setChooser(null);
  } finally {
    stopWatch();
    await s.dispose();
  }
  // Teardown is QEMU's exit: its files close and the kernel's release must take down every
  // object they held (the checker reads the release from the host log).
  s.relay.checker.checkTeardown([]);
  return {
    steps: records,
    violations: s.relay.checker.violations(),
    script,
    transcript,
    ioctls: condensedLog(s),
    console: s.rq.qemu.consoleLines(),
    hostDmesg: s.rq.host.hostDmesg(),
    leakedObjects: [...s.relay.account.leakedObjects()],
    qemu:
      s.rq.resolution.kind === "fetched"
        ? `QEMU ${s.rq.resolution.version} (Debian)`
        : s.rq.resolution.binary,
  };
}

/** A path chosen by a choice source: the step order, and which host call fails. */
function choicePlan(choice: ChoiceSource, o: QemuOrderingsOptions): PathPlan {
  const sites = o.faultSites ? new Set<FaultSite>(o.faultSites) : null;
  return {
    next: (left) => left.splice(choice.int(left.length), 1)[0]!,
    fail: o.faults ? (site) => (sites === null || sites.has(site)) && choice.int(2) === 1 : null,
    armsFor: () => [],
  };
}

/**
 * Replay a run's steps on real QEMU, in the order given, failing the host calls its steps
 * name (armed with `cmdqv_fault SITE N` just before the step).
 */
export async function replayOnQemu(
  steps: readonly string[],
  o: QemuRunOptions,
): Promise<QemuRunOutcome> {
  const parsed = steps.map(parseStep);
  for (const p of parsed)
    if (!isQemuStep(p.step))
      throw new ReplayStepError(`the step "${p.step}" has no qtest translation`);
  const names = parsed.filter((p) => !/^SYNC\d+$/.test(p.step)).map((p) => p.step);
  return runPath(o, names, {
    next: (left) => left.shift()!,
    fail: null,
    armsFor: (step, index) => {
      const p = parsed[index];
      return p !== undefined && p.step === step && p.fail ? [p.fail] : [];
    },
  });
}

export interface QemuExploreResult extends ExploreResult {
  readonly qemu: string;
  /** The first counterexample's run, per violated invariant (for its qtest script). */
  readonly runs: ReadonlyMap<InvariantName, QemuRunOutcome>;
}

export type QemuProgress = (p: { paths: number; states: number; violations: number }) => void;

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

/**
 * Every order of the steps (and, with faults, every single failing host call), each on a
 * fresh QEMU; `jobs` QEMUs at once, sharded by the first choice.
 */
export async function exploreQemuOrderings(
  o: QemuOrderingsOptions,
  progress?: QemuProgress,
): Promise<QemuExploreResult> {
  const names = qemuStepNames(o.queues, o.extras);
  const jobs = Math.max(1, Math.min(o.jobs ?? 1, names.length));
  const found = new Map<
    InvariantName,
    { v: Violation; choices: number[]; count: number; run: QemuRunOutcome }
  >();
  let paths = 0;
  let states = 0;
  let complete = true;
  let qemu = "";
  // A shard that fails (QEMU died, or stopped answering) stops the others at their next path.
  let failed = false;
  const shard = async (k: number) => {
    for (let first = k; first < names.length; first += jobs) {
      const choice = new ExhaustiveChoice(jobs > 1 ? [first] : []);
      do {
        if (failed || o.stop?.() === true || (o.maxPaths !== undefined && paths >= o.maxPaths)) {
          complete = false;
          return;
        }
        paths++;
        let out: QemuRunOutcome;
        try {
          out = await runPath(o, names, choicePlan(choice, o));
        } catch (e) {
          failed = true;
          throw e;
        }
        qemu = out.qemu;
        states += out.steps.length;
        const choices = [...choice.recorded()];
        const seen = new Set<InvariantName>();
        for (const v of out.violations) {
          if (seen.has(v.invariant)) continue;
          seen.add(v.invariant);
          const e = found.get(v.invariant);
          if (!e) found.set(v.invariant, { v, choices, count: 1, run: out });
          else {
            e.count++;
            if (lexLess(choices, e.choices)) Object.assign(e, { v, choices, run: out });
          }
        }
        progress?.({ paths, states, violations: found.size });
      } while (choice.next());
      if (jobs <= 1) return;
    }
  };
  // Every shard ends (and disposes its QEMU) before a failure is reported.
  const ends = await Promise.allSettled(Array.from({ length: jobs }, (_, k) => shard(k)));
  for (const e of ends) if (e.status === "rejected") throw e.reason;
  const machine = exploreMachine("qemu-11.1", "2M", o.queues);
  const violations: FoundViolation[] = [];
  const runs = new Map<InvariantName, QemuRunOutcome>();
  for (const inv of INVARIANT_NAMES) {
    const e = found.get(inv);
    if (!e) continue;
    runs.set(inv, e.run);
    // Trailing zeros are implicit in a choice list.
    while (e.choices.length > 0 && e.choices[e.choices.length - 1] === 0) e.choices.pop();
    const replay: OrderingsReplay = {
      cmdqv_replay: 1,
      mode: "orderings",
      fault_numbering: "machine-creation",
      vmm: "qemu",
      machine,
      queues: o.queues,
      extras: [...o.extras],
      faults: o.faults,
      choices: e.choices,
      invariant: inv,
      message: e.v.message,
      steps: e.run.steps.map(formatStep),
      injected: e.run.steps.flatMap((s) =>
        s.fault ? [{ step: s.step, site: s.fault.site, call: s.fault.call }] : [],
      ),
      faultPlan: undefined,
    };
    violations.push({ invariant: inv, message: e.v.message, count: e.count, replay });
  }
  return {
    paths,
    states,
    distinctStates: 0,
    pruned: 0,
    complete,
    space: complete ? "exhausted" : "cut",
    violations,
    qemu,
    runs,
  };
}

/** The explorer's table, for a run on real QEMU (no state fingerprints there). */
export function qemuExploreTable(
  r: QemuExploreResult,
  run: { readonly elapsedSeconds: number; readonly stopped?: boolean },
): [string, string][] {
  const rows = exploreTable(r, {
    profile: "—",
    mode: "orderings",
    elapsedSeconds: run.elapsedSeconds,
  });
  const out: [string, string][] = [["vmm", r.qemu || "real QEMU"]];
  for (const [k, v] of rows) {
    if (k === "profile") continue;
    if (k === "distinct states") {
      out.push(["QEMU processes", `${r.paths} (one per path)`]);
      continue;
    }
    if (k === "states") {
      out.push(["steps", v]);
      continue;
    }
    if (k === "space" && run.stopped) {
      out.push([k, "stopped at Ctrl-C"]);
      continue;
    }
    out.push([k, v]);
  }
  return out;
}
