// The Tegra241 CMDQV silicon as a host-physical MMIO device: Config page (global
// registers, CMDQ_ALLOC map, VINTF blocks), global VCMDQ page0/page1, and every VINTF's
// LVCMDQ page0/page1, whose slots alias the global VCMDQ registers through CMDQ_ALLOC.
// It evolves with virtual time (the three enable handshakes and the command consumer),
// reports command errors through CONS.ERR, GERROR and the error maps, raises an
// edge-triggered IRQ, and records every executed invalidation in the effects log.
//
// Facts: spec linux §1 (registers), §2 (behaviour), §5 (commands); qemu §2.2–§2.4
// (fields, reset values). Inferences are marked [inf] here and listed in docs/hardware.md.
//
// The Config page's registers and the CMDQ_ALLOC slot map are config-page.ts; this file
// routes aperture offsets and owns what changes with time.
//
// Hot paths (page0 accesses, the consumer loop) allocate nothing: registers live in
// typed arrays indexed by global VCMDQ number, the owner view and the command words are
// reused, and bigint appears only on the 64-bit access path.

import { hi32, join64, lo32 } from "../../bits/u64.js";
import type { MmioDevice, PhysMemory, SmallSize } from "../../mem/types.js";
import { APERTURE, BITS, V_CONFIG_RESET, VCMDQ0, VCMDQ1 } from "../../regs/cmdqv.js";
import { CMDQ_ERR, withConsErr } from "../../smmu/errors.js";
import { QUEUE_LOG2SIZE_MAX, qIsEmpty } from "../../smmu/queue.js";
import { NULL_TRACER, type Tracer } from "../../trace/trace.js";
import type { Clock, TimeListener } from "../../util/clock.js";
import { ConfigPage, SID_STRIDE } from "./config-page.js";
import { CMD_CLASS, filterCommand, OP_CLASS, type OwnerView } from "./consumer.js";
import { EffectsLog, type EffectsLogState } from "./effects-log.js";
import { ErrorMaps, type ErrorMapsState } from "./errors.js";
import { checkHwConfig, geometryOf, hwApertureSize, LVCMDQ_SLOTS } from "./geometry.js";
import { EnableSet, type EnableSetState } from "./handshake.js";
import { HwTrace } from "./hw-trace.js";
import { HwCounters, type HwCountersState, STAT } from "./stats.js";
import type { CmdqvDevice, HwConfig, HwGeometry, HwStats, HwUnknowns, IrqSink } from "./types.js";
import { VcmdqRegs, type VcmdqRegsState } from "./vcmdq-state.js";

const INF = Number.POSITIVE_INFINITY;
const SLOT_SHIFT = 7; // APERTURE.VCMDQ_STRIDE = 0x80
const SLOT_MASK = APERTURE.VCMDQ_STRIDE - 1;
const VINTF_PAIR_MASK = APERTURE.VINTF_STRIDE - 1;
const PAGE_MASK = APERTURE.PAGE_SIZE - 1;
const CONS_WRITABLE = (BITS.INDEX_MASK | BITS.CONS_ERR_MASK) >>> 0;
const GERROR_BITS =
  BITS.GERROR_CMDQ_ERR | BITS.GERROR_CONS_DRAM_WR_ABT_ERR | BITS.GERROR_CMDQ_INIT_ERR;
const TWO_32 = 2 ** 32;

/** Snapshot of the whole device: plain numbers and arrays (see state()). */
export interface CmdqvHwState {
  /** Virtual time the device has been advanced to. */
  readonly t: number;
  readonly config: number;
  readonly viIntMask: readonly number[];
  readonly alloc: readonly number[];
  readonly vintfConfig: readonly number[];
  readonly glbFiltCfg: readonly number[];
  readonly glbFiltData: readonly number[];
  /** SID_MATCH/SID_REPLACE, 16 slots per VINTF (slots ≥ numSids stay 0). */
  readonly sidMatch: readonly number[];
  readonly sidReplace: readonly number[];
  readonly maps: ErrorMapsState;
  readonly queues: VcmdqRegsState;
  readonly enable: {
    readonly cmdqv: EnableSetState;
    readonly vintf: EnableSetState;
    readonly vcmdq: EnableSetState;
  };
  /** When each VCMDQ completes its next command, -1 when it is not consuming. */
  readonly nextAt: readonly number[];
  readonly irqPending: boolean;
  readonly counters: HwCountersState;
  readonly effects: EffectsLogState;
}

