// Running a scenario: build the world from its machine, apply its guest program step by
// step, check each `read` expectation and `expect` step where it stands, tear the VM down
// and judge the invariants. A scenario passes when every expectation holds and every
// invariant it violates is one it said it would violate.

import type { InvariantName } from "../check/invariants.js";
import type { MachineConfig } from "../machine/config.js";
import {
  type ExitBaseline,
  exitBaseline,
  formatSummary,
  invariantResults,
  type MachineOverride,
  type RunSummary,
  summarize,
} from "../report/summary.js";
import { World } from "../sim/world.js";
import type { TraceSink } from "../trace/trace.js";
import { err, ok, type Result } from "../util/result.js";
import type { Scenario, SourcePos, Step } from "./schema.js";
import { type Address, formatAddress, quoted, resolveAddress } from "./schema-scalars.js";

export interface ScenarioFailure {
  /**
   * Where the failed step is written; line 0 when it has no source position. An invariant
   * the scenario does not expect fails at the step after which it was first seen violated
   * (the last step when the teardown found it).
   */
  readonly at: SourcePos;
  /** Index of the failed step in the guest program; absent when no step is concerned. */
  readonly step?: number;
  readonly message: string;
}

export interface ScenarioOutcome {
  readonly scenario: Scenario;
  /** The machine could not be built (e.g. a fault plan failing the VMM's own cold-plug). */
  readonly setupError?: string;
  readonly world: World | null;
  readonly failures: readonly ScenarioFailure[];
  /** Invariants the scenario declared it violates (expect.violated / invariants: violated). */
  readonly expectedViolations: ReadonlySet<InvariantName>;
  readonly summary: RunSummary | null;
  readonly passed: boolean;
}

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

export function runScenario(
  sc: Scenario,
  trace?: boolean | TraceSink,
  onProgress?: (w: World) => void,
): ScenarioOutcome {
  const boot = sc.guest.find((s) => s.kind === "boot");
  const rings = boot?.kind === "boot" ? boot.vcmdqRings : [];
  const ringAddrs = rings.map((r) => (r === "auto" ? null : resolveAddress(r, sc.machine)));
  const w = World.create({
    machine: sc.machine,
    ...(trace ? { trace } : {}),
    ...(ringAddrs.some((r) => r !== null) ? { vcmdqRingAddrs: ringAddrs } : {}),
    ...(boot?.kind === "boot" ? { cmdqMaxSzShift: boot.cmdqMaxSzShift } : {}),
  });
  const expectedViolations = new Set<InvariantName>();
  if (!w.ok)
    return {
      scenario: sc,
      setupError: w.error,
      world: null,
      failures: [],
      expectedViolations,
      summary: null,
      passed: false,
    };
  const world = w.value;
  if (onProgress) world.onProgress = onProgress;
  const failures: ScenarioFailure[] = [];
  let baseline: ExitBaseline = exitBaseline(world);
  // The step after which each invariant was first seen violated: where a failure points.
  const firstSeen = new Map<InvariantName, number>();
  for (const [i, step] of sc.guest.entries()) {
    const f = runStep(world, sc, step, expectedViolations);
    if (f) failures.push({ at: step.at, step: i, message: f });
    if (step.kind === "boot") baseline = exitBaseline(world);
    for (const v of world.checker.violated()) if (!firstSeen.has(v)) firstSeen.set(v, i);
  }
  const taken = summarize(world, baseline);
  world.teardown();
  const summary = { ...taken, invariants: invariantResults(world) };
  const last = sc.guest.length - 1;
  for (const v of world.checker.violated()) {
    if (expectedViolations.has(v)) continue;
    const i = firstSeen.get(v);
    // Found by the teardown (QEMU's exit): the last step is the nearest one written.
    const step = i ?? last;
    failures.push({
      at: sc.guest[step]?.at ?? { line: 0, col: 0 },
      step,
      message:
        i !== undefined
          ? `invariant ${v} violated, and the scenario does not expect it`
          : `invariant ${v} violated when the VM was torn down after the last step, and the scenario does not expect it`,
    });
  }
  return {
    scenario: sc,
    world,
    failures,
    expectedViolations,
    summary,
    passed: failures.length === 0,
  };
}

/**
 * What `cmdqv run scenario.yaml` prints for a run: the run summary (with the machine
 * fields the command line changed, and the violations the scenario expects marked so),
 * whether the scenario passed, and each failure (formatScenarioFailure).
 */
export function formatScenarioOutcome(
  out: ScenarioOutcome,
  overrides: readonly MachineOverride[] = [],
): string {
  const sc = out.scenario;
  if (out.setupError !== undefined)
    return `scenario ${sc.name}: the machine could not be built: ${out.setupError}`;
  const lines: string[] = [];
  if (out.summary)
    lines.push(formatSummary(out.summary, { overrides, expected: out.expectedViolations }));
  lines.push("", `scenario ${sc.name} (${sc.file}): ${out.passed ? "passed" : "FAILED"}`);
  for (const f of out.failures) lines.push(`  ${formatScenarioFailure(sc, f)}`);
  return lines.join("\n");
}

/**
 * A failure at `file:line:col` (`file: guest[i]` for a step without a source position,
 * the file alone when it concerns no step).
 */
