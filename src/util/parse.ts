// Integers and sizes as a user writes them, in a scenario file or on the command line: one
// set of rules for both, so a value that works in one works in the other (docs/scenarios.md
// "Numbers, sizes, durations, addresses" is the promise). Each parser returns a Result
// whose error is a short phrase ("not a size: …", "must be from 1 to 64"); the caller adds
// where the value came from and the value itself.

import { err, ok, type Result } from "./result.js";

const HEX_RE = /^0x[0-9a-f](?:_?[0-9a-f])*$/i;
const OCT_RE = /^0o[0-7](?:_?[0-7])*$/i;
const BIN_RE = /^0b[01](?:_?[01])*$/i;
const DEC_RE = /^[0-9](?:_?[0-9])*$/;

/** True for plain decimal digits (with `_` between them): a bare number, no base, no unit. */
export function isDecimalText(s: string): boolean {
  return DEC_RE.test(s);
}

/**
 * An unsigned integer written as text: decimal, 0x hex, 0o octal or 0b binary, with
 * optional `_` between digits (YAML 1.2 reads `0x4000_0000` as text, and the project
 * writes its addresses that way).
 */
export function uintText(s: string): bigint | undefined {
  if (HEX_RE.test(s) || OCT_RE.test(s) || BIN_RE.test(s) || DEC_RE.test(s))
    return BigInt(s.replaceAll("_", ""));
  return undefined;
}

/** An unsigned integer from a number or text, exactly (bigint, so 64-bit values fit). */
export function parseUint(v: unknown): Result<bigint, string> {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) return err("not a whole number");
    if (v < 0) return err("must not be negative");
    return ok(BigInt(v));
  }
  if (typeof v === "bigint") return v < 0n ? err("must not be negative") : ok(v);
  if (typeof v === "string") {
    const t = v.trim();
    if (/^-/.test(t)) return err("must not be negative");
    const n = uintText(t);
    if (n !== undefined) return ok(n);
  }
  return err("not a number");
}

/** An unsigned integer in [min, max] (both safe integers). */
export function parseUintIn(v: unknown, min: number, max: number): Result<number, string> {
  const u = parseUint(v);
  if (!u.ok) return u;
  if (u.value < BigInt(min) || u.value > BigInt(max)) return err(`must be from ${min} to ${max}`);
  return ok(Number(u.value));
}

const SIZE_UNITS: Readonly<Record<string, bigint>> = {
  k: 1n << 10n,
  m: 1n << 20n,
  g: 1n << 30n,
  t: 1n << 40n,
};
const SIZE_RE = /^(0x[0-9a-f_]+|[0-9][0-9_]*)([kmgt](?:iB|B)?)?$/i;

/**
 * A size in bytes: a number, or text with a binary unit: `4096`, `0x1000`, `64K`, `2M`,
 * `1G`, `1T` (also `64KiB`, `64KB`; units are powers of 1024, either case). The unit's B
 * must be upper case: "1Gb" reads as gigabits, a likely slip.
 */
export function parseSize(v: unknown): Result<number, string> {
  const bad = "not a size: a number of bytes, or one with K, M, G or T such as 64K, 2M, 1G";
  let n: bigint | undefined;
  if (typeof v === "string") {
    const m = SIZE_RE.exec(v.trim());
    if (m && !/b$/.test(m[2] ?? "")) {
      const digits = uintText(m[1]!);
      const unit = m[2] === undefined ? 1n : SIZE_UNITS[m[2][0]!.toLowerCase()]!;
      if (digits !== undefined) n = digits * unit;
    }
    if (n === undefined) return err(bad);
  } else {
    const u = parseUint(v);
    if (!u.ok) return err(u.error === "not a number" ? bad : u.error);
    n = u.value;
  }
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) return err("too large");
  return ok(Number(n));
}

/** A size in [min, max] bytes. */
export function parseSizeIn(v: unknown, min: number, max: number): Result<number, string> {
  const s = parseSize(v);
  if (!s.ok) return s;
  if (s.value < min || s.value > max)
    return err(`must be from 0x${min.toString(16)} to 0x${max.toString(16)} bytes`);
  return s;
}
