// Benchmark harness: each figure is a function that does `n` operations; we grow n until
// a run takes long enough to time, then report the best of a few runs (operations per
// second). Wall-clock time is read here and only here (bench/ is outside the core).

import { performance } from "node:perf_hooks";

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

export interface Measured {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
}

/** Operations per second of `fig`, best of `rounds` runs of at least `minMs` each. */
export function measure(fig: Figure, minMs = 300, rounds = 5): Measured {
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
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    body(n);
    const dt = (performance.now() - t0) / 1000;
    best = Math.max(best, n / dt);
  }
  return { name: fig.name, value: Math.round(best), unit: fig.unit };
}
