import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createHost } from "../host/host.js";
import { VirtualClock } from "../util/clock.js";
import { StreamAccount } from "./stream-account.js";

const B = 0x0c08_0000;
const w = (a: number, v: number) => `writel 0x${(B + a).toString(16)} 0x${v.toString(16)}`;

describe("the VCMDQ account read off a qtest stream", () => {
  it("owes VCMDQ0 a queue once BASE, ALLOC, VINTF0 EN and CMDQV EN are all written", () => {
    const a = new StreamAccount(createHost({ clock: new VirtualClock() }), B);
    const lines = [w(0, 0x2_0083), w(0x200, 0), w(0x1000, 0x2_0001), w(0x200, 1)];
    for (const l of lines) a.observe(l);
    assert.equal(a.ready(0), false, "no BASE yet");
    a.observe(`writeq 0x${(B + 0x4_0000).toString(16)} 0x4020000c`);
    assert.equal(a.ready(0), true);
    assert.deepEqual(a.cachedQueue(0), { gpa: 0x4020_0000, length: 0x1_0000 });
    assert.equal(a.lastAttempt(0), "none", "the host saw no HW_QUEUE_ALLOC");
    a.observe(w(0x1000, 0));
    assert.equal(a.ready(0), false, "VINTF0 disabled");
  });

  it("takes BASE through the global page1 too, and ignores writes outside the window", () => {
    const a = new StreamAccount(createHost({ clock: new VirtualClock() }), B);
    a.observe(w(0x2_0080, 0x4030_000b)); // VCMDQ1 BASE_L
    a.observe("writel 0x40000000 0x1");
    a.observe("readl 0x0c080000");
    assert.deepEqual(a.cachedQueue(1), { gpa: 0x4030_0000, length: 0x8000 });
    assert.equal(a.ready(1), false);
  });

  it("starts with the CMDQV enabled, as QEMU's reset CONFIG (0x20083) has it", () => {
    const a = new StreamAccount(createHost({ clock: new VirtualClock() }), B);
    for (const l of [w(0x200, 1), w(0x1000, 1), w(0x2_0000, 0x4020_000c)]) a.observe(l);
    assert.equal(a.ready(0), true, "owed a queue with no CONFIG write at all");
    a.observe(w(0, 0x2_0082));
    assert.equal(a.ready(0), false, "CMDQV_EN cleared");
  });
});
