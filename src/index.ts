// The package's programmatic API: `import { … } from "cmdqv"`. Four functions, each over
// the module the matching `cmdqv` command is thin over: build a machine, run a scenario,
// explore, serve qtest. Nothing inside src/ imports this file (.dependency-cruiser.cjs).

import type { Readable, Writable } from "node:stream";
import { stringify } from "yaml";
import type { z } from "zod";
import type { InvariantName as InvariantNameT } from "./check/invariants.js";
import {
  type ExploreMode as ExploreModeT,
  type ExploreOptions as ExplorerOptions,
  exploreMachine,
  explore as exploreRuns,
  exploreTable,
  type FoundViolation as FoundViolationT,
  formatTable,
} from "./explore/explorer.js";
import type { ExtraStep as ExtraStepT } from "./explore/orderings.js";
import {
  DEFAULT_MACHINE,
  type MachineConfig as MachineConfigT,
  machineConfig,
} from "./machine/config.js";
import { createMachine, type Machine as MachineT } from "./machine/machine.js";
import type { PageSizeName as PageSizeNameT } from "./mem/types.js";
import { MachineTarget } from "./qtest/machine-target.js";
import { serveStdio } from "./qtest/server.js";
import type { RunSummary as RunSummaryT } from "./report/summary.js";
import {
  formatScenarioError as formatError,
  loadScenario,
  loadScenarioFile,
  type ScenarioError as ScenarioErrorT,
} from "./scenario/load.js";
import {
  formatScenarioOutcome,
  runScenario as runLoadedScenario,
  type ScenarioFailure as ScenarioFailureT,
} from "./scenario/run.js";
import type { Scenario, scenarioSchema } from "./scenario/schema.js";
import { err, ok, type Result as ResultT } from "./util/result.js";
import {
  isProfileName,
  PROFILE_NAMES as PROFILES,
  type ProfileName as ProfileNameT,
} from "./vmm/tegra241-cmdqv/profile.js";

// ---- the types the API speaks -----------------------------------------------------------

/** A value or an error: `{ ok: true, value }` or `{ ok: false, error }`. */
export type Result<T, E> = ResultT<T, E>;
/** A VMM behaviour: qemu-v5, qemu-v7, qemu-latest or reference (docs/profiles.md). */
export type ProfileName = ProfileNameT;
/** Every profile, oldest first. */
export const PROFILE_NAMES: readonly ProfileName[] = PROFILES;
/** The complete description of a machine: profile, addresses, RAM, VCMDQs, seed, faults. */
export type MachineConfig = MachineConfigT;
/** A built machine: host, guest RAM, the VMM's address space, SMMUv3 and CMDQV models. */
export type Machine = MachineT;
/** A RAM backing page size: 4K, 64K, 2M or 1G. */
export type PageSizeName = PageSizeNameT;
/** The name of an invariant (no-silent-hang, no-leak, …; docs/architecture.md). */
export type InvariantName = InvariantNameT;
/** A mistake in a scenario: file, line and column (0 when unknown), path and message. */
export type ScenarioError = ScenarioErrorT;
/** A failed expectation of a scenario, or an invariant it violated without expecting it. */
export type ScenarioFailure = ScenarioFailureT;
/** What a run did: logs, ioctls, HW queues, where commands went, VM exits, invariants. */
export type RunSummary = RunSummaryT;
/** How runs are explored: orderings, fail-nth, swarm or interleavings. */
export type ExploreMode = ExploreModeT;
/** An optional step the orderings exploration puts among the guest's writes. */
export type ExtraStep = ExtraStepT;
/** A violated invariant and its shrunk counterexample. */
export type FoundViolation = FoundViolationT;

/** `file:line:col: path: message (got value)`, as `cmdqv run` prints a scenario's mistakes. */
export function formatScenarioError(e: ScenarioError): string {
  return formatError(e);
}

// ---- machines ---------------------------------------------------------------------------

/**
 * Which machine to build: overrides of the default machine (QEMU virt's addresses, 1 GiB
 * of RAM on 2 MiB pages, one VINTF with 2 VCMDQs, profile qemu-latest, cmdqv on).
 */
export type MachineOptions = Partial<MachineConfig>;

/**
 * Build a machine: the simulated host, guest RAM and the VMM's devices, with the VFIO
 * device cold-plugged behind the SMMUv3 as QEMU does it (so with `cmdqv: "on"`, the
 * default, `machine.cmdqv` is the Tegra241 CMDQV device model at `config.cmdqvBase`).
 *
 * @returns the machine, or why the VMM could not bring it up (e.g. a fault plan that
 *   fails its cold-plug), as `cmdqv` reports it.
 * @throws RangeError for an unknown profile; the model throws for other options outside
 *   their domain (a VCMDQ count that is not a power of two, RAM not a multiple of its page).
 */
