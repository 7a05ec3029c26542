import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Prng } from "./prng.js";

describe("Prng", () => {
  it("gives the same sequence for the same seed and a different one for another seed", () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const sa = Array.from({ length: 8 }, () => a.next());
    assert.deepEqual(
      sa,
      Array.from({ length: 8 }, () => b.next()),
    );
    assert.notDeepEqual(
      sa,
      Array.from({ length: 8 }, () => c.next()),
    );
  });

  it("keeps a seed's meaning: the first outputs of seed 1 are pinned", () => {
    const p = new Prng(1);
    const first = [p.next(), p.next(), p.next()];
    // Pinned so that a change to the generator (which would change every replay) fails here.
    assert.deepEqual(first, PINNED_SEED1);
  });

  it("draws integers inside the bound, all of them over enough draws", () => {
    const p = new Prng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const x = p.int(6);
      assert.ok(x >= 0 && x < 6);
      seen.add(x);
    }
    assert.equal(seen.size, 6);
    assert.throws(() => p.int(0), RangeError);
  });
});

const PINNED_SEED1 = [1828152527, 3394835397, 2967886022];
