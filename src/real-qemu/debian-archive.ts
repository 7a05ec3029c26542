// Debian's archive without touching the host system: apt runs with its own sources,
// lists, cache and an EMPTY dpkg status (so a closure includes everything, libc6 too),
// downloads .debs into a work dir, and dpkg-deb unpacks them into a private root. Used
// for QEMU 11.1 (fetch.ts) and for the real guest's kernel source, busybox and UEFI
// firmware (src/real-guest).

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";

const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

export class FetchError extends Error {
  override readonly name = "FetchError";
}

export interface DebianMirror {
  readonly debian: string;
  readonly security: string;
}

export interface DownloadRequest {
  /** A scratch dir for apt's state, lists and cache (the .debs land in it). */
  readonly work: string;
  readonly mirror: DebianMirror;
  readonly suites: readonly string[];
  /** Also list `<first suite>-security` from the security mirror. */
  readonly security: boolean;
  /** The first is the native one; arm64 packages are named `pkg:arm64`. */
  readonly architectures: readonly string[];
  /** `name` or `name=version` (or `name:arch=version`). */
  readonly packages: readonly string[];
  /** true: the whole dependency closure (`install --download-only`); false: only these. */
  readonly closure: boolean;
  /** For the progress line: "qemu-system-arm … and its dependencies". */
  readonly what: string;
  readonly progress: (line: string) => void;
}

/** Downloads the packages (and their closure when asked); returns the .deb paths, sorted. */
export function downloadDebs(r: DownloadRequest): string[] {
  const state = join(r.work, "state");
  const cache = join(r.work, "cache");
  const archives = join(cache, "archives");
  for (const d of [join(state, "lists/partial"), join(archives, "partial"), join(r.work, "etc")]) {
    mkdirSync(d, { recursive: true });
  }
  const status = join(r.work, "status");
  writeFileSync(status, "");
  const signed = existsSync(KEYRING) ? ` [signed-by=${KEYRING}]` : "";
  const sources = [
    ...r.suites.map((s) => `deb${signed} ${r.mirror.debian} ${s} main`),
    ...(r.security ? [`deb${signed} ${r.mirror.security} ${r.suites[0]}-security main`] : []),
  ];
  const sourceList = join(r.work, "etc/sources.list");
  writeFileSync(sourceList, `${sources.join("\n")}\n`);
  const empty = join(r.work, "etc/empty.d");
  mkdirSync(empty, { recursive: true });
  const [native, ...foreign] = r.architectures;
  const apt = [
    `Dir::State=${state}`,
    `Dir::State::Lists=${join(state, "lists")}`,
    `Dir::State::status=${status}`,
    `Dir::Cache=${cache}`,
    `Dir::Cache::archives=${archives}`,
    `Dir::Etc::SourceList=${sourceList}`,
    `Dir::Etc::SourceParts=${empty}`,
    // The host's apt pinning is about the host's packages, not this download.
    `Dir::Etc::Preferences=${join(r.work, "etc/preferences")}`,
    `Dir::Etc::PreferencesParts=${empty}`,
    // Private state needs no lock, and an unprivileged user cannot drop to _apt.
    "Debug::NoLocking=1",
    ...(process.getuid?.() === 0 ? [] : [`APT::Sandbox::User=${userInfo().username}`]),
    "APT::Install-Recommends=false",
    "Acquire::Languages=none",
    ...(native !== undefined ? [`APT::Architecture=${native}`] : []),
    ...(foreign.length > 0 ? [native, ...foreign].map((a) => `APT::Architectures::=${a}`) : []),
  ].flatMap((o) => ["-o", o]);
  const host = new URL(r.mirror.debian).host;
  r.progress(`reading the package lists from ${host}`);
  const update = spawnSync("apt-get", ["-q", ...apt, "update"], { encoding: "utf8" });
  if (update.error) throw new FetchError("apt-get not found: fetching needs Debian's apt");
  const failed = /^(?:E:|Err:|W: Failed to fetch)/m.exec(update.stdout + update.stderr);
  if (update.status !== 0 || failed) {
    throw new FetchError(
      `cannot read the Debian archive at ${host} (${firstProblem(update.stdout + update.stderr)})`,
    );
  }
  r.progress(`downloading ${r.what}`);
  if (r.closure) {
    run("apt-get", ["-q", "-y", ...apt, "--download-only", "install", ...r.packages], {
      what: `download from ${host}`,
    });
  } else {
    // `apt-get download` writes into the current directory.
    run("apt-get", ["-q", ...apt, "download", ...r.packages], {
      what: `download from ${host}`,
      cwd: archives,
    });
  }
  return readdirSync(archives)
    .filter((f) => f.endsWith(".deb"))
    .sort()
    .map((f) => join(archives, f));
}

/** Unpacks each .deb into `root` (created if missing). */
export function unpackDebs(debs: readonly string[], root: string): void {
  mkdirSync(root, { recursive: true });
  for (const deb of debs) run("dpkg-deb", ["-x", deb, root], { what: `unpack ${deb}` });
}

export function run(
  cmd: string,
  args: readonly string[],
  o: { readonly what: string; readonly cwd?: string },
): void {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
  });
  if (r.error) throw new FetchError(`${cmd} not found (needed to ${o.what})`);
  if (r.status !== 0)
    throw new FetchError(`cannot ${o.what}: ${firstProblem(r.stderr + r.stdout)}`);
}

/** apt's first error; for a failed download, the reason on the line after `Err:`. */
export function firstProblem(output: string): string {
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

/**
 * The archive URLs this machine's apt uses (same host, so a local mirror or proxy set up
 * for apt works here too); deb.debian.org when none is found.
 */
export function mirrorFromSources(etc = "/etc/apt"): DebianMirror {
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

export function treeSize(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += treeSize(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}
