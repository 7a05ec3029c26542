import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { CMDQ_ERR, cmdqErrorName, cmdqErrorString, consErr, withConsErr } from "./errors.js";
import {
  QUEUE_LOG2SIZE_MAX,
  qAdvance,
  qConsumedPast,
  qEntries,
  qEntryAddress,
  qFreeSpace,
  qIdx,
  qIsEmpty,
  qIsFull,
  qLayoutAligned,
  qLayoutEntry,
  qPos,
  qSizeBytes,
  qUsed,
  queueLayout,
  qWrap,
} from "./queue.js";

describe("queue index and wrap bit", () => {
  it("splits a register value into index bits [n-1:0] and the wrap bit n", () => {
    // n = 3: 8 entries, wrap at bit 3; CONS.ERR (bits 30:24) is not part of the position.
    const v = (0x7f << 24) | 0b1101;
    assert.equal(qIdx(v, 3), 0b101);
    assert.equal(qWrap(v, 3), 1);
    assert.equal(qPos(v, 3), 0b1101);
    assert.equal(qIdx(0xffff_ffff, 19), 0x7_ffff);
    assert.equal(qWrap(0xffff_ffff, 19), 1);
    assert.equal(qWrap(0x7_ffff, 19), 0);
  });

  it("treats a one-entry queue (n = 0) as index 0 with only a wrap bit", () => {
    assert.equal(qIdx(1, 0), 0);
    assert.equal(qWrap(1, 0), 1);
    assert.ok(qIsFull(1, 0, 0));
    assert.ok(qIsEmpty(1, 1, 0));
    assert.equal(qAdvance(1, 1, 0), 0);
  });

  it("is empty when index and wrap match and full when only the wrap differs", () => {
    assert.ok(qIsEmpty(0b0101, 0b0101, 3));
    assert.ok(!qIsFull(0b0101, 0b0101, 3));
    assert.ok(qIsFull(0b1101, 0b0101, 3));
    assert.ok(qIsFull(0b0101, 0b1101, 3));
    assert.ok(!qIsEmpty(0b1101, 0b0101, 3));
    // Bits above the wrap bit (PROD bit 31, CONS.ERR) never change the answer.
    assert.ok(qIsEmpty(0x8000_0005, 0x0100_0005, 3));
    assert.ok(qIsFull(0x8000_000d, 0x7f00_0005, 3));
  });

  it("counts free space as 2^n - (idx(P) - idx(C)) with equal wraps and idx(C) - idx(P) otherwise", () => {
    assert.equal(qFreeSpace(0b0110, 0b0010, 3), 8 - 4);
    assert.equal(qUsed(0b0110, 0b0010, 3), 4);
    assert.equal(qFreeSpace(0b1001, 0b0110, 3), 6 - 1);
    assert.equal(qUsed(0b1001, 0b0110, 3), 3);
    assert.equal(qFreeSpace(0, 0, 3), 8);
    assert.equal(qFreeSpace(0b1000, 0, 3), 0);
  });

  it("shows a PROD behind CONS as free space beyond the queue size", () => {
    // Equal wraps with idx(P) < idx(C): no correct producer gets here.
    assert.equal(qFreeSpace(0b0001, 0b0011, 3), 10);
    assert.equal(qUsed(0b0001, 0b0011, 3), -2);
  });

  it("advances modulo 2^(n+1), toggling the wrap bit as the index wraps", () => {
    assert.equal(qAdvance(0b0111, 1, 3), 0b1000);
    assert.equal(qAdvance(0b1111, 1, 3), 0b0000);
    assert.equal(qAdvance(0b0110, 5, 3), 0b1011);
    assert.equal(qAdvance(0b0000, -1, 3), 0b1111);
    assert.equal(qAdvance(0xffff_ffff, 1, 19), 0xfff0_0000);
    assert.equal(qAdvance(0x8000_0007, 1, 3), 0x8000_0008);
    assert.equal(qAdvance(0x7f00_000f, 1, 3), 0x7f00_0000);
  });

  it("sees a CMD_SYNC as consumed once CONS has moved past its index", () => {
    // Sync at index 5, wrap 0 (n = 3).
    assert.ok(!qConsumedPast(0b0101, 0b0101, 3)); // CONS at the sync
    assert.ok(qConsumedPast(0b0110, 0b0101, 3)); // same wrap, past it
    assert.ok(!qConsumedPast(0b0100, 0b0101, 3)); // same wrap, before it
    assert.ok(qConsumedPast(0b1000, 0b0101, 3)); // wrapped, idx(C) <= idx(p)
    assert.ok(qConsumedPast(0b1101, 0b0101, 3)); // wrapped, a full queue later
    assert.ok(!qConsumedPast(0b1110, 0b0101, 3)); // other wrap, idx(C) > idx(p): still behind
    assert.ok(qConsumedPast(0x7f00_0006, 0x8000_0005, 3)); // high bits ignored
  });

  it("places entry i at base + 16*i and ignores the wrap and error bits", () => {
    assert.equal(qEntryAddress(0x8000_0000, 3, 4), 0x8000_0030);
    assert.equal(qEntryAddress(0x8000_0000, 0x0100_0013, 4), 0x8000_0030);
    assert.equal(qEntryAddress(0x1_0000_0000_0000, 0x7_ffff, 19), 0x1_0000_007f_fff0);
  });
});

