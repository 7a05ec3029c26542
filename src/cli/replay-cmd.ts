// `cmdqv run --replay FILE`: reproduce a counterexample bit for bit, with its trace, the
// VMM console, the host ioctl log and dmesg (host and guest), and the invariant results.
// Machine flags replay the same steps on another machine: `--profile reference` asks
// whether reference shows the violation; `--profile all` asks every profile at once.

import { INVARIANT_NAMES, type Violation } from "../check/invariants.js";
import type { ReplayFile } from "../explore/replay.js";
import { loadReplayFile } from "../explore/replay-load.js";
import { runReplayFile } from "../explore/replay-run.js";
import { createMachine, type Machine } from "../machine/machine.js";
import { type ReplayForReport, replayRunReportData } from "../report/replay-report.js";
import type { ReportCollector } from "../report/report-collector.js";
import { reportCollectorFor } from "../report/run-report.js";
import { type MachineOverride, overrideText } from "../report/summary.js";
import type { WorldCut } from "../sim/world.js";
import type { TraceSink } from "../trace/trace.js";
import { PROFILE_NAMES } from "../vmm/tegra241-cmdqv/profile.js";
import { replayQemuCommand } from "./explore-qemu-cmd.js";
import { givenMachineFlags, MACHINE_FLAGS, overrideMachine } from "./machine-flags.js";
import { parseChoice, UsageError } from "./options.js";
import { withTraceFiles } from "./output.js";
import {
  ALL_PROFILES,
  formatProfileMatrix,
  type ProfileColumn,
  worstExit,
} from "./profile-matrix.js";
import { checkReportFile, teeSink, writeReportData } from "./report-out.js";
import {
  checkRunProfile,
  type RunFlags,
  type RunOptionKey,
  refusedIn,
  reportCuts,
} from "./run-cmd.js";

export interface ReplayFlags extends RunFlags {
  vmm?: string;
  qemu?: string;
}

/** Why a replay refuses a flag (run-cmd.ts's RUN_OPTIONS says which it refuses). */
const REPLAY_REFUSES: Partial<Record<RunOptionKey, (f: ReplayFile) => string>> = {
  vcmdqs: (f: ReplayFile) =>
    `--vcmdqs: a replay keeps the file's ${f.machine.vcmdqs} VCMDQs: its recorded choices were made among their steps`,
  vcpus: (f: ReplayFile) =>
    `--vcpus: a replay keeps the file's ${f.mode === "interleavings" ? f.vcpus : f.machine.vcpus} vCPUs: its recorded choices were made for them`,
  cmdqv: (f: ReplayFile) =>
    `--cmdqv: a replay keeps the file's cmdqv=${f.machine.cmdqv}: its recorded steps are the CMDQV's`,
  invalidations: (f: ReplayFile) =>
    f.mode === "interleavings"
      ? `--invalidations: a replay keeps the file's ${f.invalidations} invalidations: its recorded choices were made for them`
      : "--invalidations: an orderings replay has no workload (the flag sets the built-in default run's)",
};

