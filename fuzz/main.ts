// `npm run fuzz [-- --seconds N] [--seed S] [--only NAME,…]`: the seeded fuzzers, each
// given a share of the time budget, run seed after seed until their share is spent. A
// failing seed is written to fuzz/corpus/<fuzzer>/<seed>.json, which `npm test` replays
// from then on (fuzz/corpus.test.ts). Prints, per fuzzer, the inputs it sent, the runs,
// the peak RSS and the failures; exits 1 if any.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { FUZZERS, type FuzzerName } from "./fuzzers.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "120" },
    seed: { type: "string", default: "1" },
    only: { type: "string" },
  },
});

function fail(message: string): never {
  process.stderr.write(`fuzz: ${message}\n`);
  process.exit(2);
}

const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds <= 0)
  fail(`--seconds: expected a positive number, got "${values.seconds}"`);
const baseSeed = Number(values.seed);
if (!Number.isSafeInteger(baseSeed) || baseSeed < 0 || baseSeed > 0xffff_ffff)
  fail(`--seed: expected an integer from 0 to 4294967295, got "${values.seed}"`);
const names = (values.only?.split(",") ?? Object.keys(FUZZERS)) as FuzzerName[];
for (const n of names)
  if (!(n in FUZZERS))
    fail(`--only: no fuzzer "${n}" (fuzzers: ${Object.keys(FUZZERS).join(", ")})`);

const tty = process.stderr.isTTY === true;
const total = names.reduce((s, n) => s + FUZZERS[n].share, 0);
let failures = 0;
const rows: string[] = [];
for (const name of names) {
  const f = FUZZERS[name];
  const budgetMs = (seconds * 1000 * f.share) / total;
  const start = Date.now();
  let inputs = 0;
  let runs = 0;
  let peak = 0;
  let seed = baseSeed;
  while (Date.now() - start < budgetMs) {
    const r = await f.run(seed);
    runs++;
    inputs += r.inputs;
    peak = Math.max(peak, r.peakRssMb);
    if (tty) process.stderr.write(`\r\x1b[2Kfuzz ${name}: seed ${seed}, ${inputs} inputs`);
    if (r.failure !== null) {
      failures++;
      const dir = join("fuzz", "corpus", name);
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${seed}.json`);
      writeFileSync(
        file,
        `${JSON.stringify({ seed, ...f.params, failure: r.failure }, null, 2)}\n`,
      );
      if (tty) process.stderr.write("\r\x1b[2K");
      console.log(`fuzz ${name}: seed ${seed} FAILED: ${r.failure}\n  saved as ${file}`);
    }
    seed = (seed + 1) >>> 0;
  }
  if (tty) process.stderr.write("\r\x1b[2K");
  const secs = (Date.now() - start) / 1000;
  rows.push(
    `${name.padEnd(12)} ${String(inputs).padStart(9)} inputs  ${String(runs).padStart(5)} runs  ${(inputs / secs).toFixed(0).padStart(7)}/s  peak RSS ${peak.toFixed(0)} MB`,
  );
}
console.log(`fuzz: ${seconds} s from seed ${baseSeed}`);
for (const r of rows) console.log(`  ${r}`);
console.log(failures === 0 ? "no failures" : `${failures} failing seeds saved under fuzz/corpus/`);
process.exitCode = failures === 0 ? 0 : 1;
