// The Config page of the CMDQV aperture as registers (global registers, CMDQ_ALLOC, VINTF
// blocks; spec: linux §1.2, §1.3, §1.6; qemu §2.2), and the decode of CMDQ_ALLOC into the
// map that says which global VCMDQ each VINTF's LVCMDQ slot aliases. The device
// (cmdqv-hw.ts) owns time, the enable handshakes and the consumer and is told what a
// write changed; this file owns what the Config page holds and how its offsets decode,
// so that the device file reads as behaviour over time.

import { APERTURE, BITS, CFG, VINTF } from "../../regs/cmdqv.js";
import type { ErrorMaps } from "./errors.js";
import { LVCMDQ_SLOTS } from "./geometry.js";
import { type HwCounters, STAT } from "./stats.js";
import type { HwGeometry } from "./types.js";

/** SID_MATCH/SID_REPLACE slots kept per VINTF (slots ≥ numSids stay 0). */
export const SID_STRIDE = VINTF.MAX_SIDS;
const SLOT_SHIFT = 7; // APERTURE.VCMDQ_STRIDE = 0x80
const VINTF_PAIR_SHIFT = 17; // APERTURE.VINTF_STRIDE = 0x20000
const PAGE_MASK = APERTURE.PAGE_SIZE - 1;
const VINTF_BLOCK_MASK = CFG.VINTF_BLOCK_STRIDE - 1;

/** What the Config page reads from the rest of the device, and tells it after a write. */
export interface ConfigPageDevice {
  /** STATUS.CMDQV_ENABLED. */
  cmdqvStatus(): number;
  /** VINTF v's STATUS.ENABLE_OK. */
  vintfEnableOk(v: number): number;
  /** VCMDQ q has an unacknowledged error. */
  queueErrorActive(q: number): boolean;
  configWritten(): void;
  vintfConfigWritten(v: number): void;
  /** CMDQ_ALLOC(q) now maps VCMDQ q elsewhere (or nowhere). */
  allocChanged(q: number): void;
}

export class ConfigPage {
  config = 0;
  readonly viIntMask = new Uint32Array(2);
  readonly alloc: Uint32Array;
  readonly vintfConfig: Uint32Array;
  readonly glbFiltCfg: Uint32Array;
  readonly glbFiltData: Uint32Array;
  readonly sidMatch: Uint32Array;
  readonly sidReplace: Uint32Array;

  // CMDQ_ALLOC decoded (derived from `alloc`).
  /** VINTF each VCMDQ is allocated to, -1 when ALLOC = 0. */
  readonly qVintf: Int16Array;
  readonly qLv: Int16Array;
  /** Global VCMDQ behind VINTF v's LVCMDQ slot l, at [v·128 + l]; -1 for none. */
  private readonly lvMap: Int16Array;
  /** VINTF STATUS.VI_NUM_LVCMDQ. */
  private readonly vintfNumLv: Uint16Array;

  private readonly nq: number;
  private readonly nv: number;
  private readonly numSids: number;
  private readonly param: number;
  private readonly counters: HwCounters;
  private readonly maps: ErrorMaps;
  private readonly dev: ConfigPageDevice;

  constructor(g: HwGeometry, counters: HwCounters, maps: ErrorMaps, dev: ConfigPageDevice) {
    const nq = g.numVcmdqs;
    const nv = g.numVintfs;
    this.nq = nq;
    this.nv = nv;
    this.numSids = g.numSids;
    this.param = g.param;
    this.counters = counters;
    this.maps = maps;
    this.dev = dev;
    this.alloc = new Uint32Array(nq);
    this.vintfConfig = new Uint32Array(nv);
    this.glbFiltCfg = new Uint32Array(nv);
    this.glbFiltData = new Uint32Array(nv);
    this.sidMatch = new Uint32Array(nv * SID_STRIDE);
    this.sidReplace = new Uint32Array(nv * SID_STRIDE);
    this.qVintf = new Int16Array(nq);
    this.qLv = new Int16Array(nq);
    this.lvMap = new Int16Array(nv * LVCMDQ_SLOTS);
    this.vintfNumLv = new Uint16Array(nv);
  }

