// The run report's data: one JSON document, embedded in the page
// (`<script type="application/json" id="report-data">`) and read by the page's client
// (src/report/html/client/). Plain numbers, strings and arrays only, so the page needs no
// decoder beyond JSON.parse. Dense columns are delta-encoded (each value is the difference
// from the one before) to keep the default run's report small: `undelta` restores them.
//
// This module holds types and two helpers only; it is shared by the generator (Node) and
// the client (the browser), so it imports nothing.

/** Bumped when the shape changes in a way an old page could not read. */
export const REPORT_DATA_VERSION = 1;

/** One invariant's verdict. */
export interface Verdict {
  readonly name: string;
  readonly ok: boolean;
  /** The violation's text. */
  readonly message?: string;
  /** Virtual ns when the checker found it. */
  readonly t?: number;
  /** Index into the step list (`steps.list`) of the step after which it was found. */
  readonly step?: number;
}

/** What a lane of the timeline shows. */
export type LaneKind =
  | "guest"
  | "isr"
  | "dmesg"
  | "vmm"
  | "console"
  | "host"
  | "hw"
  | "regs"
  | "check";

export interface Lane {
  /** The trace actor ("guest.vcpu0", "hw.vcmdq2") or a report lane ("check"). */
  readonly id: string;
  readonly label: string;
  readonly kind: LaneKind;
}

/** Flags of an event stream (`EventStream.flags`). */
export const EV = {
  /** Stands out: an errno, a command error, a violation, a refused destroy. */
  ERROR: 2,
  /** A guest access that trapped to the VMM (a VM exit). */
  TRAPPED: 4,
  /** A guest access that went straight to the hardware through the page0 map. */
  DIRECT: 8,
  /** A guest access to RAM. */
  RAM: 16,
  /** A counter sample ("C"). */
  COUNTER: 32,
  /** A slice begin ("B"); its end is an event of the stream with END. */
  BEGIN: 64,
  END: 128,
} as const;

/**
 * The events of one kind on one lane (same actor, name, access class and error flag), in
 * time order. `t` (virtual ns, delta-encoded) lists each event; `dur` its duration when
 * any is not 0. Arguments are kept for some of them: `argAt` (positions in `t`,
 * delta-encoded) and `args` (indices into `TimelineData.strings`, each a JSON object).
 */
export interface EventStream {
  readonly lane: number;
  /** Index into `TimelineData.strings`. */
  readonly name: number;
  readonly flags: number;
  /** What the events are, in words ("direct page0 write on guest.vcpu0"). */
  readonly label: string;
  /** Events of this kind the run emitted (more than `t` lists when it was thinned). */
  readonly total: number;
  readonly t: readonly number[];
  readonly dur: readonly number[] | null;
  readonly argAt: readonly number[];
  readonly args: readonly number[];
}

/**
 * PROD/CONS samples counted per time bucket (`bucketNs` wide; bucket k covers
 * [k·bucketNs, (k+1)·bucketNs)) with the least and greatest value of each series, so the
 * band of values is drawn at any zoom although only some samples keep their values.
 * `bucket` is delta-encoded.
 */
export interface Aggregate {
  readonly lane: number;
  readonly name: number;
  readonly label: string;
  /** Events counted here in all (the sum of `count`). */
  readonly total: number;
  readonly bucket: readonly number[];
  readonly count: readonly number[];
  readonly ranges: Readonly<
    Record<string, { readonly min: readonly number[]; readonly max: readonly number[] }>
  >;
}

export interface TimelineData {
  readonly lanes: readonly Lane[];
  readonly strings: readonly string[];
  readonly streams: readonly EventStream[];
  readonly aggregates: readonly Aggregate[];
  readonly bucketNs: number;
  /** Events the run emitted (the trace), those on the timeline, and those with arguments. */
  readonly total: number;
  readonly listed: number;
  readonly withArgs: number;
  /** Said on screen when anything was aggregated or sampled; null when nothing was. */
  readonly samplingNote: string | null;
  /** Virtual ns of the first and last event. */
  readonly start: number;
  readonly end: number;
  /** Step boundaries (replays): the end time of each step, when known. */
  readonly stepMarks: readonly { readonly step: number; readonly t: number }[];
}

/** A register of the CMDQV window, from the register tables (src/regs/cmdqv.ts). */
export interface RegisterInfo {
  /** As the tables name it: "CONFIG", "VCMDQ0_PROD_INDX", "VINTF0 LVCMDQ0_CONS_INDX". */
  readonly name: string;
  /** Offset in the CMDQV window. */
  readonly offset: number;
  /** The page, for grouping: "config", "vcmdq0", "vcmdq1", "vintf0", "vintf1". */
  readonly page: string;
  readonly access: "rw" | "ro";
  /** [name, shift, width]. */
  readonly fields: readonly (readonly [string, number, number])[];
}

/**
 * The register file as the guest saw it: each register's values over time, from the
 * guest's reads and writes of the CMDQV window (and, where no guest access is traced, the
 * VMM's trapped-access events). `t` is delta-encoded; `v` the u32 values.
 */
