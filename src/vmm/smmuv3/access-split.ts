// How QEMU's memory core cuts an access to the SMMUv3 region before the device sees it.
// The region declares valid and impl access sizes 4..8 and no unaligned support, so:
// - each piece is the largest power of two ≤ min(bytes left, 8, the alignment of its
//   offset) (memory_access_size);
// - a piece smaller than 4 bytes is rejected by memory_region_access_valid with a
//   LOG_GUEST_ERROR line, reads 0 and is not written;
// - so an aligned 4/8-byte access reaches the device whole, a 4-aligned 8-byte access
//   becomes two 4-byte accesses, and anything 1/2-byte (or 2-aligned) never reaches it.
// facts: QEMU hw/arm/smmuv3.c smmu_mem_ops (valid/impl 4..8, little-endian); QEMU
//   softmmu/physmem.c memory_access_size and softmmu/memory.c memory_region_access_valid;
//   confirmed on QEMU 7.2.22 over qtest ("readl base+0x22" logs two invalid 2-byte reads
//   at 0x22 and 0x24; "readq base+0x94" reads 0x94 and 0x98 as two 4-byte registers).

/** Size in bytes (1, 2, 4 or 8) of the piece QEMU issues at region offset `offset`. */
export function pieceSize(offset: number, remaining: number): number {
  let max = 8;
  const align = offset & -offset;
  if (align !== 0 && align < max) max = align;
  const l = Math.min(remaining, max);
  return l >= 8 ? 8 : l >= 4 ? 4 : l >= 2 ? 2 : 1;
}

/**
 * The memory core's message for a rejected piece (the offset is the region offset before
 * any device decoding, in QEMU's upper-case HWADDR_PRIX).
 */
export function invalidSizeMessage(
  kind: "read" | "write",
  offset: number,
  size: number,
  region: string,
): string {
  return `Invalid ${kind} at addr 0x${offset.toString(16).toUpperCase()}, size ${size}, region '${region}', reason: invalid size (min:4 max:8)`;
}
