// Machine options shared by `cmdqv run` and `cmdqv qtest`.

import {
  LAYOUT_NAMES,
  LAYOUTS,
  MACHINE_LIMITS,
  type MachineConfig,
  machineConfig,
} from "../machine/config.js";
import { PAGE_SIZES } from "../mem/types.js";
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
  const page = PAGE_SIZES[cfg.ramPage];
  if (cfg.ramSize % page !== 0)
    throw new UsageError(
      `--ram-size: ${cfg.ramSize} bytes is not a multiple of the ${cfg.ramPage} RAM page`,
    );
  return cfg;
}
