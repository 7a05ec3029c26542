// What the run report keeps of a run's trace, as it happens: a TraceSink that takes every
// event the model emits (teed with any trace files) and keeps, in bounded memory,
//
// - every event's time, kind and lane (per stream: one actor, name, access class), so the
//   timeline shows each one where it happened; past TIMES_BUDGET events in all, the
//   biggest stream is thinned (every other event dropped, those with arguments kept);
// - the arguments of every configuration, ioctl, IRQ, console and error event (up to
//   `alwaysCap` of one stream), and of the first `fullPerKey` events of each dense kind
//   (guest accesses, PROD/CONS samples, CMD_SYNC waits, the trapped main CMDQ's traffic)
//   plus `samplesPerKey` more spread evenly over the run;
// - PROD/CONS counted per time bucket with the least and greatest value of each bucket;
// - the CMDQV register file as the guest saw it: every change of every register the guest
//   (or, where guest accesses are not traced, the VMM's trapped-access events) read or
//   wrote, decoded with the register tables; a register that changes very often keeps
//   only the last value of each bucket past `regFull` changes;
// - EN_OK / ENABLE_OK changes, turned into events of their own on the "regs" lane;
// - the guest's dmesg and the VMM console with their times.
//
// Time buckets start 1 µs wide and double whenever the run outgrows `maxBuckets` of them.
// Nothing here runs unless a report was asked for.

import {
  APERTURE,
  BITS,
  type CmdqvTables,
  cmdqvTables,
  TEGRA241_CMDQV_IO_LEN,
  VCMDQ0,
  VCMDQ1,
} from "../regs/cmdqv.js";
import type { RegBlock } from "../regs/regdef.js";
import { CONSOLE_TRACE, HW_TRACE, KVM_MMIO } from "../trace/events.js";
import type { TraceArgs, TraceEvent, TraceSink } from "../trace/trace.js";
import { emulatedParam } from "../vmm/tegra241-cmdqv/regs-cache.js";
import { CMDQV_TRACE } from "../vmm/tegra241-cmdqv/trace-events.js";
import {
  type Aggregate,
  delta,
  EV,
  type EventStream,
  type Lane,
  type LaneKind,
  type LogLine,
  type RegisterData,
  type RegisterHistory,
  type RegisterInfo,
  type TimelineData,
} from "./report-data.js";

/** How much the collector keeps. The defaults keep the default run's report near 3 MB. */
export interface CollectorLimits {
  /** Events of one dense stream that keep their arguments before sampling starts. */
  readonly fullPerKey: number;
  /** Further events of a dense stream that keep their arguments (spread evenly). */
  readonly samplesPerKey: number;
  /** Events of one other stream (ioctls, configuration) that keep their arguments. */
  readonly alwaysCap: number;
  /** Events listed on the timeline in all before the biggest stream is thinned. */
  readonly timesBudget: number;
  /** Time buckets over the run, at most. */
  readonly maxBuckets: number;
  /** Changes of one register kept one by one before its history keeps a value per bucket. */
  readonly regFull: number;
}

export const DEFAULT_COLLECTOR_LIMITS: CollectorLimits = {
  fullPerKey: 600,
  samplesPerKey: 400,
  alwaysCap: 20_000,
  timesBudget: 500_000,
  maxBuckets: 2048,
  regFull: 1500,
};

export interface CollectorOptions {
  /** Guest-physical base of the CMDQV window, or null when the machine has none. */
  readonly cmdqvBase: number | null;
  /** VCMDQs the guest sees (the register tables' geometry). */
  readonly vcmdqs: number;
  /** Guest RAM, to tell RAM accesses from MMIO. */
  readonly ramBase: number;
  readonly ramSize: number;
  readonly limits?: Partial<CollectorLimits>;
}

/** Names whose events come in the tens of thousands: counted per bucket past the limit. */
const DENSE = new Set<string>([
  "read",
  "write",
  "read64",
  "write64",
  KVM_MMIO,
  HW_TRACE.QUEUE_PTRS,
  HW_TRACE.CMD_SYNC,
  "smmuv3_cmdq_opcode",
  "smmuv3_cmdq_consume",
  "smmuv3_cmdq_consume_out",
  "smmuv3_read_mmio",
  "smmuv3_write_mmio",
  "smmuv3_accel_invalidate",
  CMDQV_TRACE.READ_MMIO,
  CMDQV_TRACE.READ_VCMDQ_PAGE0,
  CMDQV_TRACE.READ_VCMDQ_PAGE1,
]);

const GUEST_OPS = new Set(["read", "write", "read64", "write64"]);

