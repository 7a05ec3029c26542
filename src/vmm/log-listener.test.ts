import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VirtualClock } from "../util/clock.js";
import { VmmLog, type VmmLogLine } from "./log.js";

describe("VmmLog listeners", () => {
  it("see every line as it is added, past the cap too, with its virtual time", () => {
    const clock = new VirtualClock();
    const log = new VmmLog(clock, 2);
    const seen: VmmLogLine[] = [];
    log.onLine((l) => seen.push(l));
    log.error("one");
    clock.advance(5);
    log.guestError("two");
    log.unimp("three");
    assert.deepEqual(
      seen.map((l) => [l.t, l.kind, l.text]),
      [
        [0, "error", "one"],
        [5, "guest_error", "two"],
        [5, "unimp", "three"],
      ],
    );
    assert.equal(log.all().length, 2, "the kept lines stay capped");
    assert.equal(log.total(), 3);
  });

  it("stop hearing once unsubscribed", () => {
    const log = new VmmLog(new VirtualClock());
    const seen: string[] = [];
    const stop = log.onLine((l) => seen.push(l.text));
    log.warn("before");
    stop();
    log.warn("after");
    assert.deepEqual(seen, ["before"]);
    assert.equal(log.total(), 2);
  });
});
