// Parsing of command-line values, with errors that name the flag and the offending value.
// A bad value is a user mistake: it gets one clear line and exit status 2, never a stack.

import { PAGE_SIZES, type PageSizeName } from "../mem/types.js";
import { isProfileName, PROFILE_NAMES, type ProfileName } from "../vmm/tegra241-cmdqv/profile.js";

export class UsageError extends Error {}

export function parseIntFlag(flag: string, v: string, min: number, max: number): number {
  const n = /^0x[0-9a-f]+$/i.test(v)
    ? Number.parseInt(v, 16)
    : /^\d+$/.test(v)
      ? Number(v)
      : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(
      `${flag}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`,
    );
  return n;
}

export function parseProfile(v: string): ProfileName {
  if (!isProfileName(v))
    throw new UsageError(
      `--profile: expected one of ${PROFILE_NAMES.join(", ")}, got ${JSON.stringify(v)}`,
    );
  return v;
}

export function parseRamPage(v: string): PageSizeName {
  const k = v.toUpperCase();
  if (!(k in PAGE_SIZES))
    throw new UsageError(
      `--ram-page: expected one of ${Object.keys(PAGE_SIZES).join(", ")}, got ${JSON.stringify(v)}`,
    );
  return k as PageSizeName;
}

const SIZE_UNITS: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** "1G", "512M", "0x40000000", "1073741824". */
export function parseSize(flag: string, v: string, max: number): number {
  const m = /^(\d+)([KMGT])i?B?$/i.exec(v);
  const n = m ? Number(m[1]) * SIZE_UNITS[m[2]!.toUpperCase()]! : parseIntFlag(flag, v, 1, max);
  if (!Number.isSafeInteger(n) || n < 1 || n > max)
    throw new UsageError(`${flag}: size out of range, got ${JSON.stringify(v)}`);
  return n;
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
