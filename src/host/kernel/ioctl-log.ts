// Every call into the simulated kernel, in order: the ioctls by their uAPI names and the
// file operations around them (mmap, munmap, read, close), with virtual time, arguments
// and the result or errno. Plain JSON data (bigints as 0x strings), so a run's host side
// can be printed, diffed and replayed.

import type { Tracer } from "../../trace/trace.js";
import type { Clock } from "../../util/clock.js";
import type { Result } from "../../util/result.js";
import { errnoName } from "./errno.js";

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [k: string]: JsonValue };

export interface IoctlLogEntry {
  readonly seq: number;
  /** Virtual ns when the call returned. */
  readonly t: number;
  /** "IOMMU_HW_QUEUE_ALLOC", "mmap", "read(veventq)", … */
  readonly call: string;
  readonly args: JsonValue;
  /** The output on success. */
  readonly result?: JsonValue;
  /** The errno name on failure ("EIO"). */
  readonly errno?: string;
  /** What a failure still reports (IOMMU_HWPT_INVALIDATE's entry_num). */
  readonly detail?: JsonValue;
}

/** Plain JSON of any argument or result value. */
export function toJson(x: unknown): JsonValue {
  if (x === null || x === undefined) return null;
  switch (typeof x) {
    case "boolean":
    case "string":
      return x;
    case "number":
      return Number.isFinite(x) ? x : String(x);
    case "bigint":
      return `0x${BigInt.asUintN(64, x).toString(16)}`;
    case "function":
    case "symbol":
      return null;
    default:
      break;
  }
  if (x instanceof Uint8Array) {
    let s = "0x";
    for (const b of x) s += b.toString(16).padStart(2, "0");
    return s;
  }
  if (Array.isArray(x)) return x.map(toJson);
  const proto = Object.getPrototypeOf(x) as object | null;
  if (proto !== null && proto !== Object.prototype) {
    const name = (proto.constructor as { name?: string } | undefined)?.name ?? "object";
    return `<${name}>`;
  }
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(x as Record<string, unknown>)) {
    if (v === undefined || typeof v === "function") continue;
    out[k] = toJson(v);
  }
  return out;
}

/** Short kernel-style names for condensed lines. */
const LABEL: Readonly<Record<string, string>> = {
  ioasId: "ioas",
  viommuId: "viommu",
  devId: "dev",
  hwptId: "hwpt",
  ptId: "pt",
  vdeviceId: "vdevice",
  veventqId: "veventq",
  hwQueueId: "hw_queue",
  length: "len",
  dataLen: "data_len",
  dataType: "data_type",
  entryLen: "entry_len",
  entryNum: "entry_num",
  inDataType: "type",
  outDataType: "type",
  virtId: "virt_id",
  vintfMmapOffset: "mmap_offset",
  vintfMmapLength: "mmap_len",
  bufLen: "count",
};

const HEX = new Set([
  "iova",
  "length",
  "gpa",
  "offset",
  "vintfMmapOffset",
  "vintfMmapLength",
  "virtId",
  "prot",
  "flags",
]);

/** Keys not worth a condensed line. */
const SKIP = new Set(["data", "bytes", "fd", "size"]);

function fmtValue(key: string, v: JsonValue): string {
  if (typeof v === "number" && HEX.has(key)) return `0x${v.toString(16)}`;
  if (Array.isArray(v)) return `[${v.length}]`;
  if (v !== null && typeof v === "object") return "{…}";
  return String(v);
}

function fmtPairs(obj: JsonValue, skipZeroFlags: boolean): string {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj))
    return obj === null ? "" : String(obj);
  const parts: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (SKIP.has(k)) continue;
    if (skipZeroFlags && k === "flags" && v === 0) continue;
    if (k === "entries" && Array.isArray(v)) {
      parts.push(`entries=${v.length}`);
      continue;
    }
    parts.push(`${LABEL[k] ?? k}=${fmtValue(k, v)}`);
  }
  return parts.join(" ");
}

/** A u64 given as two u32 halves, as toJson writes a bigint: 0x and lower-case hex. */
function hexWords(lo: number, hi: number): string {
  return `0x${((BigInt(hi) << 32n) | BigInt(lo)).toString(16)}`;
}

/** Int32 columns per single-entry invalidation kept by IoctlLog.recordInvalidate1. */
const INV_INTS = 7;

interface RawEntry {
  readonly seq: number;
  readonly t: number;
  readonly call: string;
  readonly args: unknown;
  readonly r: Result<unknown, unknown>;
}

