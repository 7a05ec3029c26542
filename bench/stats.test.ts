import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { median, single, spread } from "./stats.js";

describe("a figure's spread over its rounds", () => {
  it("is the middle sample of an odd count, with the smallest and largest, whatever the order", () => {
    assert.deepEqual(spread([9, 3, 7, 1, 5]), { median: 5, min: 1, max: 9, runs: 5 });
    assert.deepEqual(spread([12.5, 10, 11]), { median: 11, min: 10, max: 12.5, runs: 3 });
  });

  it("takes the mean of the two middle samples of an even count", () => {
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.deepEqual(spread([10, 40, 20, 30]), { median: 25, min: 10, max: 40, runs: 4 });
  });

  it("rounds each of median, min and max when asked, and leaves the samples unsorted", () => {
    const xs = [2.6, 1.4, 3.5];
    assert.deepEqual(spread(xs, Math.round), { median: 3, min: 1, max: 4, runs: 3 });
    assert.deepEqual(xs, [2.6, 1.4, 3.5]);
  });

  it("has as many samples at or below the median as at or above it", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1e6, max: 1e6 }), { minLength: 1 }), (xs) => {
        const s = spread(xs);
        assert.ok(s.min <= s.median && s.median <= s.max);
        assert.ok(xs.filter((x) => x <= s.median).length >= xs.length / 2);
        assert.ok(xs.filter((x) => x >= s.median).length >= xs.length / 2);
        const sorted = [...xs].sort((a, b) => a - b);
        assert.equal(s.min, sorted[0]);
        assert.equal(s.max, sorted.at(-1));
      }),
    );
  });

  it("is one value three times for a figure taken once, and refuses no samples", () => {
    assert.deepEqual(single(3.42), { median: 3.42, min: 3.42, max: 3.42, runs: 1 });
    assert.throws(() => median([]), RangeError);
  });
});
