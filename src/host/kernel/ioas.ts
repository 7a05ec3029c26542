// IOAS objects and their io_pagetable: IOMMU_IOAS_ALLOC / MAP / UNMAP, and the internal
// access a HW queue pins its pages through (drivers/iommu/iommufd/ioas.c, io_pagetable.c,
// pages.c). The "user VA" of a mapping is a guest-physical address of the VMM's guest RAM,
// which is where QEMU's RAM lives; pinning resolves it to host-physical pages.

import { err, ok, type Result } from "../../util/result.js";
import { ERRNO } from "./errno.js";
import type { InternalAccess, IoasObj, IoptArea, KernelCtx } from "./objects.js";
import type {
  IoasAllocOut,
  IoasIovaRangesArgs,
  IoasIovaRangesOut,
  IoasMapArgs,
  IoasMapOut,
  IoasUnmapArgs,
  IoasUnmapOut,
} from "./uapi.js";

/** Iteration cap for numbers: the model's addresses are exact JS integers. */
const ADDR_LIMIT = 2 ** 53;

function isInt(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0;
}

/** IOMMU_IOAS_ALLOC. */
export function ioasAlloc(ctx: KernelCtx): Result<IoasAllocOut, number> {
  if (ctx.faults.check("ioas_alloc:obj_alloc")) return err(ERRNO.ENOMEM);
  const id = ctx.objs.reserve();
  if (id === 0) return err(ERRNO.EBUSY);
  const ioas: IoasObj = { kind: "ioas", id, users: 1, areas: [], domains: [] };
  ctx.objs.publish(ioas);
  return ok({ ioasId: id });
}

/** The areas intersecting [first, last], ascending (iopt_area_iter_first/next). */
function areasIn(ioas: IoasObj, first: number, last: number): IoptArea[] {
  return ioas.areas.filter((a) => a.iova <= last && a.iova + a.length - 1 >= first);
}

/** True when every host page of the area's backing exists (pin_user_pages would succeed). */
function areaBacked(ctx: KernelCtx, gpa: number, length: number): boolean {
  const user = ctx.user;
  if (user === null) return false;
  if (user.backs) return user.backs(gpa, length);
  for (let off = 0; off < length; off += ctx.pageSize) if (user.hpaOf(gpa + off) < 0) return false;
  return true;
}

/**
 * iopt_table_add_domain / iopt_area_fill_domains: a domain on the IOAS needs every mapped
 * area's pages pinned. EFAULT when a user page is not backed.
 */
export function fillDomain(ctx: KernelCtx, ioas: IoasObj): number {
  for (const a of ioas.areas) if (!areaBacked(ctx, a.gpa, a.length)) return ERRNO.EFAULT;
  return 0;
}

/**
 * IOMMU_IOAS_MAP with IOMMU_IOAS_MAP_FIXED_IOVA | READABLE | WRITEABLE: the checks of
 * iommufd_ioas_map → iopt_map_user_pages, in order (iopt_alloc_pages, iopt_check_iova,
 * iopt_insert_area, then pinning into the attached domains).
 */
export function ioasMap(ctx: KernelCtx, a: IoasMapArgs): Result<IoasMapOut, number> {
  const ps = ctx.pageSize;
  if (!isInt(a.iova) || !isInt(a.length) || !isInt(a.gpa)) return err(ERRNO.EOVERFLOW);
  const ioas = ctx.objs.get(a.ioasId, "ioas");
  if (!ioas) return err(ERRNO.ENOENT);
  // iopt_alloc_pages
  if (a.length === 0) return err(ERRNO.EINVAL);
  if (a.gpa + a.length > ADDR_LIMIT) return err(ERRNO.EOVERFLOW);
  // iopt_alloc_area_pages
  if (a.length % ps !== 0) return err(ERRNO.EINVAL);
  // iopt_check_iova
  if (a.iova % ps !== 0) return err(ERRNO.EINVAL);
  if (a.iova + a.length - 1 >= ADDR_LIMIT) return err(ERRNO.EOVERFLOW);
  if (areasIn(ioas, a.iova, a.iova + a.length - 1).length > 0) return err(ERRNO.EEXIST);
  // iopt_insert_area: the user address's page offset must be iova-aligned.
  if (a.gpa % ps !== 0) return err(ERRNO.EINVAL);
  // iopt_fill_domains_pages: pages are pinned now when a domain is attached.
  if (ioas.domains.length > 0) {
    if (ctx.faults.check("ioas_map:pin")) return err(ERRNO.ENOMEM);
    if (!areaBacked(ctx, a.gpa, a.length)) return err(ERRNO.EFAULT);
  }
  const area: IoptArea = {
    iova: a.iova,
    length: a.length,
    gpa: a.gpa,
    numAccesses: 0,
    numLocks: 0,
  };
  const i = ioas.areas.findIndex((x) => x.iova > a.iova);
  if (i < 0) ioas.areas.push(area);
  else ioas.areas.splice(i, 0, area);
  return ok({ iova: a.iova });
}

/**
 * IOMMU_IOAS_UNMAP → iopt_unmap_iova → iopt_unmap_iova_range: areas are removed one by one
 * in ascending order; an area locked by a HW queue stops the walk with EBUSY (areas
 * before it are already gone), one that sticks out of the range with ENOENT; nothing
 * unmapped at all is ENOENT.
 */