/** The first calls of the VM's teardown: the VMM's files closing as QEMU exits. */
const TEARDOWN = new Set(["close(veventq)", "close(vfio-device)"]);

/** The lane a synthetic EN_OK event goes on, and the one violations go on. */
export const REGS_LANE = "cmdqv.regs";
export const CHECK_LANE = "check";

/** Fields whose changes are events of their own (EN_OK changes). */
const ENABLE_FIELDS = new Set(["CMDQ_EN_OK", "ENABLE_OK", "CMDQV_ENABLED"]);

/** What kind of guest access an event is, for its flags and its label. */
type AccessClass = "trapped" | "direct" | "ram" | "mmio";

interface Bucket {
  n: number;
  readonly ranges: Map<string, [number, number]>;
}

/** One stream: its events listed in arrival order (parallel arrays). */
interface Stream {
  readonly lane: number;
  readonly name: number;
  readonly flags: number;
  readonly label: string;
  readonly dense: boolean;
  /** Events that arrived. */
  total: number;
  /** Events given their arguments by the `fullPerKey`/`alwaysCap` rule. */
  full: number;
  /** Events past that rule (candidates for samples). */
  past: number;
  sampleStride: number;
  samples: number;
  /** List only every timeStride-th event (and every one with arguments). */
  timeStride: number;
  readonly t: number[];
  readonly dur: number[];
  /** The arguments (JSON text), or null. */
  readonly args: (string | null)[];
  /** The event's number in the stream (for thinning). */
  readonly n: number[];
  /** Its number among the `past` events when its arguments are a sample, else -1. */
  readonly sample: number[];
  anyDur: boolean;
  /** PROD/CONS per bucket (counters only). */
  readonly buckets: Map<number, Bucket> | null;
}

interface RegState {
  readonly reg: number;
  readonly t: number[];
  readonly seq: number[];
  readonly v: number[];
  last: number | undefined;
  /** The trace event that showed `last`. */
  lastSeq: number;
  changes: number;
  sampledFrom: number | null;
  /** Past regFull: per bucket, the last change (by time). */
  readonly buckets: Map<number, { t: number; seq: number; v: number }>;
}

/** `0x1f` or 31 or true → a number (NaN when it is none). */
export function argNumber(v: string | number | boolean | null | undefined): number {
  if (typeof v === "number") return v;
  if (typeof v === "string" && /^0x[0-9a-f]+$/i.test(v)) return Number.parseInt(v, 16);
  if (typeof v === "string" && /^-?\d+$/.test(v)) return Number(v);
  return Number.NaN;
}

/** A hex text that may be wider than 32 bits → its low and high u32 halves. */
function halves(v: string | number | boolean | null | undefined): [number, number] | null {
  if (typeof v === "number") return [v >>> 0, Math.floor(v / 2 ** 32) >>> 0];
  if (typeof v !== "string" || !/^0x[0-9a-f]+$/i.test(v)) return null;
  const big = BigInt(v);
  return [Number(big & 0xffff_ffffn), Number((big >> 32n) & 0xffff_ffffn)];
}

function laneKind(actor: string): LaneKind {
  if (actor === "guest.isr") return "isr";
  if (actor === "guest.dmesg") return "dmesg";
  if (actor.startsWith("guest.")) return "guest";
  if (actor === "vmm.console") return "console";
  if (actor.startsWith("vmm.")) return "vmm";
  if (actor.startsWith("host.")) return "host";
  if (actor.startsWith("hw.")) return "hw";
  if (actor === REGS_LANE) return "regs";
  return "check";
}

const LANE_LABELS: Readonly<Record<string, string>> = {
  "guest.isr": "guest IRQ handler",
  "guest.dmesg": "guest dmesg",
  "vmm.cmdqv": "VMM CMDQV device model",
  "vmm.smmuv3": "VMM SMMUv3",
  "vmm.iommufd": "VMM iommufd backend",
  "vmm.console": "VMM console",
  "host.kernel": "host kernel (iommufd, VFIO)",
  [REGS_LANE]: "CMDQV registers (EN_OK)",
  [CHECK_LANE]: "invariant checker",
};

function laneLabel(actor: string): string {
  const known = LANE_LABELS[actor];
  if (known !== undefined) return known;
  const vcpu = /^guest\.vcpu(\d+)$/.exec(actor);
  if (vcpu) return `guest vCPU ${vcpu[1]}`;
  const hw = /^hw\.vcmdq(\d+)$/.exec(actor);
  if (hw) return `CMDQV hardware VCMDQ ${hw[1]} (global)`;
  return actor;
}