export async function replayCommand(path: string, flags: ReplayFlags = {}): Promise<number> {
  checkRunProfile(flags);
  const r = loadReplayFile(path);
  if (!r.ok) throw new UsageError(r.error);
  const f = r.value;
  // A file found on real QEMU replays there unless --vmm model says otherwise.
  const vmm = parseChoice(
    "--vmm",
    flags.vmm ?? (f.mode === "orderings" ? (f.vmm ?? "model") : "model"),
    ["model", "qemu"] as const,
  );
  if (vmm === "qemu") {
    if (f.mode !== "orderings")
      throw new UsageError(`${path}: --vmm qemu replays orderings files only, not ${f.mode}`);
    if (flags.trace !== undefined || flags.perfetto !== undefined)
      throw new UsageError("--trace and --perfetto trace our model; real QEMU has no such trace");
    const given = givenMachineFlags(flags)[0];
    if (given === "profile")
      throw new UsageError(
        "--profile describes our model; real QEMU 11.1 has its own behaviour (drop --profile or add --vmm model)",
      );
    if (given !== undefined || flags.invalidations !== undefined)
      throw new UsageError(
        `${given !== undefined ? MACHINE_FLAGS[given] : "--invalidations"}: --vmm qemu replays the file's machine on real QEMU 11.1 (machine flags are for --vmm model)`,
      );
    if (flags.report !== undefined) checkReportFile(flags.report, undefined, undefined);
    return replayQemuCommand(path, f, flags.qemu, flags.report);
  }
  if (flags.qemu !== undefined) throw new UsageError("--qemu needs --vmm qemu");
  const refused = refusedIn("--replay", flags);
  if (refused !== undefined)
    throw new UsageError(REPLAY_REFUSES[refused]?.(f) ?? `${refused}: does not apply to a replay`);
  if (flags.profile === ALL_PROFILES) return replayUnderAll(path, f, flags);
  const { machine, overrides } = overrideMachine(flags, f.machine);
  const g: ReplayFile = { ...f, machine };
  const unbuildable = buildProblem(path, g);
  if (unbuildable !== null) throw new UsageError(unbuildable);
  // Traces go to their files as they happen; without --trace/--perfetto none is recorded.
  const report = flags.report;
  if (report !== undefined) checkReportFile(report, flags.trace, flags.perfetto);
  const collector = report !== undefined ? reportCollectorFor(g.machine) : null;
  return withTraceFiles(
    flags.trace,
    flags.perfetto,
    (sink) =>
      replayOnModel(
        path,
        g,
        teeSink(sink, collector),
        { found: f, overrides },
        report !== undefined && collector !== null
          ? (run) => reportReplay(report, path, g, run, collector, overrides)
          : undefined,
      ).code,
    flags.log,
  );
}

/** The replay's data for its report (`events`: the trace events it emitted). */
function forReport(file: ReplayFile, run: ReplayRun, events: number): ReplayForReport {
  return {
    file,
    steps: run.steps,
    violations: run.violations,
    reproduced: run.reproduced,
    endNs: run.machine?.host.clock.now() ?? 0,
    events,
  };
}

/** The same steps under reference, for the report's comparison (null: cannot be built). */
function referenceRun(path: string, g: ReplayFile): ReplayForReport | null {
  const r: ReplayFile = { ...g, machine: { ...g.machine, profile: "reference" } };
  if (g.machine.profile === "reference" || buildProblem(path, r) !== null) return null;
  let events = 0;
  const run = replayRun(r, {
    event: () => {
      events++;
    },
  });
  return forReport(r, run, events);
}

/**
 * --report of a replay on the model: the page, with the same steps run under reference
 * beside it (unless this run is reference's, or reference cannot build the machine).
 */
function reportReplay(
  report: string,
  path: string,
  g: ReplayFile,
  run: ReplayRun,
  collector: ReportCollector,
  overrides: readonly MachineOverride[],
): void {
  if (run.machine === null) {
    console.error("--report: no report: the replay built no machine");
    return;
  }
  const reference = referenceRun(path, g);
  const over = overrideText(overrides);
  const notes = [
    `${g.mode} replay of ${path}, ${g.invariant} found on ${overrides.find((o) => o.flag === "--profile")?.was ?? g.machine.profile}${over.profile}`,
    ...(over.others !== null ? [over.others] : []),
    ...(run.mismatched
      ? ["warning: the recorded choices do not fit this run: the steps differ from the ones found"]
      : []),
  ];
  writeReportData(
    report,
    replayRunReportData(
      `cmdqv run --replay ${path}`,
      run.machine,
      forReport(g, run, collector.total()),
      collector,
      notes,
      reference,
    ),
  );
}