  /** Power-on: CONFIG = `configReset`, every other register 0, nothing allocated. */
  reset(configReset: number): void {
    this.config = configReset;
    this.viIntMask.fill(0);
    this.alloc.fill(0);
    this.vintfConfig.fill(0);
    this.glbFiltCfg.fill(0);
    this.glbFiltData.fill(0);
    this.sidMatch.fill(0);
    this.sidReplace.fill(0);
    this.rebuildMapping();
  }

  /** The global VCMDQ that VINTF v's LVCMDQ l aliases, or -1 (indices unchecked). */
  lvcmdqQueue(v: number, l: number): number {
    return this.lvMap[v * LVCMDQ_SLOTS + l]!;
  }

  /**
   * The global VCMDQ behind a VINTF page offset (VINTF v's LVCMDQ l is VCMDQ q when
   * CMDQ_ALLOC(q) = {ALLOC=1, VIRT_INTF_INDX=v, LVCMDQ=l}; linux §1.6). -1 for an
   * unmapped slot, -2 for an offset past the last possible slot.
   */
  slotQueue(off: number): number {
    const rel = off - APERTURE.VINTF_PAGE0;
    const v = rel >>> VINTF_PAIR_SHIFT;
    const l = (rel & PAGE_MASK) >>> SLOT_SHIFT;
    if (l >= LVCMDQ_SLOTS) return -2;
    return this.lvMap[v * LVCMDQ_SLOTS + l]!;
  }

  /** A Config page register. spec: linux §1.2, qemu §2.2. */
  read(off: number): number {
    switch (off) {
      case CFG.CONFIG:
        return this.config;
      case CFG.PARAM:
        return this.param;
      case CFG.STATUS:
        return this.dev.cmdqvStatus();
      case CFG.VI_ERR_MAP_0:
        return this.maps.vi[0]!;
      case CFG.VI_ERR_MAP_1:
        return this.maps.vi[1]!;
      case CFG.VI_INT_MASK_0:
        return this.viIntMask[0]!;
      case CFG.VI_INT_MASK_1:
        return this.viIntMask[1]!;
      case CFG.CMDQ_ERR_MAP_0:
      case CFG.CMDQ_ERR_MAP_0 + 4:
      case CFG.CMDQ_ERR_MAP_0 + 8:
      case CFG.CMDQ_ERR_MAP_0 + 12:
        return this.maps.cmdq[(off - CFG.CMDQ_ERR_MAP_0) >>> 2]!;
    }
    if (off >= CFG.CMDQ_ALLOC_0 && off < CFG.CMDQ_ALLOC_0 + 4 * this.nq)
      return this.alloc[(off - CFG.CMDQ_ALLOC_0) >>> 2]!;
    if (off >= CFG.VINTF_0 && off < CFG.VINTF_0 + CFG.VINTF_BLOCK_STRIDE * this.nv)
      return this.readVintf((off - CFG.VINTF_0) >>> 8, off & VINTF_BLOCK_MASK);
    return this.badUnknown();
  }

