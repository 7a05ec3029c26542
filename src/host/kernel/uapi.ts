// The iommufd uAPI as the simulated kernel exposes it: ioctl numbers, type enums, and
// one argument/result shape per ioctl mirroring the C structs' fields (spec linux §6).
// Structs are modelled field by field (not as bytes); `size` defaults to the struct's
// full size and the dispatcher rejects a size below the ioctl's minimum with EINVAL.

/** `_IO(';', nr)` = 0x3B00 | nr. spec: linux §6.1. */
export const IOCTL = {
  IOMMU_DESTROY: 0x3b80,
  IOMMU_IOAS_ALLOC: 0x3b81,
  IOMMU_IOAS_IOVA_RANGES: 0x3b84,
  IOMMU_IOAS_MAP: 0x3b85,
  IOMMU_IOAS_UNMAP: 0x3b86,
  IOMMU_HWPT_ALLOC: 0x3b89,
  IOMMU_GET_HW_INFO: 0x3b8a,
  IOMMU_HWPT_INVALIDATE: 0x3b8d,
  IOMMU_IOAS_MAP_FILE: 0x3b8f,
  IOMMU_VIOMMU_ALLOC: 0x3b90,
  IOMMU_VDEVICE_ALLOC: 0x3b91,
  IOMMU_IOAS_CHANGE_PROCESS: 0x3b92,
  IOMMU_VEVENTQ_ALLOC: 0x3b93,
  IOMMU_HW_QUEUE_ALLOC: 0x3b94,
} as const;
export type IoctlName = keyof typeof IOCTL;

/** spec: linux §6.2. */
export const VIOMMU_TYPE = { DEFAULT: 0, ARM_SMMUV3: 1, TEGRA241_CMDQV: 2 } as const;
export const HW_QUEUE_TYPE = { DEFAULT: 0, TEGRA241_CMDQV: 1 } as const;
export const VEVENTQ_TYPE = { DEFAULT: 0, ARM_SMMUV3: 1, TEGRA241_CMDQV: 2 } as const;
export const HW_INFO_TYPE = { NONE: 0, INTEL_VTD: 1, ARM_SMMUV3: 2, TEGRA241_CMDQV: 3 } as const;
export const HW_INFO_FLAG_INPUT_TYPE = 1;
export const HWPT_ALLOC_NEST_PARENT = 1;
/** The IOMMU_IOAS_MAP flag bits (iommufd_ioas_map_flags). facts: include/uapi/linux/iommufd.h. */
export const IOAS_MAP_FLAG = { FIXED_IOVA: 1, WRITEABLE: 2, READABLE: 4 } as const;
export const HWPT_DATA_ARM_SMMUV3 = 2;
export const VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 = 1;
export const VEVENT_FLAG_LOST_EVENTS = 1;

/** Struct sizes and minimum sizes (offsetofend of the last mandatory field). spec: linux §6.3. */
export const STRUCT_SIZE = {
  destroy: { size: 8, min: 8 },
  ioas_alloc: { size: 12, min: 12 },
  ioas_iova_ranges: { size: 32, min: 32 },
  ioas_map: { size: 40, min: 40 },
  ioas_unmap: { size: 24, min: 24 },
  ioas_map_file: { size: 40, min: 40 },
  ioas_change_process: { size: 8, min: 8 },
  hw_info: { size: 40, min: 32 },
  hwpt_alloc: { size: 48, min: 24 },
  viommu_alloc: { size: 40, min: 24 },
  vdevice_alloc: { size: 24, min: 24 },
  veventq_alloc: { size: 32, min: 28 },
  hw_queue_alloc: { size: 40, min: 40 },
  hwpt_invalidate: { size: 32, min: 32 },
} as const;

/** `struct iommu_viommu_tegra241_cmdqv` is exactly 16 bytes. */
export const TEGRA241_VIOMMU_DATA_LEN = 16;
/** vEVENT header (8) + `struct iommu_vevent_tegra241_cmdqv` (16). spec: linux §6.6. */
export const VEVENT_HEADER_LEN = 8;
export const TEGRA241_VEVENT_LEN = 16;