/** A decoded view of one VCMDQ for reports and debugging (allocates). */
export interface VcmdqView {
  readonly q: number;
  readonly cons: number;
  readonly prod: number;
  readonly config: number;
  readonly status: number;
  readonly gerror: number;
  readonly gerrorn: number;
  readonly base: bigint;
  readonly consIndxBase: bigint;
  /** CMDQ_ALLOC mapping, -1 when not allocated to a VINTF. */
  readonly vintf: number;
  readonly lvcmdq: number;
  /** Consuming right now (enabled, non-empty, no active error). */
  readonly busy: boolean;
}

export class CmdqvHardware implements CmdqvDevice, MmioDevice, TimeListener {
  readonly name = "tegra241-cmdqv";
  readonly geometry: HwGeometry;
  /** Host-physical base of the aperture; MMIO offsets are relative to it. */
  readonly basePhys: number;
  /** Bytes decoded: apertureSize(numVintfs). spec: linux §1.1 [inf]. */
  readonly size: number;
  /** Every executed invalidation (the TLB/ATC model). */
  readonly effects: EffectsLog;

  private readonly mem: PhysMemory;
  private readonly clock: Clock;
  private readonly unknowns: HwUnknowns;
  private readonly handshakeNs: number;
  private readonly cmdNs: number;
  private readonly configReset: number;
  private readonly nq: number;
  private readonly nv: number;

  /** Config page registers and the CMDQ_ALLOC map. spec: linux §1.2, §1.3. */
  private readonly cp: ConfigPage;
  private readonly maps: ErrorMaps;
  private readonly q: VcmdqRegs;

  // The three enable handshakes.
  private readonly enCmdqv = new EnableSet(1);
  private readonly enVintf: EnableSet;
  private readonly enQueue: EnableSet;

  // Consumer: completion time of each busy queue's next command; the busy set.
  private readonly nextAt: Float64Array;
  private readonly armed: Int16Array;
  private readonly armedPos: Int16Array;
  private armedCount = 0;

  private t: number;
  private irqPending = false;
  private delivering = false;
  private readonly sinks: IrqSink[] = [];
  private readonly counters: HwCounters;
  /** The command being executed, as four u32 words (reused). */
  private readonly words = new Uint32Array(4);
  /** An armed one-shot error per queue (0 = none): the explorer's hardware event. */
  private readonly armedError: Uint8Array;
  /** The executing queue's owner, filled per command (reused). */
  private readonly owner: OwnerView;
  private readonly tracer: Tracer;
  /** The trace events' bookkeeping, built only when the tracer is enabled. */
  private readonly hwTrace: HwTrace | null;

  constructor(cfg: HwConfig, mem: PhysMemory, clock: Clock, tracer: Tracer = NULL_TRACER) {
    checkHwConfig(cfg);
    this.geometry = geometryOf(cfg);
    this.basePhys = cfg.basePhys;
    this.size = hwApertureSize(this.geometry);
    this.mem = mem;
    this.clock = clock;
    this.unknowns = cfg.unknowns;
    this.handshakeNs = cfg.handshakeNs;
    this.cmdNs = cfg.cmdNs;
    this.configReset = (cfg.configReset ?? V_CONFIG_RESET) >>> 0;
    const nq = this.geometry.numVcmdqs;
    const nv = this.geometry.numVintfs;
    this.nq = nq;
    this.nv = nv;
    this.effects = new EffectsLog(cfg.effectsCapacity);
    this.maps = new ErrorMaps(nv);
    this.q = new VcmdqRegs(nq);
    this.enVintf = new EnableSet(nv);
    this.enQueue = new EnableSet(nq);
    this.nextAt = new Float64Array(nq);
    this.armedError = new Uint8Array(nq);
    this.armed = new Int16Array(nq);
    this.armedPos = new Int16Array(nq);
    this.counters = new HwCounters(nq);
    this.tracer = tracer;
    this.hwTrace = tracer.enabled ? new HwTrace(tracer, nq) : null;
    this.cp = new ConfigPage(this.geometry, this.counters, this.maps, {
      cmdqvStatus: () => this.enCmdqv.ok[0]!,
      vintfEnableOk: (v) => this.enVintf.ok[v]!,
      queueErrorActive: (q) => this.q.errorActive(q),
      configWritten: () => this.reevalCmdqv(this.t),
      vintfConfigWritten: (v) => this.reevalVintf(v, this.t),
      allocChanged: (q) => {
        if (this.tracer.enabled) this.traceMapping(q);
        this.reevalQueue(q, this.t);
      },
    });
    this.owner = {
      guest: false,
      vmid: 0,
      sidMatch: this.cp.sidMatch,
      sidReplace: this.cp.sidReplace,
      sidBase: 0,
      numSids: this.geometry.numSids,
    };
    this.t = clock.now();
    this.reset();
  }

