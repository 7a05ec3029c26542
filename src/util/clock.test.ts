import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VirtualClock } from "./clock.js";

describe("VirtualClock", () => {
  it("advances listeners in subscription order to the new time", () => {
    const c = new VirtualClock();
    const seen: string[] = [];
    c.subscribe({ advanceTo: (t) => seen.push(`a${t}`) });
    c.subscribe({ advanceTo: (t) => seen.push(`b${t}`) });
    c.advance(1000);
    assert.equal(c.now(), 1000);
    assert.deepEqual(seen, ["a1000", "b1000"]);
  });

  it("never goes backwards and rejects durations that are not numbers", () => {
    const c = new VirtualClock(50);
    c.set(10);
    assert.equal(c.now(), 50);
    assert.throws(() => c.advance(-1), RangeError);
    assert.throws(() => c.advance(Number.NaN), RangeError);
  });
});