/** mmap protection and flags the kernel checks. spec: linux §3.8. */
export const PROT = { READ: 1, WRITE: 2, EXEC: 4 } as const;
export const MAP = { SHARED: 1, PRIVATE: 2 } as const;

// ---- argument shapes (inputs) and outputs, one per call ----

export interface IoasMapArgs {
  readonly ioasId: number;
  readonly iova: number;
  readonly length: number;
  /** What backs the range: guest RAM from `gpa` (how VFIO maps guest memory). */
  readonly gpa: number;
}

/**
 * IOMMU_IOAS_MAP_FILE: a range of a memfd. The kernel pins the file's pages; the model
 * names the file's backing by the "user address" its GuestRam was registered at.
 */
export interface IoasMapFileArgs {
  readonly flags: number;
  readonly ioasId: number;
  /** The file descriptor number in the caller (for the log). */
  readonly fd: number;
  /** Where the host registered the file's backing (UserMemory), or −1: not a memfd. */
  readonly fileBase: number;
  readonly fileSize: number;
  readonly start: number;
  readonly length: number;
  readonly iova: number;
}

export interface IoasIovaRangesArgs {
  readonly ioasId: number;
  /** Room in the caller's array. */
  readonly numIovas: number;
  readonly reserved?: number;
}

export interface IoasIovaRangesOut {
  /** Inclusive [start, last] pairs. */
  readonly ranges: readonly (readonly [bigint, bigint])[];
  readonly alignment: number;
}

/** VFIO_DEVICE_ATTACH_IOMMUFD_PT: the device's translation is the HWPT (or IOAS) `ptId`. */
export interface DeviceAttachArgs {
  readonly devId: number;
  readonly ptId: number;
}

export interface IoasUnmapArgs {
  readonly ioasId: number;
  readonly iova: number;
  readonly length: number;
}

export interface HwInfoArgs {
  readonly size?: number;
  readonly flags: number;
  readonly devId: number;
  /** Room the caller gives for the type-specific data. */
  readonly dataLen: number;
  readonly inDataType: number;
}

export interface HwInfoTegra241 {
  readonly flags: number;
  readonly version: number;
  readonly log2vcmdqs: number;
  readonly log2vsids: number;
}

export interface HwInfoArmSmmuv3 {
  readonly flags: number;
  readonly idr: readonly number[];
  readonly iidr: number;
  readonly aidr: number;
}

export interface HwInfoOut {
  readonly outDataType: number;
  readonly dataLen: number;
  readonly data: HwInfoTegra241 | HwInfoArmSmmuv3;
  readonly outCapabilities: bigint;
  readonly outMaxPasidLog2: number;
  /**
   * The bytes copied to the caller's buffer: min(caller's dataLen, kernel's length) bytes of
   * the struct, zero-filled up to the caller's dataLen (spec: linux §6.3, clear_user).
   */
  readonly bytes?: Uint8Array;
}

export interface HwptAllocArgs {
  readonly size?: number;
  readonly flags: number;
  readonly devId: number;
  readonly ptId: number;
  readonly dataType?: number;
  /** `data_len` and the bytes at `data_uptr` (a nested HWPT's vSTE). */
  readonly dataLen?: number;
  readonly data?: Uint8Array;
}

export interface ViommuAllocArgs {
  readonly size?: number;
  readonly flags: number;
  readonly type: number;
  readonly devId: number;
  readonly hwptId: number;
  /** `data_len`; for the Tegra241 type it must be exactly 16. */
  readonly dataLen: number;
  /** The driver data bytes the caller passes in (copy_from_user). Zero-filled when absent. */
  readonly data?: Uint8Array;
}

export interface ViommuAllocOut {
  readonly viommuId: number;
  /** Tegra241 outputs (`out_vintf_mmap_offset`, `out_vintf_mmap_length`). */
  readonly vintfMmapOffset: number;
  readonly vintfMmapLength: number;
}

export interface VdeviceAllocArgs {
  readonly size?: number;
  readonly viommuId: number;
  readonly devId: number;
  readonly virtId: bigint;
}

