// Little-endian 1/2/4-byte loads and stores on a byte array, shared by host memory and the
// address space's direct RAM window. Small enough for V8 to inline; they allocate nothing.
// The caller guarantees that [off, off+size) lies inside `b` and that size is 1, 2 or 4.

export function loadLE(b: Uint8Array, off: number, size: number): number {
  if (size === 1) return b[off]!;
  if (size === 2) return b[off]! | (b[off + 1]! << 8);
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

export function storeLE(b: Uint8Array, off: number, size: number, value: number): void {
  b[off] = value;
  if (size === 1) return;
  b[off + 1] = value >>> 8;
  if (size === 2) return;
  b[off + 2] = value >>> 16;
  b[off + 3] = value >>> 24;
}
