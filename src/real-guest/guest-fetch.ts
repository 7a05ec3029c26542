// `cmdqv guest fetch`: a real arm64 Linux guest whose own arm-smmu-v3 and tegra241-cmdqv
// drivers drive the simulated CMDQV. Debian's arm64 kernels leave TEGRA241_CMDQV out, so
// the kernel is built here from Debian's linux-source package with the configuration in
// guest-linux/kernel.config, by the cross compiler (gcc-aarch64-linux-gnu, the one thing
// installed into the system). Busybox and the UEFI firmware come from Debian's archive too,
// into a private root, as QEMU does (debian-archive.ts).
//
// Cache layout under $XDG_CACHE_HOME/cmdqv/guest-linux/<linux version>/:
//   root/                     the unpacked .debs (source tarball, busybox, firmware)
//   kernel-<config hash>/     Image and build.json (seconds, jobs) once a build completed
//   initramfs-<hash>.cpio     busybox, /init, dma-bench (hash of all three)
// Each is written under a temporary name and renamed into place, so an interrupted fetch
// never leaves a torn file; the kernel's source and object trees are removed afterwards.

import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type DebianMirror,
  downloadDebs,
  FetchError,
  mirrorFromSources,
  run,
  unpackDebs,
} from "../real-qemu/debian-archive.js";
import { cacheRoot } from "../real-qemu/native-build.js";
import { cpioNewc } from "./cpio.js";

/** Debian's kernel source: the newest with the tegra241-cmdqv guest driver (trixie-backports). */
export const LINUX_SOURCE = { name: "linux-source-7.3", version: "7.3.4-1~bpo13+1" } as const;
const BUSYBOX = { name: "busybox-static:arm64", version: "1:1.37.0-6+b9" } as const;
const FIRMWARE = { name: "qemu-efi-aarch64", version: "2025.02-8+deb13u1" } as const;
const SUITES = ["trixie", "trixie-backports"];
const CROSS = "aarch64-linux-gnu-";
const MARKER = "complete.json";

const repoFile = (name: string): string =>
  fileURLToPath(new URL(`../../guest-linux/${name}`, import.meta.url));
export const GUEST_FILES = {
  config: repoFile("kernel.config"),
  init: repoFile("init.sh"),
  dmaBench: repoFile("dma-bench.c"),
} as const;

export interface GuestFetchOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly mirror?: DebianMirror;
  /** Progress lines ("building the kernel: 812 files compiled, 3m10s"). */
  readonly progress?: (line: string) => void;
  /** make -j; default: the machine's CPUs. */
  readonly jobs?: number;
  /** Wall-clock milliseconds, for the build time (the CLI's clock; src/ keeps none). */
  readonly now: () => number;
}

export interface FetchedGuest {
  readonly linuxVersion: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly firmware: string;
  /** The kernel build's wall time, when this machine built it (null: fetched from cache). */
  readonly kernelBuild: {
    readonly seconds: number;
    readonly jobs: number;
    readonly cached: boolean;
  };
}

const sha = (...parts: (string | Uint8Array)[]): string => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex").slice(0, 16);
};

function baseDir(env: NodeJS.ProcessEnv | undefined): string {
  return join(cacheRoot(env), "guest-linux", LINUX_SOURCE.version);
}

/** What building needs besides the archive; a missing tool is named with its package. */
export function missingTools(): string[] {
  const tools: [string, string][] = [
    [`${CROSS}gcc`, "gcc-aarch64-linux-gnu"],
    ["make", "make"],
    ["flex", "flex"],
    ["bison", "bison"],
    ["bc", "bc"],
    ["xz", "xz-utils"],
    ["gcc", "gcc"],
  ];
  const missing: string[] = [];
  for (const [tool, pkg] of tools) {
    if (spawnSync(tool, ["--version"]).error) missing.push(pkg);
  }
  return missing;
}

/** The fetched guest if everything is cached for the repo's current files, else null. */
export function cachedGuest(opts: { env?: NodeJS.ProcessEnv } = {}): FetchedGuest | null {
  const base = baseDir(opts.env);
  const kdir = join(base, `kernel-${configHash()}`);
  const built = readBuildRecord(kdir);
  const initrd = join(base, `initramfs-${initramfsHash()}.cpio`);
  const firmware = firmwarePath(base);
  if (built === null || !existsSync(initrd) || !existsSync(firmware)) return null;
  return {
    linuxVersion: LINUX_SOURCE.version,
    kernel: join(kdir, "Image"),
    initrd,
    firmware,
    kernelBuild: { ...built, cached: true },
  };
}

