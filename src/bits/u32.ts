// Unsigned 32-bit helpers. JS bitwise operators work on signed 32-bit values, so every
// result is normalised with `>>> 0`. Nothing here allocates.

/** Normalise any integer to an unsigned 32-bit value. */
export function u32(x: number): number {
  return x >>> 0;
}

/** A mask of `width` low bits (width 0..32). */
export function mask(width: number): number {
  return width >= 32 ? 0xffff_ffff : ((1 << width) - 1) >>> 0;
}

/** Bit `n` set (n 0..31). */
export function bit(n: number): number {
  return (1 << n) >>> 0;
}

/** Bits [hi:lo] set, as Linux's GENMASK. */
export function genmask(hi: number, lo: number): number {
  return (mask(hi - lo + 1) << lo) >>> 0;
}

/** Extract the field of `width` bits at `shift` from a 32-bit value. */
export function ex32(value: number, shift: number, width: number): number {
  return ((value >>> shift) & mask(width)) >>> 0;
}

/**
 * Deposit `field` into the `width` bits at `shift` of `value`. A field value wider
 * than the field is a programming error (QEMU's FIELD_DP32 catches it at compile time).
 */
export function dp32(value: number, shift: number, width: number, field: number): number {
  const m = mask(width);
  if (field >>> 0 > m)
    throw new RangeError(`field value 0x${field.toString(16)} wider than ${width} bits`);
  return ((value & ~(m << shift)) | ((field & m) << shift)) >>> 0;
}