  write(off: number, value: number): void {
    switch (off) {
      case CFG.CONFIG:
        // Stored whole (Linux read-modify-writes bit 0, linux §1.2); EN drives STATUS.
        this.config = value;
        this.dev.configWritten();
        return;
      case CFG.VI_INT_MASK_0:
        this.viIntMask[0] = value;
        return;
      case CFG.VI_INT_MASK_1:
        this.viIntMask[1] = value;
        return;
      case CFG.PARAM:
      case CFG.STATUS:
      case CFG.VI_ERR_MAP_0:
      case CFG.VI_ERR_MAP_1:
      case CFG.CMDQ_ERR_MAP_0:
      case CFG.CMDQ_ERR_MAP_0 + 4:
      case CFG.CMDQ_ERR_MAP_0 + 8:
      case CFG.CMDQ_ERR_MAP_0 + 12:
        // Read-only; there is no write-1-to-clear register (qemu §2.1).
        this.counters.inc(STAT.BAD_RO_WRITE);
        return;
    }
    if (off >= CFG.CMDQ_ALLOC_0 && off < CFG.CMDQ_ALLOC_0 + 4 * this.nq) {
      this.writeAlloc((off - CFG.CMDQ_ALLOC_0) >>> 2, value);
      return;
    }
    if (off >= CFG.VINTF_0 && off < CFG.VINTF_0 + CFG.VINTF_BLOCK_STRIDE * this.nv) {
      this.writeVintf((off - CFG.VINTF_0) >>> 8, off & VINTF_BLOCK_MASK, value);
      return;
    }
    this.badUnknown();
  }

  // VINTF block. spec: linux §1.3, qemu §2.2.

  private readVintf(v: number, r: number): number {
    switch (r) {
      case VINTF.CONFIG:
        return this.vintfConfig[v]!;
      case VINTF.STATUS:
        return this.vintfStatus(v);
      case VINTF.GLB_FILT_CFG:
        return this.glbFiltCfg[v]!;
      case VINTF.GLB_FILT_DATA:
        return this.glbFiltData[v]!;
    }
    const ns = this.numSids;
    if (r >= VINTF.SID_MATCH_0 && r < VINTF.SID_MATCH_0 + 4 * ns)
      return this.sidMatch[v * SID_STRIDE + ((r - VINTF.SID_MATCH_0) >>> 2)]!;
    if (r >= VINTF.SID_REPLACE_0 && r < VINTF.SID_REPLACE_0 + 4 * ns)
      return this.sidReplace[v * SID_STRIDE + ((r - VINTF.SID_REPLACE_0) >>> 2)]!;
    if (r >= VINTF.LVCMDQ_ERR_MAP_0 && r < VINTF.LVCMDQ_ERR_MAP_0 + 16)
      return this.maps.lv[4 * v + ((r - VINTF.LVCMDQ_ERR_MAP_0) >>> 2)]!;
    return this.badUnknown();
  }

  /**
   * ENABLE_OK [0]; STATUS [3:1] = 1 ("VCMDQ error", qemu §2.2) while any LVCMDQ of the
   * VINTF has an unacknowledged error [inf: QEMU leaves it 0]; VI_NUM_LVCMDQ [23:16] =
   * LVCMDQs allocated to it [inf].
   */
  private vintfStatus(v: number): number {
    let err = 0;
    for (let q = 0; q < this.nq; q++) {
      if (this.qVintf[q] === v && this.dev.queueErrorActive(q)) {
        err = 1;
        break;
      }
    }
    return (this.dev.vintfEnableOk(v) | (err << 1) | (this.vintfNumLv[v]! << 16)) >>> 0;
  }

  private writeVintf(v: number, r: number, value: number): void {
    switch (r) {
      case VINTF.CONFIG:
        // Stored as written: HYP_OWN is the VMM's to mask (linux §2.3), not the hardware's.
        this.vintfConfig[v] = value;
        this.dev.vintfConfigWritten(v);
        return;
      case VINTF.STATUS:
        this.counters.inc(STAT.BAD_RO_WRITE);
        return;
      case VINTF.GLB_FILT_CFG:
        this.glbFiltCfg[v] = value;
        return;
      case VINTF.GLB_FILT_DATA:
        this.glbFiltData[v] = value;
        return;
    }
    const ns = this.numSids;
    if (r >= VINTF.SID_MATCH_0 && r < VINTF.SID_MATCH_0 + 4 * ns) {
      this.sidMatch[v * SID_STRIDE + ((r - VINTF.SID_MATCH_0) >>> 2)] = value;
      return;
    }
    if (r >= VINTF.SID_REPLACE_0 && r < VINTF.SID_REPLACE_0 + 4 * ns) {
      this.sidReplace[v * SID_STRIDE + ((r - VINTF.SID_REPLACE_0) >>> 2)] = value;
      return;
    }
    if (r >= VINTF.LVCMDQ_ERR_MAP_0 && r < VINTF.LVCMDQ_ERR_MAP_0 + 16) {
      this.counters.inc(STAT.BAD_RO_WRITE);
      return;
    }
    this.badUnknown();
  }