  /** Power-on values (QEMU's emulated ones, spec: linux §1.8, qemu §2.7): CONFIG =
   * cfg.configReset (default V_CONFIG_RESET, CMDQV_EN = 1) with STATUS = its bit 0, every
   * other register 0. The effects log and the counters are diagnostics and survive. */
  reset(): void {
    this.cp.reset(this.configReset);
    this.maps.reset();
    this.q.reset();
    this.enCmdqv.reset(this.cp.config & BITS.CMDQV_EN);
    this.enVintf.reset(0);
    this.enQueue.reset(0);
    this.nextAt.fill(INF);
    this.armedPos.fill(-1);
    this.armedCount = 0;
    this.irqPending = false;
    if (this.tracer.enabled) for (let q = 0; q < this.nq; q++) this.traceMapping(q);
  }

  /** Open or close q's lifetime slice to match CMDQ_ALLOC (tracing only). */
  private traceMapping(q: number): void {
    const v = this.cp.qVintf[q]!;
    const hypOwn = v >= 0 && (this.cp.vintfConfig[v]! & BITS.VINTF_HYP_OWN) !== 0;
    this.hwTrace!.mapping(q, this.t, v, this.cp.qLv[q]!, hypOwn);
  }

  /** Register an IRQ sink; edges go to every sink in registration order. */
  onIrq(sink: IrqSink): void {
    this.sinks.push(sink);
  }

  /** Virtual time the device state corresponds to. */
  time(): number {
    return this.t;
  }

  // ---- time ----------------------------------------------------------------------------

  /** Bring the device to virtual time `t`: fire due handshakes, consume commands, then
   * deliver any IRQ edge raised on the way. A t at or before the current time is a no-op. */
  advanceTo(t: number): void {
    if (t > this.t && Number.isFinite(t)) this.run(t);
    this.flushIrq();
  }

  /**
   * Process every event (handshake completion, command completion) with time ≤ t in
   * time order; at equal times commands go first, then handshakes, and queues in index
   * order. Commands complete at fixed cmdNs steps from when the queue became busy, so
   * the outcome does not depend on how time is sliced into advanceTo calls.
   */
  private run(t: number): void {
    const tracing = this.tracer.enabled;
    for (;;) {
      let qb = -1;
      let tq = INF;
      // The earliest other queue: commands of qb may run back to back until it is due.
      let q2 = -1;
      let t2 = INF;
      for (let k = 0; k < this.armedCount; k++) {
        const q = this.armed[k]!;
        const a = this.nextAt[q]!;
        if (a < tq || (a === tq && q < qb)) {
          q2 = qb;
          t2 = tq;
          tq = a;
          qb = q;
        } else if (a < t2 || (a === t2 && q < q2)) {
          t2 = a;
          q2 = q;
        }
      }
      const th = this.handshakeNext();
      if (qb >= 0 && tq <= th) {
        if (tq > t) break;
        // Execute qb's commands in a burst while it stays first in time order: nothing it
        // does changes another queue's schedule, and a handshake due at the same time
        // still goes after commands.
        this.burst(qb, tq, Math.min(t, th), t2, q2, tracing);
        if (tracing)
          this.hwTrace!.batch(qb, this.t, this.q.prod[qb]!, this.q.cons[qb]!, this.log2(qb));
      } else {
        if (th > t) break;
        if (th > this.t) this.t = th;
        this.fireHandshakes(th);
      }
    }
    if (t > this.t) this.t = t;
  }

  /**
   * A hardware event for the explorer: the next command queue `q` executes fails with
   * CONS.ERR = `code` (1 ILL, 2 ABT, 3 ATC_INV_SYNC, 4 ILL_ACCESS) instead of running, as
   * a corrupted entry, a fetch abort or an ATC invalidation timeout would.
   */
  armError(q: number, code: number): void {
    if (!(q >= 0 && q < this.nq) || !(code >= 1 && code <= 4))
      throw new RangeError(`armError(${q}, ${code})`);
    this.armedError[q] = code;
  }

  /**
   * Virtual time of the next thing the hardware will do on its own (a handshake
   * completing, a command completing), or Infinity when it is idle: the "next timer
   * deadline" a qtest `clock_step` without an argument moves to.
   */
  nextEventTime(): number {
    let t = this.handshakeNext();
    for (let k = 0; k < this.armedCount; k++) {
      const a = this.nextAt[this.armed[k]!]!;
      if (a < t) t = a;
    }
    return t;
  }

  private handshakeNext(): number {
    return Math.min(this.enCmdqv.next, this.enVintf.next, this.enQueue.next);
  }

  /** Catch up with the clock before an MMIO access (the hardware runs continuously). */
  private catchUp(): void {
    const now = this.clock.now();
    if (now > this.t) this.run(now);
  }

