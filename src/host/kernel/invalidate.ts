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
import { faultSiteIndex } from "../faults.js";
import { ERRNO } from "./errno.js";
import type { KernelCtx, ViommuObj } from "./objects.js";
import {
  type HwptInvalidateArgs,
  type HwptInvalidateError,
  type HwptInvalidateOut,
  INVALIDATE_ENTRY_WORDS,
  VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
} from "./uapi.js";

/** The call's fault sites (checked once per command on the trapped main CMDQ). */
const SITE_CMDS_ALLOC = faultSiteIndex("hwpt_invalidate:cmds_alloc");
const SITE_COPY_FROM_USER = faultSiteIndex("hwpt_invalidate:copy_from_user");
const SITE_COPY_TO_USER = faultSiteIndex("hwpt_invalidate:copy_to_user");

/** CMDQ_BATCH_ENTRIES (BITS_PER_LONG). */
const CMDQ_BATCH_ENTRIES = 64;
const W = INVALIDATE_ENTRY_WORDS;

/**
 * arm_vsmmu_convert_user_cmd on the entry at word `i` of `w`: the converted command into
 * `out` at word `o` (which may be where it came from), or false (EIO). The VMID is
 * dword0[47:32], the low half of word 1; the SID is dword0[63:32], all of word 1.
 */
function convert(v: ViommuObj, w: Uint32Array, i: number, out: Uint32Array, o: number): boolean {
  const w0 = w[i]!;
  switch (w0 & 0xff) {
    case OP.TLBI_NSNH_ALL:
      out[o] = OP.TLBI_NH_ALL;
      out[o + 1] = v.vmid & 0xffff;
      out[o + 2] = 0;
      out[o + 3] = 0;
      return true;
    case OP.TLBI_NH_VA:
    case OP.TLBI_NH_VAA:
    case OP.TLBI_NH_ALL:
    case OP.TLBI_NH_ASID:
      out[o] = w0;
      out[o + 1] = (w[i + 1]! & 0xffff_0000) | (v.vmid & 0xffff);
      out[o + 2] = w[i + 2]!;
      out[o + 3] = w[i + 3]!;
      return true;
    case OP.ATC_INV:
    case OP.CFGI_CD:
    case OP.CFGI_CD_ALL: {
      const vdev = v.vdevs.get(BigInt(w[i + 1]!));
      if (vdev === undefined) return false;
      out[o] = w0;
      out[o + 1] = vdev.dev.sid;
      out[o + 2] = w[i + 2]!;
      out[o + 3] = w[i + 3]!;
      return true;
    }
    default:
      return false;
  }
}

/**
 * copy_struct_from_user of each entry of `entryLen` (< 16) bytes into a 16-byte command,
 * in place: the bytes past entryLen read as zero.
 */
function entriesAs16(w: Uint32Array, entryLen: number): void {
  for (let k = 0; k < W; k++) {
    const bytes = Math.min(Math.max(entryLen - 4 * k, 0), 4);
    const m = bytes === 4 ? 0xffff_ffff : (1 << (8 * bytes)) - 1;
    for (let i = k; i < w.length; i += W) w[i] = w[i]! & m;
  }
}

/** arm_vsmmu_cache_invalidate's answer: rc and the entry_num it leaves. Read at once. */
const RESULT = { rc: 0, entryNum: 0 };
function answer(rc: number, entryNum: number): { rc: number; entryNum: number } {
  RESULT.rc = rc;
  RESULT.entryNum = entryNum;
  return RESULT;
}

/** The commands of a call of one entry, the trapped main CMDQ's every call: reused. */
const ONE = new Uint32Array(W);

/** arm_vsmmu_cache_invalidate: returns rc and the entry_num it leaves. */
function cacheInvalidate(
  ctx: KernelCtx,
  v: ViommuObj,
  a: HwptInvalidateArgs,
): { rc: number; entryNum: number } {
  const n = a.words.length / W;
  // kcalloc of the command array; on failure entry_num is left as the caller set it.
  if (ctx.faults.checkAt(SITE_CMDS_ALLOC)) return answer(ERRNO.ENOMEM, n);
  // iommu_copy_struct_from_full_user_array
  if (a.dataType !== VIOMMU_INVALIDATE_DATA_ARM_SMMUV3) return answer(ERRNO.EINVAL, 0);
  if (ctx.faults.checkAt(SITE_COPY_FROM_USER)) return answer(ERRNO.EFAULT, 0);
  const w = a.words;
  let cmds: Uint32Array;
  if (n === 1) {
    cmds = ONE;
    cmds[0] = w[0]!;
    cmds[1] = w[1]!;
    cmds[2] = w[2]!;
    cmds[3] = w[3]!;
  } else cmds = w.slice();
  if (a.entryLen < 16) entriesAs16(cmds, a.entryLen);
  let cur = 0;
  let last = 0;
  while (cur !== n) {
    if (!convert(v, cmds, W * cur, cmds, W * cur)) return answer(ERRNO.EIO, cur);
    cur++;
    if (cur !== n && cur - last !== CMDQ_BATCH_ENTRIES - 1) continue;
    const rc = ctx.smmu.issueCmdlist(cmds, W * last, cur - last, true);
    if (rc !== 0) return answer(rc, cur - 1);
    last = cur;
  }
  return answer(0, cur);
}

/** IOMMU_HWPT_INVALIDATE. */
export function hwptInvalidate(
  ctx: KernelCtx,
  a: HwptInvalidateArgs,
): Result<HwptInvalidateOut, HwptInvalidateError> {
  const entryNum = a.words.length / W;
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
  if (ctx.faults.checkAt(SITE_COPY_TO_USER)) return err({ errno: ERRNO.EFAULT, entryNum: 0 });
  if (rc !== 0) return err({ errno: rc, entryNum: done });
  return done === 1 ? OK_ONE : ok({ entryNum: done });
}

/** The answer of every successful single-entry call: one shared, immutable value. */
const OK_ONE: Result<HwptInvalidateOut, HwptInvalidateError> = Object.freeze(
  ok(Object.freeze({ entryNum: 1 })),
);
