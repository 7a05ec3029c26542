// `cmdqv run`: the main job. Without a scenario it runs the built-in default: boot the
// guest on the default machine, bring up both VCMDQs, run 100 000 invalidations from the
// vCPUs, tear the VM down, and print what happened. Exit 1 when an invariant is violated,
// EXIT_CUT_SHORT when the run hit the world's step cap (and no invariant was violated).
// The machine flags lay themselves over a scenario's machine (the header names each
// change); `--profile all` runs under every profile and prints one table.

import { Option } from "commander";
import { MAX_WORKLOAD_INVALIDATIONS } from "../guest/workload.js";
import { LAYOUT_NAMES, type MachineConfig } from "../machine/config.js";
import { captureQueues, reportCollectorFor } from "../report/run-report.js";
import {
  exitBaseline,
  formatSummary,
  invariantResults,
  type MachineOverride,
  overrideText,
  type RunSummary,
  summarize,
} from "../report/summary.js";
import { formatScenarioError, loadScenarioFile } from "../scenario/load.js";
import {
  formatScenarioFailure,
  formatScenarioOutcome,
  runScenario,
  type ScenarioOutcome,
  scenarioOnMachine,
} from "../scenario/run.js";
import type { Scenario } from "../scenario/schema.js";
import { World, type WorldCut } from "../sim/world.js";
import type { TraceSink } from "../trace/trace.js";
import { isProfileName, PROFILE_NAMES } from "../vmm/tegra241-cmdqv/profile.js";
import { EXIT } from "./exit.js";
import {
  MACHINE_FLAG_DEFAULTS,
  MACHINE_FLAGS,
  type MachineFlagKey,
  type MachineFlags,
  machineFromFlags,
  overrideMachine,
} from "./machine-flags.js";
import { parseIntFlag, UsageError } from "./options.js";
import { withTraceFiles } from "./output.js";
import {
  ALL_PROFILES,
  formatProfileMatrix,
  type ProfileColumn,
  worstExit,
} from "./profile-matrix.js";
import { ProgressLine } from "./progress.js";
import { checkReportFile, teeSink, writeReportFile } from "./report-out.js";

export interface RunFlags extends MachineFlags {
  /** --trace's values, QEMU's -trace syntax (trace-flag.ts). */
  trace?: readonly string[];
  perfetto?: string;
  /** --log's items, QEMU's -d syntax (log-flag.ts): the VMM console live on stderr. */
  log?: string;
  invalidations?: string;
  /** --report's path: the run's report page (src/report/run-report.ts). */
  report?: string;
}

/**
 * The exit status of a run the step cap cut short (WORLD_MAX_STEPS, src/sim/world.ts) with
 * no invariant violated: its summary covers only the part that ran (exit.ts).
 */
export const EXIT_CUT_SHORT = EXIT.cutShort;

/** Internal knobs for tests: a smaller step cap than the world's. */
export interface RunInternals {
  readonly maxSteps?: number;
}

/** Say on stderr what the step cap cut; the exit status for a run that would return `code`. */
export function reportCuts(who: string, cuts: readonly WorldCut[], code: number): number {
  if (cuts.length === 0) return code;
  for (const c of cuts) console.error(`${who}: cut short: ${c.message}`);
  console.error(`${who}: the summary covers only the part of the run before the cut`);
  return code === 0 ? EXIT_CUT_SHORT : code;
}

/** The default mix: mostly VCMDQ traffic, with CFGI_CD to show the trapped main CMDQ. */
export const DEFAULT_MIX = { TLBI_NH_VA: 6, TLBI_NH_ASID: 2, ATC_INV: 1, CFGI_CD: 1 } as const;

/** Invalidations the built-in default run issues unless --invalidations says otherwise. */
export const DEFAULT_RUN_INVALIDATIONS = 100_000;

