// One scalar value of a scenario file: how it is read (sizes, durations, addresses, words
// with a "did you mean" guess), how its errors are worded, and the zod field that wraps
// each parser with its JSON Schema description. schema.ts assembles these into the
// document's structure; keeping the value rules here lets that file read as the format.

import { z } from "zod";
import type { MachineConfig } from "../machine/config.js";
import { TEGRA241_CMDQV_IO_LEN } from "../regs/cmdqv.js";
import { SMMUV3_MMIO_SIZE } from "../regs/smmuv3.js";
import {
  isDecimalText,
  parseSize,
  parseSizeIn,
  parseUint,
  parseUintIn,
  uintText,
} from "../util/parse.js";
import { err, ok, type Result } from "../util/result.js";

/** A JSON Schema list of allowed values, written as `anyOf` of `const`s (same meaning as
 * the `enum` keyword). */
export function oneOfConsts(
  values: readonly (string | number | boolean)[],
): { const: string | number | boolean }[] {
  return values.map((v) => ({ const: v }));
}

/** The named windows an address can be relative to. */
export const REGIONS = ["cmdqv", "smmu", "ram"] as const;
export type Region = (typeof REGIONS)[number];

/** An absolute guest-physical address, or an offset into a named window. */
export type Address = number | { readonly region: Region; readonly offset: number };

/** Physical addresses are at most 52 bits (design: "physical addresses here are ≤ 52 bits"). */
export const ADDRESS_LIMIT = 2 ** 52;

/** Size of each named window; `ram` is the machine's RAM size (checked once it is known). */
export const REGION_SIZES: Readonly<Record<Exclude<Region, "ram">, number>> = {
  cmdqv: TEGRA241_CMDQV_IO_LEN,
  smmu: SMMUV3_MMIO_SIZE,
};

// ---- pure parsers -------------------------------------------------------------------------

/**
 * Edit distance with adjacent transpositions (optimal string alignment), for "did you
 * mean": "wirte" is one slip from "write", not two.
 */
function distance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const up = rows[i - 1]!;
      let d = Math.min(up[j]! + 1, row[j - 1]! + 1, up[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/** The closest candidate to a typo, when it is close enough to be a likely intent. */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  // A third of the word (at least 1, at most 3 edits): beyond that a guess misleads.
  const limit = Math.min(3, Math.max(1, Math.floor(input.length / 3)));
  const low = input.toLowerCase();
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    // Lengths further apart than the limit are further apart than the limit in edits: no
    // need to pay length × length for a megabyte of key.
    if (Math.abs(c.length - input.length) > limit) continue;
    const d = distance(low, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    } else if (d === bestD) best = undefined; // a tie is no guess ("qemu-v6": v5 or v7?)
  }
  return bestD <= limit ? best : undefined;
}

/** Characters of a value an error message quotes: a longer one is cut. */
export const SHOWN_CHARS = 80;

/** `s`, cut to `max` characters (never half a surrogate pair) and marked with "…". */
export function clip(s: string, max = SHOWN_CHARS): string {
  if (s.length <= max) return s;
  const c = s.charCodeAt(max - 1);
  const end = c >= 0xd800 && c <= 0xdbff ? max - 1 : max;
  return `${s.slice(0, end)}…`;
}

/**
 * Text as a JSON string, as errors show it: a value whose escaped form runs past
 * SHOWN_CHARS is cut there and says how long it was (`"aaaa…"… (3145728 characters)`).
 */
export function quoted(s: string): string {
  let out = "";
  let i = 0;
  while (i < s.length && out.length < SHOWN_CHARS) {
    const ch = String.fromCodePoint(s.codePointAt(i)!);
    out += JSON.stringify(ch).slice(1, -1);
    i += ch.length;
  }
  return i < s.length ? `"${out}"… (${s.length} characters)` : `"${out}"`;
}

/** "a, b or c". */
export function orList(xs: readonly string[]): string {
  return xs.length <= 1 ? (xs[0] ?? "") : `${xs.slice(0, -1).join(", ")} or ${xs.at(-1)}`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

const NS_PER: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
};
const DURATION_RE = /^([0-9][0-9_]*)(?:\.([0-9]+))?(ns|us|µs|ms|s)$/;

/**
 * A duration in virtual nanoseconds: `100ns`, `2us` (or `2µs`), `1.5ms`, `1s`, or a number
 * of ns. It must come to a whole number of ns (`0.5ns` is refused).
 */
