// One choice source that samples, enumerates or replays (TigerBeetle's exhaustigen, after
// matklad's "Generate All the Things"): code asks `int(n)` "which of n next?", and the
// same code is fuzzed (seeded random), enumerated exhaustively (an odometer over choice
// vectors), or replayed from a recorded choice list (a counterexample's key).

import { Prng } from "../util/prng.js";

export interface ChoiceSource {
  readonly kind: "random" | "exhaustive" | "replay";
  /** A choice in [0, n); n ≥ 1. A bound of 1 is free (recorded, never branches). */
  int(n: number): number;
  /** The choices made so far in this run, in order. */
  recorded(): readonly number[];
  /**
   * Exhaustive only: true once this run has made a choice the previous run did not (it
   * is past their shared prefix). States met before that belong to the prefix's own
   * subtree and must not be cut as "already explored".
   */
  pastPrefix?(): boolean;
}

function checkBound(n: number): void {
  if (!(Number.isInteger(n) && n >= 1))
    throw new RangeError(`choice bound must be an integer ≥ 1, got ${n}`);
}

export class RandomChoice implements ChoiceSource {
  readonly kind = "random";
  private readonly prng: Prng;
  private readonly made: number[] = [];

  constructor(seed: number) {
    this.prng = new Prng(seed);
  }

  int(n: number): number {
    checkBound(n);
    const x = this.prng.int(n);
    this.made.push(x);
    return x;
  }

  recorded(): readonly number[] {
    return this.made;
  }
}

/**
 * Replays a recorded list. Past its end it answers 0 (the "first" choice), so a shrunk
 * list still drives a complete run; `exhausted()` tells whether that happened.
 */
export class ReplayChoice implements ChoiceSource {
  readonly kind = "replay";
  private readonly list: readonly number[];
  private pos = 0;
  private readonly made: number[] = [];
  private overrun = false;
  private invalid = false;

  constructor(list: readonly number[]) {
    this.list = list;
  }

  int(n: number): number {
    checkBound(n);
    let x = 0;
    if (this.pos < this.list.length) {
      x = this.list[this.pos]!;
      if (!(Number.isInteger(x) && x >= 0 && x < n)) {
        // A list recorded against other code: clamp and remember, never crash.
        this.invalid = true;
        x = Math.min(Math.max(0, Math.trunc(x) || 0), n - 1);
      }
    } else if (n > 1) this.overrun = true;
    this.pos++;
    this.made.push(x);
    return x;
  }

  recorded(): readonly number[] {
    return this.made;
  }

  /** True when the run asked for more branching choices than the list held. */
  exhausted(): boolean {
    return this.overrun;
  }

  /** True when a recorded value did not fit the bound asked for. */
  mismatched(): boolean {
    return this.invalid;
  }
}

/**
 * Enumerates every choice vector, odometer style: run the code, then `next()` bumps the
 * rightmost choice still below its bound and drops everything after it. `next()` returns
 * false when every vector has been produced.
 */
export class ExhaustiveChoice implements ChoiceSource {
  readonly kind = "exhaustive";
  private values: number[] = [];
  private bounds: number[] = [];
  private pos = 0;
  /** Leading choices that never change: this source enumerates only their subtree. */
  private readonly fixed: number;
  /** Index of the choice next() changed; choices before it repeat the previous run. */
  private diverge = 0;

  /** `prefix`: enumerate only vectors that start with these choices (a shard of the space). */
  constructor(prefix: readonly number[] = []) {
    this.values = [...prefix];
    this.bounds = prefix.map(() => Number.POSITIVE_INFINITY);
    this.fixed = prefix.length;
  }

  int(n: number): number {
    checkBound(n);
    if (this.pos < this.fixed) {
      // A fixed choice: clamp if the code asks a smaller question than the prefix assumed.
      const v = Math.min(this.values[this.pos]!, n - 1);
      this.pos++;
      return v;
    }
    if (this.pos < this.values.length) {
      const v = this.values[this.pos]!;
      if (this.bounds[this.pos] !== n) {
        // The code asked a different question on this path: restart the digit here.
        this.bounds[this.pos] = n;
        this.values.length = this.pos + 1;
        this.bounds.length = this.pos + 1;
        this.values[this.pos] = Math.min(v, n - 1);
      }
      return this.values[this.pos++]!;
    }
    this.values.push(0);
    this.bounds.push(n);
    this.pos++;
    return 0;
  }

  recorded(): readonly number[] {
    return this.values.slice(0, this.pos);
  }

  /** Advance to the next vector; false when done. Call between runs. */
  next(): boolean {
    // Only digits actually consulted in the last run matter.
    this.values.length = Math.max(this.pos, this.fixed);
    this.bounds.length = this.values.length;
    while (this.values.length > this.fixed) {
      const i = this.values.length - 1;
      if (this.values[i]! + 1 < this.bounds[i]!) {
        this.values[i]!++;
        this.pos = 0;
        this.diverge = i;
        return true;
      }
      this.values.pop();
      this.bounds.pop();
    }
    this.pos = 0;
    return false;
  }

  pastPrefix(): boolean {
    return this.pos > this.diverge;
  }

  /** Start the current vector again from its first choice (for a run that is retried). */
  rewind(): void {
    this.pos = 0;
  }
}

/**
 * Enumerate only the first `depth` branching choices; later ones take the first option.
 * Bounds an exhaustive exploration whose runs ask many questions (interleavings).
 */
export class DepthBoundedChoice implements ChoiceSource {
  readonly kind = "exhaustive";
  private readonly inner: ExhaustiveChoice;
  private readonly depth: number;
  private branching = 0;
  private readonly made: number[] = [];

  constructor(inner: ExhaustiveChoice, depth: number) {
    this.inner = inner;
    this.depth = depth;
  }

  int(n: number): number {
    checkBound(n);
    let x = 0;
    if (n > 1 && this.branching < this.depth) {
      this.branching++;
      x = this.inner.int(n);
    }
    this.made.push(x);
    return x;
  }

  recorded(): readonly number[] {
    return this.made;
  }

  pastPrefix(): boolean {
    return this.inner.pastPrefix();
  }
}
