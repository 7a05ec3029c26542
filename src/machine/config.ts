// The machine a world is built from. Defaults are where QEMU 11.1 puts things (LAYOUTS
// below): RAM 1 GiB at 0x4000_0000 on 2 MiB pages, SMMUv3 at 0x0c00_0000, CMDQV at
// 0x0c08_0000, one VINTF with 2 VCMDQs, profile qemu-latest.

import { DEFAULT_TIMING, type Timing } from "../guest/execute.js";
import type { FaultPlan } from "../host/faults.js";
import type { HwConfig } from "../host/hw/types.js";
import { PAGE_SIZES, type PageSizeName } from "../mem/types.js";
import { TEGRA241_CMDQV_IO_LEN } from "../regs/cmdqv.js";
import { SMMUV3_MMIO_SIZE } from "../regs/smmuv3.js";
import { isProfileName, type ProfileName } from "../vmm/tegra241-cmdqv/profile.js";

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
 * 1 to 128 VCMDQs in the VINTF (a power of two: the VINTF's LVCMDQ count), u32 seeds,
 * everything (RAM and the two MMIO windows) below 2^52 (the SMMU's 52-bit addresses),
 * StreamIDs of 20 bits, SPI numbers up to 1019.
 */
export const MACHINE_LIMITS = {
  ramSizeMax: 2 ** 46,
  vcpus: { min: 1, max: 64 },
  vcmdqs: { min: 1, max: 128 },
  seedMax: 0xffff_ffff,
  addressLimit: 2 ** 52,
  sidMax: 0xf_ffff,
  spiMax: 1019,
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

/** One reason a machine description cannot be built, naming the MachineConfig field. */
export interface MachineProblem {
  readonly field: keyof MachineConfig;
  readonly message: string;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/**
 * Every reason `m` cannot be built, in field order (empty when it can): each field in its
 * range, and the fields together: RAM a whole number of pages on a page boundary, RAM,
 * the SMMUv3 window and the CMDQV window apart and below 2^52, the five SPIs distinct.
 * The one check shared by the CLI's machine flags, replay files and createMachine, so a
 * description that passes never makes the model throw.
 */
export function machineProblems(m: MachineConfig): MachineProblem[] {
  const out: MachineProblem[] = [];
  const bad = (field: keyof MachineConfig, message: string) => out.push({ field, message });
  const isInt = (v: unknown, min: number, max: number): v is number =>
    typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max;
  const L = MACHINE_LIMITS;
  if (typeof m.profile !== "string" || !isProfileName(m.profile))
    bad("profile", `unknown profile ${JSON.stringify(m.profile)}`);
  const page = PAGE_SIZES[m.ramPage as PageSizeName] as number | undefined;
  if (typeof m.ramPage !== "string" || !Object.hasOwn(PAGE_SIZES, m.ramPage))
    bad(
      "ramPage",
      `expected one of ${Object.keys(PAGE_SIZES).join(", ")}, got ${JSON.stringify(m.ramPage)}`,
    );
  const baseOk = isInt(m.ramBase, 0, L.addressLimit);
  if (!baseOk) bad("ramBase", `expected an address from 0 to 2^52, got ${String(m.ramBase)}`);
  else if (page !== undefined && m.ramBase % page !== 0)
    bad("ramBase", `RAM base ${hex(m.ramBase)} is not aligned to the ${m.ramPage} page`);
  const sizeOk = isInt(m.ramSize, 1, L.ramSizeMax);
  if (!sizeOk) bad("ramSize", `expected 1 byte to 2^46 bytes of RAM, got ${String(m.ramSize)}`);
  else if (page !== undefined && m.ramSize % page !== 0)
    bad("ramSize", `RAM size ${hex(m.ramSize)} is not a multiple of the ${m.ramPage} page`);
  if (baseOk && sizeOk && m.ramBase + m.ramSize > L.addressLimit)
    bad("ramSize", `RAM [${hex(m.ramBase)}, ${hex(m.ramBase + m.ramSize)}) ends above 2^52`);
  const windows: { field: "smmuBase" | "cmdqvBase"; name: string; size: number }[] = [
    { field: "smmuBase", name: "SMMUv3", size: SMMUV3_MMIO_SIZE },
    { field: "cmdqvBase", name: "CMDQV", size: TEGRA241_CMDQV_IO_LEN },
  ];
  const placed: { field: keyof MachineConfig; name: string; base: number; size: number }[] = [];
  if (baseOk && sizeOk)
    placed.push({ field: "ramBase", name: "RAM", base: m.ramBase, size: m.ramSize });
  for (const w of windows) {
    const base = m[w.field];
    if (!isInt(base, 0, L.addressLimit - w.size)) {
      bad(w.field, `expected the ${w.name} window to lie below 2^52, got base ${String(base)}`);
      continue;
    }
    const range = `[${hex(base)}, ${hex(base + w.size)})`;
    for (const p of placed)
      if (base < p.base + p.size && p.base < base + w.size)
        bad(
          w.field,
          `the ${w.name} window ${range} overlaps ${p.name} [${hex(p.base)}, ${hex(p.base + p.size)})`,
        );
    placed.push({ field: w.field, name: `the ${w.name} window`, base, size: w.size });
  }
  const { min, max } = L.vcmdqs;
  if (!isInt(m.vcmdqs, min, max) || (m.vcmdqs & (m.vcmdqs - 1)) !== 0)
    bad("vcmdqs", `expected a power of two from ${min} to ${max}, got ${String(m.vcmdqs)}`);
  if (!isInt(m.vcpus, L.vcpus.min, L.vcpus.max))
    bad(
      "vcpus",
      `expected an integer from ${L.vcpus.min} to ${L.vcpus.max}, got ${String(m.vcpus)}`,
    );
  if (!isInt(m.seed, 0, L.seedMax))
    bad("seed", `expected an integer from 0 to ${L.seedMax}, got ${String(m.seed)}`);
  if (!["off", "auto", "on"].includes(m.cmdqv))
    bad("cmdqv", `expected one of off, auto, on, got ${JSON.stringify(m.cmdqv)}`);
  for (const f of ["physSid", "virtSid"] as const)
    if (!isInt(m[f], 0, L.sidMax))
      bad(f, `expected a StreamID from 0 to ${hex(L.sidMax)}, got ${String(m[f])}`);
  const spis = Object.entries(m.spis ?? {}) as [keyof MachineSpis, unknown][];
  const seen = new Map<number, string>();
  for (const [name, spi] of spis) {
    if (!isInt(spi, 0, L.spiMax)) {
      bad("spis", `${name}: expected an SPI from 0 to ${L.spiMax}, got ${String(spi)}`);
      continue;
    }
    const other = seen.get(spi);
    if (other !== undefined) bad("spis", `${other} and ${name} are both wired to SPI ${spi}`);
    seen.set(spi, name);
  }
  return out;
}
