// Builds native/cmdqv-preload.c with the system C compiler on first use. The library is
// cached under $XDG_CACHE_HOME/cmdqv/native/<hash of the source>/, so an edited source
// gets a fresh build and an unchanged one is reused. The build goes to a temporary name
// and is renamed into place, so a concurrent or interrupted build never leaves a torn .so.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const PRELOAD_SOURCE = fileURLToPath(
  new URL("../../native/cmdqv-preload.c", import.meta.url),
);
const LIB_NAME = "libcmdqv-preload.so";
/**
 * No _FORTIFY_SOURCE: its inline wrappers of read/pread would clash with the definitions
 * the library interposes (some distributions' compilers turn it on by default).
 */
const FLAGS = ["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-U_FORTIFY_SOURCE"];
const LIBS = ["-ldl", "-lpthread"];

export class NativeBuildError extends Error {
  override readonly name = "NativeBuildError";
}

/** $XDG_CACHE_HOME/cmdqv (default ~/.cache/cmdqv). */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env["XDG_CACHE_HOME"];
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), ".cache"), "cmdqv");
}

export interface NativeBuild {
  readonly path: string;
  /** False when this call compiled it. */
  readonly cached: boolean;
  readonly compiler: string | null;
}

/** The preload library, compiled now if this source has no cached build. */
export function buildPreload(opts: { env?: NodeJS.ProcessEnv; source?: string } = {}): NativeBuild {
  const source = opts.source ?? PRELOAD_SOURCE;
  let text: Buffer;
  try {
    text = readFileSync(source);
  } catch {
    throw new NativeBuildError(`preload source not found: ${source}`);
  }
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 16);
  const dir = join(cacheRoot(opts.env), "native", hash);
  const path = join(dir, LIB_NAME);
  if (existsSync(path)) return { path, cached: true, compiler: null };
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${LIB_NAME}.${process.pid}.tmp`);
  const failures: string[] = [];
  for (const cc of ["cc", "gcc"]) {
    const r = spawnSync(cc, [...FLAGS, "-o", tmp, source, ...LIBS], { encoding: "utf8" });
    if (r.error) {
      failures.push(`${cc}: not found`);
      continue;
    }
    if (r.status !== 0) {
      rmSync(tmp, { force: true });
      const first = r.stderr.split("\n").find((l) => l.includes("error")) ?? r.stderr.trim();
      throw new NativeBuildError(`${cc} failed to build ${source}: ${first}`);
    }
    renameSync(tmp, path);
    return { path, cached: false, compiler: cc };
  }
  throw new NativeBuildError(
    `no C compiler to build the QEMU preload library (${failures.join(", ")}); install gcc`,
  );
}