  /** After a write: a zero-latency handshake completes at once. */
  private settle(): void {
    if (this.handshakeNext() <= this.t) this.run(this.t);
  }

  /**
   * Deliver a pending IRQ edge. Edges raised within one step coalesce into one, as an
   * edge-triggered interrupt latches a single pending state until it is taken [inf].
   * Called after the state is complete, so an ISR reading registers sees it all.
   */
  private flushIrq(): void {
    if (!this.irqPending || this.delivering) return;
    this.delivering = true;
    try {
      while (this.irqPending) {
        this.irqPending = false;
        this.counters.inc(STAT.IRQ_DELIVERIES);
        for (let i = 0; i < this.sinks.length; i++) this.sinks[i]!.edge();
      }
    } finally {
      this.delivering = false;
    }
  }

  // ---- handshakes ----------------------------------------------------------------------

  private fireHandshakes(t: number): void {
    if (this.enCmdqv.fire(0, t)) this.cmdqvChanged(t);
    for (let v = 0; v < this.nv; v++) if (this.enVintf.fire(v, t)) this.vintfChanged(v, t);
    for (let q = 0; q < this.nq; q++) if (this.enQueue.fire(q, t)) this.rearm(q, t);
    this.enCmdqv.recomputeNext();
    this.enVintf.recomputeNext();
    this.enQueue.recomputeNext();
  }

  private reevalCmdqv(now: number): void {
    this.enCmdqv.update(0, (this.cp.config & BITS.CMDQV_EN) !== 0, true, now, this.handshakeNs);
  }

  /** CMDQV STATUS changed: re-evaluate every dependent (gating [inf], linux §2.1). */
  private cmdqvChanged(now: number): void {
    for (let v = 0; v < this.nv; v++) this.reevalVintf(v, now);
    for (let q = 0; q < this.nq; q++) this.reevalQueue(q, now);
  }

  /** A VINTF's ENABLE_OK needs CMDQV enabled [inf]. */
  private reevalVintf(v: number, now: number): void {
    const en = (this.cp.vintfConfig[v]! & BITS.VINTF_ENABLE) !== 0;
    const gate = this.enCmdqv.ok[0] === 1;
    if (this.enVintf.update(v, en, gate, now, this.handshakeNs)) this.vintfChanged(v, now);
  }

  private vintfChanged(v: number, now: number): void {
    for (let q = 0; q < this.nq; q++) if (this.cp.qVintf[q] === v) this.reevalQueue(q, now);
  }

  /** A VCMDQ's EN_OK needs CMDQV enabled and, when mapped, its VINTF's ENABLE_OK [inf]. */
  private reevalQueue(q: number, now: number): void {
    const v = this.cp.qVintf[q]!;
    const gate = this.enCmdqv.ok[0] === 1 && (v < 0 || this.enVintf.ok[v] === 1);
    const en = (this.q.config[q]! & BITS.CMDQ_EN) !== 0;
    if (this.enQueue.update(q, en, gate, now, this.handshakeNs)) this.rearm(q, now);
  }

  // ---- consumer ------------------------------------------------------------------------

  /** LOG2SIZE from BASE, capped at 19: the index fields are 20 bits (linux §5 [inf]). */
  private log2(q: number): number {
    return Math.min(this.q.baseLo[q]! & 0x1f, QUEUE_LOG2SIZE_MAX);
  }

  /** Start or stop the consumer of `q` to match its state at time `now`. */
  private rearm(q: number, now: number): void {
    const busy =
      this.enQueue.ok[q] === 1 &&
      !this.q.errorActive(q) &&
      !qIsEmpty(this.q.prod[q]!, this.q.cons[q]!, this.log2(q));
    if (busy) {
      if (this.nextAt[q] === INF) {
        this.nextAt[q] = now + this.cmdNs;
        this.armedPos[q] = this.armedCount;
        this.armed[this.armedCount++] = q;
      }
    } else if (this.nextAt[q] !== INF) {
      this.disarm(q);
    }
  }

  private disarm(q: number): void {
    this.nextAt[q] = INF;
    const k = this.armedPos[q]!;
    if (k < 0) return;
    const last = this.armed[--this.armedCount]!;
    this.armed[k] = last;
    this.armedPos[last] = k;
    this.armedPos[q] = -1;
  }

