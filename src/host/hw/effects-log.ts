// The effects log: every invalidation the hardware (or the main SMMU CMDQ on a VMM's
// behalf) executed, i.e. the model of what reached the TLBs and ATCs. The checker's
// isolation invariant reads it (design: "disallowed opcodes ... never reach the TLB
// model").
//
// The record path allocates nothing: a ring of preallocated typed arrays, one column per
// field, plus running totals that keep counting when the ring overwrites old entries.
// Effect objects are built only on demand, by entries().

import { join64 } from "../../bits/u64.js";
import { CMD_LAYOUT, OPCODE, type OpName, opcodeName } from "../../smmu/commands.js";
import type { Effect, EffectSource } from "./types.js";

// Per-opcode field masks, derived from the command layout table (one source of truth
// for field positions, spec: linux §5): an entry's VMID|ASID word is w1 & M_IDS, its SID
// w1 & M_SID, its address w2 & M_ADDR_LO and w3 & M_ADDR_HI (0 where the opcode has no
// such field). MASKS[4·op + M_*]: one table, so a record reads one place.
const M_IDS = 0;
const M_SID = 1;
const M_ADDR_LO = 2;
const M_ADDR_HI = 3;
const MASKS = new Uint32Array(256 * 4);

for (const name of Object.keys(OPCODE) as OpName[]) {
  const m = 4 * OPCODE[name];
  for (const f of CMD_LAYOUT[name]) {
    if (f.name === "vmid") MASKS[m + M_IDS] = MASKS[m + M_IDS]! | 0xffff;
    else if (f.name === "asid") MASKS[m + M_IDS] = MASKS[m + M_IDS]! | 0xffff_0000;
    else if (f.name === "sid") MASKS[m + M_SID] = 0xffff_ffff;
    else if ((f.name === "addr" || f.name === "ipa") && f.dw === 1 && f.lo === 12) {
      MASKS[m + M_ADDR_LO] = 0xffff_f000;
      MASKS[m + M_ADDR_HI] = f.hi >= 63 ? 0xffff_ffff : ((1 << (f.hi - 31)) - 1) >>> 0;
    }
  }
}

const SOURCE_VCMDQ = 0;
const SOURCE_MAIN = 1;
const SOURCES: readonly EffectSource[] = ["vcmdq", "main-cmdq"];

export interface EffectTotals {
  /** Every record since creation or clear(), overwritten or not. */
  readonly all: number;
  readonly vcmdq: number;
  readonly mainCmdq: number;
  /** Records per opcode name (only opcodes seen). */
  readonly byOpcode: Readonly<Record<string, number>>;
}

export interface EffectsLogState {
  readonly capacity: number;
  readonly count: number;
  readonly byOpcode: readonly number[];
  readonly bySource: readonly [number, number];
  /** The retained entries, oldest first (at most `capacity`). */
  readonly entries: readonly {
    readonly t: number;
    readonly source: number;
    readonly vcmdq: number;
    readonly vintf: number;
    readonly opcode: number;
    readonly vmid: number;
    readonly asid: number;
    readonly sid: number;
    readonly addrLo: number;
    readonly addrHi: number;
  }[];
}

/**
 * One entry is a row of ROW_WORDS u32 (32 bytes) in one buffer, so a record touches one
 * cache line instead of ten columns: the time as a float64 in words 0-1, then the packed
 * fields below. Int16/Uint16 fields keep the truncation the typed columns they replace had.
 */
const ROW_WORDS = 8;
/** source (bits 7:0) | opcode (bits 15:8). */
const W_SRC_OP = 2;
/** vcmdq as int16 (bits 15:0) | vintf as int16 (bits 31:16). */
const W_QUEUES = 3;
/** vmid (bits 15:0) | asid (bits 31:16). */
const W_IDS = 4;
const W_SID = 5;
const W_ADDR_LO = 6;
const W_ADDR_HI = 7;

