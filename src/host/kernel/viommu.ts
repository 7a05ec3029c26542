// vIOMMU objects: IOMMU_VIOMMU_ALLOC (drivers/iommu/iommufd/viommu.c) through the
// arm-smmu-v3 viommu ops (arm-smmu-v3-iommufd.c) into the Tegra241 driver, which backs a
// TEGRA241_CMDQV vIOMMU with one VINTF (spec: linux §3.3, steps 1–6 in order).

import { err, ok, type Result } from "../../util/result.js";
import { ERRNO } from "./errno.js";
import type { DeviceObj, KernelCtx, UserData, ViommuObj, ViommuOps } from "./objects.js";
import { STRUCT_SIZE, VIOMMU_TYPE, type ViommuAllocArgs, type ViommuAllocOut } from "./uapi.js";

/** arm_vsmmu_ops: a plain ARM_SMMUV3 vIOMMU (no VINTF, no HW queues). */
const ARM_VSMMU_OPS: ViommuOps = {
  cacheInvalidate: true,
  // arm_vsmmu_vdevice_init: one StreamID per master.
  vdeviceInit: (vdev) => (vdev.dev.numStreams !== 1 ? ERRNO.EOPNOTSUPP : 0),
};

/** arm_smmu_get_viommu_size: 0 (→ EOPNOTSUPP) when the SMMU or master cannot nest. */
function getViommuSize(ctx: KernelCtx, dev: DeviceObj, type: number): number {
  const smmu = ctx.smmu;
  if (!smmu.nesting) return 0;
  if (smmu.cfg.forceSync) return 0;
  if (!dev.canwbs && !smmu.s2fwb) return 0;
  if (type === VIOMMU_TYPE.ARM_SMMUV3) return 1;
  return ctx.driver.getViommuSize(type);
}

/** IOMMU_VIOMMU_ALLOC. */
export function viommuAlloc(ctx: KernelCtx, a: ViommuAllocArgs): Result<ViommuAllocOut, number> {
  const size = a.size ?? STRUCT_SIZE.viommu_alloc.size;
  // data_len is at offset 24: a shorter struct leaves it zero.
  const dataLen = size >= 28 ? a.dataLen >>> 0 : 0;
  if (a.flags !== 0 || a.type === VIOMMU_TYPE.DEFAULT) return err(ERRNO.EOPNOTSUPP);
  const dev = ctx.objs.get(a.devId, "device");
  if (!dev) return err(ERRNO.ENOENT);
  if (getViommuSize(ctx, dev, a.type) === 0) return err(ERRNO.EOPNOTSUPP);
  const hwpt = ctx.objs.get(a.hwptId, "hwpt_paging");
  if (!hwpt) return err(ERRNO.ENOENT);
  if (!hwpt.nestParent) return err(ERRNO.EINVAL);
  if (ctx.faults.check("viommu_alloc:obj_alloc")) return err(ERRNO.ENOMEM);
  const id = ctx.objs.reserve();
  if (id === 0) return err(ERRNO.EBUSY);
  const viommu: ViommuObj = {
    kind: "viommu",
    id,
    users: 1,
    type: a.type,
    hwpt,
    vmid: 0,
    vdevs: new Map(),
    veventqs: [],
    ops: null,
    ctx,
  };
  hwpt.users++;
  const abort = (rc: number): Result<ViommuAllocOut, number> => {
    viommuDestroy(viommu);
    ctx.objs.unreserve(id);
    return err(rc);
  };
  // arm_vsmmu_init: the S2 parent is on this SMMU; the vIOMMU's VMID is the parent's.
  viommu.vmid = hwpt.vmid;
  let userData: UserData | null = null;
  if (dataLen > 0) {
    const bytes = new Uint8Array(dataLen);
    if (a.data) bytes.set(a.data.subarray(0, dataLen));
    userData = { type: a.type, len: dataLen, bytes };
  }
  let rc = 0;
  if (a.type === VIOMMU_TYPE.ARM_SMMUV3) viommu.ops = ARM_VSMMU_OPS;
  else rc = ctx.driver.viommuInit(viommu, userData);
  if (rc !== 0) return abort(rc);
  if (ctx.faults.check("viommu_alloc:respond")) return abort(ERRNO.EFAULT);
  ctx.objs.publish(viommu);
  let vintfMmapOffset = 0;
  let vintfMmapLength = 0;
  if (userData !== null && a.type === VIOMMU_TYPE.TEGRA241_CMDQV) {
    const dv = new DataView(userData.bytes.buffer);
    vintfMmapOffset = Number(dv.getBigUint64(0, true));
    vintfMmapLength = Number(dv.getBigUint64(8, true));
    // copy_to_user into the caller's buffer.
    if (a.data && a.data.length >= 16) a.data.set(userData.bytes.subarray(0, 16));
  }
  return ok({ viommuId: id, vintfMmapOffset, vintfMmapLength });
}

/** iommufd_viommu_destroy: the driver's destroy (if init got that far), then the HWPT ref. */
export function viommuDestroy(v: ViommuObj): void {
  if (v.ops?.destroy) v.ops.destroy(v);
  v.hwpt.users--;
}
