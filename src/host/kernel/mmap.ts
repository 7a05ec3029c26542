// mmap of driver MMIO through the iommufd file (spec: linux §3.8): the per-file maple
// tree of registered regions (iommufd_viommu_alloc_mmap, offsets from PAGE_SIZE up so 0
// is never one) and mmap(2) itself (the mm layer's checks, then iommufd_fops_mmap).
// A Mapping is the VMA: it holds a users reference on its owner (the vIOMMU) and a
// reference on the iommufd file until munmap.

import type { MmioDevice, SmallSize } from "../../mem/types.js";
import { err, OK_VOID, ok, type Result } from "../../util/result.js";
import { ERRNO } from "./errno.js";
import type { Immap } from "./mmap-tree.js";
import type { KernelCtx, ViommuObj } from "./objects.js";
import { MAP, type MmapArgs, PROT } from "./uapi.js";

/** A live VMA over device MMIO. Loads and stores pass straight through to the device. */
export class Mapping implements MmioDevice {
  readonly name: string;
  /** The mmap offset it was created with and its length. */
  readonly offset: number;
  readonly length: number;
  /** Host-physical address of the mapped MMIO. */
  readonly mmioAddr: number;
  readonly ownerId: number;
  private readonly dev: MmioDevice;
  /** Offset of the mapping inside `dev`. */
  private readonly base: number;
  private live = true;
  private readonly owner: ViommuObj;
  private readonly onUnmap: (m: Mapping) => void;

  constructor(
    dev: MmioDevice,
    devBase: number,
    immap: Immap<ViommuObj>,
    onUnmap: (m: Mapping) => void,
  ) {
    this.dev = dev;
    this.base = devBase;
    this.offset = immap.offset;
    this.length = immap.length;
    this.mmioAddr = immap.mmioAddr;
    this.ownerId = immap.owner.id;
    this.owner = immap.owner;
    this.name = `iommufd-mmap@0x${immap.offset.toString(16)}`;
    this.onUnmap = onUnmap;
  }

  get mapped(): boolean {
    return this.live;
  }

  // Outside the VMA (or after munmap) a real access would fault (SIGBUS/SIGSEGV); the
  // model reads 0 and drops writes, as a device does for a bad access.
  read(offset: number, size: SmallSize): number {
    if (!this.live || offset < 0 || offset + size > this.length) return 0;
    return this.dev.read(this.base + offset, size);
  }

  write(offset: number, size: SmallSize, value: number): void {
    if (!this.live || offset < 0 || offset + size > this.length) return;
    this.dev.write(this.base + offset, size, value);
  }

  read64(offset: number): bigint {
    if (!this.live || offset < 0 || offset + 8 > this.length) return 0n;
    return this.dev.read64(this.base + offset);
  }

  write64(offset: number, value: bigint): void {
    if (!this.live || offset < 0 || offset + 8 > this.length) return;
    this.dev.write64(this.base + offset, value);
  }

  /** munmap(2): the VMA's close drops the owner reference. Unmapping twice is a no-op. */
  unmap(): Result<undefined, number> {
    if (!this.live) return OK_VOID;
    this.live = false;
    // iommufd_fops_vma_close, then the VMA's file reference goes.
    this.owner.users--;
    this.onUnmap(this);
    return OK_VOID;
  }
}

/**
 * mmap(2) on the iommufd file. The mm layer first: a zero length or an offset that is
 * not page aligned is EINVAL, the length is rounded up to whole pages (so the fops'
 * "length not page aligned" check cannot fire from mmap(2) [inf]), neither SHARED nor
 * PRIVATE is EINVAL, and the VMA allocation can fail. Then iommufd_fops_mmap: not
 * MAP_SHARED → EINVAL, PROT_EXEC → EPERM, no region at the offset → ENXIO, offset or
 * length not exactly the region's (even a sub-range) → ENXIO.
 */
export function mmapRegion(
  ctx: KernelCtx,
  dev: MmioDevice,
  devPhysBase: number,
  a: MmapArgs,
  onUnmap: (m: Mapping) => void,
): Result<Mapping, number> {
  const ps = ctx.pageSize;
  if (!Number.isSafeInteger(a.length) || !Number.isSafeInteger(a.offset) || a.offset < 0)
    return err(ERRNO.EINVAL);
  if (a.length <= 0) return err(ERRNO.EINVAL);
  if (a.offset % ps !== 0) return err(ERRNO.EINVAL);
  if ((a.flags & (MAP.SHARED | MAP.PRIVATE)) === 0) return err(ERRNO.EINVAL);
  const length = Math.ceil(a.length / ps) * ps;
  if (ctx.faults.check("mmap:vma_alloc")) return err(ERRNO.ENOMEM);
  // iommufd_fops_mmap
  if (length % ps !== 0) return err(ERRNO.EINVAL);
  if ((a.flags & MAP.SHARED) === 0) return err(ERRNO.EINVAL);
  if ((a.prot & PROT.EXEC) !== 0) return err(ERRNO.EPERM);
  const immap = ctx.mmaps.load(a.offset);
  // refcount_inc_not_zero(&immap->owner->users): an owner being destroyed is gone.
  if (immap === undefined || immap.owner.users === 0) return err(ERRNO.ENXIO);
  if (a.offset !== immap.offset || length !== immap.length) return err(ERRNO.ENXIO);
  immap.owner.users++;
  return ok(new Mapping(dev, immap.mmioAddr - devPhysBase, immap, onUnmap));
}