export function buildMachine(options: MachineOptions = {}): Result<Machine, string> {
  const cfg = machineConfig(options);
  if (!isProfileName(cfg.profile))
    throw new RangeError(
      `unknown profile ${JSON.stringify(cfg.profile)}: expected one of ${PROFILE_NAMES.join(", ")}`,
    );
  return createMachine(cfg);
}

// ---- scenarios --------------------------------------------------------------------------

/**
 * A scenario as data: what a scenario YAML file holds (docs/scenarios.md), e.g.
 * `{ name: "t", machine: { profile: "qemu-v5" }, guest: [{ boot: {} }] }`. Integers may
 * be numbers or text (`"0x4000_0000"`, `"64K"`), as in a file.
 */
export type ScenarioDocument = z.input<typeof scenarioSchema>;

/** A scenario file's path, or the scenario itself as data. */
export type ScenarioSource = string | ScenarioDocument;

/** Options of {@link runScenario}. */
export interface RunScenarioOptions {
  /** Called every few thousand scheduler steps while the guest runs. */
  readonly onProgress?: (p: { readonly invalidationsIssued: number }) => void;
}

/** What a scenario run gave. */
export interface ScenarioResult {
  readonly name: string;
  /** The file it was loaded from; `<object>` for a scenario given as data. */
  readonly file: string;
  /** Every expectation held, and every invariant violated was one the scenario expects. */
  readonly passed: boolean;
  /** Set when the machine could not be built; nothing ran. */
  readonly setupError?: string;
  /** Failed expectations (at their step) and unexpected violations (at no step). */
  readonly failures: readonly ScenarioFailure[];
  /** Invariants the run violated, expected or not. */
  readonly violated: readonly InvariantName[];
  /** The run summary (logs, ioctls, HW queues, VM exits, invariants); null if nothing ran. */
  readonly summary: RunSummary | null;
  /**
   * What the simulator's step bound (50 000 000 scheduler steps per program step) cut
   * short, one sentence each; empty for a run that completed. `cmdqv run` exits 3 then.
   */
  readonly cutShort: readonly string[];
  /** What `cmdqv run <scenario>` prints. */
  readonly report: string;
}

/** The file name errors and results carry for a scenario given as data. */
const OBJECT_FILE = "<object>";
const NO_POS = { line: 0, col: 0 } as const;

/**
 * Load a scenario given as data, through the same loader as a file (so the same checks
 * and messages): the data is written out as YAML and read back. Positions in that text
 * mean nothing to the caller, so errors locate by `path` alone (line 0) and steps carry
 * no position (failures name the step's index).
 */
function loadScenarioDocument(doc: ScenarioDocument): Result<Scenario, ScenarioError[]> {
  const r = loadScenario(stringify(doc), OBJECT_FILE);
  if (!r.ok) return err(r.error.map((e) => ({ ...e, ...NO_POS })));
  return ok({ ...r.value, guest: r.value.guest.map((s) => ({ ...s, at: NO_POS })) });
}

/**
 * Run a scenario: build its machine, run its guest program, check its expectations where
 * they stand, tear the VM down and judge the invariants, as `cmdqv run <scenario>` does.
 *
 * @param source a scenario file's path, or the scenario as data.
 * @returns the run's result, or the scenario's mistakes (every one, each with the path in
 *   the scenario and, for a file, its line and column); format them with
 *   {@link formatScenarioError}.
 */
export function runScenario(
  source: ScenarioSource,
  options: RunScenarioOptions = {},
): Result<ScenarioResult, readonly ScenarioError[]> {
  const loaded =
    typeof source === "string" ? loadScenarioFile(source) : loadScenarioDocument(source);
  if (!loaded.ok) return loaded;
  const progress = options.onProgress;
  const out = runLoadedScenario(
    loaded.value,
    false,
    progress ? (w) => progress({ invalidationsIssued: w.invalidationsIssued() }) : undefined,
  );
  const sc = out.scenario;
  return ok({
    name: sc.name,
    file: sc.file,
    passed: out.passed,
    ...(out.setupError !== undefined ? { setupError: out.setupError } : {}),
    failures: out.failures,
    violated: out.summary?.invariants.filter((i) => !i.ok).map((i) => i.name) ?? [],
    summary: out.summary,
    cutShort: out.world?.cutShort().map((c) => c.message) ?? [],
    report: formatScenarioOutcome(out),
  });
}

// ---- exploration ------------------------------------------------------------------------

