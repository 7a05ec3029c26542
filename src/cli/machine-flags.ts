// Machine options shared by `cmdqv run` and `cmdqv qtest`.

import {
  LAYOUT_NAMES,
  LAYOUTS,
  MACHINE_LIMITS,
  type MachineConfig,
  machineConfig,
  machineProblems,
} from "../machine/config.js";
import {
  parseChoice,
  parseIntFlag,
  parseProfile,
  parseRamPage,
  parseSizeFlag,
  UsageError,
} from "./options.js";

export interface MachineFlags {
  profile?: string;
  ramSize?: string;
  ramPage?: string;
  vcmdqs?: string;
  vcpus?: string;
  seed?: string;
  cmdqv?: string;
  layout?: string;
}

/** The flag that sets a machine field (the layout places the windows and SPIs). */
const FLAG_OF: Partial<Record<keyof MachineConfig, string>> = {
  profile: "--profile",
  ramSize: "--ram-size",
  ramPage: "--ram-page",
  vcmdqs: "--vcmdqs",
  vcpus: "--vcpus",
  seed: "--seed",
  cmdqv: "--cmdqv",
  smmuBase: "--layout",
  cmdqvBase: "--layout",
  spis: "--layout",
};

export function machineFromFlags(
  f: MachineFlags,
  base: Partial<MachineConfig> = {},
): MachineConfig {
  const over: { -readonly [K in keyof MachineConfig]?: MachineConfig[K] } = { ...base };
  if (f.profile !== undefined) over.profile = parseProfile(f.profile);
  if (f.layout !== undefined)
    Object.assign(over, LAYOUTS[parseChoice("--layout", f.layout, LAYOUT_NAMES)]);
  if (f.ramPage !== undefined) over.ramPage = parseRamPage(f.ramPage);
  if (f.ramSize !== undefined)
    over.ramSize = parseSizeFlag("--ram-size", f.ramSize, MACHINE_LIMITS.ramSizeMax);
  if (f.vcmdqs !== undefined) {
    const { min, max } = MACHINE_LIMITS.vcmdqs;
    const n = parseIntFlag("--vcmdqs", f.vcmdqs, min, max);
    if ((n & (n - 1)) !== 0)
      throw new UsageError(
        `--vcmdqs: expected a power of two from ${min} to ${max}, got "${f.vcmdqs}"`,
      );
    over.vcmdqs = n;
  }
  if (f.vcpus !== undefined)
    over.vcpus = parseIntFlag(
      "--vcpus",
      f.vcpus,
      MACHINE_LIMITS.vcpus.min,
      MACHINE_LIMITS.vcpus.max,
    );
  if (f.seed !== undefined) over.seed = parseIntFlag("--seed", f.seed, 0, MACHINE_LIMITS.seedMax);
  if (f.cmdqv !== undefined)
    over.cmdqv = parseChoice("--cmdqv", f.cmdqv, ["off", "auto", "on"] as const);
  const cfg = machineConfig(over);
  // The machine as a whole, by the check replay files and createMachine use too.
  const problem = machineProblems(cfg)[0];
  if (problem !== undefined)
    throw new UsageError(`${FLAG_OF[problem.field] ?? "the machine"}: ${problem.message}`);
  return cfg;
}
