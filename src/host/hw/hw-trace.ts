// The hardware's trace events (catalogue: src/trace/events.ts, HW_TRACE), one track per
// global VCMDQ ("hw.vcmdq2"): the queue's life in a VINTF as a begin/end slice, each
// CMD_SYNC wait as a complete slice nested in it, PROD/CONS as a counter sampled at each
// doorbell and each batch of consumed commands, and command errors as instants.
//
// CmdqvHardware builds one only when its tracer is enabled, so a disabled tracer costs the
// hot paths one `tracer.enabled` read. Even enabled, nothing here allocates per command:
// a CMD_SYNC wait is timed from a fixed-size FIFO of doorbells per queue (typed arrays),
// and only the events themselves are objects.

import { HW_TRACE } from "../../trace/events.js";
import type { Tracer } from "../../trace/trace.js";

/** Doorbells remembered per queue; past this the newest entry absorbs the next ones. */
const FIFO = 32;

export class HwTrace {
  private readonly tracer: Tracer;
  private readonly actors: readonly string[];
  /** Per queue: PROD after each doorbell whose commands are not all consumed, and when. */
  private readonly dbProd: Uint32Array;
  private readonly dbT: Float64Array;
  private readonly dbHead: Uint8Array;
  private readonly dbLen: Uint8Array;
  /** End of the queue's last CMD_SYNC slice (slices on one track must not overlap). */
  private readonly syncEnd: Float64Array;
  /** The VINTF each queue's open lifetime slice is in, -1 when none is open. */
  private readonly openV: Int16Array;
  private readonly openL: Int16Array;
  /** The PROD/CONS indices each queue's counter last showed (-1: none yet). */
  private readonly lastProd: Int32Array;
  private readonly lastCons: Int32Array;

  constructor(tracer: Tracer, numVcmdqs: number) {
    this.tracer = tracer;
    this.actors = Array.from({ length: numVcmdqs }, (_, q) => `hw.vcmdq${q}`);
    this.dbProd = new Uint32Array(numVcmdqs * FIFO);
    this.dbT = new Float64Array(numVcmdqs * FIFO);
    this.dbHead = new Uint8Array(numVcmdqs);
    this.dbLen = new Uint8Array(numVcmdqs);
    this.syncEnd = new Float64Array(numVcmdqs);
    this.openV = new Int16Array(numVcmdqs).fill(-1);
    this.openL = new Int16Array(numVcmdqs).fill(-1);
    this.lastProd = new Int32Array(numVcmdqs).fill(-1);
    this.lastCons = new Int32Array(numVcmdqs).fill(-1);
  }

  /** The track of global VCMDQ q. */
  actor(q: number): string {
    return this.actors[q]!;
  }

  /** CMDQ_ALLOC maps q to (v, l), or nowhere (v = -1): close and open its lifetime slice. */
  mapping(q: number, t: number, v: number, l: number, hypOwn: boolean): void {
    if (this.openV[q] === v && this.openL[q] === l) return;
    if (this.openV[q]! >= 0) {
      this.tracer.put({ t, actor: this.actors[q]!, name: HW_TRACE.QUEUE, ph: "E", args: {} });
      this.forget(q);
    }
    this.openV[q] = v;
    this.openL[q] = v >= 0 ? l : -1;
    if (v >= 0)
      this.tracer.put({
        t,
        actor: this.actors[q]!,
        name: HW_TRACE.QUEUE,
        ph: "B",
        args: { vintf: v, lvcmdq: l, hyp_own: hypOwn },
      });
  }

  /** Software wrote CONS or re-based the queue: the doorbells so far mean nothing now. */
  forget(q: number): void {
    this.dbLen[q] = 0;
  }

  /** PROD written (a doorbell) at t. */
  doorbell(q: number, t: number, prod: number, cons: number, log2: number): void {
    const posMask = (2 << log2) - 1;
    const len = this.dbLen[q]!;
    const base = q * FIFO;
    const last = base + ((this.dbHead[q]! + len - 1) % FIFO);
    if (len > 0 && ((this.dbProd[last]! ^ prod) & posMask) === 0) {
      // PROD rewritten with its value: nothing new was published.
    } else if (len === FIFO) {
      this.dbProd[last] = prod;
    } else {
      const k = base + ((this.dbHead[q]! + len) % FIFO);
      this.dbProd[k] = prod;
      this.dbT[k] = t;
      this.dbLen[q] = len + 1;
    }
    this.ptrs(q, t, prod, cons, log2);
  }

  /** Drop the doorbells whose commands are all consumed (PROD not after `cons`). */
  private settle(q: number, cons: number, log2: number): void {
    const posMask = (2 << log2) - 1;
    const size = 1 << log2;
    const base = q * FIFO;
    let head = this.dbHead[q]!;
    let len = this.dbLen[q]!;
    while (len > 0) {
      const d = (this.dbProd[base + head]! - cons) & posMask;
      if (d > 0 && d <= size) break;
      head = (head + 1) % FIFO;
      len--;
    }
    this.dbHead[q] = head;
    this.dbLen[q] = len;
  }

  /** The CMD_SYNC at CONS `cons` completed at t: its wait began at the doorbell that published it. */
  sync(q: number, t: number, cons: number, log2: number): void {
    this.settle(q, cons, log2);
    const issued = this.dbLen[q]! > 0 ? this.dbT[q * FIFO + this.dbHead[q]!]! : t;
    const start = Math.min(t, Math.max(issued, this.syncEnd[q]!));
    this.syncEnd[q] = t;
    this.tracer.put({
      t: start,
      actor: this.actors[q]!,
      name: HW_TRACE.CMD_SYNC,
      ph: "X",
      dur: t - start,
      // `issued` only when the slice had to start later than the doorbell.
      args:
        start === issued
          ? { cons: cons & ((1 << log2) - 1) }
          : { cons: cons & ((1 << log2) - 1), issued },
    });
  }

  /** A batch of commands ended at t (the queue drained, stopped, or the clock's horizon). */
  batch(q: number, t: number, prod: number, cons: number, log2: number): void {
    this.settle(q, cons, log2);
    this.ptrs(q, t, prod, cons, log2);
  }

  /** A counter sample, unless it would repeat the last one. */
  private ptrs(q: number, t: number, prod: number, cons: number, log2: number): void {
    const idx = (1 << log2) - 1;
    const p = prod & idx;
    const c = cons & idx;
    if (this.lastProd[q] === p && this.lastCons[q] === c) return;
    this.lastProd[q] = p;
    this.lastCons[q] = c;
    this.tracer.put({
      t,
      actor: this.actors[q]!,
      name: HW_TRACE.QUEUE_PTRS,
      ph: "C",
      args: { prod: p, cons: c },
    });
  }

  /** The command at `cons` stopped the queue with CONS.ERR = err (opcode -1: not fetched). */
  error(q: number, t: number, cons: number, log2: number, err: number, opcode: number): void {
    this.tracer.put({
      t,
      actor: this.actors[q]!,
      name: HW_TRACE.CMDQ_ERROR,
      args: { cons: cons & ((1 << log2) - 1), err, opcode },
    });
  }
}
