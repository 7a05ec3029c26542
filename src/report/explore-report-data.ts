// The exploration report's embedded data (`<script type="application/json"
// id="report-data">` in a `data-report="explore"` page): what `cmdqv explore` found, as one
// JSON document. Built by explore-report.ts, drawn by explore-report-html.ts and read by
// the page's script (html/client/explore-report.ts).

export const EXPLORE_REPORT_VERSION = 1;

/** One invariant under one profile. */
export interface ExploreCell {
  readonly profile: string;
  readonly ok: boolean;
  /** Runs that violated it (0 when ok). */
  readonly runs: number;
}

/** A row of the table: one invariant, a cell per profile explored. */
export interface ExploreRow {
  readonly invariant: string;
  readonly cells: readonly ExploreCell[];
}

/** The exploration's figures, as the explorer's result states them. */
export interface ExploreCounts {
  readonly paths: number;
  readonly states: number;
  readonly distinctStates: number;
  /** Runs cut at a state already explored. */
  readonly pruned: number;
  readonly space: "exhausted" | "cut" | "sampled";
  /** The space in words, as `cmdqv explore` prints it. */
  readonly spaceText: string;
  /** fail-nth: the host calls failed, in words, as printed. */
  readonly failedCalls?: string;
  readonly elapsedSeconds: number;
}

/** One point of the chart: the figures after `paths` paths (and `ms` of wall time, if known). */
export interface ExploreSamplePoint {
  readonly paths: number;
  readonly states: number;
  readonly distinct: number;
  readonly violations: number;
  readonly ms?: number;
}

/** A host call the counterexample fails, at its step. */
export interface InjectedFault {
  readonly step: string;
  readonly site: string;
  readonly call: number;
}

/** A violated invariant's minimal counterexample. */
export interface ExploreCounterexample {
  readonly invariant: string;
  readonly profile: string;
  readonly message: string;
  /** Runs of the exploration that violated the invariant. */
  readonly runs: number;
  /**
   * The sequence: each step as printed, a failed call as `STEP [fail SITE (call N)]`;
   * shrunk to a minimal one (`minimal`), or the first run's (interleavings are not shrunk).
   */
  readonly steps: readonly string[];
  readonly minimal: boolean;
  readonly injected: readonly InjectedFault[];
  /** A fault plan fixed for the run (fail-nth, swarm), in words; null when none. */
  readonly faultPlan: string | null;
  /** Where the replay file was written, and the command that replays it. */
  readonly replayFile: string | null;
  readonly replayCommand: string | null;
  /** The replay's run report: a whole `data-report="run"` page, shown in an iframe. */
  readonly runReport: string;
}

export interface ExploreReportData {
  readonly version: typeof EXPLORE_REPORT_VERSION;
  readonly kind: "explore";
  readonly title: string;
  readonly header: {
    readonly command: string;
    readonly mode: string;
    readonly vmm: "model";
    /** The machine in words. */
    readonly machine: string;
    /** The options that shaped the search, as label and value. */
    readonly options: readonly (readonly [string, string])[];
    /** Worker threads that expanded the search (1: the main thread alone). */
    readonly jobs: number;
  };
  readonly profiles: readonly string[];
  readonly table: readonly ExploreRow[];
  readonly counts: ExploreCounts;
  readonly samples: readonly ExploreSamplePoint[];
  readonly counterexamples: readonly ExploreCounterexample[];
}
