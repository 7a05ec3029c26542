// What a figure is, once measured: the median of its rounds, with the fastest and the
// slowest round beside it, so a reader (and --compare) can see how much the rounds spread.

/** One figure's rounds, summed up: median, min and max of `runs` samples. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
}

/** The median of `xs` (not empty): the middle sample, or the mean of the two middle ones. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError("median of no samples");
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median, min and max of `samples` (not empty), each passed through `round`. */
export function spread(
  samples: readonly number[],
  round: (v: number) => number = (v) => v,
): Spread {
  return {
    median: round(median(samples)),
    min: round(Math.min(...samples)),
    max: round(Math.max(...samples)),
    runs: samples.length,
  };
}

/** A figure taken once (one timed job, one count): no spread to show. */
export function single(v: number): Spread {
  return { median: v, min: v, max: v, runs: 1 };
}
