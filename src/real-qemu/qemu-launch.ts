// Starts real QEMU on the simulated host: the command line that realizes an accelerated
// SMMUv3 with CMDQV behind a VFIO device on iommufd (both given as fd=N, so QEMU opens no
// /dev node and reads no sysfs), the preload library that forwards those fds to the
// plumbing server, and — for the fetched Debian build — the private root's loader.
//
// The child gets its own process group, killed whole on dispose (and if Node exits first);
// its console (stderr, and stdout unless qtest uses it) is kept as a bounded ring of last
// lines, so an exit or crash is reported in one line plus what QEMU last said.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { type QemuResolution, SYSTEM_MODULE_DIR } from "./fetch.js";

export interface LaunchOptions {
  readonly qemu: QemuResolution;
  /** libcmdqv-preload.so (native-build.ts). */
  readonly preload: string;
  /** The plumbing server's socket. */
  readonly socketPath: string;
  /** QEMU size syntax; default "1G". */
  readonly ramSize?: string;
  /**
   * `stdio`: the qtest protocol on the child's stdin/stdout; `unix`: QEMU connects to PATH;
   * `none`: no qtest (a booting guest).
   */
  readonly qtest: "stdio" | { readonly unix: string } | "none";
  /**
   * `qtest` (default): QEMU's clock moves only by the client's clock_step/clock_set, which
   * qtest accepts only under this accelerator; `tcg` runs guest code (a real guest boot).
   */
  readonly accel?: "qtest" | "tcg";
  /**
   * A real guest: UEFI firmware loads the kernel QEMU hands it over fw_cfg (ACPI, which the
   * guest needs to find the CMDQV, comes only with firmware), the vCPU runs under TCG from
   * the start, and the guest's serial port is QEMU's stdout (qtest must be `none`).
   */
  readonly boot?: GuestBoot;
  /** Trace event patterns (`-trace enable=…`), e.g. "tegra241_cmdqv*"; output goes to the console. */
  readonly trace?: readonly string[];
  readonly extraArgs?: readonly string[];
  /** The fd numbers given as fd=; the preload opens /dev/null there. Default 100 and 101. */
  readonly iommufdFd?: number;
  readonly vfioFd?: number;
  /** Default true; false for a QEMU built without the KVM guard. */
  readonly patchKvmGuard?: boolean;
  /** Console lines kept; default 40. */
  readonly consoleLines?: number;
  /** Every complete console line as it arrives (the differential compares them all). */
  readonly onConsoleLine?: (line: string) => void;
}

export interface GuestBoot {
  /** UEFI for the virt machine (Debian's qemu-efi-aarch64 QEMU_EFI.fd). */
  readonly firmware: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly append: string;
  /** Every complete line the guest prints on its serial port. */
  readonly onSerialLine?: (line: string) => void;
}

export class LaunchError extends Error {
  override readonly name = "LaunchError";
}

/** How QEMU ended, with what it last printed. */
export class QemuExitError extends Error {
  override readonly name = "QemuExitError";
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly consoleLines: readonly string[];

  constructor(
    headline: string,
    code: number | null,
    signal: NodeJS.Signals | null,
    lines: readonly string[],
  ) {
    const tail =
      lines.length > 0
        ? `; last console lines:\n${lines.map((l) => `  ${l}`).join("\n")}`
        : "; it printed nothing";
    super(`${headline}${tail}`);
    this.code = code;
    this.signal = signal;
    this.consoleLines = lines;
  }
}

export interface QemuCommand {
  readonly file: string;
  readonly args: readonly string[];
  /** Added to the caller's environment. */
  readonly env: Readonly<Record<string, string>>;
  /** How the system's module dir is hidden: not at all, or with `unshare` flags. */
  readonly namespace: null | readonly string[];
}

/** Bytes in QEMU's size syntax for -m and the RAM backend (whole MiB, rounded up). */
export function qemuSize(bytes: number): string {
  return `${Math.ceil(bytes / 0x10_0000)}M`;
}

const DEFAULT_IOMMUFD_FD = 100;
const DEFAULT_VFIO_FD = 101;

