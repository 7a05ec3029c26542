// Parsing of command-line values, with errors that name the flag and the offending value.
// A bad value is a user mistake: it gets one clear line and exit status 2, never a stack.

import { Buffer } from "node:buffer";
import { mkdirSync, mkdtempSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
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

/**
 * The spellings parseSize (util/parse.ts) takes, for the error of a value it refuses: digits
 * (decimal, or hex after 0x; `_` between digits) and an optional unit, a power of 1024
 * whatever its case, which may end in iB or B.
 */
const SIZE_FORMS =
  "expected a whole number of bytes or a whole number with K, M, G or T (units of 1024; KiB or KB also; e.g. 4096, 0x40000000, 512M, 1G, 1536M)";

const SIZE_UNITS = ["", "K", "M", "G", "T"] as const;

/**
 * `1.5G` as the whole number it stands for in the largest unit that keeps it whole
 * ("1536M"), or undefined when it is no such decimal or no whole number of bytes.
 */
export function wholeSizeSpelling(v: string): string | undefined {
  const m = /^([0-9]+)\.([0-9]+)([kmgt])(?:iB|B)?$/i.exec(v.trim());
  if (!m) return undefined;
  const scale = 10n ** BigInt(m[2]!.length);
  const unit = 1024n ** BigInt(SIZE_UNITS.indexOf(m[3]!.toUpperCase() as "K"));
  const scaled = (BigInt(m[1]!) * scale + BigInt(m[2]!)) * unit;
  if (scaled === 0n || scaled % scale !== 0n) return undefined;
  const bytes = scaled / scale;
  for (let u = SIZE_UNITS.length - 1; u >= 0; u--) {
    const per = 1024n ** BigInt(u);
    if (bytes % per === 0n) return `${bytes / per}${SIZE_UNITS[u]}`;
  }
  return undefined;
}

/** A size flag, spelt as in a scenario file (util/parse.ts): "1G", "512M", "0x40000000". */
export function parseSizeFlag(flag: string, v: string, max: number): number {
  const n = parseSizeIn(v, 1, max);
  if (n.ok) return n.value;
  if (!n.error.startsWith("not a size"))
    throw new UsageError(`${flag}: ${n.error}, got ${JSON.stringify(v)}`);
  const whole = wholeSizeSpelling(v);
  const hint = whole === undefined ? "" : ` (${v.trim()} is ${whole})`;
  throw new UsageError(`${flag}: ${SIZE_FORMS}, got ${JSON.stringify(v)}${hint}`);
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

/**
 * The longest unix socket path bind() takes whole: sun_path holds 108 bytes on Linux (104
 * on the BSDs and macOS) including the NUL. A longer one is silently truncated by Node,
 * so the socket would appear under another name than the one printed and cleaned up.
 */
export const UNIX_SOCKET_PATH_MAX = (process.platform === "linux" ? 108 : 104) - 1;

/** A unix socket path to listen on: non-empty and short enough to be bound as given. */
export function checkSocketPath(flag: string, path: string): string {
  if (path === "") throw new UsageError(`${flag}: expected a socket path, got ""`);
  const bytes = Buffer.byteLength(path);
  if (bytes > UNIX_SOCKET_PATH_MAX)
    throw new UsageError(
      `${flag}: ${JSON.stringify(path)} is ${bytes} bytes; a unix socket path holds at most ${UNIX_SOCKET_PATH_MAX} (use a shorter or relative path)`,
    );
  return path;
}

/**
 * A directory the command writes into at the end (made then if missing), checked before
 * any work: it, or the nearest part of it that exists, must be a directory this process
 * may write into. Nothing is created here.
 */
export function checkOutputDir(flag: string, dir: string): string {
  if (dir === "") throw new UsageError(`${flag}: expected a directory, got ""`);
  let at = dir;
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(at).isDirectory();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const up = dirname(at);
      // Missing (or under a non-directory): look at the part above, which must take it.
      if ((code === "ENOENT" || code === "ENOTDIR") && up !== at) {
        at = up;
        continue;
      }
      throw new UsageError(`${flag}: cannot use ${JSON.stringify(dir)} (${code ?? "error"})`);
    }
    // Where it would be made, when `dir` itself is missing.
    const made = at === dir ? "" : `cannot make ${JSON.stringify(dir)}: `;
    if (!isDir) throw new UsageError(`${flag}: ${made}${JSON.stringify(at)} is not a directory`);
    // A real try, not access(2): root passes access checks on read-only mounts, and /proc
    // refuses a mkdir with ENOENT (on which Node's recursive mkdir loops forever).
    try {
      rmdirSync(mkdtempSync(join(at, ".cmdqv-out-")));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "error";
      throw new UsageError(`${flag}: ${made}cannot write into ${JSON.stringify(at)} (${code})`);
    }
    return dir;
  }
}

/**
 * `mkdir -p` one directory at a time: a directory that cannot be made fails with the
 * system's error instead of looping (Node 20's recursive mkdir spins on /proc's ENOENT).
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let at = dir; ; at = dirname(at)) {
    try {
      if (statSync(at).isDirectory()) break;
    } catch {
      // Missing: made below, after its parent.
    }
    missing.push(at);
    if (dirname(at) === at) break;
  }
  for (const d of missing.reverse()) mkdirSync(d);
}

/** Write one file of an output directory (checked by checkOutputDir), making it if missing. */
export function writeOutFile(flag: string, path: string, text: string): void {
  try {
    makeDirs(dirname(path));
    writeFileSync(path, text);
  } catch (e) {
    throw new UsageError(
      `${flag}: cannot write ${JSON.stringify(path)} (${(e as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
}

/**
 * Every option the command was given and every argument of `args` (the named ones) must
 * be non-empty: an empty file, path or name would otherwise fall back to a default in
 * silence (`run ''` ran the built-in job, `--socket ''` served stdio).
 */
export function refuseEmptyValues(
  options: readonly { long?: string | undefined; attributeName(): string }[],
  value: (key: string) => unknown,
  args: readonly { name: string; value: unknown }[],
): void {
  const empty = (v: unknown) => v === "" || (Array.isArray(v) && v.some((x) => x === ""));
  for (const o of options)
    if (empty(value(o.attributeName())))
      throw new UsageError(`${o.long ?? o.attributeName()}: expected a value, got ""`);
  for (const a of args)
    if (empty(a.value)) throw new UsageError(`${a.name}: expected a value, got ""`);
}
