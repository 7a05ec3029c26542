// The effects log: every invalidation the hardware (or the main SMMU CMDQ on a VMM's
// behalf) executed, i.e. the model of what reached the TLBs and ATCs. The checker's
// isolation invariant reads it (design: "disallowed opcodes ... never reach the TLB
// model").
//
// The record path allocates nothing: a ring of preallocated typed arrays, one column per
// field, plus running totals that keep counting when the ring overwrites old entries.
// Effect objects are built only on demand, by entries().

import { hi32, join64, lo32 } from "../../bits/u64.js";
import { CMD_LAYOUT, OPCODE, type OpName, opcodeName } from "../../smmu/commands.js";
import type { Effect, EffectSource } from "./types.js";

// Per-opcode field presence, derived from the command layout table (one source of
// truth for field positions, spec: linux §5): which opcodes carry a VMID, an ASID, a SID,
// and an address (and how many bits of dword1's high word the address uses).
const HAS_VMID = new Uint8Array(256);
const HAS_ASID = new Uint8Array(256);
const HAS_SID = new Uint8Array(256);
/** Mask over dword1[63:32] for the address field; 0 when the opcode has none. */
const ADDR_HI_MASK = new Uint32Array(256);
const ADDR_LO_MASK = 0xffff_f000;

for (const name of Object.keys(OPCODE) as OpName[]) {
  const op = OPCODE[name];
  for (const f of CMD_LAYOUT[name]) {
    if (f.name === "vmid") HAS_VMID[op] = 1;
    else if (f.name === "asid") HAS_ASID[op] = 1;
    else if (f.name === "sid") HAS_SID[op] = 1;
    else if ((f.name === "addr" || f.name === "ipa") && f.dw === 1 && f.lo === 12)
      ADDR_HI_MASK[op] = f.hi >= 63 ? 0xffff_ffff : ((1 << (f.hi - 31)) - 1) >>> 0;
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

export class EffectsLog {
  readonly capacity: number;
  private readonly slotMask: number;
  private readonly t: Float64Array;
  private readonly src: Uint8Array;
  private readonly vcmdq: Int16Array;
  private readonly vintf: Int16Array;
  private readonly opcode: Uint8Array;
  private readonly vmid: Uint16Array;
  private readonly asid: Uint16Array;
  private readonly sid: Uint32Array;
  private readonly addrLo: Uint32Array;
  private readonly addrHi: Uint32Array;
  private readonly byOpcode = new Float64Array(256);
  private readonly bySource = new Float64Array(2);
  /** Records since creation or clear(); the next record's sequence number. */
  private n = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`EffectsLog: capacity ${capacity} must be a positive integer`);
    this.capacity = capacity;
    // A power-of-two ring indexes with a mask instead of a division (the record path is hot).
    this.slotMask = (capacity & (capacity - 1)) === 0 ? capacity - 1 : -1;
    this.t = new Float64Array(capacity);
    this.src = new Uint8Array(capacity);
    this.vcmdq = new Int16Array(capacity);
    this.vintf = new Int16Array(capacity);
    this.opcode = new Uint8Array(capacity);
    this.vmid = new Uint16Array(capacity);
    this.asid = new Uint16Array(capacity);
    this.sid = new Uint32Array(capacity);
    this.addrLo = new Uint32Array(capacity);
    this.addrHi = new Uint32Array(capacity);
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
    const i = this.slotMask >= 0 ? this.n & this.slotMask : this.n % this.capacity;
    const s = source === "main-cmdq" ? SOURCE_MAIN : SOURCE_VCMDQ;
    const op = opcode & 0xff;
    this.t[i] = t;
    this.src[i] = s;
    this.vcmdq[i] = vcmdq;
    this.vintf[i] = vintf;
    this.opcode[i] = op;
    this.vmid[i] = vmid;
    this.asid[i] = asid;
    this.sid[i] = sid;
    this.addrLo[i] = addrLo;
    this.addrHi[i] = addrHi;
    this.n++;
    this.byOpcode[op] = this.byOpcode[op]! + 1;
    this.bySource[s] = this.bySource[s]! + 1;
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
    const op = w0 & 0xff;
    const hiMask = ADDR_HI_MASK[op]!;
    this.record(
      source,
      t,
      vcmdq,
      vintf,
      op,
      HAS_VMID[op] === 1 ? w1 & 0xffff : 0,
      HAS_ASID[op] === 1 ? w1 >>> 16 : 0,
      HAS_SID[op] === 1 ? w1 >>> 0 : 0,
      hiMask === 0 ? 0 : (w2 & ADDR_LO_MASK) >>> 0,
      (w3 & hiMask) >>> 0,
    );
  }

  /** recordWords from the two dwords (bigint; for the host kernel's main-CMDQ path). */
  recordCommand(
    source: EffectSource,
    t: number,
    vcmdq: number,
    vintf: number,
    dw0: bigint,
    dw1: bigint,
  ): void {
    this.recordWords(source, t, vcmdq, vintf, lo32(dw0), hi32(dw0), lo32(dw1), hi32(dw1));
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
      vcmdq: this.bySource[SOURCE_VCMDQ]!,
      mainCmdq: this.bySource[SOURCE_MAIN]!,
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
    this.byOpcode.fill(0);
    this.bySource.fill(0);
  }

  state(): EffectsLogState {
    const entries: EffectsLogState["entries"][number][] = [];
    for (let seq = this.oldestSeq(); seq < this.n; seq++) {
      const i = seq % this.capacity;
      entries.push({
        t: this.t[i]!,
        source: this.src[i]!,
        vcmdq: this.vcmdq[i]!,
        vintf: this.vintf[i]!,
        opcode: this.opcode[i]!,
        vmid: this.vmid[i]!,
        asid: this.asid[i]!,
        sid: this.sid[i]!,
        addrLo: this.addrLo[i]!,
        addrHi: this.addrHi[i]!,
      });
    }
    return {
      capacity: this.capacity,
      count: this.n,
      byOpcode: Array.from(this.byOpcode),
      bySource: [this.bySource[0]!, this.bySource[1]!],
      entries,
    };
  }

  private at(seq: number): Effect {
    const i = seq % this.capacity;
    return {
      seq,
      source: SOURCES[this.src[i]!] ?? "vcmdq",
      t: this.t[i]!,
      vcmdq: this.vcmdq[i]!,
      vintf: this.vintf[i]!,
      opcode: this.opcode[i]!,
      vmid: this.vmid[i]!,
      asid: this.asid[i]!,
      sid: this.sid[i]!,
      addr: join64(this.addrLo[i]!, this.addrHi[i]!),
    };
  }
}
