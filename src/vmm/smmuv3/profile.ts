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
};

/**
 * Accel-era QEMU (stage 1, the accel properties at their defaults ril=on, ats=off,
 * oas=44, ssidsize=0): as 7.2 plus IDR0.VMID16 (bit 18), GBPA, stage checks, ID registers
 * kept across reset, invalidations forwarded. facts: QEMU hw/arm/smmuv3.c
 * smmuv3_init_id_regs, hw/arm/smmuv3-accel.c smmuv3_accel_idr_override.
 */
export const QEMU_ACCEL: Smmuv3Profile = {
  name: "qemu-accel",
  idr: [0x0d44_101a, 0x0273_0010, 0, 0x1404, 0, 0x74],
  gbpa: true,
  stageChecks: true,
  illLogAnyCause: true,
  idrsPersistAcrossReset: true,
  accel: true,
};
