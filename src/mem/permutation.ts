// A seeded bijection on [0, n) computed on the fly, with no table: a Feistel network over
// the next power of two, with cycle-walking to stay inside [0, n). Guest RAM uses it to
// scatter guest pages over host frames, so 64 GiB of 4 KiB pages (2^24 pages) costs six
// round keys instead of a 64 MiB table. Nothing allocates per call.

import { Prng } from "../util/prng.js";

const ROUNDS = 6;
/** Largest domain: keeps every intermediate value a u32, so the 32-bit operators work. */
export const MAX_PERMUTATION_SIZE = 2 ** 32;

export class SeededPermutation {
  readonly size: number;
  readonly seed: number;
  private readonly keys = new Uint32Array(ROUNDS);
  // The domain is 2^(hiBits + loBits); each round maps hi|lo to lo|(hi ^ F(lo)).
  private readonly hiPow: number;
  private readonly hiMask: number;
  private readonly loPow: number;
  private readonly loMask: number;

  constructor(size: number, seed: number) {
    if (!Number.isSafeInteger(size) || size < 1 || size > MAX_PERMUTATION_SIZE) {
      throw new RangeError(`SeededPermutation: size ${size} not in [1, 2^32]`);
    }
    this.size = size;
    this.seed = seed >>> 0;
    let bits = 0;
    while (2 ** bits < size) bits++;
    const hi = Math.ceil(bits / 2);
    const lo = bits - hi;
    this.hiPow = 2 ** hi;
    this.hiMask = this.hiPow - 1;
    this.loPow = 2 ** lo;
    this.loMask = this.loPow - 1;
    const prng = new Prng(this.seed);
    for (let r = 0; r < ROUNDS; r++) this.keys[r] = prng.next();
  }

  /** The image of i (0 ≤ i < size). */
  apply(i: number): number {
    let x = this.forward(i);
    // Cycle-walking: x is on a finite cycle of the power-of-two permutation that contains
    // i < size, so following it reaches a value < size again. Expected steps < 2.
    while (x >= this.size) x = this.forward(x);
    return x;
  }

  /** The preimage of j (0 ≤ j < size): apply(invert(j)) === j. */
  invert(j: number): number {
    let x = this.backward(j);
    while (x >= this.size) x = this.backward(x);
    return x;
  }

  private forward(x0: number): number {
    let x = x0;
    for (let r = 0; r < ROUNDS; r++) {
      const hi = Math.floor(x / this.loPow);
      const lo = x - hi * this.loPow;
      x = lo * this.hiPow + ((hi ^ this.round(r, lo)) & this.hiMask);
    }
    return x;
  }

  private backward(y0: number): number {
    let y = y0;
    for (let r = ROUNDS - 1; r >= 0; r--) {
      const lo = Math.floor(y / this.hiPow);
      const t = y - lo * this.hiPow;
      const hi = (t ^ this.round(r, lo)) & this.hiMask;
      y = hi * this.loPow + lo;
    }
    return y;
  }

  /** Round function: a murmur3-style finaliser of the half and the round key. */
  private round(r: number, lo: number): number {
    let h = Math.imul((lo & this.loMask) ^ this.keys[r]!, 0x9e37_79b1);
    h ^= h >>> 15;
    h = Math.imul(h, 0x85eb_ca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2_ae35);
    h ^= h >>> 16;
    return h >>> 0;
  }
}
