// Benchmark harness: each figure is a function that does `n` operations; we grow n until
// a run takes long enough to time, then time several rounds and report their median, with
// the fastest and slowest round (operations per second). Wall-clock time is read here and
// only here (bench/ is outside the core).

import { performance } from "node:perf_hooks";
import { type Spread, spread } from "./stats.js";

export interface Figure {
  readonly name: string;
  readonly unit: string;
  readonly what: string;
  /** Prepare state and return the timed body: performs `n` operations. */
  readonly setup: () => (n: number) => void;
}

/** A figure measured by one timed run of a whole job (e.g. an exhaustive exploration). */
export interface OnceFigure {
  readonly names: readonly { readonly name: string; readonly unit: string }[];
  readonly what: string;
  /** Runs the job once and returns each named value. */
  readonly run: () => Record<string, number>;
}

export interface Measured extends Spread {
  readonly name: string;
  readonly unit: string;
}

/**
 * Operations per second of `fig`: the median (and min, max) of `rounds` runs of about
 * `minMs` each. An odd count makes the median one of the rounds.
 */
export function measure(fig: Figure, minMs = 300, rounds = 7): Measured {
  const body = fig.setup();
  let n = 1000;
  // Warm up and calibrate so one round lasts about minMs.
  for (;;) {
    const t0 = performance.now();
    body(n);
    const dt = performance.now() - t0;
    if (dt >= minMs / 4 || n >= 1 << 30) {
      n = Math.max(1000, Math.round((n * minMs) / Math.max(dt, 1e-3)));
      break;
    }
    n *= 4;
  }
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    body(n);
    const dt = (performance.now() - t0) / 1000;
    rates.push(n / dt);
  }
  return { name: fig.name, unit: fig.unit, ...spread(rates, Math.round) };
}
