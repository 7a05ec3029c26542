// Fetches upstream QEMU 11.1 — the first release with the Tegra241 CMDQV device — as
// Debian builds it (qemu-system-arm in trixie-backports) into a private root, without
// touching the host system: apt runs with its own sources, lists, cache and an EMPTY dpkg
// status, so it downloads the whole dependency closure (libc6 included: the trixie build
// needs glibc >= 2.38, newer than Debian 12's), and every .deb is unpacked with dpkg-deb.
// QEMU then runs through the root's own dynamic loader (see qemu-launch.ts).
//
// Idempotent: a marker written last says the root is complete; a later call only reads it.

import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { cacheRoot } from "./native-build.js";

/** The Debian version of qemu-system-arm fetched (trixie-backports). */
export const QEMU_DEBIAN_VERSION = "1:11.1.3+ds-2~bpo13+1";
const PACKAGES = ["qemu-system-arm", "qemu-system-common", "qemu-system-data"];
const SUITES = ["trixie", "trixie-updates", "trixie-backports"];
const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
/** Debian's QEMU looks for modules here (CONFIG_QEMU_MODDIR) besides QEMU_MODULE_DIR. */
export const SYSTEM_MODULE_DIR = "/usr/lib/x86_64-linux-gnu/qemu";
const MARKER = "complete.json";
/** -bios for a CPU that never runs (-S + qtest): accel=on refuses a DT boot, needs firmware. */
const FIRMWARE_BYTES = 64 * 1024;

export class FetchError extends Error {
  override readonly name = "FetchError";
}

export interface FetchOptions {
  env?: NodeJS.ProcessEnv;
  /** Archive URLs; by default the hosts of this machine's apt sources. */
  mirror?: { readonly debian: string; readonly security: string };
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
    mkdirSync(root);
    for (const deb of debs) run("dpkg-deb", ["-x", deb, root], `unpack ${deb}`);
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
function download(
  work: string,
  mirror: { readonly debian: string; readonly security: string },
  progress: (line: string) => void,
): string[] {
  const state = join(work, "state");
  const cache = join(work, "cache");
  for (const d of [
    join(state, "lists/partial"),
    join(cache, "archives/partial"),
    join(work, "etc"),
  ]) {
    mkdirSync(d, { recursive: true });
  }
  const status = join(work, "status");
  writeFileSync(status, "");
  const signed = existsSync(KEYRING) ? ` [signed-by=${KEYRING}]` : "";
  const sources = [
    ...SUITES.map((s) => `deb${signed} ${mirror.debian} ${s} main`),
    `deb${signed} ${mirror.security} trixie-security main`,
  ];
  const sourceList = join(work, "etc/sources.list");
  writeFileSync(sourceList, `${sources.join("\n")}\n`);
  const empty = join(work, "etc/empty.d");
  mkdirSync(empty);
  const apt = [
    `Dir::State=${state}`,
    `Dir::State::Lists=${join(state, "lists")}`,
    `Dir::State::status=${status}`,
    `Dir::Cache=${cache}`,
    `Dir::Cache::archives=${join(cache, "archives")}`,
    `Dir::Etc::SourceList=${sourceList}`,
    `Dir::Etc::SourceParts=${empty}`,
    // The host's apt pinning is about the host's packages, not this closure.
    `Dir::Etc::Preferences=${join(work, "etc/preferences")}`,
    `Dir::Etc::PreferencesParts=${empty}`,
    // Private state needs no lock, and an unprivileged user cannot drop to _apt.
    "Debug::NoLocking=1",
    ...(process.getuid?.() === 0 ? [] : [`APT::Sandbox::User=${userName()}`]),
    "APT::Install-Recommends=false",
    "Acquire::Languages=none",
  ].flatMap((o) => ["-o", o]);
  const host = new URL(mirror.debian).host;
  progress(`reading the package lists from ${host}`);
  const update = spawnSync("apt-get", ["-q", ...apt, "update"], { encoding: "utf8" });
  if (update.error) throw new FetchError("apt-get not found: fetching QEMU needs Debian's apt");
  const failed = /^(?:E:|Err:|W: Failed to fetch)/m.exec(update.stdout + update.stderr);
  if (update.status !== 0 || failed) {
    throw new FetchError(
      `cannot read the Debian archive at ${host} (${firstProblem(update.stdout + update.stderr)})`,
    );
  }
  progress(`downloading qemu-system-arm ${QEMU_DEBIAN_VERSION} and its dependencies`);
  const pins = PACKAGES.map((p) => `${p}=${QEMU_DEBIAN_VERSION}`);
  run(
    "apt-get",
    ["-q", "-y", ...apt, "--download-only", "install", ...pins],
    `download from ${host}`,
  );
  const archives = join(cache, "archives");
  return readdirSync(archives)
    .filter((f) => f.endsWith(".deb"))
    .sort()
    .map((f) => join(archives, f));
}

function run(cmd: string, args: string[], what: string): void {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new FetchError(`${cmd} not found (needed to ${what})`);
  if (r.status !== 0) throw new FetchError(`cannot ${what}: ${firstProblem(r.stderr + r.stdout)}`);
}

/** apt's first error; for a failed download, the reason on the line after `Err:`. */
function firstProblem(output: string): string {
  const lines = output.split("\n");
  const at = lines.findIndex((l) => /^(?:E:|Err:)/.test(l));
  if (at < 0)
    return (
      lines
        .map((l) => l.trim())
        .filter(Boolean)
        .at(-1) ?? "no output"
    );
  const next = lines[at + 1];
  return lines[at]!.startsWith("Err:") && next?.startsWith(" ") ? next.trim() : lines[at]!.trim();
}

function userName(): string {
  return userInfo().username;
}

/**
 * The archive URLs this machine's apt uses (same host, so a local mirror or proxy set up
 * for apt works here too); deb.debian.org when none is found.
 */
export function mirrorFromSources(etc = "/etc/apt"): { debian: string; security: string } {
  const uris: string[] = [];
  const files = [join(etc, "sources.list")];
  try {
    for (const f of readdirSync(join(etc, "sources.list.d")).sort()) {
      if (f.endsWith(".list") || f.endsWith(".sources")) files.push(join(etc, "sources.list.d", f));
    }
  } catch {
    // no sources.list.d
  }
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n")) {
      const oneLine = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line);
      const deb822 = /^\s*URIs:\s*(.+)$/i.exec(line);
      if (oneLine) uris.push(oneLine[1]!);
      if (deb822) uris.push(...deb822[1]!.trim().split(/\s+/));
    }
  }
  const clean = (u: string): string => u.replace(/\/+$/, "");
  const debian = uris.map(clean).find((u) => /^https?:\/\/.+\/debian$/.test(u));
  const security = uris.map(clean).find((u) => /^https?:\/\/.+\/debian-security$/.test(u));
  return {
    debian: debian ?? "http://deb.debian.org/debian",
    security: security ?? "http://deb.debian.org/debian-security",
  };
}

function treeSize(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += treeSize(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
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