/** Lane order on screen: guest, VMM, host, hardware, then the report's own lanes. */
const KIND_ORDER: readonly LaneKind[] = [
  "guest",
  "isr",
  "dmesg",
  "vmm",
  "console",
  "host",
  "hw",
  "regs",
  "check",
];

/** Whether an event stands out as an error. */
function isError(e: TraceEvent): boolean {
  const a = e.args;
  if (e.name === HW_TRACE.CMDQ_ERROR || e.name === "smmuv3_cmdq_consume_error") return true;
  if (e.name === "smmuv3_write_gerror") return true;
  if (e.actor === "host.kernel") return typeof a.ret === "string" && a.ret !== "ok";
  if (e.actor === "vmm.iommufd") return typeof a.ret === "number" && a.ret !== 0;
  if (e.name === CONSOLE_TRACE.VMM) return a.kind === "error" || a.kind === "guest_error";
  if (e.name === CONSOLE_TRACE.GUEST) return a.level === "err";
  if (e.actor === CHECK_LANE) return true;
  return false;
}

/** Every register of the guest's CMDQV window, from the tables, by window offset. */
export function cmdqvRegisters(vcmdqs: number): {
  readonly regs: readonly RegisterInfo[];
  readonly tables: CmdqvTables;
} {
  const tables = cmdqvTables({
    numVcmdqs: vcmdqs,
    numVintfs: 1,
    numSids: 16,
    param: emulatedParam(vcmdqs),
    lvcmdqsPerVintf: vcmdqs,
  });
  const pages: [string, RegBlock, number, string][] = [
    ["config", tables.config, 0, ""],
    ["vcmdq0", tables.page0, APERTURE.VCMDQ_PAGE0, ""],
    ["vcmdq1", tables.page1, APERTURE.VCMDQ_PAGE1, ""],
    ["vintf0", tables.vintfPage0, APERTURE.VINTF_PAGE0, "VINTF0 "],
    ["vintf1", tables.vintfPage1, APERTURE.VINTF_PAGE1, "VINTF0 "],
  ];
  const regs: RegisterInfo[] = [];
  for (const [page, block, base, prefix] of pages)
    for (const r of block.regs)
      regs.push({
        name: prefix + r.name,
        offset: base + r.offset,
        page,
        access: r.access,
        fields: r.fields.map((f) => [f.name, f.shift, f.width] as const),
      });
  return { regs, tables };
}

export class ReportCollector implements TraceSink {
  private readonly limits: CollectorLimits;
  private readonly opts: CollectorOptions;
  private readonly lanes: string[] = [];
  private readonly laneIndex = new Map<string, number>();
  private readonly strings: string[] = [];
  private readonly stringIndex = new Map<string, number>();
  private readonly streams = new Map<string, Stream>();
  /** The trace event at which the VM's teardown began (its files closing), once seen. */
  private teardownSeen: number | null = null;
  private readonly ringSeen: { prod: number; cons: number; prodSeq: number; consSeq: number }[];
  /** Hardware queues backing a guest VCMDQ: the VCMDQ and the wrap bookkeeping. */
  private readonly backs = new Map<
    string,
    { queue: number; prod: number; cons: number; pw: number; cw: number }
  >();
  /** Events listed on the timeline in all streams. */
  private listed = 0;
  private thinned = 0;
  private bucketNs = 1024;
  private totalEvents = 0;
  private first = Number.POSITIVE_INFINITY;
  private last = 0;
  // The register file.
  private readonly regInfo: readonly RegisterInfo[];
  private readonly regAt = new Map<number, number>();
  private readonly regState = new Map<number, RegState>();
  private readonly tables: CmdqvTables;
  private readonly stepMarks: { step: number; t: number }[] = [];
  private readonly dmesg: LogLine[] = [];
  private readonly console: LogLine[] = [];
  private logsDropped = 0;

  constructor(opts: CollectorOptions) {
    this.opts = opts;
    this.limits = { ...DEFAULT_COLLECTOR_LIMITS, ...opts.limits };
    this.ringSeen = Array.from({ length: opts.vcmdqs }, () => ({
      prod: 0,
      cons: 0,
      prodSeq: -1,
      consSeq: -1,
    }));
    const { regs, tables } = cmdqvRegisters(opts.vcmdqs);
    this.regInfo = regs;
    this.tables = tables;
    regs.forEach((r, i) => {
      this.regAt.set(r.offset, i);
    });
  }

  /** The register tables of the guest's CMDQV window. */
  cmdqvTables(): CmdqvTables {
    return this.tables;
  }

  /** Events the run emitted so far (synthetic ones not counted). */
  total(): number {
    return this.totalEvents;
  }

