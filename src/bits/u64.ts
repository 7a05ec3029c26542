// 64-bit helpers. 64-bit register values are bigint (BigInt.asUintN(64, …)) or a {lo, hi}
// pair of u32 numbers; hot paths use the pair, everything else bigint. Addresses up to
// 52 bits also fit exactly in a JS number, which the memory layer uses.

import { sprintf } from "../util/printf.js";

export const U64_MASK = 0xffff_ffff_ffff_ffffn;

/** Normalise to an unsigned 64-bit bigint. */
export function u64(x: bigint): bigint {
  return BigInt.asUintN(64, x);
}

/** Low 32 bits of a 64-bit value. */
export function lo32(x: bigint): number {
  return Number(x & 0xffff_ffffn) >>> 0;
}

/** High 32 bits of a 64-bit value. */
export function hi32(x: bigint): number {
  return Number((x >> 32n) & 0xffff_ffffn) >>> 0;
}

/** Join two u32 halves into a 64-bit bigint. */
export function join64(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Replace the low 32 bits of `x` (a 32-bit write to the low half of a 64-bit register). */
export function mergeLo(x: bigint, lo: number): bigint {
  return (x & 0xffff_ffff_0000_0000n) | BigInt(lo >>> 0);
}

/** Replace the high 32 bits of `x`. */
export function mergeHi(x: bigint, hi: number): bigint {
  return (x & 0xffff_ffffn) | (BigInt(hi >>> 0) << 32n);
}

/** A mask of `width` low bits as a bigint (width 0..64). */
function mask64(width: number): bigint {
  return (1n << BigInt(width)) - 1n;
}

/** Bits [hi:lo] set, as Linux's GENMASK_ULL. */
export function genmask64(hi: number, lo: number): bigint {
  return mask64(hi - lo + 1) << BigInt(lo);
}

/** A bigint address as a number, checking it is exact (≤ 2^53). */
export function toNum(x: bigint): number {
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`0x${x.toString(16)} exceeds 2^53`);
  return Number(x);
}

/** 16-digit lower-case hex with 0x. */
export function hex64(value: bigint | number): string {
  return sprintf("0x%016llx", value);
}
