// `cmdqv qemu fetch`, `cmdqv qemu [-- QEMU args]`, `cmdqv host` and `cmdqv qtest --vmm
// qemu`: real QEMU 11.1 (or the developer's own, --qemu PATH) on the simulated Grace host.
// The machine description is the model's (RAM size and page, seed, faults), so one
// command line means the same machine under both VMMs. Wall-clock time lives here: the
// hardware's ticker is a setInterval handed down to the session.

import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { FAULT_SITES, Faults } from "../host/faults.js";
import { PAGE_SIZES } from "../mem/types.js";
import { FetchError, fetchQemu, type QemuResolution, resolveQemu } from "../real-qemu/fetch.js";
import { buildPreload, NativeBuildError } from "../real-qemu/native-build.js";
import { LaunchError, machineArgs, qemuSize } from "../real-qemu/qemu-launch.js";
import { QtestRelay } from "../real-qemu/qtest-relay.js";
import {
  type HostAndQemu,
  type RealQemu,
  serveGraceHost,
  startRealQemu,
  type Ticker,
} from "../real-qemu/session.js";
import { VirtualClock } from "../util/clock.js";
import { type MachineFlags, machineFromFlags } from "./machine-flags.js";
import { UsageError } from "./options.js";
import { qemuTracePatterns } from "./trace-flag.js";

export interface RealQemuFlags extends MachineFlags {
  qemu?: string;
  fault?: string;
  /** --trace's values (trace-flag.ts): passed to QEMU as `-trace enable=PATTERN`. */
  trace?: readonly string[];
}

const ticker: Ticker = (ms, fn) => {
  const t = setInterval(fn, ms);
  return () => clearInterval(t);
};

/**
 * How long one qtest line may wait for QEMU's reply (qtest answers in microseconds);
 * CMDQV_QEMU_REPLY_MS overrides it (the tests use a short one).
 */
const QEMU_REPLY_MS = Number(process.env["CMDQV_QEMU_REPLY_MS"] ?? "") || 30_000;

/** Failures of the real-QEMU plumbing are the machine's, not the user's: one line, exit 69. */
class RealQemuError extends Error {}

function known<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof FetchError || e instanceof NativeBuildError || e instanceof LaunchError)
      throw new RealQemuError(e.message);
    throw e;
  }
}

export function qemuFetchCommand(): number {
  const q = known(() => fetchQemu({ progress: (l) => process.stderr.write(`${l}\n`) }));
  const mb = (q.sizeBytes / 1e6).toFixed(1);
  console.log(
    `QEMU ${q.version}${q.cached ? " (cached)" : ""}: ${q.binary}, ${mb} MB in ${q.root}`,
  );
  return 0;
}

/** `--fault SITE[:N]`: fail the Nth call at a host fault site. */
export function faultPlanOf(v: string | undefined) {
  if (v === undefined) return { kind: "none" } as const;
  // Site names have a colon of their own: a trailing ":N" is the count.
  const m = /^(.+?)(?::(\d+))?$/.exec(v);
  const site = m?.[1];
  const n = m?.[2];
  if (site === undefined || !Faults.isSite(site))
    throw new UsageError(
      `--fault: unknown fault site "${site ?? ""}" (one of: ${FAULT_SITES.join(", ")})`,
    );
  const nth = n === undefined ? 1 : Number(n);
  if (!Number.isSafeInteger(nth) || nth < 1)
    throw new UsageError(`--fault: N must be an integer ≥ 1, got "${n}"`);
  return { kind: "site", site, nth } as const;
}

/** The QEMU to run (fetched when needed) and the preload built for it. */
export function resolveRealQemu(f: RealQemuFlags): { qemu: QemuResolution; preload: string } {
  const qemu = known(() => resolveQemu(f.qemu !== undefined ? { qemu: f.qemu } : {}));
  const preload = known(() => buildPreload()).path;
  return { qemu, preload };
}

/** The simulated host and the QEMU that runs on it, as the flags describe them. */
export function hostAndQemu(f: RealQemuFlags): HostAndQemu {
  const cfg = machineFromFlags(f);
  const { qemu, preload } = resolveRealQemu(f);
  return {
    qemu,
    preload,
    clock: new VirtualClock(),
    ticker,
    ramSize: cfg.ramSize,
    ramPage: PAGE_SIZES[cfg.ramPage],
    physSid: cfg.physSid,
    seed: cfg.seed,
    faultPlan: faultPlanOf(f.fault),
    ...(cfg.hostHw !== undefined ? { hostHw: cfg.hostHw } : {}),
  };
}