/** The flags a command line gave: `f` without the values commander filled from defaults. */
export function givenFlags<T extends object>(
  f: T,
  source: (key: string) => string | undefined,
): Partial<T> {
  return Object.fromEntries(
    Object.entries(f).filter(([k]) => source(k) !== "default"),
  ) as Partial<T>;
}

export type RunOptionKey = MachineFlagKey | "invalidations";
export type RunMode = "default run" | "scenario" | "--replay";

const EVERY_MODE: readonly RunMode[] = ["default run", "scenario", "--replay"];
const NOT_REPLAY: readonly RunMode[] = ["default run", "scenario"];
const DEFAULT_RUN_ONLY: readonly RunMode[] = ["default run"];

/** Each `cmdqv run` machine flag and --invalidations: its argument, its help, its modes. */
const RUN_OPTIONS: Record<
  RunOptionKey,
  readonly [arg: string, what: string, modes: readonly RunMode[]]
> = {
  profile: [
    "<name>",
    `VMM behaviour: ${PROFILE_NAMES.join(", ")}, or ${ALL_PROFILES} (each in turn, one table)`,
    EVERY_MODE,
  ],
  ramSize: ["<size>", "guest RAM, e.g. 1G, 512M", EVERY_MODE],
  ramPage: ["<size>", "RAM backing page: 4K, 64K, 2M, 1G", EVERY_MODE],
  vcmdqs: ["<n>", "VCMDQs in the VINTF (power of two)", NOT_REPLAY],
  vcpus: ["<n>", "guest vCPUs issuing invalidations", DEFAULT_RUN_ONLY],
  seed: ["<n>", "seed of the machine and the scheduler", EVERY_MODE],
  layout: [
    "<name>",
    `where the SMMUv3, CMDQV and their SPIs are: ${LAYOUT_NAMES.join(", ")}`,
    EVERY_MODE,
  ],
  cmdqv: ["<mode>", "the arm-smmuv3 cmdqv property: off, auto, on", NOT_REPLAY],
  invalidations: ["<n>", "invalidations to issue", DEFAULT_RUN_ONLY],
};

/** Whether `cmdqv run` takes the flag of `key` in `mode`. */
function takes(key: RunOptionKey, mode: RunMode): boolean {
  return RUN_OPTIONS[key][2].includes(mode);
}

const RUN_OPTION_KEYS = Object.keys(RUN_OPTIONS) as RunOptionKey[];

function flagOf(key: RunOptionKey): string {
  return key === "invalidations" ? "--invalidations" : MACHINE_FLAGS[key];
}

/** The first flag `f` gives that `mode` refuses, if any. */
export function refusedIn(mode: RunMode, f: RunFlags): RunOptionKey | undefined {
  return RUN_OPTION_KEYS.find((k) => f[k] !== undefined && !takes(k, mode));
}

/**
 * A `cmdqv run` option for a machine flag or --invalidations: its help ends with the modes
 * it applies to and its default (DEFAULT_MACHINE's, DEFAULT_RUN_INVALIDATIONS; where the
 * flag lays itself over a scenario's or replay's machine, the file's value there).
 */
export function runOption(key: RunOptionKey): Option {
  const [arg, what, modes] = RUN_OPTIONS[key];
  const value =
    key === "invalidations" ? String(DEFAULT_RUN_INVALIDATIONS) : MACHINE_FLAG_DEFAULTS[key];
  const files = [
    ...(modes.includes("scenario") ? ["a scenario's"] : []),
    ...(modes.includes("--replay") ? ["a replay's"] : []),
  ];
  return new Option(`${flagOf(key)} ${arg}`, `${what} [${modes.join(", ")}]`).default(
    value,
    files.length > 0 ? `${value}; ${files.join(" or ")} own` : value,
  );
}

/** `text` in lines of at most `width` characters, each after `indent`. */
function wrap(text: string, indent: string, width = 80): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(indent + line);
  return lines;
}

