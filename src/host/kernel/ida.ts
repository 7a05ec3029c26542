// The kernel's IDA as the driver uses it (ida_alloc_range / ida_alloc_max / ida_free): the
// lowest free id in a range, -ENOSPC when the range is full. spec: linux §3.3, §3.4 [inf:
// ida semantics, as the spec marks them].

import { ERRNO } from "./errno.js";

export class Ida {
  private readonly used = new Set<number>();

  /** Lowest free id in [min, max], or -ENOSPC. */
  allocRange(min: number, max: number): number {
    for (let id = min; id <= max; id++) {
      if (!this.used.has(id)) {
        this.used.add(id);
        return id;
      }
    }
    return -ERRNO.ENOSPC;
  }

  allocMax(max: number): number {
    return this.allocRange(0, max);
  }

  free(id: number): void {
    if (!this.used.delete(id)) throw new Error(`ida_free: ${id} was not allocated`);
  }

  has(id: number): boolean {
    return this.used.has(id);
  }

  ids(): number[] {
    return [...this.used].sort((a, b) => a - b);
  }
}