/** Options of {@link explore}; the defaults are `cmdqv explore`'s. */
export interface ExploreOptions {
  /** VMM behaviour; default qemu-latest. */
  readonly profile?: ProfileName;
  /** orderings (default), fail-nth, swarm or interleavings. */
  readonly mode?: ExploreMode;
  /** VCMDQs whose writes are explored, 1 to 8; default 2. */
  readonly queues?: number;
  /** Extra steps put among the guest's writes; default none. */
  readonly extras?: readonly ExtraStep[];
  /** orderings: also explore which host call fails; default true. */
  readonly faults?: boolean;
  /** Stop after this many runs; default: until the space is exhausted. */
  readonly maxPaths?: number;
  /** swarm: random runs (default 1000) and the seed of the first (default 1). */
  readonly runs?: number;
  readonly seed?: number;
  /** interleavings: branching choices enumerated per run (default 6). */
  readonly depth?: number;
  /** interleavings: invalidations the vCPUs issue (default 40). */
  readonly invalidations?: number;
  /** The RAM backing page; default 2M. */
  readonly ramPage?: PageSizeName;
  /**
   * A wall clock in milliseconds (the performance API's clock, say), for `elapsedSeconds`; without
   * one the report says 0, since the model itself never reads the wall clock.
   */
  readonly now?: () => number;
  /** Called as runs complete. */
  readonly onProgress?: (p: {
    readonly paths: number;
    readonly states: number;
    readonly violations: number;
  }) => void;
}

/** What an exploration found. */
export interface ExploreReport {
  readonly profile: ProfileName;
  readonly mode: ExploreMode;
  /** Runs made. */
  readonly paths: number;
  readonly states: number;
  readonly distinctStates: number;
  /** True when the space was exhausted (not cut by maxPaths). */
  readonly complete: boolean;
  readonly elapsedSeconds: number;
  /** The table `cmdqv explore` prints, as [label, value] rows: figures, then each invariant. */
  readonly table: readonly (readonly [string, string])[];
  /** The table as aligned text. */
  readonly text: string;
  /**
   * One counterexample per violated invariant, shrunk: its message, how many runs
   * violated it, and `replay` (the steps, and what `cmdqv run --replay` reads as JSON).
   */
  readonly counterexamples: readonly FoundViolation[];
}

/**
 * Explore every order of the guest's configuration writes and host failures (or random
 * runs, or vCPU interleavings), judging each run by the invariants, as `cmdqv explore`
 * does, on one thread (the command's `--jobs` shards over worker threads).
 */
export function explore(options: ExploreOptions = {}): ExploreReport {
  const profile = options.profile ?? DEFAULT_MACHINE.profile;
  const mode = options.mode ?? "orderings";
  const queues = options.queues ?? 2;
  const o: ExplorerOptions = {
    mode,
    machine: exploreMachine(profile, options.ramPage ?? DEFAULT_MACHINE.ramPage, queues),
    queues,
    extras: options.extras ?? [],
    faults: options.faults ?? true,
    ...(options.maxPaths !== undefined ? { maxPaths: options.maxPaths } : {}),
    ...(options.runs !== undefined ? { runs: options.runs } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.depth !== undefined ? { depth: options.depth } : {}),
    ...(options.invalidations !== undefined ? { invalidations: options.invalidations } : {}),
  };
  const progress = options.onProgress;
  const now = options.now ?? (() => 0);
  const t0 = now();
  const r = exploreRuns(
    o,
    progress
      ? (p) => progress({ paths: p.paths, states: p.states, violations: p.violations })
      : undefined,
  );
  const elapsedSeconds = (now() - t0) / 1000;
  const table = exploreTable(r, { profile, mode, elapsedSeconds });
  return {
    profile,
    mode,
    paths: r.paths,
    states: r.states,
    distinctStates: r.distinctStates,
    complete: r.complete,
    elapsedSeconds,
    table,
    text: formatTable(table),
    counterexamples: r.violations,
  };
}

// ---- qtest ------------------------------------------------------------------------------

/** Options of {@link serveQtest}. */
export interface QtestOptions {
  /** Where the client's command lines come from. */
  readonly input: Readable;
  /** Where the replies (and `IRQ raise/lower` lines) go. */
  readonly output: Writable;
  /** The machine to serve; default the default machine. */
  readonly machine?: MachineOptions;
}

/** A running qtest session. */
export interface QtestServer {
  /** The machine the client drives. */
  readonly machine: Machine;
  /** Invariants the session has violated so far (checked after every command). */
  violated(): readonly InvariantName[];
  /** Settles when `input` ends or closes (rejects on an input error). */
  readonly done: Promise<void>;
}

/**
 * Serve QEMU's qtest text protocol on a pair of streams, as `cmdqv qtest` does on stdio:
 * the client plays the guest, its accesses going through the VMM's address space.
 *
 * @returns the session, or why the machine could not be built ({@link buildMachine}).
 */
export function serveQtest(options: QtestOptions): Result<QtestServer, string> {
  const m = buildMachine(options.machine);
  if (!m.ok) return m;
  const target = new MachineTarget(m.value);
  return ok({
    machine: m.value,
    violated: () => target.checker.violated(),
    done: serveStdio(target, options.input, options.output),
  });
}