export interface VeventqAllocArgs {
  readonly size?: number;
  readonly flags: number;
  readonly viommuId: number;
  readonly type: number;
  readonly depth: number;
  readonly reserved?: number;
}

export interface HwQueueAllocArgs {
  readonly size?: number;
  readonly flags: number;
  readonly viommuId: number;
  readonly type: number;
  readonly index: number;
  /**
   * `nesting_parent_iova`: the guest-physical base of the queue. A u64 in the kernel: pass a
   * bigint to reach values above 2^53 (the EOVERFLOW/ERANGE checks run in u64 arithmetic).
   */
  readonly iova: number | bigint;
  /** `length` in bytes, a u64 (bigint accepted for the same reason as `iova`). */
  readonly length: number | bigint;
}

export interface HwptInvalidateArgs {
  readonly size?: number;
  readonly hwptId: number;
  readonly dataType: number;
  readonly entryLen: number;
  /**
   * The entries, four little-endian u32 words each (dword0[31:0], dword0[63:32],
   * dword1[31:0], dword1[63:32]): `words.length / 4` of them. Words, not bigints, so the
   * trapped main CMDQ's one call per command allocates nothing.
   */
  readonly words: Uint32Array;
}

/** u32 words per invalidation entry in HwptInvalidateArgs.words. */
export const INVALIDATE_ENTRY_WORDS = 4;

/** HwptInvalidateArgs.words for entries written as pairs of u64 [dword0, dword1]. */
export function invalidateWords(entries: readonly (readonly [bigint, bigint])[]): Uint32Array {
  const w = new Uint32Array(INVALIDATE_ENTRY_WORDS * entries.length);
  for (let i = 0; i < entries.length; i++) {
    const [d0, d1] = entries[i]!;
    w[4 * i] = Number(BigInt.asUintN(32, d0));
    w[4 * i + 1] = Number(BigInt.asUintN(32, d0 >> 32n));
    w[4 * i + 2] = Number(BigInt.asUintN(32, d1));
    w[4 * i + 3] = Number(BigInt.asUintN(32, d1 >> 32n));
  }
  return w;
}

/** Entry `i` of HwptInvalidateArgs.words as its two u64 [dword0, dword1]. */
export function invalidateEntry(words: Uint32Array, i: number): [bigint, bigint] {
  const o = INVALIDATE_ENTRY_WORDS * i;
  return [
    (BigInt(words[o + 1]!) << 32n) | BigInt(words[o]!),
    (BigInt(words[o + 3]!) << 32n) | BigInt(words[o + 2]!),
  ];
}

export interface HwptInvalidateOut {
  /** `entry_num` on return: how many entries were handled. */
  readonly entryNum: number;
}

export interface MmapArgs {
  readonly offset: number;
  readonly length: number;
  readonly prot: number;
  readonly flags: number;
}

/** One decoded vEVENT record. */
export interface VeventRecord {
  readonly flags: number;
  readonly sequence: number;
  /** `lvcmdq_err_map[0..1]`; absent for a header-only LOST_EVENTS record. */
  readonly lvcmdqErrMap?: readonly [bigint, bigint];
}

// ---- outputs of the calls that only return ids (added with the simulated kernel) ----

export interface IoasAllocOut {
  readonly ioasId: number;
}

export interface IoasMapOut {
  /** The IOVA the range was mapped at (always the requested one: FIXED_IOVA). */
  readonly iova: number;
}

export interface IoasUnmapOut {
  /** `length` on return: the bytes actually unmapped. */
  readonly length: number;
}

export interface HwptAllocOut {
  readonly hwptId: number;
}

export interface VdeviceAllocOut {
  readonly vdeviceId: number;
}

export interface HwQueueAllocOut {
  readonly hwQueueId: number;
}

/**
 * IOMMU_HWPT_INVALIDATE fails with an errno but still reports `entry_num`, the number of
 * entries the kernel handled before the failing one (spec: linux §3.10).
 */
export interface HwptInvalidateError {
  readonly errno: number;
  readonly entryNum: number;
}
