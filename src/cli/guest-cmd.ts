// `cmdqv guest fetch` and `cmdqv qemu --guest linux`: a real Linux kernel's own
// tegra241-cmdqv driver on real QEMU 11.1 on the simulated Grace host. Wall-clock time
// (the build's duration, the settle after a guest marker, the run's deadline) lives here.

import { type FetchedGuest, fetchGuest } from "../real-guest/guest-fetch.js";
import { type GuestRunResult, runRealGuest } from "../real-guest/guest-run.js";
import { formatGuestSummary } from "../real-guest/summary.js";
import { FetchError } from "../real-qemu/debian-archive.js";
import { UsageError } from "./options.js";
import { hostAndQemu, RealQemuError, type RealQemuFlags } from "./qemu-cmd.js";
import { qemuTracePatterns } from "./trace-flag.js";

export const GUEST_KINDS = ["linux"] as const;
/** --ram-page under --guest: QEMU's memfd RAM backend's page. */
export const GUEST_RAM_PAGE = "4K";

export interface GuestFlags extends RealQemuFlags {
  guest?: string;
  switches?: string;
  benchSeconds?: string;
  timeout?: string;
  append?: string;
  json?: boolean;
  console?: boolean;
}

const progress = (l: string) => process.stderr.write(`cmdqv guest: ${l}\n`);

async function fetched(): Promise<FetchedGuest> {
  try {
    return await fetchGuest({ progress, now: Date.now });
  } catch (e) {
    if (e instanceof FetchError) throw new RealQemuError(e.message);
    throw e;
  }
}

export async function guestFetchCommand(): Promise<number> {
  const g = await fetched();
  const build = g.kernelBuild.cached
    ? `cached; built in ${g.kernelBuild.seconds} s with ${g.kernelBuild.jobs} jobs`
    : `built in ${g.kernelBuild.seconds} s with ${g.kernelBuild.jobs} jobs`;
  console.log(`Linux ${g.linuxVersion}: ${g.kernel} (${build})`);
  console.log(`initramfs: ${g.initrd}`);
  console.log(`UEFI firmware: ${g.firmware}`);
  return 0;
}

function count(flag: string, v: string | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) > max)
    throw new UsageError(`${flag}: expected an integer from 0 to ${max}, got "${v}"`);
  return Number(v);
}

export async function guestRunCommand(f: GuestFlags, extra: string[]): Promise<number> {
  if (f.guest !== "linux")
    throw new UsageError(`--guest: unknown guest "${f.guest}" (one of: ${GUEST_KINDS.join(", ")})`);
  if (extra.length > 0)
    throw new UsageError(
      `--guest linux builds QEMU's command line itself; extra QEMU arguments are not taken (got "${extra[0]}")`,
    );
  const switches = count("--switches", f.switches, 4, 10_000);
  const benchSeconds = count("--bench-seconds", f.benchSeconds, 2, 300);
  const timeoutS = count("--timeout", f.timeout, 600, 86_400);
  if (timeoutS < 1) throw new UsageError(`--timeout: at least 1 second, got "${f.timeout}"`);
  if (f.append !== undefined && /[\n\0]/.test(f.append))
    throw new UsageError("--append: one line of kernel parameters");
  // QEMU's guest RAM is a memfd of 4 KiB pages (no hugetlb), whose size QEMU's CMDQS clamp
  // reads: the same machine on the host's side is 4 KiB-paged unless the user says otherwise.
  const host = hostAndQemu({ ...f, ramPage: f.ramPage ?? GUEST_RAM_PAGE });
  const qemu = host.qemu;
  const guest = await fetched();
  const echo = f.console !== false && f.json !== true;
  process.stderr.write(
    `cmdqv qemu --guest linux: Linux ${guest.linuxVersion} on ${
      qemu.kind === "fetched" ? `QEMU ${qemu.version}` : qemu.binary
    } (TCG, UEFI) on the simulated Grace host; deadline ${timeoutS} s\n`,
  );
  const timers: NodeJS.Timeout[] = [];
  let stopDeadline = () => {};
  const deadline = new Promise<void>((resolve) => {
    const t = setTimeout(resolve, timeoutS * 1000);
    stopDeadline = () => clearTimeout(t);
  });
  let wasInterrupted = false;
  const interrupted = new Promise<void>((resolve) => {
    const stop = () => {
      wasInterrupted = true;
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  let result: GuestRunResult;
  const started = Date.now();
  try {
    result = await runRealGuest({
      ...host,
      guest,
      switches,
      benchSeconds,
      ...(f.trace !== undefined ? { trace: qemuTracePatterns(f.trace) ?? [] } : {}),
      ...(f.append !== undefined ? { append: f.append } : {}),
      ...(echo ? { onSerialLine: (l: string) => process.stdout.write(`${l}\n`) } : {}),
      onQemuLine: (l) => {
        if (f.json !== true) process.stderr.write(`qemu: ${l}\n`);
      },
      settle: () =>
        new Promise((resolve) => {
          timers.push(setTimeout(resolve, 100));
        }),
      deadline: Promise.race([deadline, interrupted]),
      log: (l) => {
        if (f.json !== true) process.stderr.write(`cmdqv host: ${l}\n`);
      },
    });
  } catch (e) {
    throw new RealQemuError((e as Error).message);
  } finally {
    stopDeadline();
    for (const t of timers) clearTimeout(t);
  }
  const wallSeconds = (Date.now() - started) / 1000;
  if (f.json === true) {
    process.stdout.write(
      `${JSON.stringify({ ...result, wallSeconds, linux: guest.linuxVersion }, jsonBigInt)}\n`,
    );
  } else {
    process.stdout.write(
      formatGuestSummary(result, { wallSeconds, timeoutS, interrupted: wasInterrupted }),
    );
  }
  return guestPassed(result) ? 0 : 1;
}

const jsonBigInt = (_: string, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v);

/** The run passed: /init said done with status 0, QEMU exited cleanly, nothing violated. */
export function guestPassed(r: GuestRunResult): boolean {
  return (
    r.outcome === "done" && r.guestStatus === 0 && r.qemuExit === null && r.violations.length === 0
  );
}