  // CMDQ_ALLOC. spec: linux §1.2, §1.6, §2.5.

  /** Decode CMDQ_ALLOC(q) into (VINTF, LVCMDQ), or -1 when not allocated. A
   * VIRT_INTF_INDX beyond the VINTFs PARAM advertises maps nowhere [inf]. */
  private decodeAlloc(value: number): number {
    if ((value & BITS.ALLOC) === 0) return -1;
    const v = (value >>> 15) & 0x3f;
    return v < this.nv ? v : -1;
  }

  private writeAlloc(q: number, value: number): void {
    this.alloc[q] = value;
    const oldV = this.qVintf[q]!;
    const oldL = this.qLv[q]!;
    const newV = this.decodeAlloc(value);
    const newL = newV >= 0 ? (value >>> 1) & 0x7f : -1;
    if (oldV === newV && oldL === newL) return;
    // "HW requires to map LVCMDQs in ascending order" and unmap in descending order
    // (linux §2.5 [src]); what breaking it does is unknown, so it is only counted.
    if (oldV >= 0) {
      if (oldL + 1 < LVCMDQ_SLOTS && this.slotTaken(oldV, oldL + 1, q))
        this.counters.inc(STAT.MAP_ORDER);
      this.vintfNumLv[oldV] = this.vintfNumLv[oldV]! - 1;
    }
    this.qVintf[q] = newV;
    this.qLv[q] = newL;
    if (newV >= 0) {
      if (newL > 0 && !this.slotTaken(newV, newL - 1, q)) this.counters.inc(STAT.MAP_ORDER);
      this.vintfNumLv[newV] = this.vintfNumLv[newV]! + 1;
      this.rebuildSlot(newV, newL);
    }
    if (oldV >= 0) this.rebuildSlot(oldV, oldL);
    this.dev.allocChanged(q);
  }

  /** Some VCMDQ other than `except` is allocated to (v, l). */
  private slotTaken(v: number, l: number, except: number): boolean {
    for (let q = 0; q < this.nq; q++)
      if (q !== except && this.qVintf[q] === v && this.qLv[q] === l) return true;
    return false;
  }

  /** Slot (v, l) aliases the lowest-numbered VCMDQ allocated to it [inf: a double
   * allocation is a software bug with undocumented effect]. */
  private rebuildSlot(v: number, l: number): void {
    let found = -1;
    for (let q = 0; q < this.nq; q++) {
      if (this.qVintf[q] === v && this.qLv[q] === l) {
        found = q;
        break;
      }
    }
    this.lvMap[v * LVCMDQ_SLOTS + l] = found;
  }

  private rebuildMapping(): void {
    this.lvMap.fill(-1);
    this.vintfNumLv.fill(0);
    for (let q = 0; q < this.nq; q++) {
      const v = this.decodeAlloc(this.alloc[q]!);
      this.qVintf[q] = v;
      this.qLv[q] = v >= 0 ? (this.alloc[q]! >>> 1) & 0x7f : -1;
    }
    for (let q = this.nq - 1; q >= 0; q--) {
      const v = this.qVintf[q]!;
      if (v < 0) continue;
      this.vintfNumLv[v] = this.vintfNumLv[v]! + 1;
      this.lvMap[v * LVCMDQ_SLOTS + this.qLv[q]!] = q;
    }
  }

  private badUnknown(): number {
    this.counters.inc(STAT.BAD_UNKNOWN);
    return 0;
  }
}