function readBuildRecord(kdir: string): { seconds: number; jobs: number } | null {
  try {
    const r = JSON.parse(readFileSync(join(kdir, "build.json"), "utf8")) as {
      seconds?: unknown;
      jobs?: unknown;
    };
    if (!existsSync(join(kdir, "Image"))) return null;
    return {
      seconds: typeof r.seconds === "number" ? r.seconds : 0,
      jobs: typeof r.jobs === "number" ? r.jobs : 0,
    };
  } catch {
    return null;
  }
}

const configHash = (): string => sha(readFileSync(GUEST_FILES.config));
const initramfsHash = (): string =>
  sha(BUSYBOX.version, readFileSync(GUEST_FILES.init), readFileSync(GUEST_FILES.dmaBench));
const firmwarePath = (base: string): string =>
  join(base, "root/usr/share/qemu-efi-aarch64/QEMU_EFI.fd");

/** Downloads, builds and packs what is not cached yet; returns the guest's files. */
export async function fetchGuest(opts: GuestFetchOptions): Promise<FetchedGuest> {
  const done = cachedGuest(opts.env ? { env: opts.env } : {});
  if (done) return done;
  const progress = opts.progress ?? (() => {});
  const missing = missingTools();
  if (missing.length > 0)
    throw new FetchError(
      `building the guest needs ${missing.join(", ")}: apt-get install --no-install-recommends ${missing.join(" ")}`,
    );
  const base = baseDir(opts.env);
  mkdirSync(base, { recursive: true });
  removeAbandonedWork(base);
  const root = ensureRoot(base, opts.mirror ?? mirrorFromSources(), progress);
  const kdir = join(base, `kernel-${configHash()}`);
  let build = readBuildRecord(kdir);
  let cached = true;
  if (build === null) {
    build = await buildKernel(
      base,
      root,
      kdir,
      opts.jobs ?? availableParallelism(),
      opts.now,
      progress,
    );
    cached = false;
  }
  const initrd = join(base, `initramfs-${initramfsHash()}.cpio`);
  if (!existsSync(initrd)) packInitramfs(base, root, initrd, progress);
  return {
    linuxVersion: LINUX_SOURCE.version,
    kernel: join(kdir, "Image"),
    initrd,
    firmware: firmwarePath(base),
    kernelBuild: { ...build, cached },
  };
}

/**
 * Work dirs of a fetch that was killed (Ctrl-C during the kernel build leaves a gigabyte of
 * source and objects): each is named after its process, and removed once that one is gone.
 */
