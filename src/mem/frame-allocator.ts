// A first-fit allocator of contiguous host-physical memory inside one pool, for the host
// kernel's own rings and buffers. What it hands out becomes backed in HostMemory and what is
// freed stops being backed, so a hardware fetch from a freed ring faults as it should
// instead of reading stale data.

import type { HostMemory } from "./host-memory.js";

export interface FrameAllocation {
  readonly addr: number;
  readonly size: number;
}

export interface FrameAllocatorState {
  readonly base: number;
  readonly size: number;
  /** Live allocations, sorted by address. */
  readonly allocations: readonly FrameAllocation[];
}

export class FrameAllocator {
  private readonly mem: HostMemory;
  private readonly base: number;
  private readonly size: number;
  // Free intervals [freeStart[i], freeEnd[i]), sorted and coalesced.
  private freeStart: number[];
  private freeEnd: number[];
  private readonly live = new Map<number, number>();

  constructor(mem: HostMemory, base: number, size: number) {
    if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(size) || size <= 0) {
      throw new RangeError(`FrameAllocator: bad pool base=${base} size=${size}`);
    }
    this.mem = mem;
    this.base = base;
    this.size = size;
    this.freeStart = [base];
    this.freeEnd = [base + size];
  }

  /**
   * The lowest address aligned to `align` (a power of two) with `size` free bytes, or
   * undefined when the pool has no such hole (the kernel turns that into ENOMEM). A size
   * or alignment that is not a positive integer is a bug in the caller: it throws.
   */
  alloc(size: number, align: number): number | undefined {
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new RangeError(`FrameAllocator.alloc: bad size ${size}`);
    }
    if (!Number.isSafeInteger(align) || align <= 0 || !isPow2(align)) {
      throw new RangeError(`FrameAllocator.alloc: alignment ${align} is not a power of two`);
    }
    for (let i = 0; i < this.freeStart.length; i++) {
      const s = this.freeStart[i]!;
      const e = this.freeEnd[i]!;
      // Power-of-two division is exact in doubles, so this is exact up to 2^53.
      const a = Math.ceil(s / align) * align;
      if (a + size > e) continue;
      this.take(i, s, e, a, a + size);
      this.live.set(a, size);
      this.mem.addBacked(a, size);
      return a;
    }
    return undefined;
  }

  /** Return an allocation. Freeing what was not allocated is a bug: it throws. */
  free(addr: number): void {
    const size = this.live.get(addr);
    if (size === undefined) {
      throw new Error(`FrameAllocator.free: 0x${addr.toString(16)} is not allocated`);
    }
    this.live.delete(addr);
    this.mem.removeBacked(addr, size);
    this.give(addr, addr + size);
  }

  /** Size of the live allocation at `addr`, if any. */
  sizeOf(addr: number): number | undefined {
    return this.live.get(addr);
  }

  allocatedBytes(): number {
    let n = 0;
    for (const s of this.live.values()) n += s;
    return n;
  }

  freeBytes(): number {
    return this.size - this.allocatedBytes();
  }

  state(): FrameAllocatorState {
    const allocations = [...this.live.entries()]
      .sort((x, y) => x[0] - y[0])
      .map(([addr, size]) => ({ addr, size }));
    return { base: this.base, size: this.size, allocations };
  }

  /** Carve [a, b) out of free interval i = [s, e). */
  private take(i: number, s: number, e: number, a: number, b: number): void {
    const keepLeft = a > s;
    const keepRight = b < e;
    if (keepLeft && keepRight) {
      this.freeEnd[i] = a;
      this.freeStart.splice(i + 1, 0, b);
      this.freeEnd.splice(i + 1, 0, e);
    } else if (keepLeft) {
      this.freeEnd[i] = a;
    } else if (keepRight) {
      this.freeStart[i] = b;
    } else {
      this.freeStart.splice(i, 1);
      this.freeEnd.splice(i, 1);
    }
  }

  /** Put [a, b) back, coalescing with its neighbours. */
  private give(a: number, b: number): void {
    let i = 0;
    while (i < this.freeStart.length && this.freeStart[i]! < a) i++;
    const joinLeft = i > 0 && this.freeEnd[i - 1] === a;
    const joinRight = this.freeStart[i] === b;
    if (joinLeft && joinRight) {
      this.freeEnd[i - 1] = this.freeEnd[i]!;
      this.freeStart.splice(i, 1);
      this.freeEnd.splice(i, 1);
    } else if (joinLeft) {
      this.freeEnd[i - 1] = b;
    } else if (joinRight) {
      this.freeStart[i] = a;
    } else {
      this.freeStart.splice(i, 0, a);
      this.freeEnd.splice(i, 0, b);
    }
  }
}

function isPow2(x: number): boolean {
  // Not `x & (x - 1)`: alignments of 2^32 and above do not fit int32 bit operations.
  let v = x;
  while (v > 1 && v % 2 === 0) v /= 2;
  return v === 1;
}
