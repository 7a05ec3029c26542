import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_MACHINE } from "../machine/config.js";
import {
  closest,
  formatAddress,
  parseAddress,
  parseDuration,
  resolveAddress,
} from "./schema-scalars.js";

describe("parseDuration", () => {
  it("reads ns, us, µs, ms and s, and bare numbers as ns", () => {
    assert.deepEqual(parseDuration("100ns"), { ok: true, value: 100 });
    assert.deepEqual(parseDuration("2us"), { ok: true, value: 2_000 });
    assert.deepEqual(parseDuration("2µs"), { ok: true, value: 2_000 });
    assert.deepEqual(parseDuration("1ms"), { ok: true, value: 1_000_000 });
    assert.deepEqual(parseDuration("1s"), { ok: true, value: 1_000_000_000 });
    assert.deepEqual(parseDuration("1.5ms"), { ok: true, value: 1_500_000 });
    assert.deepEqual(parseDuration(250), { ok: true, value: 250 });
    assert.deepEqual(parseDuration("250"), { ok: true, value: 250 });
  });

  it("refuses unknown units and durations that are not whole nanoseconds", () => {
    for (const bad of ["1sec", "1 ms", "ms", "1m", "1h", "-1ns"])
      assert.equal(parseDuration(bad).ok, false, bad);
    assert.deepEqual(parseDuration("0.5ns"), {
      ok: false,
      error: "not a whole number of nanoseconds",
    });
  });
});

describe("parseAddress", () => {
  it("reads absolute addresses and region offsets", () => {
    assert.deepEqual(parseAddress(0x4060_1000), { ok: true, value: 0x4060_1000 });
    assert.deepEqual(parseAddress("0x4060_1000"), { ok: true, value: 0x4060_1000 });
    assert.deepEqual(parseAddress("cmdqv+0x1000"), {
      ok: true,
      value: { region: "cmdqv", offset: 0x1000 },
    });
    assert.deepEqual(parseAddress("smmu"), { ok: true, value: { region: "smmu", offset: 0 } });
    assert.deepEqual(parseAddress("ram + 1M"), {
      ok: true,
      value: { region: "ram", offset: 0x10_0000 },
    });
  });

  it("names the problem: bad offset, unknown region, a window overrun, the 52-bit limit", () => {
    assert.deepEqual(parseAddress("cmdqv+0xZZ"), { ok: false, error: "not an address" });
    assert.deepEqual(parseAddress("cmdq+0x10"), {
      ok: false,
      error: 'unknown region "cmdq" (expected cmdqv, smmu or ram; did you mean "cmdqv"?)',
    });
    assert.deepEqual(parseAddress("cmdqv+0x50000"), {
      ok: false,
      error: "offset 0x50000 is past the end of the cmdqv window (0x50000 bytes)",
    });
    assert.deepEqual(parseAddress(2 ** 52), { ok: false, error: "addresses must be below 2^52" });
    assert.deepEqual(parseAddress(true), { ok: false, error: "not an address" });
  });

  it("resolves against the machine and prints back the way it is written", () => {
    const m = DEFAULT_MACHINE;
    assert.equal(resolveAddress({ region: "cmdqv", offset: 0x1004 }, m), 0x0c08_1004);
    assert.equal(resolveAddress({ region: "smmu", offset: 4 }, m), 0x0c00_0004);
    assert.equal(resolveAddress({ region: "ram", offset: 0x60_1000 }, m), 0x4060_1000);
    assert.equal(resolveAddress(0x1234, m), 0x1234);
    assert.equal(formatAddress({ region: "cmdqv", offset: 0x1000 }), "cmdqv+0x1000");
  });
});

describe("closest", () => {
  it("guesses a near miss, counts a transposition as one slip, and refuses ties", () => {
    assert.equal(closest("wirte", ["boot", "write", "read"]), "write");
    assert.equal(closest("rma", ["profile", "ram", "vcmdqs"]), "ram");
    assert.equal(closest("qemu-v6", ["qemu-v5", "qemu-v7", "qemu-latest"]), undefined);
    assert.equal(closest("zzzzzz", ["boot", "write"]), undefined);
  });
});
