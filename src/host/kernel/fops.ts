// The iommufd file's ioctl entry point over raw bytes (iommufd_fops_ioctl): the number
// picks the op; `size` (the first u32) must reach the op's minimum (EINVAL) and any bytes
// past the kernel's struct must be zero (E2BIG, copy_struct_from_user); the op runs on
// the decoded struct; the struct is copied back, min(user size, kernel size) bytes. User
// buffers the struct points at (data_uptr, allowed_iovas) are copied through yielded
// requests, so the caller may live in another process (a real QEMU).
//
// facts: include/uapi/linux/iommufd.h (numbers, layouts; table below), drivers/iommu/
//   iommufd/main.c (dispatcher: unknown numbers are ENOTTY, size < min EINVAL).

import { ERRNO } from "./errno.js";
import type { Iommufd } from "./iommufd.js";
import { INVALIDATE_ENTRY_WORDS, IOCTL, STRUCT_SIZE } from "./uapi.js";
import {
  copyFromUser,
  copyToUser,
  failed,
  MAX_USER_COPY,
  OK_RETURN,
  StructView,
  type Syscall,
  type SyscallReturn,
  type UserAnswer,
  type UserRequest,
} from "./user-copy.js";

type Sized = { readonly size: number; readonly min: number };

/** Decoded call: the struct image and a function that runs the op on it. */
type Op = (k: Iommufd, s: StructView, file: FileLookup) => Syscall | SyscallReturn;

/** What the ioctl needs to know about the caller's other descriptors (a memfd for MAP_FILE). */
export interface FileLookup {
  /** The host's registration of the caller's memfd `fd`: its user base and size, or null. */
  memfd(fd: number): { readonly base: number; readonly size: number } | null;
}

const OPS = new Map<number, { readonly sz: Sized; readonly op: Op }>([
  [IOCTL.IOMMU_DESTROY, { sz: STRUCT_SIZE.destroy, op: destroy }],
  [IOCTL.IOMMU_IOAS_ALLOC, { sz: STRUCT_SIZE.ioas_alloc, op: ioasAlloc }],
  [IOCTL.IOMMU_IOAS_IOVA_RANGES, { sz: STRUCT_SIZE.ioas_iova_ranges, op: iovaRanges }],
  [IOCTL.IOMMU_IOAS_MAP, { sz: STRUCT_SIZE.ioas_map, op: ioasMap }],
  [IOCTL.IOMMU_IOAS_UNMAP, { sz: STRUCT_SIZE.ioas_unmap, op: ioasUnmap }],
  [IOCTL.IOMMU_HWPT_ALLOC, { sz: STRUCT_SIZE.hwpt_alloc, op: hwptAlloc }],
  [IOCTL.IOMMU_GET_HW_INFO, { sz: STRUCT_SIZE.hw_info, op: hwInfo }],
  [IOCTL.IOMMU_HWPT_INVALIDATE, { sz: STRUCT_SIZE.hwpt_invalidate, op: hwptInvalidate }],
  [IOCTL.IOMMU_IOAS_MAP_FILE, { sz: STRUCT_SIZE.ioas_map_file, op: ioasMapFile }],
  [IOCTL.IOMMU_VIOMMU_ALLOC, { sz: STRUCT_SIZE.viommu_alloc, op: viommuAlloc }],
  [IOCTL.IOMMU_VDEVICE_ALLOC, { sz: STRUCT_SIZE.vdevice_alloc, op: vdeviceAlloc }],
  [IOCTL.IOMMU_IOAS_CHANGE_PROCESS, { sz: STRUCT_SIZE.ioas_change_process, op: changeProcess }],
  [IOCTL.IOMMU_VEVENTQ_ALLOC, { sz: STRUCT_SIZE.veventq_alloc, op: veventqAlloc }],
  [IOCTL.IOMMU_HW_QUEUE_ALLOC, { sz: STRUCT_SIZE.hw_queue_alloc, op: hwQueueAlloc }],
]);

/** The name of an iommufd ioctl number, for logs ("0x3b99" when unknown). */
export function iommufdIoctlName(req: number): string {
  for (const [name, n] of Object.entries(IOCTL)) if (n === req) return name;
  return `0x${req.toString(16)}`;
}

