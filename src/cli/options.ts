// Parsing of command-line values, with errors that name the flag and the offending value.
// A bad value is a user mistake: it gets one clear line and exit status 2, never a stack.

import { PAGE_SIZES, type PageSizeName, pageSizeName } from "../mem/types.js";
import { parseSizeIn, parseUintIn } from "../util/parse.js";
import { isProfileName, PROFILE_NAMES, type ProfileName } from "../vmm/tegra241-cmdqv/profile.js";

export class UsageError extends Error {}

/** An integer flag, spelt as in a scenario file (util/parse.ts): `64`, `0x40`, `1_000`. */
export function parseIntFlag(flag: string, v: string, min: number, max: number): number {
  const n = parseUintIn(v, min, max);
  if (!n.ok)
    throw new UsageError(
      `${flag}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`,
    );
  return n.value;
}

export function parseProfile(v: string): ProfileName {
  if (!isProfileName(v))
    throw new UsageError(
      `--profile: expected one of ${PROFILE_NAMES.join(", ")}, got ${JSON.stringify(v)}`,
    );
  return v;
}

/** A RAM page size, spelt as any size (`2M`, `2MiB`, `0x200000`) as in a scenario file. */
export function parseRamPage(v: string): PageSizeName {
  const name = pageSizeName(v);
  if (!name.ok)
    throw new UsageError(
      `--ram-page: expected one of ${Object.keys(PAGE_SIZES).join(", ")}, got ${JSON.stringify(v)}`,
    );
  return name.value;
}

/** A size flag, spelt as in a scenario file (util/parse.ts): "1G", "512M", "0x40000000". */
export function parseSizeFlag(flag: string, v: string, max: number): number {
  const n = parseSizeIn(v, 1, max);
  if (!n.ok) throw new UsageError(`${flag}: ${n.error}, got ${JSON.stringify(v)}`);
  return n.value;
}

export function parseChoice<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v))
    throw new UsageError(
      `${flag}: expected one of ${allowed.join(", ")}, got ${JSON.stringify(v)}`,
    );
  return v as T;
}

export function parseList<T extends string>(flag: string, v: string, allowed: readonly T[]): T[] {
  if (v === "all") return [...allowed];
  if (v === "" || v === "none") return [];
  return v.split(",").map((x) => parseChoice(flag, x.trim(), allowed));
}
