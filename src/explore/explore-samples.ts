// Samples of an exploration's progress for the report's chart of states over time: the
// figures (paths, states, distinct states, violated invariants) each time a path ends, kept
// at every `every`-th path. When more than `max` are kept, every other one is dropped and
// `every` doubles, so a search of any length keeps between max/2 and max samples, evenly
// spread over its paths. The explorer calls `pathEnded` in the order paths are merged,
// which is the same on one thread or many (`--jobs`), so the samples are too.
//
// Wall time is not read here: a caller that wants it passes a clock (`now`, milliseconds),
// and each sample carries its reading.

export interface ExploreSample {
  /** Paths ended so far. */
  readonly paths: number;
  /** States (steps) run so far, over all runs. */
  readonly states: number;
  /** Distinct states so far. */
  readonly distinct: number;
  /** Invariants violated so far. */
  readonly violations: number;
  /** The clock's reading (milliseconds from the start), when a clock was given. */
  readonly ms?: number;
}

export interface SamplerOptions {
  /** Samples kept at most (at least 2; default 256). */
  readonly max?: number;
  /** Milliseconds since the exploration started (injected: the CLI's wall clock). */
  readonly now?: () => number;
}

export class ExploreSampler {
  private readonly max: number;
  private readonly now: (() => number) | undefined;
  private kept: ExploreSample[] = [];
  private every = 1;

  constructor(o: SamplerOptions = {}) {
    this.max = Math.max(2, o.max ?? 256);
    this.now = o.now;
  }

  /** A path ended; the figures are the totals after it. Costs a remainder unless sampled. */
  pathEnded(paths: number, states: number, distinct: number, violations: number): void {
    if (paths % this.every !== 0) return;
    this.kept.push(this.sample(paths, states, distinct, violations));
    if (this.kept.length > this.max) {
      this.every *= 2;
      this.kept = this.kept.filter((s) => s.paths % this.every === 0);
    }
  }

  /** The samples, ending with the final figures (given here, as the result states them). */
  samples(final: {
    readonly paths: number;
    readonly states: number;
    readonly distinct: number;
    readonly violations: number;
  }): ExploreSample[] {
    const out = [...this.kept];
    const last = out[out.length - 1];
    if (
      last === undefined ||
      last.paths !== final.paths ||
      last.states !== final.states ||
      last.distinct !== final.distinct
    )
      out.push(this.sample(final.paths, final.states, final.distinct, final.violations));
    return out;
  }

  private sample(paths: number, states: number, distinct: number, violations: number) {
    const ms = this.now?.();
    return ms === undefined
      ? { paths, states, distinct, violations }
      : { paths, states, distinct, violations, ms };
  }
}