/** ioctl(iommufd, req, arg). Unknown numbers: ENOTTY, and the file's log records them. */
export function* iommufdIoctl(k: Iommufd, req: number, arg: bigint, files: FileLookup): Syscall {
  const entry = OPS.get(req >>> 0);
  if (entry === undefined) {
    k.log.record(
      `ioctl(${iommufdIoctlName(req)})`,
      { arg: `0x${arg.toString(16)}` },
      {
        ok: false,
        error: ERRNO.ENOTTY,
      },
    );
    return failed(ERRNO.ENOTTY);
  }
  const head = yield* copyFromUser(arg, 4);
  if (head === null) return failed(ERRNO.EFAULT);
  const userSize = new StructView(head).u32(0);
  if (userSize < entry.sz.min) return failed(ERRNO.EINVAL);
  const take = Math.min(userSize, entry.sz.size);
  const raw = yield* copyFromUser(arg, take);
  if (raw === null) return failed(ERRNO.EFAULT);
  // copy_struct_from_user: a longer user struct must be zero past what we know.
  if (userSize > entry.sz.size) {
    const tail = Math.min(userSize - entry.sz.size, MAX_USER_COPY);
    const extra = yield* copyFromUser(arg + BigInt(entry.sz.size), tail);
    if (extra === null) return failed(ERRNO.EFAULT);
    if (extra.some((b) => b !== 0)) return failed(ERRNO.E2BIG);
  }
  const image = new Uint8Array(entry.sz.size);
  image.set(raw);
  const s = new StructView(image);
  const out = entry.op(k, s, files);
  const r = "next" in out ? yield* out : out;
  // iommufd_ucmd_respond: the struct goes back whenever the op produced outputs.
  if (r.errno === 0 || RESPOND_ON_ERROR.has(req >>> 0)) {
    if (!(yield* copyToUser(arg, image.subarray(0, take)))) return failed(ERRNO.EFAULT);
  }
  return r;
}

/** Ops whose struct carries an output even on failure (entry_num, num_iovas). */
const RESPOND_ON_ERROR = new Set<number>([
  IOCTL.IOMMU_HWPT_INVALIDATE,
  IOCTL.IOMMU_IOAS_IOVA_RANGES,
]);

/** A struct's driver data (data_uptr, data_len): the bytes, or E2BIG past the copy bound, or EFAULT. */
function* copyUserData(
  ptr: bigint,
  len: number,
): Generator<UserRequest, Uint8Array | SyscallReturn, UserAnswer> {
  if (len > MAX_USER_COPY) return failed(ERRNO.E2BIG);
  const d = yield* copyFromUser(ptr, len);
  return d ?? failed(ERRNO.EFAULT);
}

function ret(r: { ok: boolean; error?: unknown }): SyscallReturn {
  if (r.ok) return OK_RETURN;
  const e = r.error;
  return failed(typeof e === "number" ? e : (e as { errno: number }).errno);
}

// ---- the ops: offsets from include/uapi/linux/iommufd.h ---------------------------------

function destroy(k: Iommufd, s: StructView): SyscallReturn {
  return ret(k.destroy(s.u32(4)));
}

function ioasAlloc(k: Iommufd, s: StructView): SyscallReturn {
  if (s.u32(4) !== 0) return failed(ERRNO.EOPNOTSUPP);
  const r = k.ioasAlloc();
  if (r.ok) s.setU32(8, r.value.ioasId);
  return ret(r);
}

function* iovaRanges(k: Iommufd, s: StructView): Syscall {
  const numIovas = s.u32(8);
  const r = k.ioasIovaRanges({ ioasId: s.u32(4), numIovas, reserved: s.u32(12) });
  if (!r.ok) {
    if (r.error.errno === ERRNO.EMSGSIZE) s.setU32(8, r.error.numIovas);
    return failed(r.error.errno);
  }
  const ranges = r.value.ranges;
  const out = new Uint8Array(16 * ranges.length);
  const v = new StructView(out);
  ranges.forEach(([start, last], i) => {
    v.setU64(16 * i, start);
    v.setU64(16 * i + 8, last);
  });
  if (!(yield* copyToUser(s.u64(16), out))) return failed(ERRNO.EFAULT);
  s.setU32(8, ranges.length);
  s.setU64(24, BigInt(r.value.alignment));
  return OK_RETURN;
}

const MAP_FLAGS_KNOWN = 0x7;
/** Where the kernel looks for anonymous user memory: nothing is registered there, so pinning it fails (EFAULT). */
const UNSHARED_USER_VA = 2 ** 52;