/** A list of flags as words: "--a, --b and --c". */
function flagList(keys: readonly RunOptionKey[]): string {
  const names = keys.map(flagOf);
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)}` : names.join("");
}

/** What `cmdqv run --help` says after the options: which flags each mode takes, and why. */
export function runModesHelp(): string {
  const taken = (m: RunMode) => RUN_OPTION_KEYS.filter((k) => takes(k, m));
  const refused = (m: RunMode) => RUN_OPTION_KEYS.filter((k) => !takes(k, m));
  const modes: [string, string][] = [
    ["default run", "no scenario and no --replay: every flag but --vmm and --qemu."],
    [
      "scenario",
      `${flagList(taken("scenario"))} override the file's machine, and the header names each change; ${flagList(refused("scenario"))} are refused (the file's workload steps give them).`,
    ],
    [
      "--replay",
      `${flagList(taken("--replay"))} replay the recorded steps on that machine ("NOT reproduced" then means that machine does not show the violation); ${flagList(refused("--replay"))} are refused (the recorded choices were made on the file's machine); --vmm qemu takes no machine flag.`,
    ],
    [
      `--profile ${ALL_PROFILES}`,
      "the run under every profile, one table (an invariant a row, a profile a column); the exit status is the worst of the runs' (1, then 3, then 0); --trace and --perfetto are refused.",
    ],
  ];
  const indent = " ".repeat(18);
  const out = ["", "Modes:"];
  for (const [name, text] of modes) {
    const [first, ...rest] = wrap(text, indent);
    out.push(`  ${name.padEnd(indent.length - 2)}${first!.slice(indent.length)}`, ...rest);
  }
  return out.join("\n");
}

/**
 * `cmdqv run`'s --profile: a profile's name, or `all`, which refuses --trace and --perfetto
 * (a trace follows one run). Checked before any file is read.
 */
export function checkRunProfile(f: RunFlags): void {
  if (f.profile === ALL_PROFILES) refuseTracesOfAll(f);
  else if (f.profile !== undefined && !isProfileName(f.profile))
    throw new UsageError(
      `--profile: expected one of ${PROFILE_NAMES.join(", ")} or ${ALL_PROFILES}, got ${JSON.stringify(f.profile)}`,
    );
}

function refuseTracesOfAll(f: RunFlags): void {
  const flag = f.trace !== undefined ? "--trace" : f.perfetto !== undefined ? "--perfetto" : null;
  if (f.profile === ALL_PROFILES && flag !== null)
    throw new UsageError(
      `${flag}: --profile ${ALL_PROFILES} runs once per profile, and a trace follows one run (trace one --profile at a time)`,
    );
  if (f.profile === ALL_PROFILES && f.report !== undefined)
    throw new UsageError(
      `--report: --profile ${ALL_PROFILES} runs once per profile, and a report follows one run (report one --profile at a time)`,
    );
}

export function defaultRun(f: RunFlags, internals: RunInternals = {}): number {
  const total =
    f.invalidations !== undefined
      ? parseIntFlag("--invalidations", f.invalidations, 0, MAX_WORKLOAD_INVALIDATIONS)
      : DEFAULT_RUN_INVALIDATIONS;
  checkRunProfile(f);
  if (f.profile === ALL_PROFILES) {
    const machines = PROFILE_NAMES.map((profile) => machineFromFlags({ ...f, profile }));
    const runs = machines.map((m) =>
      runDefault(m, null, total, internals, `cmdqv run (${m.profile})`),
    );
    console.log(`cmdqv run under every profile, ${total} invalidations:`);
    console.log(`  ${runs[0]!.summary.machine}\n`);
    const columns = runs.map(
      (r, i): ProfileColumn => ({
        profile: machines[i]!.profile,
        invariants: r.summary.invariants,
        code: r.code,
      }),
    );
    console.log(formatProfileMatrix(columns));
    return worstExit(columns.map((c) => c.code));
  }
  const machine = machineFromFlags(f);
  if (f.report !== undefined) checkReportFile(f.report, f.trace, f.perfetto);
  return withTraceFiles(
    f.trace,
    f.perfetto,
    (sink) =>
      runDefault(
        machine,
        sink,
        total,
        internals,
        "cmdqv run",
        (s) => console.log(formatSummary(s)),
        f.report,
      ).code,
    f.log,
  );
}