function removeAbandonedWork(base: string): void {
  for (const name of readdirSync(base)) {
    const m = /^\.(?:work|build|initramfs)-(\d+)$/.exec(name);
    if (m === null || alive(Number(m[1]))) continue;
    rmSync(join(base, name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The unpacked .debs, downloaded now unless a complete root is there. */
function ensureRoot(base: string, mirror: DebianMirror, progress: (l: string) => void): string {
  const root = join(base, "root");
  if (existsSync(join(base, MARKER)) && existsSync(root)) return root;
  const work = join(base, `.work-${process.pid}`);
  rmSync(root, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const debs = downloadDebs({
      work,
      mirror,
      suites: SUITES,
      security: false,
      architectures: ["amd64", "arm64"],
      packages: [LINUX_SOURCE, BUSYBOX, FIRMWARE].map((p) => `${p.name}=${p.version}`),
      closure: false,
      what: `${LINUX_SOURCE.name} ${LINUX_SOURCE.version} (about 170 MB), busybox-static (arm64) and qemu-efi-aarch64`,
      progress,
    });
    progress(`unpacking ${debs.length} packages`);
    const fresh = join(work, "root");
    unpackDebs(debs, fresh);
    if (!existsSync(firmwarePath(work)))
      throw new FetchError("qemu-efi-aarch64 holds no QEMU_EFI.fd");
    renameSync(fresh, root);
    writeFileSync(join(base, MARKER), `${JSON.stringify({ linux: LINUX_SOURCE.version })}\n`);
    return root;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The options the fragment asks for, as `CONFIG_X=value` lines. */
export function fragmentLines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith("#"));
}

/** Fragment lines that `make olddefconfig` did not keep (a dependency it could not meet). */
export function droppedOptions(fragment: readonly string[], config: string): string[] {
  const have = new Set(config.split("\n").map((l) => l.trim()));
  return fragment.filter((l) => !have.has(l));
}

async function buildKernel(
  base: string,
  root: string,
  kdir: string,
  jobs: number,
  now: () => number,
  progress: (l: string) => void,
): Promise<{ seconds: number; jobs: number }> {
  const work = join(base, `.build-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const started = now();
  try {
    progress(`unpacking the kernel source (${LINUX_SOURCE.name})`);
    run("tar", ["-xJf", join(root, `usr/src/${LINUX_SOURCE.name}.tar.xz`), "-C", work], {
      what: "unpack the kernel source",
    });
    const src = join(work, LINUX_SOURCE.name);
    const out = join(work, "out");
    const env = { ...process.env, ARCH: "arm64", CROSS_COMPILE: CROSS };
    const make = (args: string[], what: string) => {
      const r = spawnSync("make", ["-s", "-C", src, `O=${out}`, ...args], {
        env,
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
      });
      if (r.error || r.status !== 0)
        throw new FetchError(`cannot ${what}: ${lastLines(`${r.stderr ?? ""}${r.stdout ?? ""}`)}`);
    };
    make(["allnoconfig"], "configure the kernel (allnoconfig)");
    const fragment = fragmentLines(readFileSync(GUEST_FILES.config, "utf8"));
    const configPath = join(out, ".config");
    writeFileSync(configPath, `${readFileSync(configPath, "utf8")}\n${fragment.join("\n")}\n`);
    make(["olddefconfig"], "configure the kernel (olddefconfig)");
    const dropped = droppedOptions(fragment, readFileSync(configPath, "utf8"));
    if (dropped.length > 0)
      throw new FetchError(
        `${GUEST_FILES.config}: Linux ${LINUX_SOURCE.version} did not keep ${dropped.join(", ")} (a dependency is missing from the file)`,
      );
    progress(`building the kernel: make -j${jobs} Image (about 10 minutes on 2 cores)`);
    await makeImage(src, out, env, jobs, () => now() - started, progress);
    const seconds = Math.round((now() - started) / 100) / 10;
    const tmp = `${kdir}.${process.pid}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    renameSync(join(out, "arch/arm64/boot/Image"), join(tmp, "Image"));
    writeFileSync(join(tmp, "config"), readFileSync(configPath));
    writeFileSync(join(tmp, "build.json"), `${JSON.stringify({ seconds, jobs })}\n`);
    rmSync(kdir, { recursive: true, force: true });
    renameSync(tmp, kdir);
    progress(`built the kernel in ${seconds} s with ${jobs} jobs`);
    return { seconds, jobs };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** make Image, counting the files compiled for the progress line. */
function makeImage(
  src: string,
  out: string,
  env: NodeJS.ProcessEnv,
  jobs: number,
  elapsedMs: () => number,
  progress: (l: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("make", ["-C", src, `O=${out}`, `-j${jobs}`, "Image"], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let compiled = 0;
    let tail = "";
    let lastReport = 0;
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      for (const m of t.matchAll(/^\s+CC\s/gm)) if (m) compiled++;
      const ms = elapsedMs();
      if (ms - lastReport >= 15_000) {
        lastReport = ms;
        const s = Math.round(ms / 1000);
        progress(
          `building the kernel: ${compiled} files compiled, ${Math.floor(s / 60)}m${s % 60}s`,
        );
      }
    });
    child.stderr.setEncoding("utf8").on("data", (t: string) => {
      tail = (tail + t).slice(-4000);
    });
    child.once("error", (e) => reject(new FetchError(`cannot run make: ${e.message}`)));
    child.once("close", (code) => {
      if (code === 0) resolve();
      else
        reject(new FetchError(`the kernel build failed (make exited ${code}): ${lastLines(tail)}`));
    });
  });
}

function lastLines(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const errors = lines.filter((l) => /error/i.test(l));
  return (errors.length > 0 ? errors : lines).slice(-3).join(" | ") || "no output";
}

/** busybox, /init and dma-bench as a newc archive the kernel unpacks into its rootfs. */
function packInitramfs(base: string, root: string, path: string, progress: (l: string) => void) {
  progress("building the initramfs (busybox, /init, dma-bench)");
  const work = join(base, `.initramfs-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const bench = join(work, "dma-bench");
    run(
      `${CROSS}gcc`,
      [
        ...["-nostdlib", "-static", "-ffreestanding", "-fno-stack-protector"],
        ...["-O2", "-Wall", "-Wextra", "-o", bench, GUEST_FILES.dmaBench],
      ],
      { what: `compile ${GUEST_FILES.dmaBench}` },
    );
    const busybox = readFileSync(join(root, "usr/bin/busybox"));
    const archive = cpioNewc([
      ...["bin", "dev", "proc", "sys", "tmp"].map((p) => ({ kind: "dir", path: p }) as const),
      // The kernel opens /dev/console for init's stdio before anything is mounted.
      { kind: "char", path: "dev/console", major: 5, minor: 1 },
      { kind: "file", path: "bin/busybox", data: busybox, perm: 0o755 },
      { kind: "file", path: "bin/dma-bench", data: readFileSync(bench), perm: 0o755 },
      { kind: "file", path: "init", data: readFileSync(GUEST_FILES.init), perm: 0o755 },
    ]);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, archive);
    renameSync(tmp, path);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