  /**
   * Complete queue `q`'s commands back to back from time `t0`: one every cmdNs while the
   * queue has work, no error stops it, the next completion is due by `limit` (the
   * horizon, or a handshake due then: commands go first at equal times), and `q` stays
   * ahead of the next queue in time order (`t2`, `q2`; lower index first at a tie).
   * Nothing a command does changes another queue's schedule. The queue's base, size and
   * owner are read once per burst; the loop allocates nothing.
   */
  private burst(
    q: number,
    t0: number,
    limit: number,
    t2: number,
    q2: number,
    tracing: boolean,
  ): void {
    const regs = this.q;
    const log2 = this.log2(q);
    const idxMask = (1 << log2) - 1;
    const posMask = (2 << log2) - 1;
    // The ring is at a host-physical address: BASE.ADDR [47:5] + 16·idx(CONS).
    // spec: linux §1.5, §2.7, §5.
    const base = (regs.baseHi[q]! & 0xffff) * TWO_32 + ((regs.baseLo[q]! & ~0x1f) >>> 0);
    const v = this.cp.qVintf[q]!;
    const own = this.owner;
    if (v >= 0) {
      const c = this.cp.vintfConfig[v]!;
      own.guest = (c & BITS.VINTF_HYP_OWN) === 0;
      own.vmid = (c >>> 1) & 0xffff;
      own.sidBase = v * SID_STRIDE;
    } else {
      // Not allocated to a VINTF: a hypervisor-owned queue through the global page.
      own.guest = false;
      own.vmid = 0;
      own.sidBase = 0;
    }
    const w = this.words;
    const mem = this.mem;
    const effects = this.effects;
    const cmdNs = this.cmdNs;
    const unknowns = this.unknowns;
    if (t0 > this.t) this.t = t0;
    const armed = this.armedError[q]!;
    if (armed !== 0) {
      this.armedError[q] = 0;
      this.raiseError(q, armed);
      return;
    }
    // Nothing the loop does writes PROD or arms an error, and nothing reads CONS, the time
    // or the counters before the loop stops (a traced CMD_SYNC catches them up first): they
    // live in locals and are written back by stopBurst.
    const prod = regs.prod[q]!;
    // A next command at `next` still runs when next <= limit and it stays ahead of q2
    // (next < t2, or next = t2 with q first in index order): next < end, or next = end
    // when `endIncluded`.
    const end = Math.min(limit, t2);
    const endIncluded = q < q2 || limit < t2;
    let tq = t0;
    let cons = regs.cons[q]!;
    let inv = 0;
    let syncs = 0;
    let noops = 0;
    for (;;) {
      if (!mem.readWords(base + (cons & idxMask) * 16, w)) {
        // spec: linux §2.2: ABT "Abort on command fetch".
        this.stopBurst(q, cons, tq, inv, syncs, noops);
        this.raiseError(q, CMDQ_ERR.ABT);
        return;
      }
      const code = filterCommand(w, own, unknowns);
      if (code !== 0) {
        this.stopBurst(q, cons, tq, inv, syncs, noops);
        this.raiseError(q, code, w[0]! & 0xff);
        return;
      }
      const w0 = w[0]!;
      const cls = OP_CLASS[w0 & 0xff]!;
      if (cls === CMD_CLASS.INVALIDATION) {
        effects.recordWords("vcmdq", tq, q, v, w0, w[1]!, w[2]!, w[3]!);
        inv++;
      } else if (cls === CMD_CLASS.CMD_SYNC) {
        syncs++;
        if (tracing) {
          this.stopBurst(q, cons, tq, inv, syncs, noops);
          inv = syncs = noops = 0;
          this.hwTrace!.sync(q, tq, cons, log2);
        }
      } else {
        noops++;
      }
      // CONS advances in its {wrap, idx} bits; the bits above (ERR) are kept. spec: linux §5.
      cons = ((cons & ~posMask) | ((cons + 1) & posMask)) >>> 0;
      if (((prod ^ cons) & posMask) === 0) {
        this.stopBurst(q, cons, tq, inv, syncs, noops);
        this.disarm(q);
        return;
      }
      const next = tq + cmdNs;
      if (!(next < end || (next === end && endIncluded))) {
        this.stopBurst(q, cons, tq, inv, syncs, noops);
        this.nextAt[q] = next;
        return;
      }
      tq = next;
    }
  }

  /**
   * Write back what burst() kept in locals: CONS, the time of the last completion, and
   * the counts of commands executed since the last write-back.
   */
  private stopBurst(
    q: number,
    cons: number,
    t: number,
    inv: number,
    syncs: number,
    noops: number,
  ): void {
    this.q.cons[q] = cons;
    if (t > this.t) this.t = t;
    this.counters.commands(q, inv, syncs, noops);
  }

