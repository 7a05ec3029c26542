import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sprintf } from "./printf.js";

describe("sprintf", () => {
  it("formats the hex conversions kernel messages use", () => {
    assert.equal(sprintf("%08x", 0xabc), "00000abc");
    assert.equal(sprintf("%08X", 0xabc), "00000ABC");
    assert.equal(sprintf("%X", 0xdead), "DEAD");
    assert.equal(sprintf("%016llx", 1n), "0000000000000001");
    assert.equal(sprintf("0x%016llx", -1n), "0xffffffffffffffff");
  });

  it("treats a plain conversion as 32-bit and l/ll/z as 64-bit", () => {
    assert.equal(sprintf("%x", -1), "ffffffff");
    assert.equal(sprintf("%u", -1), "4294967295");
    assert.equal(sprintf("%d", 0xffff_ffff), "-1");
    assert.equal(sprintf("%llx", 2 ** 40), "10000000000");
    assert.equal(sprintf("%lu", -1n), "18446744073709551615");
  });

  it("pads with spaces or zeros and keeps the sign in front", () => {
    assert.equal(sprintf("[%5u.%06u]", 12, 345), "[   12.000345]");
    assert.equal(sprintf("%-4d|", 7), "7   |");
    assert.equal(sprintf("%05d", -42), "-0042");
    assert.equal(sprintf("%3s|%-3s|", "a", "b"), "  a|b  |");
  });

  it("prints %% and text around the conversions unchanged", () => {
    assert.equal(
      sprintf("CMDQ error (cons 0x%08x): %s", 0x0100_0003, "Illegal command"),
      "CMDQ error (cons 0x01000003): Illegal command",
    );
    assert.equal(sprintf("100%%"), "100%");
  });

  it("throws on a missing argument or a string given to a number conversion", () => {
    assert.throws(() => sprintf("%x"), RangeError);
    assert.throws(() => sprintf("%x", "a"), TypeError);
  });
});
