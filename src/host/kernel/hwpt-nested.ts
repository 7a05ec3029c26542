// Nested (stage-1) HWPTs on a vIOMMU: IOMMU_HWPT_ALLOC with pt_id = a vIOMMU and
// ARM_SMMUV3 data (iommufd_viommu_alloc_hwpt_nested → arm_vsmmu_alloc_domain_nested).
// The data is the guest's vSTE (two little-endian u64s); the kernel validates it with
// arm_smmu_validate_vste: an invalid vSTE (V=0) becomes all zeros (abort), a valid one may
// use only the nesting-allowed bits and CFG abort, bypass or S1 translate, and EATS abort
// or translate; anything else is EIO. QEMU allocates two at realize: abort {0x1, 0} and
// bypass {0x9, 0}, and attaches the device to the bypass one.
//
// facts: drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-iommufd.c (arm_smmu_validate_vste,
//   arm_vsmmu_alloc_domain_nested); arm-smmu-v3.h (STRTAB_STE_* fields);
//   drivers/iommu/iommufd/hw_pagetable.c (iommufd_viommu_alloc_hwpt_nested: flags other
//   than FAULT_ID_VALID are EOPNOTSUPP, the HWPT holds a users ref on the vIOMMU).

import { err, ok, type Result } from "../../util/result.js";
import { ERRNO } from "./errno.js";
import type { HwptNestedObj, KernelCtx, ViommuObj } from "./objects.js";
import { HWPT_DATA_ARM_SMMUV3, type HwptAllocArgs, type HwptAllocOut } from "./uapi.js";

/** STE word 0: V [0], CFG [3:1], S1FMT [5:4], S1ContextPtr [51:6], S1CDMax [63:59]. */
const STE0_V = 1n;
const STE0_CFG_SHIFT = 1n;
const STE0_CFG_MASK = 0x7n;
const STE0_NESTING_ALLOWED = 0xfn | (0x3n << 4n) | (((1n << 46n) - 1n) << 6n) | (0x1fn << 59n);
/** STE word 1: S1DSS [1:0], S1CIR [3:2], S1COR [5:4], S1CSH [7:6], S1STALLD [27], EATS [29:28]. */
const STE1_EATS_SHIFT = 28n;
const STE1_NESTING_ALLOWED = 0xffn | (1n << 27n) | (0x3n << STE1_EATS_SHIFT);
export const STE_CFG = { ABORT: 0n, BYPASS: 4n, S1_TRANS: 5n } as const;
const EATS = { ABT: 0n, TRANS: 1n } as const;
/** struct iommu_hwpt_arm_smmuv3: ste[2]. */
const VSTE_LEN = 16;
/** IOMMU_HWPT_FAULT_ID_VALID: the only flag a nested allocation may carry. */
const HWPT_FAULT_ID_VALID = 1 << 4;

function u64At(b: Uint8Array, off: number): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
}

/** arm_smmu_validate_vste: the sanitized vSTE, or EIO. */
export function validateVste(ste0: bigint, ste1: bigint): Result<[bigint, bigint], number> {
  if ((ste0 & STE0_V) === 0n) return ok([0n, 0n]);
  if ((ste0 & ~STE0_NESTING_ALLOWED) !== 0n || (ste1 & ~STE1_NESTING_ALLOWED) !== 0n)
    return err(ERRNO.EIO);
  const cfg = (ste0 >> STE0_CFG_SHIFT) & STE0_CFG_MASK;
  if (cfg !== STE_CFG.ABORT && cfg !== STE_CFG.BYPASS && cfg !== STE_CFG.S1_TRANS)
    return err(ERRNO.EIO);
  const eats = (ste1 >> STE1_EATS_SHIFT) & 0x3n;
  if (eats !== EATS.ABT && eats !== EATS.TRANS) return err(ERRNO.EIO);
  // The EATS field is the kernel's to set (arm_smmu_make_nested_domain_ste).
  return ok([ste0, ste1 & ~(0x3n << STE1_EATS_SHIFT)]);
}

/** iommufd_viommu_alloc_hwpt_nested on the vIOMMU `viommu`. */
export function hwptNestedAlloc(
  ctx: KernelCtx,
  a: HwptAllocArgs,
  viommu: ViommuObj,
): Result<HwptAllocOut, number> {
  if ((a.flags & ~HWPT_FAULT_ID_VALID) !== 0) return err(ERRNO.EOPNOTSUPP);
  // ops->alloc_domain_nested: the arm-smmu-v3 and Tegra241 vIOMMU ops both have it once
  // viommu_init succeeded.
  if (viommu.ops === null) return err(ERRNO.EOPNOTSUPP);
  if ((a.dataType ?? 0) !== HWPT_DATA_ARM_SMMUV3) return err(ERRNO.EINVAL);
  const data = a.data ?? new Uint8Array(0);
  if ((a.dataLen ?? data.length) < VSTE_LEN || data.length < VSTE_LEN) return err(ERRNO.EINVAL);
  if (ctx.faults.check("hwpt_nested:copy_from_user")) return err(ERRNO.EFAULT);
  const vste = validateVste(u64At(data, 0), u64At(data, 8));
  if (!vste.ok) return vste;
  if (ctx.faults.check("hwpt_alloc:domain_alloc")) return err(ERRNO.ENOMEM);
  const id = ctx.objs.reserve();
  if (id === 0) return err(ERRNO.EBUSY);
  const hwpt: HwptNestedObj = { kind: "hwpt_nested", id, users: 1, viommu, ste: vste.value };
  viommu.users++;
  ctx.objs.publish(hwpt);
  return ok({ hwptId: id });
}

/** iommufd_hwpt_nested_destroy: drop the vIOMMU reference. */
export function hwptNestedDestroy(hwpt: HwptNestedObj): void {
  hwpt.viommu.users--;
}

/** The STE CFG a nested HWPT asks for (ABORT for an invalid vSTE). */
export function nestedCfg(hwpt: HwptNestedObj): bigint {
  return (hwpt.ste[0] >> STE0_CFG_SHIFT) & STE0_CFG_MASK;
}
