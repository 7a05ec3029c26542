// The per-file maple tree of mmap-able driver regions (ictx->mt_mmap, spec: linux §3.8):
// iommufd_viommu_alloc_mmap hands out offsets from PAGE_SIZE up, lowest fit, so 0 is never
// one. Generic over the owner so the object model can hold it without a type cycle.

import { err, ok, type Result } from "../../util/result.js";
import { ERRNO } from "./errno.js";

/** struct iommufd_mmap. */
export interface Immap<Owner> {
  readonly owner: Owner;
  /** Host-physical MMIO address it maps. */
  readonly mmioAddr: number;
  readonly length: number;
  /** The byte offset handed to user space (startp). */
  readonly offset: number;
}

export class MmapTree<Owner> {
  private readonly pageSize: number;
  /** Sorted by offset. */
  private readonly entries: Immap<Owner>[] = [];

  constructor(pageSize: number) {
    this.pageSize = pageSize;
  }

  /**
   * iommufd_viommu_alloc_mmap: mtree_alloc_range over [PAGE_SIZE, ULONG_MAX], lowest fit.
   * Unaligned address or length: EINVAL.
   */
  alloc(owner: Owner, mmioAddr: number, length: number): Result<number, number> {
    const ps = this.pageSize;
    if (mmioAddr % ps !== 0 || length % ps !== 0 || length === 0) return err(ERRNO.EINVAL);
    let start = ps;
    for (const e of this.entries) {
      if (start + length <= e.offset) break;
      start = Math.max(start, e.offset + e.length);
    }
    const immap: Immap<Owner> = { owner, mmioAddr, length, offset: start };
    const i = this.entries.findIndex((e) => e.offset > start);
    if (i < 0) this.entries.push(immap);
    else this.entries.splice(i, 0, immap);
    return ok(start);
  }

  /** iommufd_viommu_destroy_mmap. */
  erase(owner: Owner, offset: number): void {
    const i = this.entries.findIndex((e) => e.offset === offset && e.owner === owner);
    if (i < 0)
      throw new Error(`iommufd_viommu_destroy_mmap: no region at 0x${offset.toString(16)}`);
    this.entries.splice(i, 1);
  }

  /** mtree_load: the region containing `offset`. */
  load(offset: number): Immap<Owner> | undefined {
    return this.entries.find((e) => offset >= e.offset && offset < e.offset + e.length);
  }

  list(): readonly Immap<Owner>[] {
    return this.entries;
  }

  clear(): void {
    this.entries.length = 0;
  }
}
