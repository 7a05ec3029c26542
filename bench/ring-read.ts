// The VCMDQ consumer's physical limit: a loop that does nothing but what the consumer must
// do to see a command, i.e. fetch it from the ring in guest RAM. Same memory object, same
// call (PhysMemory.readWords into a 4-word buffer: both 64-bit words of a 16-byte
// command), same index arithmetic; no filter, no decode, no effects. Commands per second
// of this loop bound the consumer's: hw_consumer_cmds_per_s / ring_read_limit_cmds_per_s is
// the share of the limit the consumer reaches.

import type { PhysMemory } from "../src/mem/types.js";

/** One command's four u32 words (dword0 lo/hi, dword1 lo/hi), as the consumer reads it. */
export const RING_CMD_WORDS = 4;

/**
 * Read `n` commands of the ring at `base` (2^log2 entries of 16 bytes) from position
 * `start` on, wrapping, into `w` (RING_CMD_WORDS words, reused: nothing is allocated per
 * command). Returns a checksum of what was read, so the reads cannot be optimized away and
 * a test can check they were the commands claimed: the 32-bit sum over the commands of
 * w0 ^ w1 ^ w2 ^ w3. Throws when a command is not backed (the consumer's fetch abort).
 */
export function readRing(
  mem: PhysMemory,
  base: number,
  log2: number,
  start: number,
  n: number,
  w: Uint32Array,
): number {
  const idxMask = (1 << log2) - 1;
  let acc = 0;
  for (let i = 0, pos = start; i < n; i++, pos++) {
    if (!mem.readWords(base + (pos & idxMask) * 16, w))
      throw new Error(`ring entry ${pos & idxMask} at 0x${base.toString(16)} is not backed`);
    acc = (acc + (w[0]! ^ w[1]! ^ w[2]! ^ w[3]!)) | 0;
  }
  return acc >>> 0;
}