  /** Per lane and name, how many events arrived (tests hold the aggregates to these). */
  counts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const k of this.streams.values()) {
      const id = `${this.lanes[k.lane]}\u0000${this.strings[k.name]}`;
      out.set(id, (out.get(id) ?? 0) + k.total);
    }
    return out;
  }

  event(e: TraceEvent): void {
    this.totalEvents++;
    if (e.name === CONSOLE_TRACE.GUEST) this.logLine(this.dmesg, e.t, dmesgLine(e), isError(e));
    else if (e.name === CONSOLE_TRACE.VMM)
      this.logLine(this.console, e.t, String(e.args.text), isError(e));
    else if (this.teardownSeen === null && e.actor === "host.kernel" && TEARDOWN.has(e.name))
      this.teardownSeen = this.totalEvents - 1;
    else if (this.teardownSeen === null && e.actor.startsWith("hw.")) this.hwRing(e);
    this.take(e);
  }

  // ---- the rings as last seen ----------------------------------------------------------

  /**
   * Each guest VCMDQ's PROD and CONS as last seen before the VM's teardown (which destroys
   * the HW queues, so the machine no longer shows them): the guest's own accesses to its
   * PROD/CONS registers and the hardware's PROD/CONS samples of the queue backing it,
   * whichever came last. The samples lose the wrap bit; it is put back by counting the
   * times an index went down. Null for a queue nothing was seen of.
   */
  observedRings(): readonly ({ readonly prod: number; readonly cons: number } | null)[] {
    return this.ringSeen.map((r) =>
      r.prodSeq < 0 && r.consSeq < 0 ? null : { prod: r.prod, cons: r.cons },
    );
  }

  /** The hardware's queue life (which guest VCMDQ it backs) and its PROD/CONS samples. */
  private hwRing(e: TraceEvent): void {
    const a = e.args;
    if (e.name === HW_TRACE.QUEUE) {
      const l = argNumber(a.lvcmdq);
      if (e.ph === "B" && a.hyp_own === false && l >= 0 && l < this.opts.vcmdqs)
        this.backs.set(e.actor, { queue: l, prod: 0, cons: 0, pw: 0, cw: 0 });
      else this.backs.delete(e.actor);
      return;
    }
    if (e.name !== HW_TRACE.QUEUE_PTRS) return;
    const b = this.backs.get(e.actor);
    if (b === undefined) return;
    const p = argNumber(a.prod);
    const c = argNumber(a.cons);
    if (p < b.prod) b.pw ^= 1;
    if (c < b.cons) b.cw ^= 1;
    b.prod = p;
    b.cons = c;
    const log2 = this.baseLog2(b.queue);
    if (log2 === null) return;
    const r = this.ringSeen[b.queue]!;
    const seq = this.totalEvents - 1;
    r.prod = p + b.pw * 2 ** log2;
    r.prodSeq = seq;
    // CONS keeps the error code the guest last read with it.
    r.cons = ((r.cons & BITS.CONS_ERR_MASK) | (c + b.cw * 2 ** log2)) >>> 0;
    r.consSeq = seq;
  }

  /** LOG2SIZE of guest VCMDQ q's BASE as the guest last wrote or read it, or null. */
  private baseLog2(q: number): number | null {
    let best: RegState | undefined;
    for (const page of [APERTURE.VINTF_PAGE1, APERTURE.VCMDQ_PAGE1]) {
      const reg = this.regAt.get(page + APERTURE.VCMDQ_STRIDE * q + VCMDQ1.BASE_L);
      const s = reg === undefined ? undefined : this.regState.get(reg);
      if (s?.last !== undefined && (best === undefined || s.lastSeq > best.lastSeq)) best = s;
    }
    return best?.last === undefined ? null : best.last & 0x1f;
  }

  /** A guest-visible PROD or CONS register changed (before the teardown). */
  private ringRegister(off: number, value: number): void {
    for (const page of [APERTURE.VINTF_PAGE0, APERTURE.VCMDQ_PAGE0]) {
      const rel = off - page;
      if (rel < 0 || rel >= APERTURE.VCMDQ_STRIDE * this.opts.vcmdqs) continue;
      const q = Math.floor(rel / APERTURE.VCMDQ_STRIDE);
      const r = this.ringSeen[q]!;
      const reg = rel - APERTURE.VCMDQ_STRIDE * q;
      if (reg === VCMDQ0.PROD) {
        r.prod = value;
        r.prodSeq = this.totalEvents - 1;
      } else if (reg === VCMDQ0.CONS) {
        r.cons = value;
        r.consSeq = this.totalEvents - 1;
      }
    }
  }

  private logLine(into: LogLine[], t: number, text: string, error: boolean): void {
    if (into.length >= this.limits.alwaysCap) {
      this.logsDropped++;
      return;
    }
    into.push(error ? { t, text, error } : { t, text });
  }

  /** The guest's dmesg and the VMM console, line by line with their times. */
  logs(): {
    readonly dmesg: readonly LogLine[];
    readonly console: readonly LogLine[];
    readonly dropped: number;
  } {
    return { dmesg: this.dmesg, console: this.console, dropped: this.logsDropped };
  }

  /** An event the report adds (a violation, a step): drawn one by one, not counted as traced. */
  addSynthetic(e: TraceEvent): void {
    this.take(e);
  }

  /** A step's end (replays): drawn as a line across the timeline. */
  markStep(step: number, t: number): void {
    this.stepMarks.push({ step, t });
  }

  private take(e: TraceEvent): void {
    const t = e.t;
    if (t < this.first) this.first = t;
    const end = t + (e.dur ?? 0);
    if (end > this.last) this.last = end;
    this.fitBuckets(end);
    const lane = this.lane(e.actor);
    let cls: AccessClass | null = null;
    if (GUEST_OPS.has(e.name)) cls = this.accessClass(e.args);
    this.registers(e, cls);
    let flags = isError(e) ? EV.ERROR : 0;
    if (cls === "trapped" || e.name === KVM_MMIO) flags |= EV.TRAPPED;
    else if (cls === "direct") flags |= EV.DIRECT;
    else if (cls === "ram") flags |= EV.RAM;
    if (e.ph === "C") flags |= EV.COUNTER;
    else if (e.ph === "B") flags |= EV.BEGIN;
    else if (e.ph === "E") flags |= EV.END;
    const s = this.stream(lane, e.name, cls, flags);
    const n = s.total++;
    if (s.buckets !== null) this.countPtrs(s.buckets, e);
    // Its arguments: the first of each stream (all of a non-dense one), then samples.
    let args: string | null = null;
    let sample = -1;
    if (s.full < (s.dense ? this.limits.fullPerKey : this.limits.alwaysCap)) {
      s.full++;
      args = JSON.stringify(e.args);
    } else {
      const a = s.past++;
      if (a % s.sampleStride === 0) {
        args = JSON.stringify(e.args);
        sample = a;
        if (++s.samples > this.limits.samplesPerKey) this.fewerSamples(s);
      }
    }
    if (args === null && n % s.timeStride !== 0) return;
    s.t.push(t);
    s.dur.push(e.dur ?? 0);
    if ((e.dur ?? 0) !== 0) s.anyDur = true;
    s.args.push(args);
    s.n.push(n);
    s.sample.push(args === null ? -1 : sample);
    if (++this.listed > this.limits.timesBudget) this.thinBiggest();
  }

  /** Half the samples: those not on the doubled stride lose their arguments. */
  private fewerSamples(s: Stream): void {
    s.sampleStride *= 2;
    s.samples = 0;
    for (let i = 0; i < s.sample.length; i++) {
      const a = s.sample[i]!;
      if (a < 0) continue;
      if (a % s.sampleStride === 0) s.samples++;
      else {
        s.sample[i] = -1;
        s.args[i] = null;
      }
    }
  }

  /** Drop every other listed event (not those with arguments) of the biggest stream. */
  private thinBiggest(): void {
    let big: Stream | null = null;
    for (const s of this.streams.values()) if (big === null || s.t.length > big.t.length) big = s;
    if (big === null) return;
    const s = big;
    s.timeStride *= 2;
    let w = 0;
    for (let r = 0; r < s.t.length; r++) {
      if (s.args[r] === null && s.n[r]! % s.timeStride !== 0) continue;
      s.t[w] = s.t[r]!;
      s.dur[w] = s.dur[r]!;
      s.args[w] = s.args[r]!;
      s.n[w] = s.n[r]!;
      s.sample[w] = s.sample[r]!;
      w++;
    }
    this.thinned += s.t.length - w;
    this.listed -= s.t.length - w;
    for (const xs of [s.t, s.dur, s.args, s.n, s.sample]) xs.length = w;
  }

  private lane(actor: string): number {
    let i = this.laneIndex.get(actor);
    if (i === undefined) {
      i = this.lanes.length;
      this.lanes.push(actor);
      this.laneIndex.set(actor, i);
    }
    return i;
  }

  private intern(s: string): number {
    let i = this.stringIndex.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.stringIndex.set(s, i);
    }
    return i;
  }

  private stream(lane: number, name: string, cls: AccessClass | null, flags: number): Stream {
    const id = `${lane}\u0000${name}\u0000${flags}`;
    let k = this.streams.get(id);
    if (k === undefined) {
      const what = cls === null ? name : `${cls === "direct" ? "direct page0" : cls} ${name}`;
      k = {
        lane,
        name: this.intern(name),
        flags,
        label: `${what} on ${this.lanes[lane]}${(flags & EV.ERROR) !== 0 ? " (errors)" : ""}`,
        dense: DENSE.has(name),
        total: 0,
        full: 0,
        past: 0,
        sampleStride: 1,
        samples: 0,
        timeStride: 1,
        t: [],
        dur: [],
        args: [],
        n: [],
        sample: [],
        anyDur: false,
        buckets: (flags & EV.COUNTER) !== 0 ? new Map() : null,
      };
      this.streams.set(id, k);
    }
    return k;
  }

  private accessClass(a: TraceArgs): AccessClass {
    if (a.exit === true) return "trapped";
    const addr = argNumber(a.addr);
    const base = this.opts.cmdqvBase;
    if (base !== null && addr >= base && addr < base + TEGRA241_CMDQV_IO_LEN) return "direct";
    if (addr >= this.opts.ramBase && addr < this.opts.ramBase + this.opts.ramSize) return "ram";
    return "mmio";
  }

  /** A counter sample into its bucket: the count, and each series' least and greatest. */
  private countPtrs(buckets: Map<number, Bucket>, e: TraceEvent): void {
    const b = Math.floor(e.t / this.bucketNs);
    let bucket = buckets.get(b);
    if (bucket === undefined) {
      bucket = { n: 0, ranges: new Map() };
      buckets.set(b, bucket);
    }
    bucket.n++;
    for (const [k, v] of Object.entries(e.args)) {
      if (typeof v !== "number") continue;
      const r = bucket.ranges.get(k);
      if (r === undefined) bucket.ranges.set(k, [v, v]);
      else {
        if (v < r[0]) r[0] = v;
        if (v > r[1]) r[1] = v;
      }
    }
  }

  /** Widen the buckets (doubling) until `t` falls within maxBuckets of them. */
  private fitBuckets(t: number): void {
    let factor = 1;
    while (t >= this.bucketNs * factor * this.limits.maxBuckets) factor *= 2;
    if (factor === 1) return;
    this.bucketNs *= factor;
    for (const k of this.streams.values()) {
      if (k.buckets === null) continue;
      const old = [...k.buckets];
      k.buckets.clear();
      for (const [b, v] of old) {
        const nb = Math.floor(b / factor);
        const into = k.buckets.get(nb);
        if (into === undefined) k.buckets.set(nb, v);
        else {
          into.n += v.n;
          for (const [name, [lo, hi]] of v.ranges) {
            const r = into.ranges.get(name);
            if (r === undefined) into.ranges.set(name, [lo, hi]);
            else {
              r[0] = Math.min(r[0], lo);
              r[1] = Math.max(r[1], hi);
            }
          }
        }
      }
    }
    for (const s of this.regState.values()) {
      const old = [...s.buckets];
      s.buckets.clear();
      for (const [b, v] of old) {
        const nb = Math.floor(b / factor);
        const into = s.buckets.get(nb);
        if (into === undefined || v.seq >= into.seq) s.buckets.set(nb, v);
      }
    }
  }

  // ---- the register file -------------------------------------------------------------

  /** A guest access or a VMM register event: the register's value as seen, at its time. */
  private registers(e: TraceEvent, cls: AccessClass | null): void {
    const base = this.opts.cmdqvBase;
    if (base === null) return;
    const a = e.args;
    if (cls !== null) {
      if (cls !== "trapped" && cls !== "direct") return;
      const off = argNumber(a.addr) - base;
      if (!(off >= 0 && off < TEGRA241_CMDQV_IO_LEN)) return;
      const v = halves(a.value);
      if (v === null) return;
      this.seen(e.t, off, v[0]);
      if (e.name === "read64" || e.name === "write64") this.seen(e.t, off + 4, v[1]);
      return;
    }
    if (e.actor !== "vmm.cmdqv") return;
    let off: number;
    switch (e.name) {
      case CMDQV_TRACE.READ_MMIO:
      case CMDQV_TRACE.WRITE_MMIO:
        off = argNumber(a.offset);
        break;
      case CMDQV_TRACE.READ_VCMDQ_PAGE0:
      case CMDQV_TRACE.WRITE_VCMDQ_PAGE0:
      case CMDQV_TRACE.READ_VCMDQ_PAGE1:
      case CMDQV_TRACE.WRITE_VCMDQ_PAGE1: {
        const page1 = e.name.endsWith("page1");
        const rel = argNumber(a.offset0) - (page1 ? APERTURE.VCMDQ_PAGE1 : APERTURE.VCMDQ_PAGE0);
        const vi = a.aperture === "vi";
        const page = page1
          ? vi
            ? APERTURE.VINTF_PAGE1
            : APERTURE.VCMDQ_PAGE1
          : vi
            ? APERTURE.VINTF_PAGE0
            : APERTURE.VCMDQ_PAGE0;
        off = page + APERTURE.VCMDQ_STRIDE * argNumber(a.index) + rel;
        break;
      }
      default:
        return;
    }
    const v = halves(a.val);
    if (v === null || !Number.isFinite(off)) return;
    this.seen(e.t, off, v[0]);
    // A 64-bit value (BASE, CONS_INDX_BASE, an 8-byte access) carries the next register too.
    if (v[1] !== 0 || argNumber(a.size) === 8) this.seen(e.t, off + 4, v[1]);
  }

  private seen(t: number, off: number, value: number): void {
    const reg = this.regAt.get(off);
    if (reg === undefined) return;
    let s = this.regState.get(reg);
    if (s === undefined) {
      s = {
        reg,
        t: [],
        seq: [],
        v: [],
        last: undefined,
        lastSeq: -1,
        changes: 0,
        sampledFrom: null,
        buckets: new Map(),
      };
      this.regState.set(reg, s);
    }
    const before = s.last;
    if (before === value) return;
    s.last = value;
    s.lastSeq = this.totalEvents - 1;
    s.changes++;
    if (this.teardownSeen === null) this.ringRegister(off, value);
    this.enableChange(t, reg, before, value);
    // The access is the event being taken: the events before it number totalEvents - 1.
    const seq = this.totalEvents - 1;
    if (s.t.length < this.limits.regFull) {
      s.t.push(t);
      s.seq.push(seq);
      s.v.push(value);
      return;
    }
    s.sampledFrom ??= t;
    const b = Math.floor(t / this.bucketNs);
    const prev = s.buckets.get(b);
    if (prev === undefined || t >= prev.t) s.buckets.set(b, { t, seq, v: value });
  }

  /** EN_OK-like fields that changed: an event on the registers lane. */
  private enableChange(t: number, reg: number, before: number | undefined, after: number): void {
    const info = this.regInfo[reg]!;
    for (const [name, shift, width] of info.fields) {
      if (!ENABLE_FIELDS.has(name)) continue;
      const mask = width >= 32 ? 0xffff_ffff : (1 << width) - 1;
      const was = before === undefined ? null : (before >>> shift) & mask;
      const now = (after >>> shift) & mask;
      // A first sight of 0 is no change worth a mark; a first sight of 1 is.
      if (was === now || (was === null && now === 0)) continue;
      this.addSynthetic({
        t,
        actor: REGS_LANE,
        name: `${name} ${was === null ? "?" : was}→${now}`,
        args: { reg: info.name, field: name, from: was, to: now },
      });
    }
  }

  /** The register file's histories (registers never accessed are left out). */
  registerData(): RegisterData {
    const used = [...this.regState.values()].sort((a, b) => a.reg - b.reg);
    const regs: RegisterInfo[] = [];
    const history: RegisterHistory[] = [];
    for (const s of used) {
      const t = [...s.t];
      const seq = [...s.seq];
      const v = [...s.v];
      const tail = [...s.buckets.values()].sort((a, b) => a.seq - b.seq);
      for (const x of tail) {
        t.push(x.t);
        seq.push(x.seq);
        v.push(x.v);
      }
      history.push({
        reg: regs.length,
        t: delta(t),
        seq: delta(seq),
        v,
        sampledFrom: s.sampledFrom,
        changes: s.changes,
      });
      regs.push(this.regInfo[s.reg]!);
    }
    return { regs, history };
  }

  // ---- the timeline ------------------------------------------------------------------

  timeline(): TimelineData {
    // Lanes in a stable order: by kind, then by name with numbers in numeric order.
    const order = this.lanes
      .map((id, i) => ({ id, i, kind: laneKind(id) }))
      .sort(
        (a, b) =>
          KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
          a.id.localeCompare(b.id, "en", { numeric: true }),
      );
    const remap = new Array<number>(this.lanes.length);
    order.forEach((l, k) => {
      remap[l.i] = k;
    });
    const lanes: Lane[] = order.map((l) => ({ id: l.id, label: laneLabel(l.id), kind: l.kind }));
    const streams: EventStream[] = [];
    const aggregates: Aggregate[] = [];
    let withArgs = 0;
    let sampled = 0;
    const all = [...this.streams.values()].sort(
      (a, b) => remap[a.lane]! - remap[b.lane]! || a.name - b.name || a.flags - b.flags,
    );
    for (const s of all) {
      // Each stream in time order (the hardware's events arrive behind the clock).
      const idx = s.t.map((_, i) => i).sort((a, b) => s.t[a]! - s.t[b]! || a - b);
      const argAt: number[] = [];
      const args: number[] = [];
      idx.forEach((r, k) => {
        const a = s.args[r];
        if (a === null || a === undefined) return;
        argAt.push(k);
        args.push(this.intern(a));
        if (s.sample[r]! >= 0) sampled++;
      });
      withArgs += args.length;
      streams.push({
        lane: remap[s.lane]!,
        name: s.name,
        flags: s.flags,
        label: s.label,
        total: s.total,
        t: delta(idx.map((r) => s.t[r]!)),
        dur: s.anyDur ? idx.map((r) => s.dur[r]!) : null,
        argAt: delta(argAt),
        args,
      });
      if (s.buckets === null || s.buckets.size === 0) continue;
      const bs = [...s.buckets.entries()].sort((a, b) => a[0] - b[0]);
      const ranges: Record<string, { min: number[]; max: number[] }> = {};
      for (const [, b] of bs)
        for (const name of b.ranges.keys()) ranges[name] ??= { min: [], max: [] };
      for (const [, b] of bs)
        for (const [name, r] of Object.entries(ranges)) {
          const x = b.ranges.get(name);
          r.min.push(x ? x[0] : -1);
          r.max.push(x ? x[1] : -1);
        }
      aggregates.push({
        lane: remap[s.lane]!,
        name: s.name,
        label: s.label,
        total: s.total,
        bucket: delta(bs.map(([b]) => b)),
        count: bs.map(([, b]) => b.n),
        ranges,
      });
    }
    const dense = all.filter((s) => s.past > 0);
    return {
      lanes,
      strings: this.strings,
      streams,
      aggregates,
      bucketNs: this.bucketNs,
      total: this.totalEvents,
      listed: this.listed,
      withArgs,
      samplingNote:
        dense.length === 0 && this.thinned === 0
          ? null
          : samplingNote({
              total: this.totalEvents,
              listed: this.listed,
              withArgs,
              sampled,
              thinned: this.thinned,
              bucketNs: this.bucketNs,
              limits: this.limits,
              biggest: dense
                .sort((a, b) => b.past - a.past)
                .slice(0, 4)
                .map((s) => `${s.label}: ${group(s.total)}`),
            }),
      start: Number.isFinite(this.first) ? this.first : 0,
      end: this.last,
      stepMarks: [...this.stepMarks],
    };
  }
}

