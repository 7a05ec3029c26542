import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HostMemory } from "../src/mem/host-memory.js";
import { RING_CMD_WORDS, readRing } from "./ring-read.js";

/** A ring of 2^log2 commands, each a distinct pair of 64-bit words, and those words. */
function ring(log2: number) {
  const mem = new HostMemory();
  const base = 0x8000_0000;
  const entries = 1 << log2;
  mem.addBacked(base, 16 * entries);
  const cmds: [bigint, bigint][] = [];
  for (let i = 0; i < entries; i++) {
    const d0 = (BigInt(i * 0x9e37 + 1) << 40n) | BigInt(i * 7 + 3);
    const d1 = (BigInt(i + 0x55) << 33n) | BigInt(0xabc0_0000 + i);
    mem.write64(base + 16 * i, d0);
    mem.write64(base + 16 * i + 8, d1);
    cmds.push([d0, d1]);
  }
  return { mem, base, cmds };
}

/** The checksum computed from the commands written, independently of the memory. */
function expected(cmds: readonly [bigint, bigint][], start: number, n: number): number {
  let sum = 0n;
  for (let i = 0; i < n; i++) {
    const [d0, d1] = cmds[(start + i) % cmds.length]!;
    const m = 0xffff_ffffn;
    sum += (d0 & m) ^ (d0 >> 32n) ^ (d1 & m) ^ (d1 >> 32n);
  }
  return Number(sum & 0xffff_ffffn);
}

describe("the ring read limit loop", () => {
  const { mem, base, cmds } = ring(4);
  const w = new Uint32Array(RING_CMD_WORDS);

  it("reads the n commands it is asked for, both 64-bit words of each, wrapping at the ring's end", () => {
    for (const [start, n] of [
      [0, 16],
      [0, 1],
      [5, 7],
      [13, 9],
      [3, 100],
    ] as const)
      assert.equal(readRing(mem, base, 4, start, n, w), expected(cmds, start, n), `${start}+${n}`);
  });

  it("gives another checksum for one command more or less, or a shifted start", () => {
    const got = readRing(mem, base, 4, 2, 10, w);
    assert.notEqual(got, expected(cmds, 2, 9));
    assert.notEqual(got, expected(cmds, 2, 11));
    assert.notEqual(got, expected(cmds, 3, 10));
  });

  it("fails when the ring is not all backed, as the consumer's fetch aborts", () => {
    assert.throws(() => readRing(mem, base, 5, 0, 32, w), /ring entry 16/);
  });
});
