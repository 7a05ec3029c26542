// Every seed in fuzz/corpus/ replayed: a bug a fuzzer once found stays fixed.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FUZZERS, type FuzzerName } from "./fuzzers.js";

const ROOT = "fuzz/corpus";

describe("the fuzzers' regression corpus", () => {
  // host-socket's corpus holds single inputs, replayed by fuzz/host-socket.corpus.test.ts.
  for (const name of (Object.keys(FUZZERS) as FuzzerName[]).filter((n) => n !== "host-socket")) {
    let files: string[] = [];
    try {
      files = readdirSync(join(ROOT, name)).filter((f) => f.endsWith(".json"));
    } catch {
      // no corpus for this fuzzer
    }
    for (const file of files) {
      it(`${name} seed file ${file} runs clean`, async () => {
        const { seed, ...params } = JSON.parse(readFileSync(join(ROOT, name, file), "utf8")) as {
          seed: number;
          [k: string]: unknown;
        };
        const numeric = Object.fromEntries(
          Object.entries(params).filter((e): e is [string, number] => typeof e[1] === "number"),
        );
        const r = await FUZZERS[name].run(seed, numeric);
        assert.equal(r.failure, null);
        assert.ok(r.inputs > 0);
      });
    }
  }
});
