// qtest lines the console tests share (src/qtest and src/cli): what makes the model's VMM
// print each kind of console line, and the lines it prints.

/** VCMDQ0 brought up by hand with its HW queue allocation made to fail (an error_report). */
export const REFUSED_ALLOC = [
  "cmdqv_fault hw_queue_alloc:obj_alloc",
  "writel 0x0c080000 0x00020083",
  "writel 0x0c080200 0x0",
  "writel 0x0c081000 0x00020001",
  "writel 0x0c080200 0x1",
  "writeq 0x0c0c0000 0x4020000c",
] as const;

/** The error_report text of REFUSED_ALLOC, without QEMU's program name. */
export const ALLOC_ERROR_TEXT = "IOMMU_HW_QUEUE_ALLOC failed: Cannot allocate memory";

/** A 2-byte read of the CMDQV and of the SMMUv3: refused by the memory core / the device. */
export const READW_CMDQV = "readw 0x0c080000";
export const READW_SMMU = "readw 0x0c000000";

/** QEMU 11.1's LOG_INVALID_MEM line for READW_CMDQV, its LOG_GUEST_ERROR line for READW_SMMU. */
export const CMDQV_2BYTE =
  "Invalid read at addr 0x0, size 2, region 'tegra241-cmdqv', reason: invalid size (min:4 max:8)";
export const SMMU_2BYTE =
  "Invalid read at addr 0x0, size 2, region 'arm-smmuv3', reason: invalid size (min:4 max:8)";
