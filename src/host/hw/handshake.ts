// The CONFIG→STATUS enable handshake, one instance per level (CMDQV, VINTFs, VCMDQs).
// spec: linux §2.1: software writes CONFIG and polls STATUS bit 0 until it equals the
// written bit. The hardware model lets STATUS follow after `handshakeNs` of virtual time.
//
// Gating [inf, not in any source]: a level's STATUS can only be 1 while its parent level
// is up (a VINTF needs CMDQV; a mapped VCMDQ needs CMDQV and its VINTF). When the gate
// drops, STATUS drops at once, with no handshake delay; when the gate comes back and
// CONFIG still asks for enable, STATUS rises one handshake later.
//
// Flat typed arrays, no allocation per update: the owner calls update() whenever an
// input (CONFIG bit, gate) may have changed and fire() when a pending time is due.

export interface EnableSetState {
  readonly ok: readonly number[];
  /** Pending change time per entry, -1 for none. */
  readonly at: readonly number[];
  readonly val: readonly number[];
}

export class EnableSet {
  /** STATUS bit 0 per entry. */
  readonly ok: Uint8Array;
  /** Virtual time of the pending STATUS change, Infinity for none. */
  readonly at: Float64Array;
  /** The value STATUS takes at `at` (always ≠ ok while pending). */
  readonly val: Uint8Array;
  /** A lower bound on min(at): cheap to keep, recomputed after events fire. */
  next = Number.POSITIVE_INFINITY;

  readonly size: number;

  constructor(size: number) {
    this.size = size;
    this.ok = new Uint8Array(size);
    this.at = new Float64Array(size).fill(Number.POSITIVE_INFINITY);
    this.val = new Uint8Array(size);
  }

  /**
   * Re-evaluate entry `i` at time `now`: CONFIG asks for `en`, parents allow `gate`.
   * Returns true when STATUS changed immediately (a gate drop), so the caller cascades.
   */
  update(i: number, en: boolean, gate: boolean, now: number, handshakeNs: number): boolean {
    if (!gate) {
      this.at[i] = Number.POSITIVE_INFINITY;
      if (this.ok[i] === 1) {
        this.ok[i] = 0;
        return true;
      }
      return false;
    }
    const target = en ? 1 : 0;
    if (target === this.ok[i]) {
      // Back to the current state before the handshake finished: nothing to do.
      this.at[i] = Number.POSITIVE_INFINITY;
      return false;
    }
    // Already on its way to the target: keep the earlier completion time.
    if (this.at[i] !== Number.POSITIVE_INFINITY && this.val[i] === target) return false;
    const at = now + handshakeNs;
    this.at[i] = at;
    this.val[i] = target;
    if (at < this.next) this.next = at;
    return false;
  }

  /** Apply entry `i`'s pending change if it is due by `t`; true when STATUS changed. */
  fire(i: number, t: number): boolean {
    const at = this.at[i]!;
    if (at > t) return false;
    this.ok[i] = this.val[i]!;
    this.at[i] = Number.POSITIVE_INFINITY;
    return true;
  }

  recomputeNext(): void {
    let m = Number.POSITIVE_INFINITY;
    const at = this.at;
    for (let i = 0; i < at.length; i++) if (at[i]! < m) m = at[i]!;
    this.next = m;
  }

  reset(okAtReset: number): void {
    this.ok.fill(okAtReset);
    this.at.fill(Number.POSITIVE_INFINITY);
    this.val.fill(0);
    this.next = Number.POSITIVE_INFINITY;
  }

  state(): EnableSetState {
    return {
      ok: Array.from(this.ok),
      at: Array.from(this.at, (a) => (a === Number.POSITIVE_INFINITY ? -1 : a)),
      val: Array.from(this.val),
    };
  }
}
