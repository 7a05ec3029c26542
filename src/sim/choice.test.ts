import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DepthBoundedChoice, ExhaustiveChoice, RandomChoice, ReplayChoice } from "./choice.js";

/** Build a permutation of 0..n-1 by asking "which remaining element next?". */
function permutation(c: { int(n: number): number }, n: number): number[] {
  const rest = Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  while (rest.length > 0) out.push(rest.splice(c.int(rest.length), 1)[0]!);
  return out;
}

describe("choice sources", () => {
  it("enumerates all 4! permutations exactly once, as exhaustigen's own test does", () => {
    const c = new ExhaustiveChoice();
    const seen = new Set<string>();
    do seen.add(permutation(c, 4).join(""));
    while (c.next());
    assert.equal(seen.size, 24);
  });

  it("enumerates paths whose shape depends on earlier choices", () => {
    const c = new ExhaustiveChoice();
    const paths: string[] = [];
    do {
      const a = c.int(2);
      paths.push(a === 0 ? `0${c.int(3)}` : "1");
    } while (c.next());
    assert.deepEqual(paths, ["00", "01", "02", "1"]);
  });

  it("enumerates only the subtree of a fixed prefix, so shards partition the space", () => {
    const all = new Set<string>();
    for (let first = 0; first < 4; first++) {
      const c = new ExhaustiveChoice([first]);
      do {
        const p = permutation(c, 4);
        assert.equal(p[0], first);
        all.add(p.join(""));
      } while (c.next());
    }
    assert.equal(all.size, 24);
  });

  it("replays a random run's recorded choices to the same outcome", () => {
    const r = new RandomChoice(123);
    const p = permutation(r, 6);
    const replay = new ReplayChoice(r.recorded());
    assert.deepEqual(permutation(replay, 6), p);
    assert.equal(replay.exhausted(), false);
  });

  it("answers 0 past the end of a replay list and says so", () => {
    const replay = new ReplayChoice([1]);
    assert.deepEqual(permutation(replay, 3), [1, 0, 2]);
    assert.equal(replay.exhausted(), true);
  });

  it("clamps a recorded value that does not fit its bound instead of crashing", () => {
    const replay = new ReplayChoice([9, -3]);
    assert.equal(replay.int(2), 1);
    assert.equal(replay.int(2), 0);
    assert.equal(replay.mismatched(), true);
  });

  it("rejects a bound that is not a positive integer", () => {
    assert.throws(() => new RandomChoice(1).int(0), RangeError);
    assert.throws(() => new ExhaustiveChoice().int(1.5), RangeError);
  });
});

describe("DepthBoundedChoice", () => {
  it("enumerates only the first branching choices and takes the first option after them", () => {
    const inner = new ExhaustiveChoice();
    const seen = new Set<string>();
    do {
      const c = new DepthBoundedChoice(inner, 2);
      seen.add(permutation(c, 4).join(""));
    } while (inner.next());
    // 4 · 3 prefixes; the last two picks are forced to the first remaining element.
    assert.equal(seen.size, 12);
    for (const p of seen) assert.ok(Number(p[2]) < Number(p[3]), p);
  });
});
