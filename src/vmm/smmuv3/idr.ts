// What accel-mode QEMU does with ID registers. The guest-visible IDRs are QEMU's own,
// adjusted by the user's accel properties (smmuv3_accel_idr_override); on the first
// cold-plugged device's attach the properties left `auto` (by default ats, ril, ssidsize
// and oas in QEMU 11.1.3) take the host SMMU's values (smmuv3_accel_auto_finalise), and the
// host's IDRs (IOMMU_GET_HW_INFO, type ARM_SMMUV3) are then checked for compatibility on
// each device attach (smmuv3_accel_check_hw_compatible), failing the attach with a message.
// facts: QEMU hw/arm/smmuv3-accel.c.

import { fieldOf, withField } from "../../regs/regdef.js";
import { SMMU_F, SMMU_IDR5_OAS_48 } from "../../regs/smmuv3.js";
import type { Result } from "../../util/result.js";
import { err, OK_VOID } from "../../util/result.js";
import type { IdrValues } from "./profile.js";

/** The accel properties that change IDRs (arm-smmuv3,accel=on,ril=,ats=,oas=,ssidsize=). */
export interface AccelIdrProps {
  /** IDR3.RIL (default on). */
  readonly ril: boolean;
  /** IDR0.ATS (default off). */
  readonly ats: boolean;
  /** IDR5.OAS = 48 bits when true (default 44). */
  readonly oas48: boolean;
  /** IDR1.SSIDSIZE (default 0: no substreams). */
  readonly ssidsize: number;
}

/** smmuv3_accel_idr_override: the IDRs after the accel properties. Pure. */
export function accelIdrOverride(idr: IdrValues, p: AccelIdrProps): IdrValues {
  const f = SMMU_F;
  const idr5 = p.oas48 ? withField(idr[5], f.IDR5.OAS, SMMU_IDR5_OAS_48) : idr[5];
  return [
    withField(idr[0], f.IDR0.ATS, p.ats ? 1 : 0),
    withField(idr[1], f.IDR1.SSIDSIZE, p.ssidsize),
    idr[2],
    withField(idr[3], f.IDR3.RIL, p.ril ? 1 : 0),
    idr[4],
    idr5,
  ];
}

/**
 * smmuv3_accel_auto_finalise for the properties left `auto` (QEMU 11.1.3: all four): IDR0.ATS,
 * IDR1.SSIDSIZE, IDR3.RIL and IDR5.OAS take the host SMMU's values. Pure.
 * facts: QEMU hw/arm/smmuv3-accel.c smmuv3_accel_auto_finalise (ats, ril, ssidsize); oas
 * observed on QEMU 11.1.3 (the host's OAS comes back as is, 44, 48 or 52 bits).
 */
export function autoFinaliseIdrs(idr: IdrValues, host: readonly number[]): IdrValues {
  const f = SMMU_F;
  const h = (i: number): number => (host[i] ?? 0) >>> 0;
  return [
    withField(idr[0], f.IDR0.ATS, fieldOf(h(0), f.IDR0.ATS)),
    withField(idr[1], f.IDR1.SSIDSIZE, fieldOf(h(1), f.IDR1.SSIDSIZE)),
    idr[2],
    withField(idr[3], f.IDR3.RIL, fieldOf(h(3), f.IDR3.RIL)),
    idr[4],
    withField(idr[5], f.IDR5.OAS, fieldOf(h(5), f.IDR5.OAS)),
  ];
}

/** IDR5.OAS encoding → bits. facts: smmuv3-accel.c smmuv3_oas_bits. */
const OAS_BITS: readonly number[] = [32, 36, 40, 42, 44, 48, 52, 56];

/**
 * smmuv3_accel_check_hw_compatible: `host` is the host SMMU's IDR0..IDR5 from
 * IOMMU_GET_HW_INFO; `vsmmu` the guest-visible IDRs. The first mismatch wins, with QEMU's
 * message; success changes nothing.
 */
export function checkHostIdrs(
  vsmmu: IdrValues,
  host: readonly number[],
): Result<undefined, string> {
  const f = SMMU_F;
  const h = (i: number): number => (host[i] ?? 0) >>> 0;
  const q = (i: number): number => vsmmu[i as 0] >>> 0;
  const hs = fieldOf(h(0), f.IDR0.STLEVEL);
  const qs = fieldOf(q(0), f.IDR0.STLEVEL);
  if (hs !== qs)
    return err(`Host SMMUv3 Stream Table format mismatch (host STLEVEL=${hs}, QEMU STLEVEL=${qs})`);
  if (fieldOf(h(0), f.IDR0.TTENDIAN) > fieldOf(q(0), f.IDR0.TTENDIAN))
    return err("Host SMMUv3 doesn't support Little-endian translation table");
  if (fieldOf(h(0), f.IDR0.TTF) < fieldOf(q(0), f.IDR0.TTF))
    return err("Host SMMUv3 doesn't support AArch64 translation table format");
  const hsid = fieldOf(h(1), f.IDR1.SIDSIZE);
  const qsid = fieldOf(q(1), f.IDR1.SIDSIZE);
  if (hsid < qsid) return err(`Host SMMUv3 SIDSIZE not compatible (host=${hsid}, QEMU=${qsid})`);
  const hss = fieldOf(h(1), f.IDR1.SSIDSIZE);
  const qss = fieldOf(q(1), f.IDR1.SSIDSIZE);
  if (hss < qss) return err(`Host SMMUv3 SSIDSIZE not compatible (host=${hss}, QEMU=${qss})`);
  if (fieldOf(h(3), f.IDR3.RIL) < fieldOf(q(3), f.IDR3.RIL))
    return err("Host SMMUv3 doesn't support Range Invalidation");
  const hoas = fieldOf(h(5), f.IDR5.OAS);
  const qoas = fieldOf(q(5), f.IDR5.OAS);
  if (hoas < qoas)
    return err(
      `Host SMMUv3 supports only ${OAS_BITS[hoas]}-bit IPA, but the vSMMU OAS implies ${OAS_BITS[qoas]}-bit IPA`,
    );
  if (fieldOf(h(0), f.IDR0.ATS) < fieldOf(q(0), f.IDR0.ATS))
    return err("Host SMMUv3 doesn't support Address Translation Services");
  const grans = [
    [f.IDR5.GRAN4K, "4K"],
    [f.IDR5.GRAN16K, "16K"],
    [f.IDR5.GRAN64K, "64K"],
  ] as const;
  for (const [g, name] of grans) {
    if (fieldOf(h(5), g) !== fieldOf(q(5), g))
      return err(`Host SMMUv3 doesn't support ${name} translation granule`);
  }
  return OK_VOID;
}
