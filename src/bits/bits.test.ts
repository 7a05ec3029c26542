import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { bit, dp32, ex32, genmask, mask, u32 } from "./u32.js";
import { genmask64, hex64, hi32, join64, lo32, mergeHi, mergeLo, toNum } from "./u64.js";

describe("u32 helpers", () => {
  it("normalises negative JS integers to unsigned", () => {
    assert.equal(u32(-1), 0xffff_ffff);
    assert.equal(bit(31), 0x8000_0000);
  });

  it("builds masks like GENMASK", () => {
    assert.equal(mask(32), 0xffff_ffff);
    assert.equal(genmask(30, 24), 0x7f00_0000);
    assert.equal(genmask(31, 0), 0xffff_ffff);
  });

  it("extracts and deposits fields without touching the other bits", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 0xffff_ffff }),
        fc.integer({ min: 0, max: 31 }),
        fc.integer({ min: 1, max: 32 }),
        (v, shift, w) => {
          const width = Math.min(w, 32 - shift);
          const f = ex32(v, shift, width);
          assert.equal(dp32(v, shift, width, f), v >>> 0);
          const cleared = dp32(v, shift, width, 0);
          assert.equal(ex32(cleared, shift, width), 0);
          assert.equal((cleared | (f << shift)) >>> 0, v >>> 0);
        },
      ),
    );
  });

  it("refuses to deposit a value wider than its field", () => {
    assert.throws(() => dp32(0, 1, 3, 8), RangeError);
  });
});

describe("u64 helpers", () => {
  it("splits and joins 64-bit values exactly", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (x) => {
        assert.equal(join64(lo32(x), hi32(x)), x);
        assert.equal(mergeHi(mergeLo(0n, lo32(x)), hi32(x)), x);
      }),
    );
  });

  it("extracts BASE.ADDR bits 47:5 with GENMASK_ULL", () => {
    assert.equal(genmask64(47, 5), 0x0000_ffff_ffff_ffe0n);
  });

  it("refuses numbers beyond 2^53 and prints 16 hex digits", () => {
    assert.throws(() => toNum(1n << 60n), RangeError);
    assert.equal(hex64(1n), "0x0000000000000001");
  });
});
