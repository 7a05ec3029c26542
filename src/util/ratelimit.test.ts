import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RATELIMIT_BURST, RATELIMIT_INTERVAL_NS, Ratelimits } from "./ratelimit.js";

describe("Ratelimits", () => {
  it("allows a burst per window, then reports the suppressed count when the next opens", () => {
    let now = 0;
    const lines: string[] = [];
    const r = new Ratelimits({ now: () => now }, (l) => lines.push(l));
    let allowed = 0;
    for (let i = 0; i < RATELIMIT_BURST + 3; i++) if (r.allow("isr", "isr")) allowed++;
    assert.equal(allowed, RATELIMIT_BURST);
    assert.equal(r.suppressed("isr"), 3);
    assert.deepEqual(lines, []);
    now = RATELIMIT_INTERVAL_NS + 1;
    assert.equal(r.allow("isr", "isr"), true);
    assert.deepEqual(lines, ["isr: 3 callbacks suppressed"]);
    assert.equal(r.suppressed("isr"), 3, "the total is kept across windows");
  });

  it("keeps each call site's state apart", () => {
    const r = new Ratelimits({ now: () => 0 }, () => {});
    for (let i = 0; i < RATELIMIT_BURST; i++) r.allow("f", "f#a");
    assert.equal(r.allow("f", "f#a"), false);
    assert.equal(r.allow("f", "f#b"), true);
  });
});
