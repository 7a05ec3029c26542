// vDEVICE objects: IOMMU_VDEVICE_ALLOC (drivers/iommu/iommufd/viommu.c); the Tegra241
// driver programs one SID_REPLACE/SID_MATCH pair per vDEVICE (spec: linux §3.4).

import { err, ok, type Result } from "../../util/result.js";
import { ERRNO } from "./errno.js";
import type { KernelCtx, VdeviceObj } from "./objects.js";
import type { VdeviceAllocArgs, VdeviceAllocOut } from "./uapi.js";

const ULONG_MAX = 0xffff_ffff_ffff_ffffn;

/** IOMMU_VDEVICE_ALLOC, in the core's order, then the driver's vdevice_init. */
export function vdeviceAlloc(ctx: KernelCtx, a: VdeviceAllocArgs): Result<VdeviceAllocOut, number> {
  // "virt_id indexes an xarray".
  if (a.virtId < 0n || a.virtId > ULONG_MAX) return err(ERRNO.EINVAL);
  const viommu = ctx.objs.get(a.viommuId, "viommu");
  if (!viommu) return err(ERRNO.ENOENT);
  const dev = ctx.objs.get(a.devId, "device");
  if (!dev) return err(ERRNO.ENOENT);
  // viommu->iommu_dev != the device's: one host SMMU here, so never.
  if (dev.destroying) return err(ERRNO.ENOENT);
  if (dev.vdev !== null) return err(ERRNO.EEXIST);
  const ops = viommu.ops;
  if (ops?.vdeviceSize && !ops.vdeviceInit) return err(ERRNO.EOPNOTSUPP);
  if (ctx.faults.check("vdevice_alloc:obj_alloc")) return err(ERRNO.ENOMEM);
  const id = ctx.objs.reserve();
  if (id === 0) return err(ERRNO.EBUSY);
  const vdev: VdeviceObj = {
    kind: "vdevice",
    id,
    users: 1,
    viommu,
    dev,
    virtId: a.virtId,
    destroy: null,
    inVdevs: false,
  };
  viommu.users++;
  dev.vdev = vdev;
  const abort = (rc: number): Result<VdeviceAllocOut, number> => {
    vdeviceAbort(vdev);
    ctx.objs.unreserve(id);
    return err(rc);
  };
  // xa_cmpxchg(&viommu->vdevs, virt_id, NULL, vdev): a duplicate virt_id is EEXIST.
  if (viommu.vdevs.has(a.virtId)) return abort(ERRNO.EEXIST);
  viommu.vdevs.set(a.virtId, vdev);
  vdev.inVdevs = true;
  if (ops?.vdeviceInit) {
    const rc = ops.vdeviceInit(vdev);
    if (rc !== 0) return abort(rc);
  }
  if (ctx.faults.check("vdevice_alloc:copy_to_user")) return abort(ERRNO.EFAULT);
  ctx.objs.publish(vdev);
  // The vDEVICE keeps the reference iommufd_get_device took on the idev.
  dev.users++;
  return ok({ vdeviceId: id });
}

/** iommufd_vdevice_abort: the driver hook, unlink, drop the vIOMMU. */
export function vdeviceAbort(vdev: VdeviceObj): void {
  if (vdev.destroy) vdev.destroy(vdev);
  if (vdev.inVdevs && vdev.viommu.vdevs.get(vdev.virtId) === vdev)
    vdev.viommu.vdevs.delete(vdev.virtId);
  vdev.inVdevs = false;
  vdev.viommu.users--;
  vdev.dev.vdev = null;
}

/** iommufd_vdevice_destroy: abort, then put the idev. */
export function vdeviceDestroy(vdev: VdeviceObj): void {
  vdeviceAbort(vdev);
  vdev.dev.users--;
}
