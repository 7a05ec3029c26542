import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type DebianMirror,
  downloadDebs,
  FetchError,
  mirrorFromSources,
  treeSize,
  unpackDebs,
} from "./debian-archive.js";
import { cacheRoot } from "./native-build.js";

/** The Debian version of qemu-system-arm fetched (trixie-backports). */
export const QEMU_DEBIAN_VERSION = "1:11.1.3+ds-2~bpo13+1";
const PACKAGES = ["qemu-system-arm", "qemu-system-common", "qemu-system-data"];
const SUITES = ["trixie", "trixie-updates", "trixie-backports"];
/** Debian's QEMU looks for modules here (CONFIG_QEMU_MODDIR) besides QEMU_MODULE_DIR. */
export const SYSTEM_MODULE_DIR = "/usr/lib/x86_64-linux-gnu/qemu";
const MARKER = "complete.json";
/** -bios for a CPU that never runs (-S + qtest): accel=on refuses a DT boot, needs firmware. */
const FIRMWARE_BYTES = 64 * 1024;

export { FetchError };

export interface FetchOptions {
  env?: NodeJS.ProcessEnv;
  /** Archive URLs; by default the hosts of this machine's apt sources. */
  mirror?: DebianMirror;
  /** Progress lines (e.g. "downloading 90 packages"). */
  progress?: (line: string) => void;
}

export interface FetchedQemu {
  readonly version: string;
  /** The private root: usr/bin/qemu-system-aarch64, its libraries and loader. */
  readonly root: string;
  readonly binary: string;
  readonly firmware: string;
  readonly sizeBytes: number;
  /** True when an earlier call had fetched it. */
  readonly cached: boolean;
}

function versionDir(env: NodeJS.ProcessEnv | undefined): string {
  // The epoch ("1:") is not part of any file name Debian uses either.
  return join(cacheRoot(env), "qemu-11.1", QEMU_DEBIAN_VERSION.replace(/^\d+:/, ""));
}

function layout(base: string, sizeBytes: number, cached: boolean): FetchedQemu {
  const root = join(base, "root");
  return {
    version: QEMU_DEBIAN_VERSION,
    root,
    binary: join(root, "usr/bin/qemu-system-aarch64"),
    firmware: join(base, "firmware-zero.bin"),
    sizeBytes,
    cached,
  };
}

/** The fetched QEMU if a complete one is cached, else null (nothing is downloaded). */
export function cachedQemu(opts: { env?: NodeJS.ProcessEnv } = {}): FetchedQemu | null {
  const base = versionDir(opts.env);
  try {
    const m = JSON.parse(readFileSync(join(base, MARKER), "utf8")) as { sizeBytes?: unknown };
    const size = typeof m.sizeBytes === "number" ? m.sizeBytes : 0;
    const q = layout(base, size, true);
    return existsSync(q.binary) && existsSync(q.firmware) ? q : null;
  } catch {
    return null;
  }
}

/** Fetches QEMU 11.1 into the cache, or returns the cached one. */
export function fetchQemu(opts: FetchOptions = {}): FetchedQemu {
  const done = cachedQemu(opts.env ? { env: opts.env } : {});
  if (done) return done;
  const progress = opts.progress ?? (() => {});
  const base = versionDir(opts.env);
  const work = join(base, `.work-${process.pid}`);
  rmSync(join(base, "root"), { recursive: true, force: true }); // an interrupted earlier try
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const mirror = opts.mirror ?? mirrorFromSources();
    const debs = download(work, mirror, progress);
    progress(`unpacking ${debs.length} packages`);
    const root = join(work, "root");
    unpackDebs(debs, root);
    const q = layout(base, 0, false);
    if (!existsSync(join(root, "usr/bin/qemu-system-aarch64"))) {
      throw new FetchError("the unpacked packages hold no usr/bin/qemu-system-aarch64");
    }
    renameSync(root, q.root);
    writeFileSync(q.firmware, new Uint8Array(FIRMWARE_BYTES));
    const sizeBytes = treeSize(q.root);
    writeFileSync(join(base, MARKER), `${JSON.stringify({ version: q.version, sizeBytes })}\n`);
    return { ...q, sizeBytes };
  } finally {
    rmSync(work, { recursive: true, force: true }); // apt lists and .debs: ~50 MB not kept
  }
}

/** Downloads the closure of PACKAGES at QEMU_DEBIAN_VERSION; returns the .deb paths. */
function download(work: string, mirror: DebianMirror, progress: (line: string) => void): string[] {
  return downloadDebs({
    work,
    mirror,
    suites: SUITES,
    security: true,
    architectures: ["amd64"],
    packages: PACKAGES.map((p) => `${p}=${QEMU_DEBIAN_VERSION}`),
    closure: true,
    what: `qemu-system-arm ${QEMU_DEBIAN_VERSION} and its dependencies`,
    progress,
  });
}

/** How to run QEMU: the fetched private root, or a binary the user built. */
export type QemuResolution =
  | {
      readonly kind: "fetched";
      readonly version: string;
      readonly root: string;
      /** The root's ld.so, which runs the binary with the root's glibc. */
      readonly loader: string;
      readonly libraryPath: string;
      readonly binary: string;
      /** -L: firmware, keymaps, … */
      readonly dataDir: string;
      /** QEMU_MODULE_DIR; the system's module dir is bind-mounted over with it. */
      readonly moduleDir: string;
      readonly firmware: string;
    }
  | { readonly kind: "binary"; readonly binary: string; readonly firmware: string };

/**
 * `--qemu PATH` (a developer's own build, run directly) or else the fetched QEMU 11.1
 * (fetched now when not cached).
 */
export function resolveQemu(opts: { qemu?: string } & FetchOptions = {}): QemuResolution {
  if (opts.qemu !== undefined) {
    if (!existsSync(opts.qemu)) throw new FetchError(`no QEMU binary at ${opts.qemu}`);
    return { kind: "binary", binary: opts.qemu, firmware: ensureFirmware(opts.env) };
  }
  const q = fetchQemu(opts);
  const lib = join(q.root, "usr/lib/x86_64-linux-gnu");
  return {
    kind: "fetched",
    version: q.version,
    root: q.root,
    loader: join(lib, "ld-linux-x86-64.so.2"),
    libraryPath: `${lib}:${join(q.root, "lib/x86_64-linux-gnu")}`,
    binary: q.binary,
    dataDir: join(q.root, "usr/share/qemu"),
    moduleDir: join(lib, "qemu"),
    firmware: q.firmware,
  };
}

/** The dummy firmware alone (for a user-given QEMU, which needs no fetch). */
function ensureFirmware(env: NodeJS.ProcessEnv | undefined): string {
  const path = join(cacheRoot(env), "firmware-zero.bin");
  if (!existsSync(path)) {
    mkdirSync(cacheRoot(env), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, new Uint8Array(FIRMWARE_BYTES));
    renameSync(tmp, path);
  }
  return path;
}