/** One default run: its summary (given to `show` before any cut is reported) and status. */
function runDefault(
  machine: MachineConfig,
  sink: TraceSink | null,
  total: number,
  internals: RunInternals,
  who: string,
  show: (s: RunSummary) => void = () => {},
  report?: string,
): { readonly summary: RunSummary; readonly code: number } {
  const collector = report !== undefined ? reportCollectorFor(machine) : null;
  const trace = teeSink(sink, collector);
  const w = World.create({
    machine,
    ...(trace ? { trace } : {}),
    ...(internals.maxSteps !== undefined ? { maxSteps: internals.maxSteps } : {}),
  });
  if (!w.ok) throw new UsageError(`the machine could not be built: ${w.error}`);
  const world = w.value;
  const progress = new ProgressLine();
  world.onProgress = (x) =>
    progress.update(who, { done: x.invalidationsIssued(), total, unit: "invalidations" });
  world.boot();
  const before = exitBaseline(world);
  if (total > 0)
    world.apply({
      kind: "workload",
      invalidations: total,
      vcpus: machine.vcpus,
      weights: DEFAULT_MIX,
    });
  progress.done();
  const queues = collector
    ? captureQueues(world.machine, "when the guest's work ended, before the VM's teardown")
    : null;
  const taken = summarize(world, before);
  // QEMU exits: the teardown invariants (nothing refused, nothing left) are judged too.
  world.teardown();
  const summary = { ...taken, invariants: invariantResults(world) };
  show(summary);
  if (report !== undefined && collector && queues)
    writeReportFile(report, {
      kind: "run",
      command: `cmdqv run (${total} invalidations)`,
      machine: world.machine,
      collector,
      queues,
      violations: world.checker.violations(),
      machineText: summary.machine,
    });
  const code = reportCuts(who, world.cutShort(), summary.invariants.every((i) => i.ok) ? 0 : 1);
  return { summary, code };
}

/** Why a scenario refuses a flag (RUN_OPTIONS says which it refuses). */
const SCENARIO_REFUSES: Partial<Record<RunOptionKey, string>> = {
  vcpus:
    "--vcpus: a scenario's workload steps run on the vCPUs its file gives (machine.vcpus, or a step's vcpus); change them there",
  invalidations:
    "--invalidations: sets the built-in default run's workload; a scenario's workload steps give their own",
};

/** `cmdqv run scenario.yaml`: errors in the file name file:line:col; exit 1 when it fails. */
export function scenarioRun(path: string, f: RunFlags): number {
  const refused = refusedIn("scenario", f);
  if (refused !== undefined)
    throw new UsageError(
      SCENARIO_REFUSES[refused] ?? `${flagOf(refused)}: does not apply to a scenario`,
    );
  checkRunProfile(f);
  const loaded = loadScenarioFile(path);
  if (!loaded.ok) {
    for (const e of loaded.error) console.error(formatScenarioError(e));
    return 2;
  }
  if (f.profile === ALL_PROFILES) return scenarioUnderAll(loaded.value, f);
  const { scenario: sc, overrides } = scenarioWithFlags(loaded.value, f);
  if (f.report !== undefined) checkReportFile(f.report, f.trace, f.perfetto);
  return withTraceFiles(
    f.trace,
    f.perfetto,
    (sink) => {
      const who = `cmdqv run ${sc.name}`;
      const collector = f.report !== undefined ? reportCollectorFor(sc.machine) : null;
      const out = runWithProgress(sc, teeSink(sink, collector), who);
      console.log(formatScenarioOutcome(out, overrides));
      if (f.report !== undefined && collector) scenarioReport(f.report, path, out, collector);
      return scenarioCode(out, who);
    },
    f.log,
  );
}