/** `16.4 µs`, `2.0 ms`: a span of virtual ns in words. */
export function formatNs(ns: number): string {
  if (ns < 1000) return `${ns} ns`;
  if (ns < 1e6) return `${(ns / 1000).toFixed(1)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(1)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

const group = (n: number) => String(n).replace(/\B(?=(\d{3})+$)/g, " ");

function samplingNote(x: {
  readonly total: number;
  readonly listed: number;
  readonly withArgs: number;
  readonly sampled: number;
  readonly thinned: number;
  readonly bucketNs: number;
  readonly limits: CollectorLimits;
  readonly biggest: readonly string[];
}): string {
  const where =
    x.thinned === 0
      ? `All ${group(x.total)} events of the run are on the timeline at their times; where they crowd, the marks of one pixel are drawn as one.`
      : `${group(x.listed)} of the run's ${group(x.total)} events are on the timeline: the densest kinds are thinned to every 2nd, 4th, … event (${group(x.thinned)} left out; those with arguments kept).`;
  return (
    `${where} Dense kinds are sampled: each keeps the arguments of its first ${group(x.limits.fullPerKey)} events and of ${group(x.limits.samplesPerKey)} more spread evenly over the run (${group(x.sampled)} samples), so ${group(x.withArgs)} events show their arguments when clicked. ` +
    `PROD and CONS are drawn per ${formatNs(x.bucketNs)} bucket as the band from the least to the greatest value. ` +
    `Configuration, ioctl, interrupt, console and error events all keep their arguments. ` +
    `Most sampled: ${x.biggest.join("; ")}.`
  );
}

/** A dmesg line as the guest's log prints it: `[    0.000006] text`. */
function dmesgLine(e: TraceEvent): string {
  return `[${(e.t / 1e9).toFixed(6).padStart(12)}] ${String(e.args.msg)}`;
}
