// The three error maps: VINTF_ERR_MAP (64 bits, config 0x014/0x018), CMDQ_ERR_MAP (128
// bits over global VCMDQs, config 0x024..0x030) and each VINTF's LVCMDQ_ERR_MAP (128
// bits, VINTF block 0xC0..0xCC). spec: linux §1.2, §1.3, §2.2. All read-only to software:
// Linux never writes them (linux §2.2).

export interface ErrorMapsState {
  readonly vi: readonly number[];
  readonly cmdq: readonly number[];
  readonly lv: readonly number[];
}

export class ErrorMaps {
  /** VINTF_ERR_MAP as two u32 (VI_ERR_MAP_0/1). */
  readonly vi = new Uint32Array(2);
  /** CMDQ_ERR_MAP_0..3. */
  readonly cmdq = new Uint32Array(4);
  /** LVCMDQ_ERR_MAP of VINTF v at [4v .. 4v+3]. */
  readonly lv: Uint32Array;

  readonly numVintfs: number;

  constructor(numVintfs: number) {
    this.numVintfs = numVintfs;
    this.lv = new Uint32Array(numVintfs * 4);
  }

  /** A new error on global VCMDQ `q`, mapped to (v, l) or unmapped (v = -1). */
  set(q: number, v: number, l: number): void {
    this.cmdq[q >>> 5] = (this.cmdq[q >>> 5]! | (1 << (q & 31))) >>> 0;
    if (v < 0) return;
    const i = 4 * v + (l >>> 5);
    this.lv[i] = (this.lv[i]! | (1 << (l & 31))) >>> 0;
    this.vi[v >>> 5] = (this.vi[v >>> 5]! | (1 << (v & 31))) >>> 0;
  }

  /**
   * Clear `q`'s bits after an acknowledge (HwUnknowns.errMapsClearOnAck). VINTF_ERR_MAP
   * bit v clears only when no other LVCMDQ of v still has its bit set.
   */
  clear(q: number, v: number, l: number): void {
    this.cmdq[q >>> 5] = (this.cmdq[q >>> 5]! & ~(1 << (q & 31))) >>> 0;
    if (v < 0) return;
    const i = 4 * v + (l >>> 5);
    this.lv[i] = (this.lv[i]! & ~(1 << (l & 31))) >>> 0;
    const b = 4 * v;
    if ((this.lv[b]! | this.lv[b + 1]! | this.lv[b + 2]! | this.lv[b + 3]!) === 0)
      this.vi[v >>> 5] = (this.vi[v >>> 5]! & ~(1 << (v & 31))) >>> 0;
  }

  reset(): void {
    this.vi.fill(0);
    this.cmdq.fill(0);
    this.lv.fill(0);
  }

  state(): ErrorMapsState {
    return { vi: Array.from(this.vi), cmdq: Array.from(this.cmdq), lv: Array.from(this.lv) };
  }
}