export function parseDuration(v: unknown): Result<number, string> {
  const bad = "not a duration: 100ns, 2us, 1ms, 1s or a number of ns";
  let ns: bigint;
  if (typeof v === "string" && !isDecimalText(v.trim())) {
    const m = DURATION_RE.exec(v.trim());
    if (!m) return err(bad);
    const unit = NS_PER[m[3]!]!;
    const frac = m[2] ?? "";
    const scale = 10n ** BigInt(frac.length);
    const total = BigInt(m[1]!.replaceAll("_", "")) * unit * scale + BigInt(frac || "0") * unit;
    if (total % scale !== 0n) return err("not a whole number of nanoseconds");
    ns = total / scale;
  } else {
    const u = parseUint(v);
    if (!u.ok) return err(u.error === "not a number" ? bad : u.error);
    ns = u.value;
  }
  if (ns > BigInt(Number.MAX_SAFE_INTEGER)) return err("too long");
  return ok(Number(ns));
}

const REGION_RE = /^([a-z][a-z0-9_-]*)\s*(?:\+\s*(.*))?$/i;

/**
 * An address: a number below 2^52, or `<region>+<offset>` with region cmdqv (the CMDQV
 * window, 0x50000 bytes), smmu (the SMMUv3 window, 0x20000 bytes) or ram (guest RAM; the
 * offset is checked against the RAM size once the machine is known). A bare region name
 * means offset 0. Offsets take the size syntax (`ram+1M`).
 */
export function parseAddress(v: unknown): Result<Address, string> {
  if (typeof v === "string") {
    const t = v.trim();
    const m = REGION_RE.exec(t);
    if (m && !(m[2] === undefined && uintText(t) !== undefined)) {
      const name = m[1]!;
      if (!(REGIONS as readonly string[]).includes(name)) {
        // Only a word in front of "+" is a region; anything else is just not an address.
        if (m[2] === undefined && !/^[a-z]+$/i.test(name)) return err("not an address");
        const guess = closest(name, REGIONS);
        return err(
          `unknown region ${quoted(name)} (expected ${orList(REGIONS)}${guess ? `; did you mean "${guess}"?` : ""})`,
        );
      }
      const region = name as Region;
      let offset = 0;
      if (m[2] !== undefined) {
        const o = parseSize(m[2]);
        if (!o.ok) return err("not an address");
        offset = o.value;
      }
      if (region !== "ram" && offset >= REGION_SIZES[region])
        return err(
          `offset ${hex(offset)} is past the end of the ${region} window (${hex(REGION_SIZES[region])} bytes)`,
        );
      if (offset >= ADDRESS_LIMIT) return err("addresses must be below 2^52");
      return ok({ region, offset });
    }
  }
  const u = parseUint(v);
  if (!u.ok) return err(u.error === "not a number" ? "not an address" : u.error);
  if (u.value >= BigInt(ADDRESS_LIMIT)) return err("addresses must be below 2^52");
  return ok(Number(u.value));
}

/** The guest-physical address of `a` on machine `m`. */
export function resolveAddress(
  a: Address,
  m: Pick<MachineConfig, "cmdqvBase" | "smmuBase" | "ramBase">,
): number {
  if (typeof a === "number") return a;
  const base = a.region === "cmdqv" ? m.cmdqvBase : a.region === "smmu" ? m.smmuBase : m.ramBase;
  return base + a.offset;
}

/** "cmdqv+0x1000" or "0x40000000": how messages and reports print an address. */
export function formatAddress(a: Address): string {
  return typeof a === "number" ? hex(a) : `${a.region}+${hex(a.offset)}`;
}

// ---- zod building blocks ------------------------------------------------------------------

// The string side of each field for editors, spelt exactly as the parsers above read it
// (a `_` only between digits; a unit's B upper case; a duration a whole number of ns), so
// an editor accepts no spelling the loader refuses (src/scenario/json-schema.test.ts).
const DEC_SRC = "[0-9](_?[0-9])*";
const HEX_SRC = "0[xX][0-9a-fA-F](_?[0-9a-fA-F])*";
const UINT_SRC = `${HEX_SRC}|0[oO][0-7](_?[0-7])*|0[bB][01](_?[01])*|${DEC_SRC}`;
const SIZE_SRC = `(${HEX_SRC}|${DEC_SRC})([KMGTkmgt]([iI]?B)?)?`;
export const UINT_PATTERN = `^(${UINT_SRC})$`;
const SIZE_PATTERN = `^${SIZE_SRC}$`;
/** Decimals of each unit that still make whole nanoseconds (trailing zeros aside). */
const DURATION_PATTERN = `^([0-9][0-9_]*((\\.0+)?ns|(\\.[0-9]{1,3}0*)?(us|µs)|(\\.[0-9]{1,6}0*)?ms|(\\.[0-9]{1,9}0*)?s)|${DEC_SRC})$`;
const ADDRESS_PATTERN = `^((${REGIONS.join("|")})(\\s*\\+\\s*${SIZE_SRC})?|${UINT_SRC})$`;
export const RING_PATTERN = `^(auto|ram(\\s*\\+\\s*${SIZE_SRC})?|${UINT_SRC})$`;

/** The message for a required key that is absent. */
export const MISSING = "missing (required)";