export class IoctlLog {
  private readonly clock: Clock;
  private readonly tracer: Tracer | null;
  private readonly log: IoctlLogEntry[] = [];
  /**
   * Calls not yet turned into JSON are those with seq in [pendingFrom, count): serialising
   * every argument as it happens dominated the trapped invalidation path, so entries are
   * built when someone reads the log. `raw` holds the pending calls recorded by `record`,
   * in seq order; every other pending seq is a recordInvalidate1 call, kept in the
   * columns below. The arguments and results in `raw` are values the kernel handed back
   * or was given; none is mutated after the call.
   */
  private pendingFrom = 0;
  private readonly raw: RawEntry[] = [];
  /**
   * Single-entry IOMMU_HWPT_INVALIDATE calls (the trapped main CMDQ sends one per
   * command) kept in columns, so recording one allocates nothing: its fields live at slot
   * seq mod capacity. Never more calls than the capacity are pending, so a slot is reused
   * only after its call has been flushed or trimmed. The columns grow on demand up to
   * that capacity.
   */
  private readonly invCap: number;
  private readonly invMask: number;
  private invT = new Float64Array(0);
  /** size given (0/1), size, hwptId, dataType, entryLen, errno (0: ok), entryNum. */
  private invI = new Int32Array(0);
  /** The entry's four u32 words. */
  private invW = new Uint32Array(0);
  private count = 0;
  /** Refused IOMMU_DESTROY calls, kept as they happen for the invariant checker. */
  private readonly refused: { seq: number; id: number; errno: string }[] = [];
  /**
   * The most calls kept: a long run (millions of forwarded invalidations) must not grow
   * without bound, so the oldest calls go first; `dropped()` says how many. Sequence
   * numbers stay absolute, so a reader sees the gap.
   */
  private readonly limit: number;
  private droppedCalls = 0;

  constructor(clock: Clock, tracer: Tracer | null = null, limit = 200_000) {
    this.clock = clock;
    this.tracer = tracer;
    this.limit = Math.max(1, Math.floor(limit));
    if (!(this.limit <= 2 ** 28)) throw new RangeError(`IoctlLog: limit ${limit} above 2^28 calls`);
    // A power of two at least the most pending calls (limit + limit/4 + 1), so a slot is a mask.
    this.invCap = 2 ** Math.ceil(Math.log2(this.limit + (this.limit >> 2) + 2));
    this.invMask = this.invCap - 1;
  }

  /**
   * Record an IOMMU_HWPT_INVALIDATE of exactly one entry, given as its four u32 words
   * (`words[0..3]`), without keeping `words` (the caller may reuse it): what `record`
   * would keep, copied into columns. `errno` 0 is success. The numbers are u32 (the
   * caller checks).
   */
  recordInvalidate1(
    size: number | undefined,
    hwptId: number,
    dataType: number,
    entryLen: number,
    words: Uint32Array,
    errno: number,
    entryNum: number,
  ): void {
    const seq = this.count++;
    const slot = seq & this.invMask;
    if (slot >= this.invT.length) this.growInvalidates(slot + 1);
    this.invT[slot] = this.clock.now();
    const i = slot * INV_INTS;
    const c = this.invI;
    c[i] = size === undefined ? 0 : 1;
    c[i + 1] = size ?? 0;
    c[i + 2] = hwptId;
    c[i + 3] = dataType;
    c[i + 4] = entryLen;
    c[i + 5] = errno;
    c[i + 6] = entryNum;
    const w = this.invW;
    const o = 4 * slot;
    w[o] = words[0]!;
    w[o + 1] = words[1]!;
    w[o + 2] = words[2]!;
    w[o + 3] = words[3]!;
    this.recorded();
    if (this.tracer?.enabled) {
      const e = this.flush().at(-1)!;
      this.tracer.emit("host.kernel", "IOMMU_HWPT_INVALIDATE", {
        ret: e.errno ?? "ok",
        line: IoctlLog.condense(e),
      });
    }
  }

  private growInvalidates(need: number): void {
    const n = Math.min(this.invCap, Math.max(need, 2 * this.invT.length, 256));
    const t = new Float64Array(n);
    t.set(this.invT);
    this.invT = t;
    const c = new Int32Array(INV_INTS * n);
    c.set(this.invI);
    this.invI = c;
    const w = new Uint32Array(4 * n);
    w.set(this.invW);
    this.invW = w;
  }