  /**
   * A command error, SMMUv3 style (spec: linux §2.2): CONS stays at the bad command with
   * ERR = code, GERROR.CMDQ_ERR toggles, and the queue stops until software acks through
   * GERRORN. The error maps record it and one IRQ edge is raised unless VI_INT_MASK masks
   * the queue's VINTF [inf: linux §1.2 names the mask; its effect is inferred].
   */
  private raiseError(q: number, code: number, opcode = -1): void {
    const regs = this.q;
    if (this.tracer.enabled)
      this.hwTrace!.error(q, this.t, regs.cons[q]!, this.log2(q), code, opcode);
    regs.cons[q] = withConsErr(regs.cons[q]!, code);
    regs.gerror[q] = (regs.gerror[q]! ^ BITS.GERROR_CMDQ_ERR) >>> 0;
    this.disarm(q);
    this.counters.error(code);
    const v = this.cp.qVintf[q]!;
    const l = v >= 0 ? this.cp.qLv[q]! : -1;
    regs.errVintf[q] = v;
    regs.errLvcmdq[q] = l;
    this.maps.set(q, v, l);
    if (v >= 0 && ((this.cp.viIntMask[v >>> 5]! >>> (v & 31)) & 1) === 1) {
      this.counters.inc(STAT.IRQ_MASKED);
    } else {
      this.counters.inc(STAT.IRQ_EDGES);
      this.irqPending = true;
    }
  }

  // ---- MMIO ----------------------------------------------------------------------------

  read(offset: number, size: SmallSize): number {
    this.catchUp();
    let value = 0;
    if (size === 4) {
      value = this.read32(offset);
    } else if ((size === 1 || size === 2) && offset >>> 0 === offset) {
      // Not architected (linux §1: Linux uses 32/64-bit accesses only). Chosen behaviour:
      // the bytes of the containing u32, as a bus returning the whole register would.
      this.counters.inc(STAT.NARROW_READS);
      const word = this.read32(offset - (offset & 3));
      value = (word >>> ((offset & 3) * 8)) & (size === 1 ? 0xff : 0xffff);
    } else {
      this.counters.inc(STAT.BAD_SIZE);
    }
    this.flushIrq();
    return value >>> 0;
  }

  write(offset: number, size: SmallSize, value: number): void {
    this.catchUp();
    // 1/2-byte writes are not architected: ignored, counted as a bad access.
    if (size === 4) this.write32(offset, value >>> 0);
    else this.counters.inc(STAT.BAD_SIZE);
    this.settle();
    this.flushIrq();
  }

  /** A 64-bit read is the two 32-bit registers at offset and offset+4 (BASE and
   * CONS_INDX_BASE as one value, LVCMDQ_ERR_MAP as Linux reads it, linux §1). Offsets
   * must be 8-byte aligned [inf]. */
  read64(offset: number): bigint {
    this.catchUp();
    let value = 0n;
    if (offset >>> 0 !== offset || (offset & 7) !== 0) {
      this.counters.inc(STAT.BAD_SIZE);
    } else {
      const lo = this.read32(offset);
      const hi = this.read32(offset + 4);
      value = join64(lo, hi);
    }
    this.flushIrq();
    return value;
  }

  /** A 64-bit write is the low then the high 32-bit write (writeq of BASE, linux §4.4). */
  write64(offset: number, value: bigint): void {
    this.catchUp();
    if (offset >>> 0 !== offset || (offset & 7) !== 0) {
      this.counters.inc(STAT.BAD_SIZE);
    } else {
      this.write32(offset, lo32(value));
      this.write32(offset + 4, hi32(value));
    }
    this.settle();
    this.flushIrq();
  }

  private badUnknown(): number {
    this.counters.inc(STAT.BAD_UNKNOWN);
    return 0;
  }

  private read32(off: number): number {
    if (off >>> 0 !== off || (off & 3) !== 0) {
      this.counters.inc(STAT.BAD_SIZE);
      return 0;
    }
    if (off >= this.size) return this.badUnknown();
    if (off < APERTURE.VCMDQ_PAGE0) return this.cp.read(off);
    if (off < APERTURE.VINTF_PAGE0) {
      const page1 = off >= APERTURE.VCMDQ_PAGE1;
      const rel = off & PAGE_MASK;
      const q = rel >>> SLOT_SHIFT;
      if (q >= this.nq) return this.badUnknown();
      return page1 ? this.readPage1(q, rel & SLOT_MASK) : this.readPage0(q, rel & SLOT_MASK);
    }
    const q = this.cp.slotQueue(off);
    if (q === -2) return this.badUnknown();
    if (q < 0) {
      // An LVCMDQ slot with no VCMDQ allocated: reads 0 (HwUnknowns.unmappedLvcmdqReadsZero,
      // linux §8.5), so a disable poll there ends at once.
      this.counters.inc(STAT.UNMAPPED_SLOT);
      return 0;
    }
    const inPair = (off - APERTURE.VINTF_PAGE0) & VINTF_PAIR_MASK;
    return inPair >= APERTURE.PAGE_SIZE
      ? this.readPage1(q, off & SLOT_MASK)
      : this.readPage0(q, off & SLOT_MASK);
  }

