// Paging HWPTs: IOMMU_HWPT_ALLOC on an IOAS (drivers/iommu/iommufd/hw_pagetable.c) with
// the arm-smmu-v3 domain behind it. A NEST_PARENT HWPT is a stage-2 domain whose VMID
// comes from the host SMMU's VMID space (ida from 1); a vIOMMU takes that VMID (spec:
// linux §3.3 step 4). Nested (stage-1) HWPTs on a vIOMMU are in hwpt-nested.ts.

import { err, ok, type Result } from "../../util/result.js";
import { ERRNO } from "./errno.js";
import { hwptNestedAlloc } from "./hwpt-nested.js";
import { fillDomain } from "./ioas.js";
import type { HwptPagingObj, KernelCtx } from "./objects.js";
import {
  HWPT_ALLOC_NEST_PARENT,
  type HwptAllocArgs,
  type HwptAllocOut,
  STRUCT_SIZE,
} from "./uapi.js";

/** IOMMU_HWPT_ALLOC. */
export function hwptAlloc(ctx: KernelCtx, a: HwptAllocArgs): Result<HwptAllocOut, number> {
  const size = a.size ?? STRUCT_SIZE.hwpt_alloc.size;
  // data_type is at offset 24: a shorter struct leaves it zero.
  const dataType = size >= 28 ? (a.dataType ?? 0) : 0;
  // (data_type != NONE && !data_len) is EINVAL.
  if (dataType !== 0 && (a.dataLen ?? 0) === 0) return err(ERRNO.EINVAL);
  const dev = ctx.objs.get(a.devId, "device");
  if (!dev) return err(ERRNO.ENOENT);
  const pt = ctx.objs.any(a.ptId);
  // A pt_id that does not resolve is EINVAL here, not ENOENT.
  if (!pt) return err(ERRNO.EINVAL);
  // iommufd_hwpt_nested_alloc on a paging parent (no vIOMMU): not modelled.
  if (pt.kind === "hwpt_paging") return err(ERRNO.EOPNOTSUPP);
  if (pt.kind === "viommu") return hwptNestedAlloc(ctx, { ...a, dataType }, pt);
  // A paging HWPT takes no driver data.
  if (dataType !== 0) return err(ERRNO.EINVAL);
  if (pt.kind !== "ioas") return err(ERRNO.EINVAL);
  const ioas = pt;
  // iommufd_hwpt_paging_alloc: only NEST_PARENT is modelled among the paging flags.
  if ((a.flags & ~HWPT_ALLOC_NEST_PARENT) !== 0) return err(ERRNO.EOPNOTSUPP);
  if (ctx.faults.check("hwpt_alloc:obj_alloc")) return err(ERRNO.ENOMEM);
  const id = ctx.objs.reserve();
  if (id === 0) return err(ERRNO.EBUSY);
  const nestParent = (a.flags & HWPT_ALLOC_NEST_PARENT) !== 0;
  // arm_smmu_domain_alloc_paging_flags: a nest parent needs FEAT_NESTING; it is an S2
  // domain and finalise allocates its VMID. Abort undoes in reverse.
  const abort = (rc: number): Result<HwptAllocOut, number> => {
    ctx.objs.unreserve(id);
    return err(rc);
  };
  if (nestParent && !ctx.smmu.nesting) return abort(ERRNO.EOPNOTSUPP);
  if (ctx.faults.check("hwpt_alloc:domain_alloc")) return abort(ERRNO.ENOMEM);
  let vmid = 0;
  if (nestParent) {
    const v = ctx.smmu.allocVmid();
    if (v < 0) return abort(-v);
    vmid = v;
  }
  // iopt_table_add_domain: the existing mappings get pinned into the new domain.
  const rc = fillDomain(ctx, ioas);
  if (rc !== 0) {
    ctx.smmu.freeVmid(vmid);
    return abort(rc);
  }
  const hwpt: HwptPagingObj = { kind: "hwpt_paging", id, users: 1, ioas, nestParent, vmid };
  ioas.users++;
  ioas.domains.push(hwpt);
  ctx.objs.publish(hwpt);
  return ok({ hwptId: id });
}

/** iommufd_hwpt_paging_destroy: detach the domain from the IOAS, free it (and its VMID). */
export function hwptDestroy(ctx: KernelCtx, hwpt: HwptPagingObj): void {
  const i = hwpt.ioas.domains.indexOf(hwpt);
  if (i >= 0) hwpt.ioas.domains.splice(i, 1);
  ctx.smmu.freeVmid(hwpt.vmid);
  hwpt.ioas.users--;
}