/**
 * JSON Schema annotations. `inputDefault` becomes the schema's `default`: zod drops
 * `default` from a transforming schema's input side, but an editor wants to show it.
 */
export type JsonMeta = Record<string, unknown>;

/** A zod transform that runs `parse` and turns its error into the field's one issue. */
function parsedBy<V, T>(parse: (v: V) => Result<T, string>) {
  return (v: V, ctx: z.core.$RefinementCtx<V>): T => {
    const r = parse(v);
    if (!r.ok) {
      ctx.addIssue({ code: "custom", message: r.error, input: v });
      return z.NEVER;
    }
    return r.value;
  };
}

/**
 * A scalar written as a YAML number or text, normalised by `parse`. The union only
 * decides "is it a scalar at all"; `parse` owns every other message.
 */
export function scalar<T>(
  noun: string,
  parse: (v: number | string) => Result<T, string>,
  json: { readonly number?: JsonMeta; readonly string?: JsonMeta; readonly meta?: JsonMeta },
) {
  return z
    .union([z.number().meta(json.number ?? {}), z.string().meta(json.string ?? {})], {
      error: (iss) => (iss.input === undefined ? MISSING : `expected ${noun}`),
    })
    .transform(parsedBy(parse))
    .meta(json.meta ?? {});
}

/** An unsigned integer in [min, max]. */
export function uint(min: number, max: number, description: string, extra?: JsonMeta) {
  return scalar("a number", (v) => parseUintIn(v, min, max), {
    number: { type: "integer", minimum: min, maximum: max },
    string: { pattern: UINT_PATTERN },
    meta: { description, ...extra },
  });
}

/** A 64-bit register value (exact, as bigint). */
export function u64(description: string) {
  return scalar(
    "a number",
    (v) => {
      const u = parseUint(v);
      if (!u.ok) return u;
      return u.value > 0xffff_ffff_ffff_ffffn ? err("does not fit in 64 bits") : ok(u.value);
    },
    {
      number: { type: "integer", minimum: 0 },
      string: { pattern: UINT_PATTERN },
      meta: { description },
    },
  );
}

export function size(description: string, min: number, max: number) {
  return scalar("a size", (v) => parseSizeIn(v, min, max), {
    number: { type: "integer", minimum: min, maximum: max },
    string: { pattern: SIZE_PATTERN },
    meta: { description },
  });
}

export function duration(description: string, max: number) {
  return scalar(
    "a duration",
    (v) => {
      const d = parseDuration(v);
      if (!d.ok) return d;
      return d.value > max ? err(`must be at most ${max} ns`) : d;
    },
    {
      number: { type: "integer", minimum: 0, maximum: max },
      string: { pattern: DURATION_PATTERN },
      meta: { description },
    },
  );
}

export function address(description: string) {
  return scalar("an address", parseAddress, {
    number: { type: "integer", minimum: 0, maximum: ADDRESS_LIMIT - 1 },
    string: { pattern: ADDRESS_PATTERN },
    meta: { description },
  });
}

/** One of a few words. Booleans map to `booleans` (YAML 1.1 files read `on` as true). */
export function choice<const T extends string>(
  values: readonly T[],
  description: string,
  opts: {
    readonly booleans?: { readonly true: T; readonly false: T };
    /** Instead of listing every value (for long lists): "unknown fault site". */
    readonly unknown?: string;
    readonly hint?: string;
  } = {},
) {
  const { booleans } = opts;
  const parse = (v: unknown): Result<T, string> => {
    if (typeof v === "boolean" && booleans) return ok(v ? booleans.true : booleans.false);
    if (typeof v === "string" && (values as readonly string[]).includes(v)) return ok(v as T);
    const guess = typeof v === "string" ? closest(v, values) : undefined;
    const what = opts.unknown ?? `expected ${orList(values.map((x) => JSON.stringify(x)))}`;
    const hint = opts.hint ? `, ${opts.hint}` : "";
    return err(`${what}${hint}${guess ? `; did you mean "${guess}"?` : ""}`);
  };
  return z
    .union([z.string(), z.number(), z.boolean()], {
      error: (iss) => {
        if (iss.input === undefined) return MISSING;
        const r = parse(iss.input);
        return r.ok ? undefined : r.error;
      },
    })
    .transform(parsedBy(parse))
    .meta({ description, anyOf: oneOfConsts(booleans ? [...values, true, false] : [...values]) });
}

/** Text lines to look for: a list, or one text for a single line. */
export function lines(description: string) {
  return z
    .union(
      [
        z.string(),
        z.array(
          z.string({ error: (iss) => (iss.input === undefined ? MISSING : "expected text") }),
        ),
      ],
      { error: (iss) => (iss.input === undefined ? MISSING : "expected text or a list of text") },
    )
    .transform((v): readonly string[] => (typeof v === "string" ? [v] : v))
    .meta({ description });
}
