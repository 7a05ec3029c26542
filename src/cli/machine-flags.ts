// Machine options shared by `cmdqv run` and `cmdqv qtest`: parsed into a MachineConfig,
// laid over a file's machine (a scenario's, a replay's) with each change named, and their
// defaults spelt as the flags take them (for --help), all from DEFAULT_MACHINE.

import {
  DEFAULT_MACHINE,
  LAYOUT_NAMES,
  LAYOUTS,
  MACHINE_LIMITS,
  type MachineConfig,
  machineConfig,
  machineProblems,
} from "../machine/config.js";
import type { MachineOverride } from "../report/summary.js";
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

export type MachineFlagKey = keyof MachineFlags;

/** Every machine flag, by its key in MachineFlags, in the order --help lists them. */
export const MACHINE_FLAGS = {
  profile: "--profile",
  ramSize: "--ram-size",
  ramPage: "--ram-page",
  vcmdqs: "--vcmdqs",
  vcpus: "--vcpus",
  seed: "--seed",
  layout: "--layout",
  cmdqv: "--cmdqv",
} as const satisfies Record<MachineFlagKey, string>;

const { layout: LAYOUT_FLAG, ...SAME_NAMED } = MACHINE_FLAGS;

/** The flag that sets a machine field (the layout places the windows and SPIs). */
const FLAG_OF: Partial<Record<keyof MachineConfig, string>> = {
  ...SAME_NAMED,
  smmuBase: LAYOUT_FLAG,
  cmdqvBase: LAYOUT_FLAG,
  spis: LAYOUT_FLAG,
};

const FLAG_KEYS = Object.keys(MACHINE_FLAGS) as MachineFlagKey[];

/** The machine flags `f` gives, in MACHINE_FLAGS order. */
export function givenMachineFlags(f: MachineFlags): MachineFlagKey[] {
  return FLAG_KEYS.filter((k) => f[k] !== undefined);
}

/** Bytes as the size flags spell them: the largest unit that divides them (1G, 512M, 4K). */
export function formatSize(bytes: number): string {
  for (const [unit, n] of [
    ["T", 2 ** 40],
    ["G", 2 ** 30],
    ["M", 2 ** 20],
    ["K", 2 ** 10],
  ] as const)
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  return String(bytes);
}

/** The value of `m` a machine flag sets, spelt as the flag takes it. */
export function machineFlagValue(key: MachineFlagKey, m: MachineConfig): string {
  switch (key) {
    case "ramSize":
      return formatSize(m.ramSize);
    case "layout": {
      const name = LAYOUT_NAMES.find(
        (n) => LAYOUTS[n].smmuBase === m.smmuBase && LAYOUTS[n].cmdqvBase === m.cmdqvBase,
      );
      return (
        name ?? `SMMUv3 at 0x${m.smmuBase.toString(16)}, CMDQV at 0x${m.cmdqvBase.toString(16)}`
      );
    }
    default:
      return String(m[key]);
  }
}

/** What each machine flag stands for when not given (DEFAULT_MACHINE), as --help shows it. */
export const MACHINE_FLAG_DEFAULTS: Readonly<Record<MachineFlagKey, string>> = Object.fromEntries(
  FLAG_KEYS.map((k) => [k, machineFlagValue(k, DEFAULT_MACHINE)]),
) as Record<MachineFlagKey, string>;

/**
 * A file's machine with the machine flags given laid over it, and each flag that changed
 * something, with the file's value. A flag that repeats the file's value changes nothing
 * and is not listed.
 */
export function overrideMachine(
  f: MachineFlags,
  file: MachineConfig,
): { readonly machine: MachineConfig; readonly overrides: readonly MachineOverride[] } {
  const machine = machineFromFlags(f, file, "the file's machine");
  const overrides = givenMachineFlags(f)
    .map((k) => ({
      flag: MACHINE_FLAGS[k],
      value: machineFlagValue(k, machine),
      was: machineFlagValue(k, file),
    }))
    .filter((o) => o.value !== o.was);
  return { machine, overrides };
}

/**
 * The machine the flags describe, over `base` (DEFAULT_MACHINE where neither gives a
 * field). A machine that cannot be built names the flag that set the field at fault; a
 * fault in a field no flag set names the flags given and `baseName`.
 */
export function machineFromFlags(
  f: MachineFlags,
  base: Partial<MachineConfig> = {},
  baseName = "the machine",
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
  if (problem !== undefined) {
    const given = givenMachineFlags(f).map((k) => MACHINE_FLAGS[k]);
    const flag = FLAG_OF[problem.field];
    const who =
      flag !== undefined && given.includes(flag as (typeof given)[number])
        ? flag
        : given.length > 0
          ? `${given.join(", ")} on ${baseName}`
          : (flag ?? baseName);
    throw new UsageError(`${who}: ${problem.message}`);
  }
  return cfg;
}