describe("queue layout", () => {
  it("derives entries and size in bytes from log2size", () => {
    const q = queueLayout(0x4000_0000, 8);
    assert.deepEqual(q, { base: 0x4000_0000, log2size: 8, entries: 256, sizeBytes: 4096 });
    assert.equal(qEntries(19), 0x8_0000);
    assert.equal(qSizeBytes(19), 0x80_0000);
    assert.equal(qLayoutEntry(q, 0x1ff), 0x4000_0ff0);
  });

  it("accepts log2size 0..19 only and a non-negative safe integer base", () => {
    assert.equal(queueLayout(0, 0).entries, 1);
    assert.equal(queueLayout(0, QUEUE_LOG2SIZE_MAX).entries, 2 ** 19);
    assert.throws(() => queueLayout(0, 20), RangeError);
    assert.throws(() => queueLayout(0, -1), RangeError);
    assert.throws(() => queueLayout(0, 1.5), RangeError);
    assert.throws(() => queueLayout(-16, 4), RangeError);
    assert.throws(() => queueLayout(2 ** 53, 4), RangeError);
  });

  it("reports whether the ring is aligned to its size", () => {
    assert.ok(qLayoutAligned(queueLayout(0x1000, 8)));
    assert.ok(!qLayoutAligned(queueLayout(0x1800, 8)));
    assert.ok(qLayoutAligned(queueLayout(0x20, 1)));
  });
});

describe("CONS.ERR codes", () => {
  it("prints Linux's strings for 0..3 and Unknown for anything else", () => {
    assert.equal(cmdqErrorString(CMDQ_ERR.NONE), "No error");
    assert.equal(cmdqErrorString(CMDQ_ERR.ILL), "Illegal command");
    assert.equal(cmdqErrorString(CMDQ_ERR.ABT), "Abort on command fetch");
    assert.equal(cmdqErrorString(CMDQ_ERR.ATC_INV_SYNC), "ATC invalidate timeout");
    assert.equal(cmdqErrorString(CMDQ_ERR.ILL_ACCESS), "Unknown");
    assert.equal(cmdqErrorString(0x7f), "Unknown");
    assert.equal(cmdqErrorString(-1), "Unknown");
  });

  it("names the codes for traces", () => {
    assert.equal(cmdqErrorName(4), "ILL_ACCESS");
    assert.equal(cmdqErrorName(9), "ERR(0x9)");
  });

  it("reads and replaces CONS.ERR in bits 30:24 without touching the index", () => {
    assert.equal(consErr(0x0400_0123), 4);
    assert.equal(consErr(0x8000_0000), 0);
    assert.equal(withConsErr(0x8000_0123, CMDQ_ERR.ILL), 0x8100_0123);
    assert.equal(withConsErr(0x7f00_0123, 0), 0x0000_0123);
    assert.throws(() => withConsErr(0, 0x80), RangeError);
  });
});

// ---------------------------------------------------------------------------------------
// Model-based property: the registers, driven only through qAdvance, against two plain
// counters (produced, consumed) with consumed <= produced <= consumed + 2^n.
// ---------------------------------------------------------------------------------------

type Step = { readonly produce: boolean; readonly amount: number; readonly syncBack: number };

const stepArb: fc.Arbitrary<Step> = fc.record(
  {
    produce: fc.boolean(),
    amount: fc.nat({ max: 0x7fff_ffff }),
    syncBack: fc.nat({ max: 0x7fff_ffff }),
  },
  { noNullPrototype: true },
);