export interface RegisterHistory {
  /** Index into `RegisterData.regs`. */
  readonly reg: number;
  readonly t: readonly number[];
  /**
   * Each change's place in the run: the number of trace events before the access that
   * showed it (delta-encoded). Steps that take no virtual time are told apart by it.
   */
  readonly seq: readonly number[];
  readonly v: readonly number[];
  /**
   * From this time on the history keeps only the last value of each time bucket (the
   * register changed too often to keep every change); null when every change is kept.
   */
  readonly sampledFrom: number | null;
  /** Changes seen in all. */
  readonly changes: number;
}

export interface RegisterData {
  readonly regs: readonly RegisterInfo[];
  readonly history: readonly RegisterHistory[];
}

/** A command between CONS and PROD, decoded. */
export interface RingCommand {
  /** The ring index (without the wrap bit). */
  readonly index: number;
  readonly words: readonly string[];
  readonly text: string;
}

/** One VCMDQ ring as the guest sees it when the run ends (`QueuesData.when`). */
export interface RingData {
  /** The guest's VCMDQ index. */
  readonly queue: number;
  /** BASE as the guest programmed it (hex text, 64-bit) and its fields. */
  readonly base: string;
  readonly addr: string;
  readonly log2size: number;
  /** PROD and CONS as the registers hold them (index with the wrap bit; CONS with ERR). */
  readonly prod: number;
  readonly cons: number;
  /** Where the values come from: "hardware" (the page0 map) or "VMM cache". */
  readonly source: string;
  /** CONS.ERR (0: none) and its name. */
  readonly err: number;
  readonly errName: string | null;
  /** The host HW queue behind it, if any. */
  readonly hwQueue: number | null;
  readonly enabled: boolean;
  /** Commands between CONS and PROD (at most `RING_COMMANDS_SHOWN`), and how many in all. */
  readonly pending: number;
  readonly commands: readonly RingCommand[];
}

export interface QueuesData {
  /** When the values were taken, in words ("when the guest's work ended, before teardown"). */
  readonly when: string;
  readonly rings: readonly RingData[];
}

/** A host (iommufd) object over its life. */
export interface HostObject {
  readonly id: number;
  readonly type: string;
  /** The call that created it, as the condensed log writes it. */
  readonly created: { readonly t: number; readonly line: string } | null;
  readonly destroyed: { readonly t: number; readonly how: string } | null;
  /** IOMMU_DESTROY calls the kernel refused, with their errno. */
  readonly refused: readonly { readonly t: number; readonly errno: string }[];
  /** Left behind: the kernel's release found it still referenced, or the VMM forgot it. */
  readonly leaked: boolean;
  readonly note?: string;
}

export interface LogLine {
  /** Virtual ns, or null when unknown. */
  readonly t: number | null;
  readonly text: string;
  /** An errno or an error line. */
  readonly error?: boolean;
}

export interface LogsData {
  readonly ioctl: readonly LogLine[];
  readonly dmesg: readonly LogLine[];
  readonly console: readonly LogLine[];
}

export interface StepData {
  readonly text: string;
  /** Virtual ns when the step ended, when known. */
  readonly t?: number;
  /**
   * Trace events the run had emitted when the step ended, when known: a register change
   * with a smaller `seq` happened in this step or before (its time may equal the next
   * step's, as register writes take no virtual time).
   */
  readonly seq?: number;
}

export interface StepsData {
  readonly list: readonly StepData[];
  /** Index of the step after which the file's invariant was first violated, or null. */
  readonly violating: number | null;
  readonly invariant: string;
  readonly message: string;
  readonly reproduced: boolean;
}

/** The same steps run under another profile (`reference`), for `#compare`. */
export interface CompareData {
  readonly profile: string;
  readonly verdicts: readonly Verdict[];
  readonly steps: StepsData;
}

export interface ReportHeader {
  /** "cmdqv run", "cmdqv run scenario.yaml", "cmdqv run --replay X.json". */
  readonly command: string;
  readonly machine: string;
  readonly profile: string;
  readonly vmm: string;
  readonly seed: number;
  /** Guest-physical base of the CMDQV window (null: no CMDQV), to decode guest accesses. */
  readonly cmdqvBase: number | null;
  /** Virtual ns the run took. */
  readonly virtualNs: number;
  /** Lines worth a glance under the header (the machine flags that changed a file's). */
  readonly notes: readonly string[];
}

export interface RunReportData {
  readonly version: typeof REPORT_DATA_VERSION;
  readonly kind: "run" | "replay";
  readonly title: string;
  readonly header: ReportHeader;
  readonly verdicts: readonly Verdict[];
  readonly timeline: TimelineData;
  readonly registers: RegisterData;
  readonly queues: QueuesData;
  readonly objects: readonly HostObject[];
  readonly logs: LogsData;
  readonly steps: StepsData | null;
  readonly compare: CompareData | null;
  /** SMMUv3 opcode names by number, for decoding `opcode` arguments. */
  readonly opcodes: Readonly<Record<string, string>>;
}

/** Differences → values (the inverse of `delta`). */
export function undelta(xs: readonly number[]): number[] {
  const out = new Array<number>(xs.length);
  let acc = 0;
  for (let i = 0; i < xs.length; i++) {
    acc += xs[i]!;
    out[i] = acc;
  }
  return out;
}

/** Values → differences from the one before (the first from 0). */
export function delta(xs: readonly number[]): number[] {
  const out = new Array<number>(xs.length);
  let prev = 0;
  for (let i = 0; i < xs.length; i++) {
    out[i] = xs[i]! - prev;
    prev = xs[i]!;
  }
  return out;
}