/** Why the replay's machine cannot be built, or null when it can. */
function buildProblem(path: string, f: ReplayFile): string | null {
  // The machine as the run will build it: orderings arm their fault plan once it is up,
  // interleavings from the start, so there a plan can fail QEMU's cold-plug of the device.
  const built = createMachine(
    f.mode === "orderings" ? { ...f.machine, faultPlan: { kind: "none" } } : f.machine,
  );
  if (built.ok) return null;
  return f.mode === "interleavings" && f.machine.faultPlan.kind !== "none"
    ? `${path}: machine.faultPlan: the machine cannot be built under it (${built.error})`
    : `${path}: the machine cannot be built (${built.error})`;
}

/** A replay's run on the model, as data. */
interface ReplayRun {
  readonly machine: Machine | null;
  readonly steps: readonly string[];
  readonly violations: readonly Violation[];
  readonly guestDmesg: readonly string[];
  readonly cuts: readonly WorldCut[];
  /** A recorded choice did not fit the bound the run asked for. */
  readonly mismatched: boolean;
  readonly reproduced: boolean;
}

function replayRun(f: ReplayFile, sink: TraceSink | null): ReplayRun {
  const run = runReplayFile(f, sink ?? false);
  const common = { mismatched: run.choice.mismatched() };
  if (run.mode === "orderings") {
    const violations = run.out.checker.violations();
    return {
      ...common,
      machine: run.out.machine,
      steps: run.out.steps.map(
        (s) => `${s.step}${s.fault ? `   [host call failed: ${s.fault}]` : ""}`,
      ),
      violations,
      guestDmesg: [],
      cuts: [],
      reproduced: violations.some((v) => v.invariant === f.invariant),
    };
  }
  const w = run.out.world;
  const violations = w.checker.violations();
  return {
    ...common,
    machine: w.machine,
    steps: [...run.out.steps],
    violations,
    guestDmesg: w.dmesg.listing(),
    cuts: w.cutShort(),
    reproduced: violations.some((v) => v.invariant === f.invariant),
  };
}

/** The replay as it was found (`found`) and what the command line changed in its machine. */
export interface ReplayOrigin {
  readonly found: ReplayFile;
  readonly overrides: readonly MachineOverride[];
}

/**
 * Replay `f` on the model and print what happened. Trace events go to `sink` as they
 * happen; with no sink none is recorded, so a long replay keeps no trace in memory. When
 * `origin` says flags changed the file's machine, the output says the steps are replayed
 * on another machine than the one they were found on, and what "NOT reproduced" means.
 */
export function replayOnModel(
  path: string,
  f: ReplayFile,
  sink: TraceSink | null,
  origin: ReplayOrigin = { found: f, overrides: [] },
  onRun?: (run: ReplayRun) => void,
): { readonly code: number; readonly machine: Machine | null } {
  const run = replayRun(f, sink);
  const over = overrideText(origin.overrides);
  const moved = origin.overrides.length > 0;
  const was = origin.found.machine.profile;
  const now = f.machine.profile;
  // Where the steps run, in words: under another profile, or on another machine.
  const here = now !== was ? `under ${now}` : "on this machine";
  console.log(`replay of ${path}: ${f.mode}, profile ${now}${over.profile}`);
  if (over.others !== null) console.log(`  ${over.others}`);
  if (moved) {
    const there = now !== was ? `on ${was}` : "on the file's machine";
    const who = now !== was ? now : "this machine";
    console.log(
      `  the steps found ${there} are replayed ${here}: "NOT reproduced" means ${who} does not show ${f.invariant} on these steps`,
    );
    print(`steps as found ${there}`, origin.found.steps);
  }
  print(moved ? `steps ${here}` : "steps", run.steps);
  const m = run.machine;
  if (m) {
    if (run.guestDmesg.length > 0) print("guest dmesg", run.guestDmesg);
    print("VMM console", m.log.text());
    print(
      "host ioctl log",
      m.host.iommufd.log.condensed().filter((l) => !l.startsWith("read(veventq)")),
    );
    print("host dmesg", m.host.hostDmesg());
  }
  console.log("\ninvariants:");
  for (const inv of INVARIANT_NAMES) {
    const v = run.violations.find((x) => x.invariant === inv);
    console.log(`  ${inv.padEnd(20)} ${v === undefined ? "ok" : `VIOLATED: ${v.message}`}`);
  }
  if (run.mismatched)
    console.log(
      moved
        ? `\nwarning: the recorded choices do not fit the run ${here}: the steps differ from the ones found`
        : "\nwarning: the recorded choices do not fit this version of the model",
    );
  const verdict = run.reproduced ? "reproduced" : "NOT reproduced";
  console.log(
    moved
      ? `\n${verdict} ${here}: ${f.invariant} (found on ${was})`
      : `\n${verdict}: ${f.invariant}`,
  );
  onRun?.(run);
  return {
    code: reportCuts("cmdqv run --replay", run.cuts, run.violations.length > 0 ? 1 : 0),
    machine: m,
  };
}

