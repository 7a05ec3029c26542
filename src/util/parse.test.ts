import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSize, parseUint, parseUintIn } from "./parse.js";

describe("parseSize", () => {
  it("reads bytes as numbers, decimal or hex text, and binary units", () => {
    assert.deepEqual(parseSize(4096), { ok: true, value: 4096 });
    assert.deepEqual(parseSize("0x1000"), { ok: true, value: 0x1000 });
    assert.deepEqual(parseSize("64K"), { ok: true, value: 0x1_0000 });
    assert.deepEqual(parseSize("2M"), { ok: true, value: 0x20_0000 });
    assert.deepEqual(parseSize("1G"), { ok: true, value: 0x4000_0000 });
    assert.deepEqual(parseSize("512m"), { ok: true, value: 512 * 2 ** 20 });
    assert.deepEqual(parseSize("64KiB"), { ok: true, value: 0x1_0000 });
    assert.deepEqual(parseSize("1_024"), { ok: true, value: 1024 });
  });

  it("refuses typos, fractions, negatives and bits", () => {
    for (const bad of ["1GG", "1Q", "1.5G", "", "G", "1Gb", "0x", "ten"])
      assert.equal(parseSize(bad).ok, false, bad);
    assert.deepEqual(parseSize(-1), { ok: false, error: "must not be negative" });
    assert.deepEqual(parseSize(1.5), { ok: false, error: "not a whole number" });
  });
});

describe("parseUint", () => {
  it("keeps 64-bit values exact", () => {
    assert.deepEqual(parseUint("0xffff_ffff_ffff_ffff"), { ok: true, value: 2n ** 64n - 1n });
    assert.deepEqual(parseUint("18446744073709551615"), { ok: true, value: 2n ** 64n - 1n });
    assert.deepEqual(parseUint("0o17"), { ok: true, value: 15n });
    assert.deepEqual(parseUint("0b101"), { ok: true, value: 5n });
  });
});

describe("parseUintIn", () => {
  it("checks the range exactly, beyond 32 bits too", () => {
    assert.deepEqual(parseUintIn("64", 1, 64), { ok: true, value: 64 });
    assert.deepEqual(parseUintIn("0x41", 1, 64), { ok: false, error: "must be from 1 to 64" });
    assert.deepEqual(parseUintIn("1_000_000_000_000", 1, 1e12), { ok: true, value: 1e12 });
    assert.deepEqual(parseUintIn("-1", 0, 9), { ok: false, error: "must not be negative" });
  });
});
