// HW queue objects: IOMMU_HW_QUEUE_ALLOC and the HW queue destroy op
// (drivers/iommu/iommufd/viommu.c). The core pins the queue's guest pages from the
// vIOMMU's nest-parent IOAS, demands they be physically contiguous, and hands the
// host-physical base to the driver (spec: linux §3.5, core table, in this exact order).
//
// iova and length are u64 in the kernel; the arithmetic here is bigint so the EOVERFLOW
// and ERANGE checks behave as the C does near 2^64.

import { err, ok, type Result } from "../../util/result.js";
import { ERRNO } from "./errno.js";
import { accessPin, accessUnpin } from "./ioas.js";
import type { HwQueueObj, KernelCtx } from "./objects.js";
import { HW_QUEUE_TYPE, type HwQueueAllocArgs, type HwQueueAllocOut } from "./uapi.js";

const U64_MAX = 0xffff_ffff_ffff_ffffn;
const INT_MAX = 0x7fff_ffffn;
/** Addresses above this cannot be mapped in the model (they are not exact numbers). */
const NUM_LIMIT = BigInt(2 ** 53);

/** A number or bigint argument as a u64, or null when it is not an integer. */
export function toU64(x: number | bigint): bigint | null {
  if (typeof x === "bigint") return BigInt.asUintN(64, x);
  if (!Number.isSafeInteger(x)) return null;
  return BigInt.asUintN(64, BigInt(x));
}

/** IOMMU_HW_QUEUE_ALLOC. */
export function hwQueueAlloc(ctx: KernelCtx, a: HwQueueAllocArgs): Result<HwQueueAllocOut, number> {
  if (a.flags !== 0 || a.type === HW_QUEUE_TYPE.DEFAULT) return err(ERRNO.EOPNOTSUPP);
  const iova = toU64(a.iova);
  const length = toU64(a.length);
  if (iova === null || length === null) return err(ERRNO.EINVAL);
  if (length === 0n) return err(ERRNO.EINVAL);
  // check_add_overflow(nesting_parent_iova, length - 1, &last)
  if (iova + length - 1n > U64_MAX) return err(ERRNO.EOVERFLOW);
  const viommu = ctx.objs.get(a.viommuId, "viommu");
  if (!viommu) return err(ERRNO.ENOENT);
  const ops = viommu.ops;
  if (!ops?.getHwQueueSize || !ops.hwQueueInitPhys) return err(ERRNO.EOPNOTSUPP);
  if (ops.getHwQueueSize(viommu, a.type) === 0) return err(ERRNO.EOPNOTSUPP);
  if (ctx.faults.check("hw_queue_alloc:obj_alloc")) return err(ERRNO.ENOMEM);
  const id = ctx.objs.reserve();
  if (id === 0) return err(ERRNO.EBUSY);
  const q: HwQueueObj = {
    kind: "hw_queue",
    id,
    users: 1,
    viommu: null,
    type: a.type,
    index: a.index >>> 0,
    baseAddr: iova,
    length,
    access: null,
    destroy: null,
  };
  // The ioctl's failure path: iommufd_object_abort_and_destroy runs the destroy op.
  const abort = (rc: number): Result<HwQueueAllocOut, number> => {
    hwQueueDestroy(q);
    ctx.objs.unreserve(id);
    return err(rc);
  };

  // ---- iommufd_hw_queue_alloc_phys ----
  const ps = BigInt(ctx.pageSize);
  const aligned = iova - (iova % ps);
  const offset = iova - aligned;
  // max_npages = DIV_ROUND_UP(offset + length, PAGE_SIZE), in size_t.
  let span = offset + length;
  if (span > U64_MAX) return abort(ERRNO.ERANGE);
  span += ps - 1n;
  if (span > U64_MAX) return abort(ERRNO.ERANGE);
  const npages = span / ps;
  span = npages * ps;
  // kvcalloc(max_npages, sizeof(struct page *)): kvmalloc refuses more than INT_MAX bytes.
  if (npages * 8n > INT_MAX) return abort(ERRNO.ENOMEM);
  if (ctx.faults.check("hw_queue_alloc:pages_alloc")) return abort(ERRNO.ENOMEM);
  if (ctx.faults.check("hw_queue_alloc:access_alloc")) return abort(ERRNO.ENOMEM);
  // Nothing at or above 2^53 can be mapped: the pin finds no area there.
  if (aligned + span > NUM_LIMIT) return abort(ERRNO.ENOENT);
  const pin = accessPin(ctx, viommu.hwpt.ioas, Number(aligned), Number(span));
  if (!pin.ok) return abort(pin.error);
  const pages = pin.value.pages;
  // "Validate if the underlying physical pages are contiguous".
  for (let i = 1; i < pages.length; i++) {
    if (pages[i] !== pages[i - 1]! + ctx.pageSize) {
      accessUnpin(pin.value.access);
      return abort(ERRNO.EFAULT);
    }
  }
  const basePa = BigInt(pages[0]!) + offset;

  q.viommu = viommu;
  viommu.users++;
  q.access = pin.value.access;
  const rc = ops.hwQueueInitPhys(q, q.index, basePa);
  if (rc !== 0) return abort(rc);
  if (ctx.faults.check("hw_queue_alloc:copy_to_user")) return abort(ERRNO.EFAULT);
  ctx.objs.publish(q);
  return ok({ hwQueueId: id });
}

/** iommufd_hw_queue_destroy: the driver hook (if installed), unpin, drop the vIOMMU. */
export function hwQueueDestroy(q: HwQueueObj): void {
  if (q.destroy) q.destroy(q);
  q.destroy = null;
  if (q.access) accessUnpin(q.access);
  q.access = null;
  if (q.viommu) q.viommu.users--;
  q.viommu = null;
}