export function ioasUnmap(ctx: KernelCtx, a: IoasUnmapArgs): Result<IoasUnmapOut, number> {
  const ioas = ctx.objs.get(a.ioasId, "ioas");
  if (!ioas) return err(ERRNO.ENOENT);
  if (!isInt(a.iova) || !isInt(a.length)) return err(ERRNO.EOVERFLOW);
  if (a.length === 0) return err(ERRNO.EINVAL);
  const last = a.iova + a.length - 1;
  if (last >= ADDR_LIMIT) return err(ERRNO.EOVERFLOW);
  let unmapped = 0;
  for (;;) {
    const area = areasIn(ioas, a.iova, last)[0];
    if (area === undefined) break;
    // "The area is locked by an object that has not been destroyed".
    if (area.numLocks > 0) return err(ERRNO.EBUSY);
    if (area.iova < a.iova || area.iova + area.length - 1 > last) return err(ERRNO.ENOENT);
    ioas.areas.splice(ioas.areas.indexOf(area), 1);
    unmapped += area.length;
  }
  if (unmapped === 0) return err(ERRNO.ENOENT);
  return ok({ length: unmapped });
}

/** The IOAS destroy op: iopt_destroy_table unmaps everything. */
export function ioasDestroy(ioas: IoasObj): void {
  ioas.areas.length = 0;
}

/**
 * iommufd_access_create_internal + attach_internal + iommufd_access_pin_pages over
 * [iova, iova+length) (both page aligned): the areas must cover the range contiguously
 * (else ENOENT); each gets a lock so IOAS_UNMAP refuses it. Returns the host-physical
 * address of every host page, in order.
 */
export function accessPin(
  ctx: KernelCtx,
  ioas: IoasObj,
  iova: number,
  length: number,
): Result<{ access: InternalAccess; pages: number[] }, number> {
  const ps = ctx.pageSize;
  const last = iova + length - 1;
  const areas: IoptArea[] = [];
  const pages: number[] = [];
  let cur = iova;
  // iopt_for_each_contig_area: each next area must start right where the last ended.
  for (const area of areasIn(ioas, iova, last)) {
    if (area.iova > cur) break;
    areas.push(area);
    const end = Math.min(last, area.iova + area.length - 1);
    for (let p = cur; p <= end; p += ps) {
      const hpa = ctx.user === null ? -1 : ctx.user.hpaOf(area.gpa + (p - area.iova));
      if (hpa < 0) return err(ERRNO.EFAULT);
      pages.push(hpa);
    }
    cur = end + 1;
    if (cur > last) break;
  }
  if (cur <= last) return err(ERRNO.ENOENT);
  if (ctx.faults.check("hw_queue_alloc:pin")) return err(ERRNO.ENOMEM);
  for (const area of areas) {
    area.numAccesses++;
    area.numLocks++;
  }
  // The access holds the IOAS while attached [inf: iommufd_access_change_ioas].
  ioas.users++;
  return ok({ access: { ioas, iova, length, areas }, pages });
}

/** iommufd_access_unpin_pages + detach_internal + destroy_internal. */
export function accessUnpin(access: InternalAccess): void {
  for (const area of access.areas) {
    area.numAccesses--;
    area.numLocks--;
  }
  access.ioas.users--;
}

/** Plain-data view of an IOAS's mappings. */
export function ioasAreas(ioas: IoasObj): {
  iova: number;
  length: number;
  gpa: number;
  locks: number;
}[] {
  return ioas.areas.map((a) => ({ iova: a.iova, length: a.length, gpa: a.gpa, locks: a.numLocks }));
}

/** IOMMU_IOAS_IOVA_RANGES fails with the count the caller needs (EMSGSIZE). */
export interface IovaRangesError {
  readonly errno: number;
  readonly numIovas: number;
}

/** arm-smmu-v3's software MSI window (MSI_IOVA_BASE, MSI_IOVA_LENGTH): reserved in every IOAS with a domain. */
const SW_MSI_BASE = 0x800_0000n;
const SW_MSI_LENGTH = 0x10_0000n;
/** The stage-2 input range of the host SMMU's domains [I: 48-bit IAS, what Grace reports]. */
const DOMAIN_LAST = (1n << 48n) - 1n;
const U64_LAST = (1n << 64n) - 1n;

/**
 * IOMMU_IOAS_IOVA_RANGES (iommufd_ioas_iova_ranges): the allowed IOVA ranges. A fresh IOAS
 * allows everything; once a domain is attached its aperture and reserved regions narrow
 * it (iopt_table_enforce_dev_resv_regions). out_iova_alignment is PAGE_SIZE.
 */
export function ioasIovaRanges(
  ctx: KernelCtx,
  a: IoasIovaRangesArgs,
): Result<IoasIovaRangesOut, IovaRangesError> {
  if ((a.reserved ?? 0) !== 0) return err({ errno: ERRNO.EOPNOTSUPP, numIovas: a.numIovas });
  const ioas = ctx.objs.get(a.ioasId, "ioas");
  if (!ioas) return err({ errno: ERRNO.ENOENT, numIovas: a.numIovas });
  const ranges: (readonly [bigint, bigint])[] =
    ioas.domains.length === 0
      ? [[0n, U64_LAST]]
      : [
          [0n, SW_MSI_BASE - 1n],
          [SW_MSI_BASE + SW_MSI_LENGTH, DOMAIN_LAST],
        ];
  if (a.numIovas < ranges.length) return err({ errno: ERRNO.EMSGSIZE, numIovas: ranges.length });
  return ok({ ranges, alignment: ctx.pageSize });
}

/**
 * IOMMU_IOAS_CHANGE_PROCESS: move pin accounting to the caller's mm. Only pins of memfd
 * pages can move; an IOAS mapped from a user VA makes it EINVAL. The model's mappings are
 * all file-like (guest RAM is a file), so it succeeds once its __reserved is zero.
 */
export function ioasChangeProcess(_ctx: KernelCtx): Result<undefined, number> {
  return ok(undefined);
}