function ioasMap(k: Iommufd, s: StructView): SyscallReturn {
  const flags = s.u32(4);
  if ((flags & ~MAP_FLAGS_KNOWN) !== 0 || s.u32(12) !== 0) return failed(ERRNO.EOPNOTSUPP);
  // A user VA of the caller's anonymous memory: the host cannot see or pin it; only
  // memfd RAM (IOAS_MAP_FILE) is shared with it [I].
  const length = s.u64(24);
  const iova = s.u64(32);
  if (length > BigInt(Number.MAX_SAFE_INTEGER) || iova > BigInt(Number.MAX_SAFE_INTEGER))
    return failed(ERRNO.EOVERFLOW);
  const r = k.ioasMap({
    ioasId: s.u32(8),
    iova: Number(iova),
    length: Number(length),
    gpa: UNSHARED_USER_VA,
  });
  return ret(r);
}

function ioasUnmap(k: Iommufd, s: StructView): SyscallReturn {
  const iova = s.u64(8);
  const length = s.u64(16);
  if (length > BigInt(Number.MAX_SAFE_INTEGER) || iova > BigInt(Number.MAX_SAFE_INTEGER))
    return failed(ERRNO.EOVERFLOW);
  const r = k.ioasUnmap({ ioasId: s.u32(4), iova: Number(iova), length: Number(length) });
  if (r.ok) s.setU64(16, BigInt(r.value.length));
  return ret(r);
}

function ioasMapFile(k: Iommufd, s: StructView, files: FileLookup): SyscallReturn {
  const fd = s.s32(12);
  const f = files.memfd(fd);
  const start = s.u64(16);
  const length = s.u64(24);
  const iova = s.u64(32);
  const big = BigInt(Number.MAX_SAFE_INTEGER);
  if (start > big || length > big || iova > big) return failed(ERRNO.EOVERFLOW);
  const r = k.ioasMapFile({
    flags: s.u32(4),
    ioasId: s.u32(8),
    fd,
    fileBase: f?.base ?? -1,
    fileSize: f?.size ?? 0,
    start: Number(start),
    length: Number(length),
    iova: Number(iova),
  });
  return ret(r);
}

function changeProcess(k: Iommufd, s: StructView): SyscallReturn {
  if (s.u32(4) !== 0) return failed(ERRNO.EOPNOTSUPP);
  return ret(k.ioasChangeProcess());
}

function* hwptAlloc(k: Iommufd, s: StructView): Syscall {
  const dataLen = s.u32(28);
  let data: Uint8Array | undefined;
  if (s.u32(24) !== 0) {
    const d = yield* copyUserData(s.u64(32), dataLen);
    if (!(d instanceof Uint8Array)) return d;
    if (dataLen > 0) data = d;
  }
  if (s.u32(20) !== 0 || s.u32(44) !== 0) return failed(ERRNO.EOPNOTSUPP);
  const r = k.hwptAlloc({
    size: s.u32(0),
    flags: s.u32(4),
    devId: s.u32(8),
    ptId: s.u32(12),
    dataType: s.u32(24),
    dataLen,
    ...(data ? { data } : {}),
  });
  if (r.ok) s.setU32(16, r.value.hwptId);
  return ret(r);
}

function* hwInfo(k: Iommufd, s: StructView): Syscall {
  const dataLen = s.u32(12);
  if (dataLen > MAX_USER_COPY) return failed(ERRNO.E2BIG);
  const r = k.getHwInfo({
    size: s.u32(0),
    flags: s.u32(4),
    devId: s.u32(8),
    dataLen,
    inDataType: s.u32(24),
  });
  if (!r.ok) return ret(r);
  const bytes = r.value.bytes ?? new Uint8Array(0);
  if (!(yield* copyToUser(s.u64(16), bytes))) return failed(ERRNO.EFAULT);
  s.setU32(12, r.value.dataLen);
  s.setU32(24, r.value.outDataType);
  s.setU8(28, r.value.outMaxPasidLog2);
  s.setU64(32, r.value.outCapabilities);
  return OK_RETURN;
}

/** The most commands one invalidation may carry: the kernel's array of 16-byte commands within the copy bound. */
const MAX_INVALIDATE_ENTRIES = MAX_USER_COPY / 16;