/** The machine: fact-checked against QEMU 11.1's hw/arm (see docs/real-qemu.md). */
export function machineArgs(o: LaunchOptions, firmware: string): string[] {
  const ram = o.ramSize ?? "1G";
  const b = o.boot;
  // pauth-impdef: TCG's architected pointer-authentication hash costs a guest kernel
  // several times its boot time; the implementation-defined one is cheap (QEMU's docs).
  const cpu = b ? "max,pauth-impdef=on" : "max";
  const qtest =
    o.qtest === "none" ? [] : ["-qtest", o.qtest === "stdio" ? "stdio" : `unix:${o.qtest.unix}`];
  return [
    ...["-machine", "virt,gic-version=3", "-accel", b ? "tcg" : (o.accel ?? "qtest")],
    ...["-cpu", cpu, "-m", ram],
    ...["-bios", b ? b.firmware : firmware, "-nodefaults", "-display", "none"],
    ...(b
      ? ["-kernel", b.kernel, "-initrd", b.initrd, "-append", b.append, "-serial", "stdio"]
      : ["-S"]),
    // Guest RAM in a memfd that QEMU maps for the host (IOMMU_IOAS_MAP_FILE).
    ...["-object", `memory-backend-memfd,id=mem0,size=${ram},share=on`],
    ...["-machine", "memory-backend=mem0"],
    ...["-object", `iommufd,id=iommufd0,fd=${o.iommufdFd ?? DEFAULT_IOMMUFD_FD}`],
    ...["-device", "pxb-pcie,id=pcie.1,bus_nr=1,bus=pcie.0"],
    ...["-device", "arm-smmuv3,primary-bus=pcie.1,id=smmuv3.1,accel=on,cmdqv=on"],
    ...["-device", "pcie-root-port,id=pcie.port1,bus=pcie.1,chassis=1"],
    ...[
      "-device",
      `vfio-pci,fd=${o.vfioFd ?? DEFAULT_VFIO_FD},id=vfio0,bus=pcie.port1,iommufd=iommufd0`,
    ],
    ...(qtest.length > 0 ? [...qtest, "-qtest-log", "none"] : []),
    ...(o.trace ?? []).flatMap((t) => ["-trace", `enable=${t}`]),
    ...(o.extraArgs ?? []),
  ];
}

/** Which `unshare` flags give a private mount namespace here (null: none works). */
let namespaceProbe: readonly string[] | null | undefined;
function privateMountNamespace(): readonly string[] | null {
  if (namespaceProbe !== undefined) return namespaceProbe;
  // Root can make a mount namespace directly; others (and root without CAP_SYS_ADMIN) need
  // a user namespace first.
  const candidates = process.getuid?.() === 0 ? [["-m"], ["-rm"]] : [["-rm"]];
  namespaceProbe = null;
  for (const flags of candidates) {
    const r = spawnSync("unshare", [...flags, "--propagation", "private", "true"]);
    if (r.status === 0) {
      namespaceProbe = flags;
      break;
    }
  }
  return namespaceProbe;
}

/** The full command: wrapper, loader, preload, QEMU and its arguments. */
export function qemuCommand(o: LaunchOptions): QemuCommand {
  const q = o.qemu;
  const env: Record<string, string> = {
    CMDQV_SOCKET: o.socketPath,
    CMDQV_IOMMUFD_FD: String(o.iommufdFd ?? DEFAULT_IOMMUFD_FD),
    CMDQV_VFIO_FD: String(o.vfioFd ?? DEFAULT_VFIO_FD),
    CMDQV_PATCH_KVM_GUARD: o.patchKvmGuard === false ? "0" : "1",
    // QEMU runs in its own session (so that dispose reaches its group), out of reach of a
    // terminal's Ctrl-C; the preload makes it die with this process instead.
    CMDQV_PARENT_PID: String(process.pid),
  };
  const args = machineArgs(o, q.firmware);
  if (q.kind === "binary") {
    const prior = process.env["LD_PRELOAD"];
    env["LD_PRELOAD"] = prior ? `${o.preload}:${prior}` : o.preload;
    return { file: q.binary, args, env, namespace: null };
  }
  env["QEMU_MODULE_DIR"] = q.moduleDir;
  // ld.so --preload, unlike LD_PRELOAD, is not inherited by anything QEMU would spawn.
  const direct = [
    q.loader,
    ...["--library-path", q.libraryPath, "--preload", o.preload],
    q.binary,
    ...["-L", q.dataDir],
    ...args,
  ];
  // QEMU also loads modules from its compiled-in dir; where Debian's own QEMU put modules
  // there, a mix of builds aborts in module.c, so that dir is covered by the root's.
  if (!existsSync(SYSTEM_MODULE_DIR)) {
    return { file: direct[0]!, args: direct.slice(1), env, namespace: null };
  }
  const flags = privateMountNamespace();
  if (flags === null) {
    throw new LaunchError(
      `Debian's QEMU modules in ${SYSTEM_MODULE_DIR} clash with QEMU 11.1's and no private ` +
        "mount namespace can hide them here (unshare -m / -rm failed); run as root, allow " +
        "unprivileged user namespaces, or give --qemu PATH",
    );
  }
  const script = 'mount --bind "$1" "$2" && shift 2 && exec "$@"';
  return {
    file: "unshare",
    args: [
      ...flags,
      ...["--propagation", "private", "sh", "-c", script, "sh"],
      ...[q.moduleDir, SYSTEM_MODULE_DIR],
      ...direct,
    ],
    env,
    namespace: flags,
  };
}

