// IOMMU_HWPT_INVALIDATE on a vIOMMU: the trapped main-CMDQ path
// (iommufd_hwpt_invalidate → arm_vsmmu_cache_invalidate). Each 16-byte entry is
// converted in place (VMID forced to the vIOMMU's, vSID → pSID) and sent to the host
// SMMU's main CMDQ in batches of CMDQ_BATCH_ENTRIES − 1 = 63, each with a CMD_SYNC
// (spec: linux §3.10).
//
// entry_num on return is "cur − cmds": how far conversion got. When a conversion fails,
// the entries converted since the last issued batch are counted but were never issued:
// the kernel reports them handled without executing them, and so does this model.

import { OPCODE as OP } from "../../smmu/commands.js";
import { err, ok, type Result } from "../../util/result.js";
import { ERRNO } from "./errno.js";
import type { KernelCtx, ViommuObj } from "./objects.js";
import {
  type HwptInvalidateArgs,
  type HwptInvalidateError,
  type HwptInvalidateOut,
  VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
} from "./uapi.js";

/** CMDQ_BATCH_ENTRIES (BITS_PER_LONG). */
const CMDQ_BATCH_ENTRIES = 64;
const VMID_MASK = 0xffffn << 32n;
const LO32 = 0xffff_ffffn;

/**
 * arm_vsmmu_convert_user_cmd: the converted command into `out` (which may be where the
 * input came from), or false (EIO).
 */
function convert(v: ViommuObj, dw0: bigint, dw1: bigint, out: [bigint, bigint]): boolean {
  switch (Number(dw0 & 0xffn)) {
    case OP.TLBI_NSNH_ALL:
      out[0] = BigInt(OP.TLBI_NH_ALL) | (BigInt(v.vmid & 0xffff) << 32n);
      out[1] = 0n;
      return true;
    case OP.TLBI_NH_VA:
    case OP.TLBI_NH_VAA:
    case OP.TLBI_NH_ALL:
    case OP.TLBI_NH_ASID:
      out[0] = (dw0 & ~VMID_MASK) | (BigInt(v.vmid & 0xffff) << 32n);
      out[1] = dw1;
      return true;
    case OP.ATC_INV:
    case OP.CFGI_CD:
    case OP.CFGI_CD_ALL: {
      const vsid = dw0 >> 32n;
      const vdev = v.vdevs.get(vsid);
      if (vdev === undefined) return false;
      out[0] = (dw0 & LO32) | (BigInt(vdev.dev.sid >>> 0) << 32n);
      out[1] = dw1;
      return true;
    }
    default:
      return false;
  }
}

/** copy_struct_from_user of one entry of `entryLen` bytes into a 16-byte command. */
function entryAs16(dw0: bigint, dw1: bigint, entryLen: number): [bigint, bigint] {
  const d0 = BigInt.asUintN(64, dw0);
  const d1 = BigInt.asUintN(64, dw1);
  if (entryLen >= 16) return [d0, d1];
  if (entryLen <= 8) return [d0 & ((1n << BigInt(8 * entryLen)) - 1n), 0n];
  return [d0, d1 & ((1n << BigInt(8 * (entryLen - 8))) - 1n)];
}

/** arm_vsmmu_cache_invalidate: returns rc and the entry_num it leaves. */
function cacheInvalidate(
  ctx: KernelCtx,
  v: ViommuObj,
  a: HwptInvalidateArgs,
): { rc: number; entryNum: number } {
  const n = a.entries.length;
  // kcalloc of the command array; on failure entry_num is left as the caller set it.
  if (ctx.faults.check("hwpt_invalidate:cmds_alloc")) return { rc: ERRNO.ENOMEM, entryNum: n };
  // iommu_copy_struct_from_full_user_array
  if (a.dataType !== VIOMMU_INVALIDATE_DATA_ARM_SMMUV3) return { rc: ERRNO.EINVAL, entryNum: 0 };
  if (ctx.faults.check("hwpt_invalidate:copy_from_user")) return { rc: ERRNO.EFAULT, entryNum: 0 };
  if (n === 1) return cacheInvalidate1(ctx, v, a.entries[0]!, a.entryLen);
  const cmds = a.entries.map(([d0, d1]) => entryAs16(d0, d1, a.entryLen));
  let cur = 0;
  let last = 0;
  while (cur !== n) {
    const c = cmds[cur]!;
    if (!convert(v, c[0], c[1], c)) return { rc: ERRNO.EIO, entryNum: cur };
    cur++;
    if (cur !== n && cur - last !== CMDQ_BATCH_ENTRIES - 1) continue;
    const rc = ctx.smmu.issueCmdlist(cmds.slice(last, cur), true);
    if (rc !== 0) return { rc, entryNum: cur - 1 };
    last = cur;
  }
  return { rc: 0, entryNum: cur };
}

/** The one command of a single-entry call, converted in place: reused, as is its list. */
const ONE: [bigint, bigint] = [0n, 0n];
const ONE_LIST: readonly (readonly [bigint, bigint])[] = [ONE];
/** cacheInvalidate's answer for a single-entry call (read at once by the caller). */
const RESULT1 = { rc: 0, entryNum: 0 };

/**
 * cacheInvalidate for one entry (the trapped main CMDQ's every call): the same steps and
 * answers, with the command copied, converted and issued through reused storage.
 */
function cacheInvalidate1(
  ctx: KernelCtx,
  v: ViommuObj,
  e: readonly [bigint, bigint],
  entryLen: number,
): { rc: number; entryNum: number } {
  const d0 = BigInt.asUintN(64, e[0]);
  const d1 = BigInt.asUintN(64, e[1]);
  const ok =
    entryLen >= 16 ? convert(v, d0, d1, ONE) : convert(v, ...entryAs16(d0, d1, entryLen), ONE);
  if (!ok) {
    RESULT1.rc = ERRNO.EIO;
    RESULT1.entryNum = 0;
    return RESULT1;
  }
  const rc = ctx.smmu.issueCmdlist(ONE_LIST, true);
  RESULT1.rc = rc;
  RESULT1.entryNum = rc !== 0 ? 0 : 1;
  return RESULT1;
}

/** IOMMU_HWPT_INVALIDATE. */
export function hwptInvalidate(
  ctx: KernelCtx,
  a: HwptInvalidateArgs,
): Result<HwptInvalidateOut, HwptInvalidateError> {
  const entryNum = a.entries.length;
  let rc = 0;
  let done = 0;
  // data_uptr is never NULL in the model; entry_len 0 with entries is.
  if (entryNum > 0 && a.entryLen === 0) rc = ERRNO.EINVAL;
  else {
    const pt = ctx.objs.any(a.hwptId);
    if (!pt) rc = ERRNO.ENOENT;
    else if (pt.kind === "viommu") {
      if (!pt.ops?.cacheInvalidate) rc = ERRNO.EOPNOTSUPP;
      else {
        const r = cacheInvalidate(ctx, pt, a);
        rc = r.rc;
        done = r.entryNum;
      }
    } else rc = ERRNO.EINVAL;
  }
  // cmd->entry_num = done_num; iommufd_ucmd_respond.
  if (ctx.faults.check("hwpt_invalidate:copy_to_user"))
    return err({ errno: ERRNO.EFAULT, entryNum: 0 });
  if (rc !== 0) return err({ errno: rc, entryNum: done });
  return ok({ entryNum: done });
}
