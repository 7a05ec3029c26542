import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { machineConfig } from "../machine/config.js";
import { ExploreSampler } from "./explore-samples.js";
import { type ExploreOptions, expandItems, OrderingsSearch, type SearchChunk } from "./explorer.js";

const V5: ExploreOptions = {
  mode: "orderings",
  machine: machineConfig({ profile: "qemu-v5" }),
  queues: 1,
  extras: [],
  faults: true,
};

/** The orderings search with chunks merged as `order` picks from those out (width: threads). */
function search(width: number, order: (out: SearchChunk[]) => SearchChunk) {
  const sampler = new ExploreSampler({ max: 32 });
  const s = new OrderingsSearch(V5, width, undefined, sampler);
  const out: SearchChunk[] = [];
  for (;;) {
    // Take every chunk there is, as idle threads would, then merge one of them.
    for (let c = s.take(); c !== null && c !== "wait"; c = s.take()) out.push(c);
    if (out.length === 0) break;
    const c = order(out);
    out.splice(out.indexOf(c), 1);
    s.put(c.id, expandItems(V5, c.items));
  }
  const r = s.result();
  return {
    result: r,
    samples: sampler.samples({
      paths: r.paths,
      states: r.states,
      distinct: r.distinctStates,
      violations: r.violations.length,
    }),
  };
}

describe("exploration samples", () => {
  it("keep between max/2 and max samples of a long exploration, evenly spaced by paths", () => {
    const s = new ExploreSampler({ max: 64 });
    for (let p = 1; p <= 100_000; p++) s.pathEnded(p, 3 * p, p >> 1, p > 500 ? 1 : 0);
    const kept = s.samples({ paths: 100_000, states: 300_000, distinct: 50_000, violations: 1 });
    assert.ok(kept.length >= 32 && kept.length <= 65, `${kept.length} samples`);
    const step = kept[1]!.paths - kept[0]!.paths;
    // The last is the final figures, wherever the exploration ended.
    for (let i = 1; i < kept.length - 1; i++) {
      assert.equal(kept[i]!.paths - kept[i - 1]!.paths, step, `spacing at sample ${i}`);
      assert.equal(kept[i]!.states, 3 * kept[i]!.paths);
    }
    assert.deepEqual(kept[kept.length - 1], {
      paths: 100_000,
      states: 300_000,
      distinct: 50_000,
      violations: 1,
    });
  });

  it("end on the final figures, added when the last path was not sampled", () => {
    const s = new ExploreSampler({ max: 4 });
    for (let p = 1; p <= 9; p++) s.pathEnded(p, p, p, 0);
    const kept = s.samples({ paths: 9, states: 9, distinct: 9, violations: 0 });
    assert.equal(kept[kept.length - 1]!.paths, 9);
    assert.ok(kept.length <= 5);
    assert.ok(kept.slice(0, -1).every((x) => x.paths < 9));
  });

  it("carry the injected clock's reading, one reading a sample", () => {
    let ticks = 0;
    const s = new ExploreSampler({ now: () => ++ticks * 10 });
    s.pathEnded(1, 5, 3, 0);
    s.pathEnded(2, 9, 4, 1);
    const kept = s.samples({ paths: 2, states: 9, distinct: 4, violations: 1 });
    assert.deepEqual(
      kept.map((x) => x.ms),
      [10, 20],
    );
    assert.equal(ticks, 2);
  });

  it("are the same when the orderings search is merged from several threads, chunks finishing in any order", () => {
    const one = search(1, (out) => out[0]!);
    const lastFirst = search(3, (out) => out[out.length - 1]!);
    assert.ok(one.samples.length > 8, `${one.samples.length} samples`);
    assert.deepEqual(lastFirst.samples, one.samples);
    const end = one.samples[one.samples.length - 1]!;
    assert.deepEqual(
      [end.paths, end.states, end.distinct, end.violations],
      [
        one.result.paths,
        one.result.states,
        one.result.distinctStates,
        one.result.violations.length,
      ],
    );
  });
});