/** A ring of the last lines of a stream (each cut at 500 characters). */
class ConsoleRing {
  private readonly lines: string[] = [];
  private partial = "";
  private readonly keep: number;
  private readonly onLine: ((line: string) => void) | undefined;

  constructor(keep: number, onLine?: (line: string) => void) {
    this.keep = keep;
    this.onLine = onLine;
  }
  feed(text: string): void {
    const parts = (this.partial + text).split("\n");
    this.partial = (parts.pop() ?? "").slice(0, 500);
    for (const p of parts) this.push(p);
  }
  private push(line: string): void {
    const clean = line.replace(/\r$/, "").slice(0, 500);
    if (clean.length === 0) return;
    this.onLine?.(clean);
    this.lines.push(clean);
    if (this.lines.length > this.keep) this.lines.shift();
  }
  snapshot(): string[] {
    return this.partial ? [...this.lines, this.partial].slice(-this.keep) : [...this.lines];
  }
}

export interface RunningQemu {
  readonly pid: number;
  readonly command: QemuCommand;
  /** The qtest stream when qtest is "stdio", else null. */
  readonly qtestIn: Writable | null;
  readonly qtestOut: Readable | null;
  consoleLines(): string[];
  /** Settles when QEMU has exited (or could not start), with what happened; never rejects. */
  readonly exited: Promise<QemuExitError>;
  /** True once dispose() was called: an exit after it is expected. */
  readonly disposed: boolean;
  /** Kills QEMU's whole process group and waits for it. */
  dispose(): Promise<void>;
}

export function launchQemu(o: LaunchOptions): RunningQemu {
  const command = qemuCommand(o);
  const ring = new ConsoleRing(o.consoleLines ?? 40, o.onConsoleLine);
  const stdio = o.qtest === "stdio";
  let child: ChildProcess;
  try {
    child = spawn(command.file, command.args, {
      env: { ...process.env, ...command.env },
      stdio: [stdio ? "pipe" : "ignore", "pipe", "pipe"],
      detached: true, // its own process group, so dispose reaches anything it started
    });
  } catch (e) {
    throw new LaunchError(`cannot start QEMU (${command.file}): ${(e as Error).message}`);
  }
  child.stderr!.setEncoding("utf8").on("data", (t: string) => ring.feed(t));
  if (o.boot) {
    // The guest's serial port: its own lines, apart from QEMU's console.
    const serial = new ConsoleRing(o.consoleLines ?? 40, o.boot.onSerialLine);
    child.stdout!.setEncoding("utf8").on("data", (t: string) => serial.feed(t));
  } else if (!stdio) child.stdout!.setEncoding("utf8").on("data", (t: string) => ring.feed(t));
  const pid = child.pid ?? -1;
  const killGroup = (): void => {
    try {
      if (pid > 0) process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  process.on("exit", killGroup);
  let disposed = false;
  const exited = new Promise<QemuExitError>((resolve) => {
    child.once("error", (e) => {
      process.off("exit", killGroup);
      resolve(
        new QemuExitError(
          `QEMU failed to start (${command.file}): ${e.message}`,
          null,
          null,
          ring.snapshot(),
        ),
      );
    });
    // "close", not "exit": the console pipes are drained by then.
    child.once("close", (code, signal) => {
      process.off("exit", killGroup);
      const how = signal !== null ? `was killed by ${signal}` : `exited with status ${code ?? "?"}`;
      resolve(new QemuExitError(`QEMU ${how}`, code, signal, ring.snapshot()));
    });
  });
  return {
    pid,
    command,
    qtestIn: stdio ? child.stdin : null,
    qtestOut: stdio ? child.stdout : null,
    consoleLines: () => ring.snapshot(),
    exited,
    get disposed() {
      return disposed;
    },
    async dispose() {
      disposed = true;
      // The whole group, even after QEMU itself exited: nothing it started may outlive it.
      killGroup();
      child.stdin?.destroy();
      await exited;
    },
  };
}
