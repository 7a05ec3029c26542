// The fuzzers by name, with the parameters of one run and their share of a campaign's
// time. A corpus file is `{seed, ...params}`: the same call reproduces the run.

import { fuzzReplays, fuzzScenarios } from "./files.js";
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
} satisfies Record<string, Fuzzer>;

export type FuzzerName = keyof typeof FUZZERS;
