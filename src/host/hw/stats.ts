// Hardware counters (diagnostics, not registers): flat Float64Arrays so that counting on
// the hot paths allocates nothing; stats() builds the plain HwStats object on demand.

import type { HwStats } from "./types.js";

/** Index of each scalar counter. */
export const STAT = {
  COMMANDS: 0,
  INVALIDATIONS: 1,
  SYNCS: 2,
  NOOPS: 3,
  ERRORS: 4,
  IRQ_EDGES: 5,
  IRQ_MASKED: 6,
  IRQ_DELIVERIES: 7,
  BAD_SIZE: 8,
  BAD_UNKNOWN: 9,
  BAD_RO_WRITE: 10,
  BAD_LOCKED: 11,
  NARROW_READS: 12,
  UNMAPPED_SLOT: 13,
  MAP_ORDER: 14,
} as const;
const NUM_STATS = 15;

/** CONS.ERR is 7 bits. */
const NUM_CODES = 128;

export interface HwCountersState {
  readonly scalars: readonly number[];
  readonly perQueue: readonly number[];
  readonly byCode: readonly number[];
}

export class HwCounters {
  readonly scalars = new Float64Array(NUM_STATS);
  readonly perQueue: Float64Array;
  readonly byCode = new Float64Array(NUM_CODES);

  constructor(numVcmdqs: number) {
    this.perQueue = new Float64Array(numVcmdqs);
  }

  inc(i: number): void {
    this.scalars[i] = this.scalars[i]! + 1;
  }

  command(q: number): void {
    this.scalars[STAT.COMMANDS] = this.scalars[STAT.COMMANDS]! + 1;
    this.perQueue[q] = this.perQueue[q]! + 1;
  }

  /** A run of commands of queue q: `inv` invalidations, `syncs` CMD_SYNCs, `noops` others. */
  commands(q: number, inv: number, syncs: number, noops: number): void {
    const s = this.scalars;
    const n = inv + syncs + noops;
    s[STAT.COMMANDS] = s[STAT.COMMANDS]! + n;
    s[STAT.INVALIDATIONS] = s[STAT.INVALIDATIONS]! + inv;
    s[STAT.SYNCS] = s[STAT.SYNCS]! + syncs;
    s[STAT.NOOPS] = s[STAT.NOOPS]! + noops;
    this.perQueue[q] = this.perQueue[q]! + n;
  }

  error(code: number): void {
    this.scalars[STAT.ERRORS] = this.scalars[STAT.ERRORS]! + 1;
    const c = code & (NUM_CODES - 1);
    this.byCode[c] = this.byCode[c]! + 1;
  }

  snapshot(): HwStats {
    const s = this.scalars;
    const errorsByCode: Record<number, number> = {};
    for (let c = 0; c < NUM_CODES; c++) if (this.byCode[c]! > 0) errorsByCode[c] = this.byCode[c]!;
    const bad =
      s[STAT.BAD_SIZE]! + s[STAT.BAD_UNKNOWN]! + s[STAT.BAD_RO_WRITE]! + s[STAT.BAD_LOCKED]!;
    return {
      commands: s[STAT.COMMANDS]!,
      commandsPerQueue: Array.from(this.perQueue),
      invalidations: s[STAT.INVALIDATIONS]!,
      syncs: s[STAT.SYNCS]!,
      noops: s[STAT.NOOPS]!,
      errors: s[STAT.ERRORS]!,
      errorsByCode,
      irqEdges: s[STAT.IRQ_EDGES]!,
      irqMasked: s[STAT.IRQ_MASKED]!,
      irqDeliveries: s[STAT.IRQ_DELIVERIES]!,
      badAccesses: bad,
      badBySize: s[STAT.BAD_SIZE]!,
      badUnknownOffset: s[STAT.BAD_UNKNOWN]!,
      badReadOnlyWrite: s[STAT.BAD_RO_WRITE]!,
      badLockedWrite: s[STAT.BAD_LOCKED]!,
      narrowReads: s[STAT.NARROW_READS]!,
      unmappedSlotAccesses: s[STAT.UNMAPPED_SLOT]!,
      mapOrderViolations: s[STAT.MAP_ORDER]!,
    };
  }

  state(): HwCountersState {
    return {
      scalars: Array.from(this.scalars),
      perQueue: Array.from(this.perQueue),
      byCode: Array.from(this.byCode),
    };
  }
}
