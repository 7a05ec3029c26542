// `cmdqv explore --jobs N` splits the orderings search among threads: the figures it
// reports are those of one thread (no path run twice, no violation counted twice).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

interface Summary {
  paths: number;
  states: number;
  distinct_states: number;
  space: string;
  workers: number;
  violations: { invariant: string; runs: number; steps?: string[] }[];
}

function explore(...args: string[]): Summary {
  const out = mkdtempSync(join(tmpdir(), "cmdqv-jobs-"));
  made.push(out);
  const r = spawnSync(
    process.execPath,
    ["bin/cmdqv.js", "explore", "--queues", "1", "--json", "--out", out, ...args],
    { encoding: "utf8", timeout: 300_000 },
  );
  assert.ok(r.status === 0 || r.status === 1, r.stderr);
  return JSON.parse(r.stdout) as Summary;
}

/** What must not depend on the number of threads. */
function figures(s: Summary) {
  return {
    paths: s.paths,
    states: s.states,
    distinct: s.distinct_states,
    violations: s.violations.map((v) => [v.invariant, v.runs, v.steps?.join(" ")]),
  };
}

describe("explore --jobs", () => {
  it("reports the paths, distinct states and violations of one thread with two, the space split between them", () => {
    const one = explore("--profile", "qemu-v7", "--jobs", "1");
    const two = explore("--profile", "qemu-v7", "--jobs", "2");
    assert.deepEqual(figures(two), figures(one));
    assert.equal(two.workers, 2);
    assert.ok(one.violations.length > 0, "qemu-v7 violates something with one queue");
    assert.deepEqual([one.space, two.space], ["exhausted", "exhausted"]);
  });

  it("cuts at the same --max-paths paths, whatever the threads", () => {
    const one = explore("--jobs", "1", "--max-paths", "40");
    const three = explore("--jobs", "3", "--max-paths", "40");
    assert.deepEqual(figures(three), figures(one));
    assert.equal(three.workers, 3);
    assert.equal(one.paths, 40);
    assert.deepEqual([one.space, three.space], ["cut", "cut"]);
  });
});