function* hwptInvalidate(k: Iommufd, s: StructView): Syscall {
  const entryLen = s.u32(20);
  const entryNum = s.u32(24);
  if (s.u32(28) !== 0) return failed(ERRNO.EOPNOTSUPP);
  // iommufd_hwpt_invalidate checks this before anything is looked up or copied: entries
  // with no array or no length are EINVAL, however many are claimed (4G of zero-length
  // entries must not be walked one by one).
  if (entryNum > 0 && (s.u64(8) === 0n || entryLen === 0)) {
    s.setU32(24, 0);
    return failed(ERRNO.EINVAL);
  }
  const total = entryLen * entryNum;
  // Bounds on what a hostile caller can make the model build: the bytes copied and the
  // commands decoded (a 1-byte entry_len would otherwise buy a million commands per MiB).
  if (total > MAX_USER_COPY || entryNum > MAX_INVALIDATE_ENTRIES) return failed(ERRNO.E2BIG);
  const raw = yield* copyFromUser(s.u64(8), total);
  if (raw === null) {
    s.setU32(24, 0);
    return failed(ERRNO.EFAULT);
  }
  const v = new StructView(raw);
  // Each entry's dword0 when entry_len covers it, its dword1 likewise (else zero).
  const words = new Uint32Array(INVALIDATE_ENTRY_WORDS * entryNum);
  for (let i = 0; i < entryNum; i++) {
    const off = i * entryLen;
    const o = INVALIDATE_ENTRY_WORDS * i;
    if (entryLen >= 8) {
      words[o] = v.u32(off);
      words[o + 1] = v.u32(off + 4);
    }
    if (entryLen >= 16) {
      words[o + 2] = v.u32(off + 8);
      words[o + 3] = v.u32(off + 12);
    }
  }
  const r = k.hwptInvalidate({
    size: s.u32(0),
    hwptId: s.u32(4),
    dataType: s.u32(16),
    entryLen,
    words,
  });
  s.setU32(24, r.ok ? r.value.entryNum : r.error.entryNum);
  return ret(r);
}

function* viommuAlloc(k: Iommufd, s: StructView): Syscall {
  const dataLen = s.u32(24);
  const dataPtr = s.u64(32);
  const d = yield* copyUserData(dataPtr, dataLen);
  if (!(d instanceof Uint8Array)) return d;
  const data = dataLen > 0 ? d : undefined;
  const r = k.viommuAlloc({
    size: s.u32(0),
    flags: s.u32(4),
    type: s.u32(8),
    devId: s.u32(12),
    hwptId: s.u32(16),
    dataLen,
    ...(data ? { data } : {}),
  });
  if (!r.ok) return ret(r);
  s.setU32(20, r.value.viommuId);
  if (dataLen >= 16) {
    const out = new Uint8Array(16);
    const o = new StructView(out);
    o.setU64(0, BigInt(r.value.vintfMmapOffset));
    o.setU64(8, BigInt(r.value.vintfMmapLength));
    if (!(yield* copyToUser(dataPtr, out))) return failed(ERRNO.EFAULT);
  }
  return OK_RETURN;
}

function vdeviceAlloc(k: Iommufd, s: StructView): SyscallReturn {
  const r = k.vdeviceAlloc({
    size: s.u32(0),
    viommuId: s.u32(4),
    devId: s.u32(8),
    virtId: s.u64(16),
  });
  if (r.ok) s.setU32(12, r.value.vdeviceId);
  return ret(r);
}

function* veventqAlloc(k: Iommufd, s: StructView): Syscall {
  const r = k.veventqAlloc({
    size: s.u32(0),
    flags: s.u32(4),
    viommuId: s.u32(8),
    type: s.u32(12),
    depth: s.u32(16),
    reserved: s.u32(28),
  });
  if (!r.ok) return ret(r);
  const fd = yield {
    op: "install-fd",
    file: { kind: "veventq", id: r.value.veventqId, fd: r.value.fd },
  };
  if (typeof fd !== "number" || fd < 0) {
    // get_unused_fd failed in the caller: the kernel unwinds the object.
    r.value.fd.close();
    k.destroy(r.value.veventqId);
    return failed(typeof fd === "number" && fd < 0 ? -fd : ERRNO.EFAULT);
  }
  s.setU32(20, r.value.veventqId);
  s.setS32(24, fd);
  return OK_RETURN;
}

function hwQueueAlloc(k: Iommufd, s: StructView): SyscallReturn {
  const r = k.hwQueueAlloc({
    size: s.u32(0),
    flags: s.u32(4),
    viommuId: s.u32(8),
    type: s.u32(12),
    index: s.u32(16),
    iova: s.u64(24),
    length: s.u64(32),
  });
  if (r.ok) s.setU32(20, r.value.hwQueueId);
  return ret(r);
}