  private write32(off: number, value: number): void {
    if (off >>> 0 !== off || (off & 3) !== 0) {
      this.counters.inc(STAT.BAD_SIZE);
      return;
    }
    if (off >= this.size) {
      this.badUnknown();
      return;
    }
    const now = this.t;
    if (off < APERTURE.VCMDQ_PAGE0) {
      this.cp.write(off, value);
      return;
    }
    if (off < APERTURE.VINTF_PAGE0) {
      const page1 = off >= APERTURE.VCMDQ_PAGE1;
      const rel = off & PAGE_MASK;
      const q = rel >>> SLOT_SHIFT;
      if (q >= this.nq) this.badUnknown();
      else if (page1) this.writePage1(q, rel & SLOT_MASK, value, now);
      else this.writePage0(q, rel & SLOT_MASK, value, now);
      return;
    }
    const q = this.cp.slotQueue(off);
    if (q === -2) {
      this.badUnknown();
      return;
    }
    if (q < 0) {
      // Unmapped LVCMDQ slot: the write is dropped (linux §8.5; Linux's first reset pass
      // writes such slots, linux §4.4 V1), not a programming error.
      this.counters.inc(STAT.UNMAPPED_SLOT);
      return;
    }
    const inPair = (off - APERTURE.VINTF_PAGE0) & VINTF_PAIR_MASK;
    if (inPair >= APERTURE.PAGE_SIZE) this.writePage1(q, off & SLOT_MASK, value, now);
    else this.writePage0(q, off & SLOT_MASK, value, now);
  }

  // VCMDQ page0. spec: linux §1.4, qemu §2.3.

  private readPage0(q: number, r: number): number {
    switch (r) {
      case VCMDQ0.CONS:
        return this.q.cons[q]!;
      case VCMDQ0.PROD:
        return this.q.prod[q]!;
      case VCMDQ0.CONFIG:
        return this.q.config[q]!;
      case VCMDQ0.STATUS:
        return this.enQueue.ok[q]!;
      case VCMDQ0.GERROR:
        return this.q.gerror[q]!;
      case VCMDQ0.GERRORN:
        return this.q.gerrorn[q]!;
    }
    return this.badUnknown();
  }

  /** CONFIG.CMDQ_EN = 0 and STATUS.CMDQ_EN_OK = 0: the queue is fully disabled. */
  private queueDisabled(q: number): boolean {
    return (this.q.config[q]! & BITS.CMDQ_EN) === 0 && this.enQueue.ok[q] === 0;
  }

  private writePage0(q: number, r: number, value: number, now: number): void {
    const regs = this.q;
    switch (r) {
      case VCMDQ0.CONS:
        // Software owns CONS only while the queue is disabled (Linux zeroes it at deinit,
        // linux §4.4 D3), as SMMUv3 CMDQ_CONS is read-only while the queue is enabled [inf].
        if (!this.queueDisabled(q)) {
          this.counters.inc(STAT.BAD_LOCKED);
          return;
        }
        regs.cons[q] = (value & CONS_WRITABLE) >>> 0;
        if (this.tracer.enabled) this.hwTrace!.forget(q);
        this.rearm(q, now);
        return;
      case VCMDQ0.PROD:
        regs.prod[q] = (value & BITS.INDEX_MASK) >>> 0;
        if (this.tracer.enabled)
          this.hwTrace!.doorbell(q, now, regs.prod[q]!, regs.cons[q]!, this.log2(q));
        this.rearm(q, now);
        return;
      case VCMDQ0.CONFIG:
        regs.config[q] = value & BITS.CMDQ_EN;
        this.reevalQueue(q, now);
        return;
      case VCMDQ0.STATUS:
      case VCMDQ0.GERROR:
        this.counters.inc(STAT.BAD_RO_WRITE);
        return;
      case VCMDQ0.GERRORN:
        this.writeGerrorn(q, value, now);
        return;
    }
    this.badUnknown();
  }

  /**
   * Acknowledge: software writes GERROR's value into GERRORN (linux §2.2). When that
   * makes CMDQ_ERR equal again, consumption resumes at CONS (the entry is re-fetched) and,
   * with HwUnknowns.errMapsClearOnAck, the queue's error-map bits clear (linux §8.2).
   * A GERRORN that makes them differ without an error stalls the queue (qemu §2.6).
   */
  private writeGerrorn(q: number, value: number, now: number): void {
    const regs = this.q;
    const wasActive = regs.errorActive(q);
    regs.gerrorn[q] = value & GERROR_BITS;
    if (wasActive && !regs.errorActive(q) && this.unknowns.errMapsClearOnAck) {
      const v = regs.errVintf[q]!;
      this.maps.clear(q, v, v >= 0 ? regs.errLvcmdq[q]! : -1);
    }
    this.rearm(q, now);
  }