export function formatScenarioFailure(sc: Scenario, f: ScenarioFailure): string {
  const where =
    f.at.line > 0
      ? `${sc.file}:${f.at.line}:${f.at.col}`
      : f.step !== undefined
        ? `${sc.file}: guest[${f.step}]`
        : sc.file;
  return `${where}: ${f.message}`;
}

/**
 * `sc` on another machine (`cmdqv run`'s machine flags over the file's): the checks the
 * loader makes against the machine, made again (each boot's rings fit the VCMDQs, each
 * workload's vCPUs the machine's, each RAM offset the RAM), or the first step that no
 * longer fits. A `probability` fault plan seeded by the file's machine seed (the file gave
 * it none of its own) follows a new seed, as the file's would.
 */
export function scenarioOnMachine(
  sc: Scenario,
  machine: MachineConfig,
): Result<Scenario, ScenarioFailure> {
  const pastRam = (a: Address | "auto", bytes: number): string | null =>
    a !== "auto" &&
    typeof a !== "number" &&
    a.region === "ram" &&
    a.offset + bytes > machine.ramSize
      ? `${formatAddress(a)} is past the end of RAM (${hex(machine.ramSize)} bytes)`
      : null;
  for (const [i, step] of sc.guest.entries()) {
    let problem: string | null = null;
    if (step.kind === "boot") {
      if (step.vcmdqRings.length > machine.vcmdqs)
        problem = `the boot step places ${step.vcmdqRings.length} rings for ${machine.vcmdqs} VCMDQ(s)`;
      for (const r of step.vcmdqRings) problem ??= pastRam(r, 1);
    } else if (step.kind === "workload" && step.vcpus > machine.vcpus)
      problem = `the workload runs on ${step.vcpus} vCPUs and the machine has ${machine.vcpus}`;
    else if (step.kind === "read" || step.kind === "write") problem = pastRam(step.addr, step.size);
    if (problem !== null) return err({ at: step.at, step: i, message: problem });
  }
  const plan = sc.machine.faultPlan;
  const reseeded =
    plan.kind === "probability" && plan.seed === sc.machine.seed && machine.seed !== plan.seed
      ? { ...machine, faultPlan: { ...plan, seed: machine.seed } }
      : machine;
  return ok({ ...sc, machine: reseeded });
}

/** Apply one step; a failed expectation returns its message. */
function runStep(
  world: World,
  sc: Scenario,
  step: Step,
  expected: Set<InvariantName>,
): string | undefined {
  switch (step.kind) {
    case "boot":
      world.apply({ kind: "boot" });
      return undefined;
    case "write":
      world.apply({
        kind: "write",
        addr: resolveAddress(step.addr, sc.machine),
        size: step.size,
        value: String(step.value),
      });
      return undefined;
    case "read": {
      const got = BigInt(
        world.apply({
          kind: "read",
          addr: resolveAddress(step.addr, sc.machine),
          size: step.size,
        }) ?? 0,
      );
      if (step.expect !== undefined && (got & step.mask) !== (step.expect & step.mask))
        return `read ${formatAddress(step.addr)} (${step.size} bytes) gave ${hex(got)}, expected ${hex(step.expect)}${step.mask !== (1n << 64n) - 1n ? ` under mask ${hex(step.mask)}` : ""}`;
      return undefined;
    }
    case "workload":
      world.apply({
        kind: "workload",
        invalidations: step.invalidations,
        vcpus: step.vcpus,
        weights: step.mix,
      });
      return undefined;
    case "advance":
      world.apply({ kind: "advance", ns: step.ns });
      return undefined;
    case "reset":
      world.apply({ kind: "reset" });
      return undefined;
    case "expect":
      return checkExpect(world, step, expected);
  }
}

function checkExpect(
  world: World,
  e: Extract<Step, { kind: "expect" }>,
  expected: Set<InvariantName>,
): string | undefined {
  const problems: string[] = [];
  const dmesg = world.dmesg.messages();
  const vmm = world.machine.log.text();
  const has = (lines: readonly string[], t: string) => lines.some((l) => l.includes(t));
  for (const t of e.dmesgContains)
    if (!has(dmesg, t)) problems.push(`guest dmesg has no line containing ${quoted(t)}`);
  for (const t of e.dmesgNotContains)
    if (has(dmesg, t)) problems.push(`guest dmesg has a line containing ${quoted(t)}`);
  for (const t of e.vmmLogContains)
    if (!has(vmm, t)) problems.push(`VMM console has no line containing ${quoted(t)}`);
  for (const t of e.vmmLogNotContains)
    if (has(vmm, t)) problems.push(`VMM console has a line containing ${quoted(t)}`);
  if (e.hwQueues !== undefined) {
    const n = world.machine.host.iommufd
      .hwQueues()
      .filter((q) => q.viommu === world.machine.viommuId).length;
    if (n !== e.hwQueues)
      problems.push(`the host has ${n} HW queues for the VM, expected ${e.hwQueues}`);
  }
  const violated = world.checker.violated();
  for (const v of e.violated) {
    expected.add(v);
    if (!violated.includes(v)) problems.push(`invariant ${v} is not violated`);
  }
  if (e.invariants === "ok" && violated.length > 0)
    problems.push(`invariants violated: ${violated.join(", ")}`);
  if (e.invariants === "violated") {
    if (violated.length === 0) problems.push("no invariant is violated");
    for (const v of violated) expected.add(v);
  }
  return problems.length > 0 ? problems.join("; ") : undefined;
}
