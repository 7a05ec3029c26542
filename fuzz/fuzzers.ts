// The fuzzers by name, with the parameters of one run and their share of a campaign's
// time. A corpus file is `{seed, ...params}`: the same call reproduces the run.

import { fuzzReplays, fuzzScenarios } from "./files.js";
import { fuzzHostSocket } from "./host-socket.js";
import { type FuzzOutcome, fuzzQtest } from "./qtest.js";

export interface Fuzzer {
  /** Relative share of a campaign's time. */
  readonly share: number;
  readonly params: Readonly<Record<string, number>>;
  run(seed: number, params?: Readonly<Record<string, number>>): Promise<FuzzOutcome>;
}

export const FUZZERS = {
  qtest: {
    share: 5,
    params: { lines: 3000 },
    run: (seed: number, p?: Readonly<Record<string, number>>) =>
      fuzzQtest({ seed, lines: p?.["lines"] ?? 3000 }),
  },
  scenario: {
    share: 3,
    params: { files: 400, cliRuns: 2 },
    run: (seed: number, p?: Readonly<Record<string, number>>) =>
      fuzzScenarios({ seed, files: p?.["files"] ?? 400, cliRuns: p?.["cliRuns"] ?? 2 }),
  },
  replay: {
    share: 1,
    params: { files: 1000, cliRuns: 2 },
    run: (seed: number, p?: Readonly<Record<string, number>>) =>
      fuzzReplays({ seed, files: p?.["files"] ?? 1000, cliRuns: p?.["cliRuns"] ?? 2 }),
  },
  /**
   * The simulated host's socket as QEMU's preload talks to it: hostile frames, replies and
   * memory (fuzz/host-socket.ts). One call runs inputs from the seed for 10 s; a failing
   * input's own seed is what fuzz/corpus/host-socket/ keeps (its corpus test replays it).
   */
  "host-socket": {
    share: 1,
    params: { frames: 60 },
    run: async (seed: number, p?: Readonly<Record<string, number>>) => {
      const r = await fuzzHostSocket({ seed, frames: p?.["frames"] ?? 60, seconds: 10 });
      return {
        inputs: r.inputs,
        peakRssMb: r.peakRssMb,
        failure:
          r.failures.length === 0
            ? null
            : r.failures
                .slice(0, 3)
                .map((f) => `input seed ${f.seed}: ${f.description}`)
                .join("; "),
      };
    },
  },
} satisfies Record<string, Fuzzer>;

export type FuzzerName = keyof typeof FUZZERS;