  /** The entry a recordInvalidate1 call stands for, as `record` would have built it. */
  private invalidateEntry(seq: number): IoctlLogEntry {
    const slot = seq & this.invMask;
    const i = slot * INV_INTS;
    const c = this.invI;
    const args: Record<string, JsonValue> = {};
    if (c[i] === 1) args.size = c[i + 1]! >>> 0;
    args.hwptId = c[i + 2]! >>> 0;
    args.dataType = c[i + 3]! >>> 0;
    args.entryLen = c[i + 4]! >>> 0;
    const w = this.invW;
    const o = 4 * slot;
    args.entries = [[hexWords(w[o]!, w[o + 1]!), hexWords(w[o + 2]!, w[o + 3]!)]];
    const base = { seq, t: this.invT[slot]!, call: "IOMMU_HWPT_INVALIDATE", args };
    const errno = c[i + 5]!;
    const entryNum = c[i + 6]!;
    return errno === 0
      ? { ...base, result: { entryNum } }
      : { ...base, errno: errnoName(errno), detail: { entryNum } };
  }

  /** Record one call. The error is an errno, or {errno, entryNum} for invalidations. */
  record(call: string, args: unknown, r: Result<unknown, unknown>): void {
    const seq = this.count++;
    this.raw.push({ seq, t: this.clock.now(), call, args, r });
    if (!r.ok && call === "IOMMU_DESTROY")
      this.refused.push({
        seq,
        id: (args as { id?: number } | null)?.id ?? -1,
        errno: errnoName(r.error as number),
      });
    this.recorded();
    if (this.tracer?.enabled) {
      const e = this.flush().at(-1)!;
      this.tracer.emit("host.kernel", call, { ret: e.errno ?? "ok", line: IoctlLog.condense(e) });
    }
  }

  /** After each call: trim in batches (a quarter of the limit at a time), so dropping stays cheap. */
  private recorded(): void {
    if (this.count - this.pendingFrom + this.log.length > this.limit + (this.limit >> 2))
      this.trim();
  }

  private flush(): IoctlLogEntry[] {
    const raw = this.raw;
    let k = 0;
    for (let seq = this.pendingFrom; seq < this.count; seq++) {
      const p = k < raw.length && raw[k]!.seq === seq ? raw[k++]! : null;
      if (p === null) {
        this.log.push(this.invalidateEntry(seq));
        continue;
      }
      const base = { seq: p.seq, t: p.t, call: p.call, args: toJson(p.args) };
      const r = p.r;
      if (r.ok) this.log.push({ ...base, result: toJson(r.value) });
      else if (typeof r.error === "number") this.log.push({ ...base, errno: errnoName(r.error) });
      else {
        const x = r.error as { errno: number; entryNum?: number };
        this.log.push({
          ...base,
          errno: errnoName(x.errno),
          detail: toJson({ entryNum: x.entryNum }),
        });
      }
    }
    raw.length = 0;
    this.pendingFrom = this.count;
    return this.log;
  }

  private trim(): void {
    let excess = this.count - this.pendingFrom + this.log.length - this.limit;
    const fromLog = Math.min(excess, this.log.length);
    this.log.splice(0, fromLog);
    excess -= fromLog;
    if (excess > 0) {
      this.pendingFrom += excess;
      let k = 0;
      while (k < this.raw.length && this.raw[k]!.seq < this.pendingFrom) k++;
      this.raw.splice(0, k);
    }
    this.droppedCalls += fromLog + Math.max(0, excess);
  }

  /** Calls no longer kept (the oldest, beyond the limit). */
  dropped(): number {
    return this.droppedCalls;
  }

  /** IOMMU_DESTROY calls the kernel refused, in order (cheap). */
  refusedDestroys(): readonly {
    readonly seq: number;
    readonly id: number;
    readonly errno: string;
  }[] {
    return this.refused;
  }

  /** Calls recorded so far (cheap: no entry is built). */
  size(): number {
    return this.count;
  }

  entries(): readonly IoctlLogEntry[] {
    return this.flush();
  }

  /** One line per call: `IOMMU_HW_QUEUE_ALLOC viommu=3 type=1 index=0 … → hw_queue=5`. */
  condensed(): string[] {
    const lines = this.flush().map(IoctlLog.condense);
    if (this.droppedCalls > 0) lines.unshift(`… ${this.droppedCalls} earlier calls not kept`);
    return lines;
  }

  static condense(e: IoctlLogEntry): string {
    const args = fmtPairs(e.args, true);
    const head = args.length > 0 ? `${e.call} ${args}` : e.call;
    if (e.errno !== undefined) {
      const d = e.detail !== undefined ? ` ${fmtPairs(e.detail, false)}` : "";
      return `${head} → ${e.errno}${d}`;
    }
    const res = e.result === undefined || e.result === null ? "" : fmtPairs(e.result, false);
    return `${head} → ${res.length > 0 ? res : "0"}`;
  }
}