/** A scenario run's report (none when its machine could not be built: said on stderr). */
function scenarioReport(
  report: string,
  path: string,
  out: ScenarioOutcome,
  collector: ReturnType<typeof reportCollectorFor>,
): void {
  const world = out.world;
  if (world === null) {
    console.error(`--report: no report: the machine could not be built (${out.setupError})`);
    return;
  }
  writeReportFile(report, {
    kind: "run",
    command: `cmdqv run ${path}`,
    machine: world.machine,
    collector,
    queues: captureQueues(
      world.machine,
      "when the scenario ended: PROD and CONS as last seen before the VM's teardown",
      collector.observedRings(),
    ),
    violations: world.checker.violations(),
    ...(out.summary ? { machineText: out.summary.machine } : {}),
    notes: out.failures.map((x) => formatScenarioFailure(out.scenario, x)),
  });
}

/** The scenario on its machine with the flags laid over it, or a usage error at its step. */
function scenarioWithFlags(
  file: Scenario,
  f: MachineFlags,
): { readonly scenario: Scenario; readonly overrides: readonly MachineOverride[] } {
  const { machine, overrides } = overrideMachine(f, file.machine);
  const on = scenarioOnMachine(file, machine);
  if (!on.ok) {
    const flags = overrides.map((o) => `${o.flag} ${o.value}`).join(", ");
    throw new UsageError(`${flags}: ${formatScenarioFailure(file, on.error)}`);
  }
  return { scenario: on.value, overrides };
}

function runWithProgress(sc: Scenario, sink: TraceSink | null, who: string): ScenarioOutcome {
  const progress = new ProgressLine();
  const out = runScenario(sc, sink ?? false, (w) => {
    progress.update(who, { done: w.invalidationsIssued(), unit: "invalidations" });
  });
  progress.done();
  return out;
}

/** A scenario run's exit status: 1 when it failed, EXIT_CUT_SHORT when only cut short. */
function scenarioCode(out: ScenarioOutcome, who: string): number {
  if (out.setupError !== undefined) return 1;
  return reportCuts(who, out.world?.cutShort() ?? [], out.passed ? 0 : 1);
}

/**
 * `cmdqv run scenario.yaml --profile all`: the scenario under each profile (the other
 * machine flags laid over the file's machine), one table, then each profile's failures.
 */
function scenarioUnderAll(file: Scenario, f: RunFlags): number {
  const runs = PROFILE_NAMES.map((profile) => {
    const { scenario, overrides } = scenarioWithFlags(file, { ...f, profile });
    const who = `cmdqv run ${file.name} (${profile})`;
    const out = runWithProgress(scenario, null, who);
    return { profile, out, overrides, code: scenarioCode(out, who) };
  });
  console.log(`scenario ${file.name} (${file.file}) under every profile (* the file's profile):`);
  const others = overrideText(runs[0]!.overrides.filter((o) => o.flag !== "--profile")).others;
  if (others !== null) console.log(`  ${others}`);
  console.log("");
  const columns = runs.map(
    ({ profile, out, code }): ProfileColumn => ({
      profile,
      invariants: out.summary?.invariants ?? null,
      expected: out.expectedViolations,
      verdict: out.passed ? "passed" : "FAILED",
      code,
    }),
  );
  console.log(formatProfileMatrix(columns, { own: file.machine.profile, verdictRow: "scenario" }));
  const failed = runs.filter((r) => !r.out.passed);
  if (failed.length > 0) console.log("");
  for (const { profile, out } of failed) {
    if (out.setupError !== undefined)
      console.log(`${profile}: the machine could not be built: ${out.setupError}`);
    for (const x of out.failures) console.log(`${profile}: ${formatScenarioFailure(file, x)}`);
  }
  return worstExit(columns.map((c) => c.code));
}
