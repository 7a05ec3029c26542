// Attaching a bound device to a page table: VFIO_DEVICE_ATTACH_IOMMUFD_PT →
// iommufd_device_attach, or iommufd_device_replace when the device is already attached.
// The attached HWPT holds a users reference for as long as the device stays on it, so a
// VMM that destroys it first gets EBUSY. QEMU attaches the device to its stage-2 HWPT at
// realize, then to the bypass nested HWPT once the vIOMMU exists.
//
// facts: drivers/iommu/iommufd/device.c (attach/replace, pt_id lookup: an IOAS, a paging
//   HWPT or a nested HWPT; anything else EINVAL; a missing id ENOENT);
//   arm-smmu-v3-iommufd.c arm_smmu_attach_dev_nested (a nested domain of another SMMU is
//   EINVAL). Attaching to an IOAS needs an auto-domain, which the model does not build
//   [I]: EOPNOTSUPP, named here so a VMM that does it is told.

import { err, OK_VOID, type Result } from "../../util/result.js";
import { ERRNO } from "./errno.js";
import type { DeviceObj, KernelCtx } from "./objects.js";

export function deviceAttach(
  ctx: KernelCtx,
  dev: DeviceObj,
  ptId: number,
): Result<undefined, number> {
  const pt = ctx.objs.any(ptId);
  if (!pt) return err(ERRNO.ENOENT);
  if (pt.kind === "ioas") return err(ERRNO.EOPNOTSUPP);
  if (pt.kind !== "hwpt_paging" && pt.kind !== "hwpt_nested") return err(ERRNO.EINVAL);
  if (ctx.faults.check("device_attach:attach_dev")) return err(ERRNO.ENOMEM);
  if (dev.hwpt === pt) return OK_VOID;
  if (dev.hwpt !== null) dev.hwpt.users--;
  pt.users++;
  dev.hwpt = pt;
  return OK_VOID;
}

/** The device leaves its HWPT (unbind, or VFIO_DEVICE_DETACH_IOMMUFD_PT). */
export function deviceDetach(dev: DeviceObj): void {
  if (dev.hwpt !== null) dev.hwpt.users--;
  dev.hwpt = null;
}
