// Where QEMU versions differ, as named policy flags (design: "a profile, never scattered
// `if (version)` checks"). Two presets: the QEMU 7.2 that the differential tests run over
// qtest (Debian bookworm's qemu-system-arm), and the accel-era QEMU (11.x) whose
// smmuv3-accel.c the CMDQV series builds on.

/** Reset ID registers IDR0..IDR5. */
export type IdrValues = readonly [number, number, number, number, number, number];

export interface Smmuv3Profile {
  readonly name: string;
  /** IDR0..IDR5 after realize. */
  readonly idr: IdrValues;
  /** GBPA exists at 0x44 (QEMU 8.0+); without it 0x44 is RAZ/WI with an unimp log. */
  readonly gbpa: boolean;
  /**
   * TLBI_NH_* need IDR0.S1P and TLBI_S12_VMALL/TLBI_S2_IPA need IDR0.S2P, else CERROR_ILL
   * (the stage-2 series, after 7.2). In 7.2 all of them are accepted.
   */
  readonly stageChecks: boolean;
  /**
   * "Illegal command type: N" is logged for every CERROR_ILL (after 7.2); in 7.2 only for
   * an unknown opcode (not for SSEC or a failed host invalidation).
   */
  readonly illLogAnyCause: boolean;
  /**
   * ID registers are set once at realize (smmuv3_init_id_regs, accel era), so reset keeps
   * IDR1.CMDQS as a CMDQV clamp left it; in 7.2 smmuv3_init_regs rewrites them at reset.
   */
  readonly idrsPersistAcrossReset: boolean;
  /** Forward invalidations to the host (hw/arm/smmuv3-accel.c); 7.2 has no accel mode. */
  readonly accel: boolean;
  /**
   * CFGI_STE and CFGI_STE_RANGE (CFGI_ALL) install the guest's STE on the host for a VFIO
   * device behind this SMMU: its vDEVICE (vSID) on the first install, then an attach to the
   * vIOMMU's abort or bypass HWPT, or to a new nested HWPT holding the stage-1 vSTE; a
   * failure stops the queue with CERROR_ILL. facts: QEMU hw/arm/smmuv3.c
   * smmuv3_cmdq_consume, hw/arm/smmuv3-accel.c smmuv3_accel_install_ste(_range).
   */
  readonly installSte: boolean;
  /**
   * The accel properties ats, ril, ssidsize and oas are `auto` by default and take the host
   * SMMU's IDR0.ATS, IDR3.RIL, IDR1.SSIDSIZE and IDR5.OAS on the first cold-plugged
   * device's attach, before the compatibility check. facts: QEMU hw/arm/smmuv3-accel.c
   * smmuv3_accel_auto_finalise (ats, ril, ssidsize); oas observed on QEMU 11.1.3 (host OAS
   * 44, 48 and 52 bits each came back in IDR5.OAS).
   */
  readonly autoAccelProps: boolean;
  /**
   * The guest's CR0.EVENTQEN (after the consume the CR0 write runs) allocates an ARM_SMMUV3
   * vEVENTQ of 2^EVENTQ log2size entries, once per vIOMMU. facts: QEMU hw/arm/smmuv3.c
   * smmu_writel (A_CR0), hw/arm/smmuv3-accel.c smmuv3_accel_alloc_veventq.
   */
  readonly accelVeventq: boolean;
}

/**
 * QEMU 7.2 defaults, read back over qtest from qemu-system-aarch64 7.2.22 (virt,iommu=smmuv3):
 * IDR0 0x0d40101a (S1P, TTF=2, COHACC, ASID16, TTENDIAN=2, STALL_MODEL=1, TERM_MODEL,
 * STLEVEL=1), IDR1 0x02730010 (SIDSIZE 16, EVENTQS 19, CMDQS 19), IDR3 0x1404 (HAD, RIL,
 * BBML=2), IDR5 0x74 (OAS=44 bits, GRAN4K/16K/64K). facts: QEMU hw/arm/smmuv3.c
 * smmuv3_init_regs, hw/arm/smmuv3-internal.h.
 */
export const QEMU_7_2: Smmuv3Profile = {
  name: "qemu-7.2",
  idr: [0x0d40_101a, 0x0273_0010, 0, 0x1404, 0, 0x74],
  gbpa: false,
  stageChecks: false,
  illLogAnyCause: false,
  idrsPersistAcrossReset: false,
  accel: false,
  installSte: false,
  autoAccelProps: false,
  accelVeventq: false,
};

/**
 * Accel-era QEMU, as QEMU 11.1.3 runs it (stage 1): as 7.2 plus IDR0.VMID16 (bit 18), GBPA,
 * stage checks, ID registers kept across reset, invalidations forwarded, STEs installed on
 * the host, the ARM_SMMUV3 vEVENTQ. `idr` is what realize sets before the first device
 * attaches; the `auto` accel properties then take the host's values (autoAccelProps).
 * facts: QEMU hw/arm/smmuv3.c smmuv3_init_id_regs, hw/arm/smmuv3-accel.c
 * smmuv3_accel_idr_override, smmuv3_accel_auto_finalise.
 */
export const QEMU_ACCEL: Smmuv3Profile = {
  name: "qemu-accel",
  idr: [0x0d44_101a, 0x0273_0010, 0, 0x1404, 0, 0x74],
  gbpa: true,
  stageChecks: true,
  illLogAnyCause: true,
  idrsPersistAcrossReset: true,
  accel: true,
  installSte: true,
  autoAccelProps: true,
  accelVeventq: true,
};