export class EffectsLog {
  readonly capacity: number;
  private readonly slotMask: number;
  /** The rows as u32 words and, over the same bytes, as float64 (the time, index 4·slot). */
  private readonly rows: Uint32Array;
  private readonly times: Float64Array;
  private readonly byOpcode = new Float64Array(256);
  /** Records from the main CMDQ; the VCMDQ count is n minus this. */
  private mainCount = 0;
  /** Records since creation or clear(); the next record's sequence number. */
  private n = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`EffectsLog: capacity ${capacity} must be a positive integer`);
    this.capacity = capacity;
    // A power-of-two ring indexes with a mask instead of a division (the record path is hot).
    this.slotMask = (capacity & (capacity - 1)) === 0 ? capacity - 1 : -1;
    const buf = new ArrayBuffer(capacity * ROW_WORDS * 4);
    this.rows = new Uint32Array(buf);
    this.times = new Float64Array(buf);
  }

  /**
   * Record one executed invalidation from its raw fields. Allocation-free.
   * `vcmdq` is -1 for the main CMDQ; `vintf` is -1 when no VINTF is involved.
   */
  record(
    source: EffectSource,
    t: number,
    vcmdq: number,
    vintf: number,
    opcode: number,
    vmid: number,
    asid: number,
    sid: number,
    addrLo: number,
    addrHi: number,
  ): void {
    const op = opcode & 0xff;
    const r = this.nextRow(source, t, op);
    const rows = this.rows;
    rows[r + W_QUEUES] = (vcmdq & 0xffff) | (vintf << 16);
    rows[r + W_IDS] = (vmid & 0xffff) | (asid << 16);
    rows[r + W_SID] = sid;
    rows[r + W_ADDR_LO] = addrLo;
    rows[r + W_ADDR_HI] = addrHi;
  }

  /** Claim the next slot for a record of `op` at `t`, fill its time, source and opcode, and
   * count it; returns the index of its first word in `rows`. */
  private nextRow(source: EffectSource, t: number, op: number): number {
    const i = this.slotMask >= 0 ? this.n & this.slotMask : this.n % this.capacity;
    const r = i * ROW_WORDS;
    this.times[i * (ROW_WORDS / 2)] = t;
    if (source === "main-cmdq") {
      this.rows[r + W_SRC_OP] = SOURCE_MAIN | (op << 8);
      this.mainCount++;
    } else {
      this.rows[r + W_SRC_OP] = SOURCE_VCMDQ | (op << 8);
    }
    this.n++;
    this.byOpcode[op] = this.byOpcode[op]! + 1;
    return r;
  }

  /**
   * Record a command from its four u32 words (w0 = dword0[31:0] … w3 = dword1[63:32]),
   * as executed (after any VMID/SID substitution). The fields come from the opcode's
   * layout (spec: linux §5); absent fields record as 0. Allocation-free.
   */
  recordWords(
    source: EffectSource,
    t: number,
    vcmdq: number,
    vintf: number,
    w0: number,
    w1: number,
    w2: number,
    w3: number,
  ): void {
    // The stores of record(), written out: this is the consumer's per-command path.
    const op = w0 & 0xff;
    const m = 4 * op;
    const r = this.nextRow(source, t, op);
    const rows = this.rows;
    rows[r + W_QUEUES] = (vcmdq & 0xffff) | (vintf << 16);
    rows[r + W_IDS] = w1 & MASKS[m + M_IDS]!;
    rows[r + W_SID] = w1 & MASKS[m + M_SID]!;
    rows[r + W_ADDR_LO] = w2 & MASKS[m + M_ADDR_LO]!;
    rows[r + W_ADDR_HI] = w3 & MASKS[m + M_ADDR_HI]!;
  }

  /** Records since creation or clear(), including overwritten ones. */
  count(): number {
    return this.n;
  }

  /** Entries still in the ring. */
  retained(): number {
    return Math.min(this.n, this.capacity);
  }

  /** Sequence number of the oldest retained entry. */
  oldestSeq(): number {
    return this.n - this.retained();
  }

  /** Records of one opcode so far (running total). */
  totalFor(opcode: number): number {
    return this.byOpcode[opcode & 0xff]!;
  }

  totals(): EffectTotals {
    const byOpcode: Record<string, number> = {};
    for (let op = 0; op < 256; op++) {
      const c = this.byOpcode[op]!;
      if (c > 0) byOpcode[opcodeName(op)] = c;
    }
    return {
      all: this.n,
      vcmdq: this.n - this.mainCount,
      mainCmdq: this.mainCount,
      byOpcode,
    };
  }

  /** Retained entries with seq ≥ `from`, oldest first, as objects (allocates). */
  entries(from = 0): Effect[] {
    const out: Effect[] = [];
    const start = Math.max(this.oldestSeq(), Math.ceil(from));
    for (let seq = start; seq < this.n; seq++) out.push(this.at(seq));
    return out;
  }

  /** Forget every entry and every total. */
  clear(): void {
    this.n = 0;
    this.mainCount = 0;
    this.byOpcode.fill(0);
  }

  state(): EffectsLogState {
    const entries: EffectsLogState["entries"][number][] = [];
    for (let seq = this.oldestSeq(); seq < this.n; seq++)
      entries.push(this.entryAt(seq % this.capacity));
    return {
      capacity: this.capacity,
      count: this.n,
      byOpcode: Array.from(this.byOpcode),
      bySource: [this.n - this.mainCount, this.mainCount],
      entries,
    };
  }

  /** Slot i's fields, decoded (allocates). */
  private entryAt(i: number): EffectsLogState["entries"][number] {
    const r = i * ROW_WORDS;
    const rows = this.rows;
    const srcOp = rows[r + W_SRC_OP]!;
    const queues = rows[r + W_QUEUES]!;
    const ids = rows[r + W_IDS]!;
    return {
      t: this.times[i * (ROW_WORDS / 2)]!,
      source: srcOp & 0xff,
      vcmdq: (queues << 16) >> 16,
      vintf: queues >> 16,
      opcode: (srcOp >>> 8) & 0xff,
      vmid: ids & 0xffff,
      asid: ids >>> 16,
      sid: rows[r + W_SID]!,
      addrLo: rows[r + W_ADDR_LO]!,
      addrHi: rows[r + W_ADDR_HI]!,
    };
  }

  private at(seq: number): Effect {
    const i = seq % this.capacity;
    const e = this.entryAt(i);
    return {
      seq,
      source: SOURCES[e.source] ?? "vcmdq",
      t: e.t,
      vcmdq: e.vcmdq,
      vintf: e.vintf,
      opcode: e.opcode,
      vmid: e.vmid,
      asid: e.asid,
      sid: e.sid,
      addr: join64(e.addrLo, e.addrHi),
    };
  }
}