async function start(
  f: RealQemuFlags,
  qtest: "stdio" | { unix: string },
  extra: string[],
  qmp = false,
): Promise<RealQemu> {
  return await startRealQemu({
    ...hostAndQemu(f),
    qtest,
    ...(f.trace !== undefined ? { trace: qemuTracePatterns(f.trace) ?? [] } : {}),
    extraArgs: extra,
    ...(qmp ? { qmp: true } : {}),
    log: (l) => process.stderr.write(`cmdqv host: ${l}\n`),
  }).catch((e: Error) => {
    throw new RealQemuError(e.message);
  });
}

/** Wait for QEMU to end (or Ctrl-C), then clean up; a QEMU that died says how, with its console. */
async function runUntilExit(rq: RealQemu, expectExit: boolean): Promise<number> {
  const stop = new Promise<"signal">((resolve) => {
    process.once("SIGINT", () => resolve("signal"));
    process.once("SIGTERM", () => resolve("signal"));
  });
  const how = await Promise.race([rq.exited, stop]);
  await rq.dispose();
  if (how === "signal") return 0;
  if (rq.qemu.disposed || (expectExit && how.code === 0)) return 0;
  console.error(`cmdqv: ${how.message}`);
  return 1;
}

export async function qemuRunCommand(f: RealQemuFlags, extra: string[]): Promise<number> {
  // A private dir for QEMU's qtest socket, removed when the session ends.
  const dir = mkdtempSync(join(tmpdir(), "cmdqv-qemu-"));
  const sock = join(dir, "qtest.sock");
  // QEMU serves qtest on the socket itself; a client may come later (wait=off).
  const rq = await start(f, { unix: `${sock},server=on,wait=off` }, extra);
  process.stderr.write(
    `cmdqv qemu: QEMU pid ${rq.qemu.pid} on the simulated Grace host; qtest at ${sock}; Ctrl-C ends\n`,
  );
  const shown = new Set<string>();
  const show = setInterval(() => {
    for (const l of rq.qemu.consoleLines())
      if (!shown.has(l)) {
        shown.add(l);
        process.stderr.write(`qemu: ${l}\n`);
      }
  }, 200);
  try {
    return await runUntilExit(rq, true);
  } finally {
    clearInterval(show);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `cmdqv host --socket PATH`: the host alone, for a QEMU the user starts. */
export async function hostCommand(f: RealQemuFlags & { socket?: string }): Promise<number> {
  const cfg = machineFromFlags(f);
  const preload = known(() => buildPreload()).path;
  const served = await serveGraceHost({
    clock: new VirtualClock(),
    ticker,
    physSid: cfg.physSid,
    ramPage: PAGE_SIZES[cfg.ramPage],
    seed: cfg.seed,
    faultPlan: faultPlanOf(f.fault),
    ...(cfg.hostHw !== undefined ? { hostHw: cfg.hostHw } : {}),
    ...(f.socket !== undefined ? { socketPath: f.socket } : {}),
    log: (l) => process.stderr.write(`cmdqv host: ${l}\n`),
  }).catch((e: Error) => {
    throw new UsageError(`--socket: ${e.message}`);
  });
  const server = served.server;
  const ram = qemuSize(cfg.ramSize);
  const args = machineArgs(
    {
      qemu: { kind: "binary", binary: "", firmware: "FIRMWARE" },
      preload,
      socketPath: server.socketPath,
      ramSize: ram,
      qtest: "stdio",
    },
    "FIRMWARE.bin",
  );
  // The signals are handled before we say where we listen: a supervisor may stop us as
  // soon as it reads it.
  const stopped = new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  console.log(`cmdqv host: the simulated Grace host listens on ${server.socketPath}`);
  console.log("Start your QEMU with:");
  console.log(
    `  LD_PRELOAD=${preload} CMDQV_SOCKET=${server.socketPath} CMDQV_IOMMUFD_FD=100 CMDQV_VFIO_FD=101 \\`,
  );
  console.log(`  qemu-system-aarch64 ${args.join(" ")}`);
  console.log(
    "(FIRMWARE.bin: any 64 KiB file for -S with qtest; UEFI for a real guest.) Ctrl-C ends.",
  );
  await stopped;
  // Closing ends a connected QEMU's session (the kernel releases what it held).
  await served.close();
  return 0;
}

/** `cmdqv qtest --vmm qemu`: the qtest protocol relayed to real QEMU, extensions answered here. */
export async function qtestQemuCommand(f: RealQemuFlags & { socket?: string }): Promise<number> {
  // The monitor serves `system_reset`, which qtest's own protocol lacks.
  const rq = await start(f, "stdio", [], true);
  const qin = rq.qemu.qtestIn!;
  // Where replies go: stdout, or the socket client connected now.
  let sink: (line: string) => void = (l) => process.stdout.write(`${l}\n`);
  // A QEMU that stops answering (wedged, or spinning) is reported, not waited on forever.
  let waiting: { line: string; since: number } | null = null;
  const relay = new QtestRelay(
    rq,
    (l) => {
      waiting = { line: l, since: Date.now() };
      qin.write(`${l}\n`);
    },
    (l) => sink(l),
  );
  if (rq.qmp !== null) relay.setMonitor(rq.qmp);
  createInterface({ input: rq.qemu.qtestOut! }).on("line", (l) => {
    if (!l.startsWith("IRQ ")) waiting = null;
    relay.fromQemu(l);
  });
  const hung = new Promise<"hung">((resolve) => {
    const t = setInterval(() => {
      if (waiting !== null && Date.now() - waiting.since > QEMU_REPLY_MS) {
        clearInterval(t);
        resolve("hung");
      }
    }, 500);
    void rq.exited.then(() => clearInterval(t));
  });
  let clientDone: Promise<"eof">;
  let server: Server | null = null;
  if (f.socket !== undefined) {
    // One client at a time, as QEMU's own `-qtest unix:PATH,server=on` serves one; the
    // session (and QEMU) lives until Ctrl-C, so clients may come and go.
    const path = f.socket;
    let busy = false;
    server = createServer((sock) => {
      if (busy) {
        sock.end("FAIL another client is connected\n");
        return;
      }
      busy = true;
      sink = (l) => {
        if (!sock.destroyed) sock.write(`${l}\n`);
      };
      const lines = createInterface({ input: sock });
      lines.on("line", (l) => relay.fromClient(l));
      sock.on("error", () => {});
      sock.on("close", () => {
        busy = false;
        sink = () => {};
      });
    });
    await new Promise<void>((resolve, reject) => {
      server!.once("error", (e) =>
        reject(new UsageError(`--socket: cannot listen on ${path} (${e.message})`)),
      );
      server!.listen(path, () => resolve());
    }).catch(async (e) => {
      await rq.dispose();
      throw e;
    });
    clientDone = new Promise((resolve) => {
      process.once("SIGINT", () => resolve("eof"));
      process.once("SIGTERM", () => resolve("eof"));
    });
    process.stderr.write(`cmdqv qtest --vmm qemu: listening on ${path}\n`);
  } else {
    const fromClient = createInterface({ input: process.stdin });
    fromClient.on("line", (l) => relay.fromClient(l));
    clientDone = new Promise((resolve) =>
      fromClient.once("close", () => void relay.drained().then(() => resolve("eof"))),
    );
  }
  const how = await Promise.race([rq.exited, clientDone, hung]);
  // The session is over whatever the client still sends: stop reading, so the process
  // can exit.
  if (f.socket === undefined) process.stdin.destroy();
  if (how === "hung") {
    const w = waiting as { line: string } | null;
    const lines = rq.qemu.consoleLines();
    console.error(
      `cmdqv: QEMU gave no reply to "${w?.line ?? "?"}" within ${QEMU_REPLY_MS / 1000} s; it was stopped` +
        (lines.length > 0 ? `; last console lines:\n${lines.map((l) => `  ${l}`).join("\n")}` : ""),
    );
    if (server !== null) await new Promise<void>((r) => server!.close(() => r()));
    await rq.dispose();
    return 1;
  }
  if (server !== null) await new Promise<void>((r) => server!.close(() => r()));
  if (how === "eof") {
    // The client is done: QEMU exits as it does when its qtest peer goes away.
    qin.end();
    await Promise.race([rq.exited, new Promise((r) => setTimeout(r, 2000))]);
  }
  await rq.dispose();
  if (how !== "eof" && !rq.qemu.disposed) {
    console.error(`cmdqv: ${how.message}`);
    return 1;
  }
  const v = relay.checker.violations();
  for (const x of v) console.error(`cmdqv: invariant ${x.invariant} violated: ${x.message}`);
  return v.length > 0 ? 1 : 0;
}

export { RealQemuError };