  // VCMDQ page1. spec: linux §1.5, qemu §2.4.

  private readPage1(q: number, r: number): number {
    switch (r) {
      case VCMDQ1.BASE_L:
        return this.q.baseLo[q]!;
      case VCMDQ1.BASE_H:
        return this.q.baseHi[q]!;
      case VCMDQ1.CONS_INDX_BASE_L:
        return this.q.consIndxBaseLo[q]!;
      case VCMDQ1.CONS_INDX_BASE_H:
        return this.q.consIndxBaseHi[q]!;
    }
    return this.badUnknown();
  }

  private writePage1(q: number, r: number, value: number, now: number): void {
    const regs = this.q;
    switch (r) {
      case VCMDQ1.BASE_L:
      case VCMDQ1.BASE_H:
        // The ring geometry is fixed while the queue is enabled, as SMMUv3 CMDQ_BASE
        // [inf]; Linux writes BASE only with the queue disabled (linux §4.4 D4, I2).
        if (!this.queueDisabled(q)) {
          this.counters.inc(STAT.BAD_LOCKED);
          return;
        }
        if (r === VCMDQ1.BASE_L) regs.baseLo[q] = value;
        else regs.baseHi[q] = value;
        if (this.tracer.enabled) this.hwTrace!.forget(q);
        this.rearm(q, now);
        return;
      case VCMDQ1.CONS_INDX_BASE_L:
        // Stored only: its use (with CONFIG.CONS_DRAM_EN) is unknown (linux §8.4).
        regs.consIndxBaseLo[q] = value;
        return;
      case VCMDQ1.CONS_INDX_BASE_H:
        regs.consIndxBaseHi[q] = value;
        return;
    }
    this.badUnknown();
  }

  // ---- inspection ----------------------------------------------------------------------

  /** The global VCMDQ that VINTF v's LVCMDQ l aliases, or -1. */
  vcmdqOf(vintf: number, lvcmdq: number): number {
    if (
      !Number.isInteger(vintf) ||
      !Number.isInteger(lvcmdq) ||
      vintf < 0 ||
      vintf >= this.nv ||
      lvcmdq < 0 ||
      lvcmdq >= LVCMDQ_SLOTS
    )
      return -1;
    return this.cp.lvcmdqQueue(vintf, lvcmdq);
  }

  /** Offset (from basePhys) of VINTF v's page0, the window the host mmaps (linux §3.8). */
  vintfPage0Offset(vintf: number): number {
    return APERTURE.VINTF_PAGE0 + APERTURE.VINTF_STRIDE * vintf;
  }

  vcmdq(q: number): VcmdqView {
    const r = this.q;
    return {
      q,
      cons: r.cons[q] ?? 0,
      prod: r.prod[q] ?? 0,
      config: r.config[q] ?? 0,
      status: this.enQueue.ok[q] ?? 0,
      gerror: r.gerror[q] ?? 0,
      gerrorn: r.gerrorn[q] ?? 0,
      base: join64(r.baseLo[q] ?? 0, r.baseHi[q] ?? 0),
      consIndxBase: join64(r.consIndxBaseLo[q] ?? 0, r.consIndxBaseHi[q] ?? 0),
      vintf: this.cp.qVintf[q] ?? -1,
      lvcmdq: this.cp.qLv[q] ?? -1,
      busy: (this.nextAt[q] ?? INF) !== INF,
    };
  }

  stats(): HwStats {
    return this.counters.snapshot();
  }

  // ---- snapshots -----------------------------------------------------------------------

  state(): CmdqvHwState {
    return {
      t: this.t,
      config: this.cp.config,
      viIntMask: Array.from(this.cp.viIntMask),
      alloc: Array.from(this.cp.alloc),
      vintfConfig: Array.from(this.cp.vintfConfig),
      glbFiltCfg: Array.from(this.cp.glbFiltCfg),
      glbFiltData: Array.from(this.cp.glbFiltData),
      sidMatch: Array.from(this.cp.sidMatch),
      sidReplace: Array.from(this.cp.sidReplace),
      maps: this.maps.state(),
      queues: this.q.state(),
      enable: {
        cmdqv: this.enCmdqv.state(),
        vintf: this.enVintf.state(),
        vcmdq: this.enQueue.state(),
      },
      nextAt: Array.from(this.nextAt, (a) => (a === INF ? -1 : a)),
      irqPending: this.irqPending,
      counters: this.counters.state(),
      effects: this.effects.state(),
    };
  }
}