/**
 * `cmdqv run --replay FILE --profile all`: the recorded steps under every profile (the
 * other machine flags laid over the file's machine), one table with a `reproduced` row.
 */
function replayUnderAll(path: string, f: ReplayFile, flags: ReplayFlags): number {
  const columns: ProfileColumn[] = [];
  const notes: string[] = [];
  const stepsOf = new Map<string, readonly string[]>();
  let others: string | null = null;
  for (const profile of PROFILE_NAMES) {
    const { machine, overrides } = overrideMachine({ ...flags, profile }, f.machine);
    others = overrideText(overrides.filter((o) => o.flag !== "--profile")).others;
    const g: ReplayFile = { ...f, machine };
    const unbuildable = buildProblem(path, g);
    if (unbuildable !== null) {
      notes.push(`${profile}: ${unbuildable}`);
      columns.push({ profile, invariants: null, verdict: "-", code: 1 });
      continue;
    }
    const run = replayRun(g, null);
    stepsOf.set(profile, run.steps);
    if (run.mismatched)
      notes.push(`${profile}: warning: the recorded choices do not fit the run under ${profile}`);
    const violated = new Set(run.violations.map((v) => v.invariant));
    columns.push({
      profile,
      invariants: INVARIANT_NAMES.map((name) => ({ name, ok: !violated.has(name) })),
      verdict: run.reproduced ? "yes" : "NO",
      code: reportCuts(`cmdqv run --replay (${profile})`, run.cuts, violated.size > 0 ? 1 : 0),
    });
  }
  console.log(
    `replay of ${path}: ${f.mode}, ${f.invariant} found on ${f.machine.profile}, under every profile (* the file's profile):`,
  );
  if (others !== null) console.log(`  ${others}`);
  console.log(
    `  the steps found on ${f.machine.profile} are replayed under each profile: "NO" means that profile does not show ${f.invariant} on these steps\n`,
  );
  console.log(formatProfileMatrix(columns, { own: f.machine.profile, verdictRow: "reproduced" }));
  // The choices pick the same steps and the same numbered host call; a profile that makes
  // other calls fails another one, or none: say so, or "NO" could be read as a fix.
  const own = stepsOf.get(f.machine.profile);
  for (const [profile, steps] of stepsOf)
    if (own !== undefined && steps.join("\n") !== own.join("\n"))
      notes.push(
        `${profile}: the recorded choices give other steps than on ${f.machine.profile}: ${steps.map((x) => x.replace(/\s+/g, " ")).join(" → ")}`,
      );
  if (notes.length > 0) console.log("");
  for (const n of notes) console.log(n);
  return worstExit(columns.map((c) => c.code));
}

function print(title: string, lines: readonly string[]): void {
  console.log(`\n${title}:`);
  for (const l of lines) console.log(`  ${l}`);
  if (lines.length === 0) console.log("  (none)");
}
