// The machine a world is built from. Defaults are where QEMU 11.1 puts things (LAYOUTS
// below): RAM 1 GiB at 0x4000_0000 on 2 MiB pages, SMMUv3 at 0x0c00_0000, CMDQV at
// 0x0c08_0000, one VINTF with 2 VCMDQs, profile qemu-latest.

import { DEFAULT_TIMING, type Timing } from "../guest/execute.js";
import type { FaultPlan } from "../host/faults.js";
import type { HwConfig } from "../host/hw/types.js";
import type { PageSizeName } from "../mem/types.js";
import type { ProfileName } from "../vmm/tegra241-cmdqv/profile.js";

export interface MachineConfig {
  readonly profile: ProfileName;
  readonly ramBase: number;
  readonly ramSize: number;
  readonly ramPage: PageSizeName;
  readonly smmuBase: number;
  readonly cmdqvBase: number;
  /** The GIC SPIs the SMMUv3's four interrupts and the CMDQV's are wired to. */
  readonly spis: MachineSpis;
  /** VCMDQs the VMM exposes in its one VINTF (a power of two). */
  readonly vcmdqs: number;
  readonly seed: number;
  /** The arm-smmuv3 `cmdqv` property. spec: qemu §1.9. */
  readonly cmdqv: "off" | "auto" | "on";
  /** Guest vCPUs. */
  readonly vcpus: number;
  readonly faultPlan: FaultPlan;
  /** Physical StreamID of the passed-through device and the vSID the guest uses. */
  readonly physSid: number;
  readonly virtSid: number;
  readonly timing: Timing;
  /**
   * CMDQV silicon parameters of the host, merged over DEFAULT_HW_CONFIG (e.g. a guest
   * VINTF with 128 VCMDQs needs 128 LVCMDQs per VINTF: numVcmdqLog2 8, numVintfLog2 1).
   */
  readonly hostHw?: Partial<HwConfig>;
}

export interface MachineSpis {
  readonly eventq: number;
  readonly priq: number;
  readonly cmdSync: number;
  readonly gerror: number;
  readonly cmdqv: number;
}

/**
 * Where QEMU puts the SMMUv3, the CMDQV and their interrupts.
 * - `qemu-11.1` (the default): `-device arm-smmuv3,accel=on,cmdqv=on` on the platform bus,
 *   as QEMU 11.1's `info mtree` shows it: SMMUv3 at 0x0c00_0000, CMDQV at 0x0c08_0000; the
 *   CMDQV's interrupt is SPI 116 (seen as `IRQ raise 116` under real QEMU 11.1) and the
 *   SMMU's four are the platform-bus SPIs before it, 112–115 [I: sysbus index order].
 * - `qemu-7.2-virt`: `-machine virt,iommu=smmuv3` of QEMU 7.2 (the differential peer, which
 *   has no CMDQV): SMMUv3 at 0x0905_0000 with SPIs 74–77; the CMDQV, which that QEMU
 *   lacks, is placed at 0x0c00_0000 with the first platform-bus SPI, 112.
 * One qtest script then runs unchanged on `--vmm model` and `--vmm qemu`.
 */
export const LAYOUTS = {
  "qemu-11.1": {
    smmuBase: 0x0c00_0000,
    cmdqvBase: 0x0c08_0000,
    spis: { eventq: 112, priq: 113, cmdSync: 114, gerror: 115, cmdqv: 116 },
  },
  "qemu-7.2-virt": {
    smmuBase: 0x0905_0000,
    cmdqvBase: 0x0c00_0000,
    spis: { eventq: 74, priq: 75, cmdSync: 76, gerror: 77, cmdqv: 112 },
  },
} as const satisfies Record<string, Pick<MachineConfig, "smmuBase" | "cmdqvBase" | "spis">>;
export type LayoutName = keyof typeof LAYOUTS;
export const LAYOUT_NAMES = Object.keys(LAYOUTS) as LayoutName[];

/**
 * What a machine description may ask for, stated once for the CLI's flags and the
 * scenario schema: RAM up to 64 TiB (a 46-bit guest-physical space), 1 to 64 vCPUs,
 * 1 to 128 VCMDQs in the VINTF (a power of two: the VINTF's LVCMDQ count), u32 seeds.
 */
export const MACHINE_LIMITS = {
  ramSizeMax: 2 ** 46,
  vcpus: { min: 1, max: 64 },
  vcmdqs: { min: 1, max: 128 },
  seedMax: 0xffff_ffff,
} as const;

export const DEFAULT_MACHINE: MachineConfig = {
  profile: "qemu-latest",
  ramBase: 0x4000_0000,
  ramSize: 0x4000_0000,
  ramPage: "2M",
  ...LAYOUTS["qemu-11.1"],
  vcmdqs: 2,
  seed: 1,
  cmdqv: "on",
  vcpus: 2,
  faultPlan: { kind: "none" },
  physSid: 0x100,
  virtSid: 0x8,
  timing: DEFAULT_TIMING,
};

export function machineConfig(over: Partial<MachineConfig> = {}): MachineConfig {
  return { ...DEFAULT_MACHINE, ...over };
}
