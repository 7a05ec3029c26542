import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSizeFlag, UsageError, wholeSizeSpelling } from "./options.js";

const MAX = 2 ** 46;

function sizeError(v: string): string {
  try {
    parseSizeFlag("--ram-size", v, MAX);
  } catch (e) {
    assert.ok(e instanceof UsageError);
    return e.message;
  }
  assert.fail(`${JSON.stringify(v)} was accepted`);
}

describe("a size flag's error", () => {
  it("names the flag, the forms a size takes and the value, on one line", () => {
    const m = sizeError("1.5G");
    assert.match(
      m,
      /^--ram-size: expected a whole number of bytes or a whole number with K, M, G or T .*, got "1\.5G"/,
    );
    assert.ok(!m.includes("\n"));
  });

  it("lists only examples the parser takes", () => {
    const eg = /e\.g\. ([^)]*)\)/.exec(sizeError("ten"))?.[1];
    assert.ok(eg, "the error gives examples");
    const examples = eg.split(", ");
    assert.ok(examples.length >= 3);
    for (const x of examples) assert.ok(parseSizeFlag("--ram-size", x, MAX) > 0, x);
    // The units it names are the ones the parser takes, KiB and KB spellings included.
    for (const x of ["1K", "1M", "1G", "1T", "1KiB", "1KB", "1g"])
      assert.ok(parseSizeFlag("--ram-size", x, MAX) > 0, x);
  });

  it("says what a decimal size is as a whole number, when it is one", () => {
    assert.match(sizeError("1.5G"), /\(1\.5G is 1536M\)$/);
    assert.equal(parseSizeFlag("--ram-size", "1536M", MAX), 1.5 * 2 ** 30);
    assert.equal(wholeSizeSpelling("0.5K"), "512");
    assert.equal(wholeSizeSpelling("2.25MiB"), "2304K");
    assert.equal(wholeSizeSpelling("1.3G"), undefined, "not a whole number of bytes");
    assert.equal(wholeSizeSpelling("0.0G"), undefined);
    assert.doesNotMatch(sizeError("1.3G"), / is /);
  });

  it("keeps the range error for a well-formed size out of range", () => {
    assert.match(
      sizeError("128T"),
      /^--ram-size: must be from 0x1 to 0x[0-9a-f]+ bytes, got "128T"$/,
    );
    assert.match(sizeError("0"), /must be from/);
  });
});