const scenarioArb = fc.integer({ min: 1, max: QUEUE_LOG2SIZE_MAX }).chain((log2) =>
  fc.record(
    {
      log2: fc.constant(log2),
      // Starting position (both counters equal: an empty queue anywhere on the ring).
      start: fc.integer({ min: 0, max: 2 ** (log2 + 1) - 1 }),
      // Bits above the wrap bit the registers carry along (PROD bit 31, CONS.ERR, …).
      prodHigh: fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
      consHigh: fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
      steps: fc.array(stepArb, { maxLength: 40 }),
    },
    { noNullPrototype: true },
  ),
);

/** Pick a step size that keeps the counters legal, biased towards the edges. */
function stepSize(raw: number, room: number): number {
  if (room === 0) return 0;
  switch (raw % 4) {
    case 0:
      return room; // fill completely / drain completely
    case 1:
      return 1;
    default:
      return raw % (room + 1);
  }
}

describe("queue properties against a counter model", () => {
  it("keeps every derived quantity equal to the model after any sequence of advances", () => {
    fc.assert(
      fc.property(scenarioArb, ({ log2, start, prodHigh, consHigh, steps }) => {
        const size = 2 ** log2;
        const posMask = 2 ** (log2 + 1) - 1;
        const pHigh = (prodHigh & ~posMask) >>> 0;
        const cHigh = (consHigh & ~posMask) >>> 0;
        let produced = start;
        let consumed = start;
        let prod = (pHigh | start) >>> 0;
        let cons = (cHigh | start) >>> 0;
        for (const s of steps) {
          if (s.produce) {
            const n = stepSize(s.amount, consumed + size - produced);
            produced += n;
            prod = qAdvance(prod, n, log2);
          } else {
            const n = stepSize(s.amount, produced - consumed);
            consumed += n;
            cons = qAdvance(cons, n, log2);
          }
          const used = produced - consumed;
          assert.equal(qUsed(prod, cons, log2), used);
          assert.equal(qFreeSpace(prod, cons, log2), size - used);
          assert.equal(qFreeSpace(prod, cons, log2) + qUsed(prod, cons, log2), size);
          assert.equal(qIsEmpty(prod, cons, log2), used === 0);
          assert.equal(qIsFull(prod, cons, log2), used === size);
          assert.equal(qIdx(prod, log2), produced % size);
          assert.equal(qWrap(cons, log2), Math.floor(consumed / size) % 2);
          // Bits above the wrap bit never change.
          assert.equal((prod & ~posMask) >>> 0, pHigh);
          assert.equal((cons & ~posMask) >>> 0, cHigh);
          // A CMD_SYNC at absolute position `sync` (already produced, and not more than a
          // queue length behind CONS) is consumed exactly when consumed > sync.
          if (produced > 0) {
            const lowest = Math.max(0, consumed - size);
            const sync = produced - 1 - (s.syncBack % (produced - lowest));
            const syncProd = qAdvance(pHigh, sync, log2);
            assert.equal(qConsumedPast(cons, syncProd, log2), consumed > sync);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it("returns to the same register value after advancing by 2^(n+1)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: QUEUE_LOG2SIZE_MAX }),
        fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
        fc.integer({ min: -4, max: 4 }),
        (log2, raw, k) => {
          const v = raw >>> 0;
          assert.equal(qAdvance(v, k * 2 ** (log2 + 1), log2), v);
        },
      ),
    );
  });

  it("adds like the counter it models and never touches bits above the wrap bit", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: QUEUE_LOG2SIZE_MAX }),
        fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
        fc.integer({ min: -(2 ** 21), max: 2 ** 21 }),
        fc.integer({ min: -(2 ** 21), max: 2 ** 21 }),
        (log2, raw, a, b) => {
          const v = raw >>> 0;
          const m = 2 ** (log2 + 1);
          const r = qAdvance(v, a, log2);
          assert.equal(r >>> (log2 + 1), v >>> (log2 + 1));
          assert.equal(qPos(r, log2), (((qPos(v, log2) + a) % m) + m) % m);
          assert.equal(qAdvance(r, b, log2), qAdvance(v, a + b, log2));
          assert.ok(r >= 0 && r <= 0xffff_ffff);
        },
      ),
    );
  });
});
