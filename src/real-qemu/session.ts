// Real QEMU on the simulated Grace host, assembled in one place: the host (kernel, CMDQV
// hardware, host memory) on its own clock, the plumbing server that QEMU's preload
// connects to, the GraceHost that gives QEMU's calls their meaning, the hardware's time
// (a ticker the caller supplies, since wall-clock timers live in the CLI), and QEMU
// itself. dispose() ends QEMU, the server and the ticker, and removes every file.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FaultPlan } from "../host/faults.js";
import { createHost, type Host } from "../host/host.js";
import type { HwConfig } from "../host/hw/types.js";
import type { Tracer } from "../trace/trace.js";
import type { VirtualClock } from "../util/clock.js";
import type { QemuResolution } from "./fetch.js";
import { GraceHost } from "./grace-host.js";
import { type PlumbingServer, startPlumbingServer } from "./plumbing-server.js";
import {
  type GuestBoot,
  launchQemu,
  type QemuExitError,
  qemuSize,
  type RunningQemu,
} from "./qemu-launch.js";
import { QmpClient } from "./qmp.js";

/** Runs `fn` every `ms` of wall time until the returned function is called. */
export type Ticker = (ms: number, fn: () => void) => () => void;

/** The simulated host and the QEMU that runs on it: what every real-QEMU session needs. */
export interface HostAndQemu {
  readonly qemu: QemuResolution;
  readonly preload: string;
  readonly clock: VirtualClock;
  readonly ticker: Ticker;
  /** Guest RAM in bytes. */
  readonly ramSize: number;
  /** Host page size backing QEMU's RAM file in the model. */
  readonly ramPage: number;
  readonly physSid: number;
  readonly seed: number;
  readonly faultPlan: FaultPlan;
  readonly hostHw?: Partial<HwConfig>;
}

export interface RealQemuOptions extends HostAndQemu {
  /** The host's trace events (kernel and CMDQV hardware), as the model's host emits them. */
  readonly hostTracer?: Tracer;
  readonly qtest: "stdio" | { readonly unix: string } | "none";
  /** A real guest to boot (qemu-launch.ts); qtest is then "none". */
  readonly boot?: GuestBoot;
  readonly trace?: readonly string[];
  readonly extraArgs?: readonly string[];
  /** Every complete line QEMU prints on its console, as it arrives. */
  readonly onConsoleLine?: (line: string) => void;
  /** Also connect QEMU's monitor (QMP), for what qtest cannot do (`system_reset`). */
  readonly qmp?: boolean;
  /** The hardware's step: wall ms between ticks, virtual ns per tick. */
  readonly tickMs?: number;
  readonly tickNs?: number;
  readonly log: (line: string) => void;
}

export interface RealQemu {
  /** Which QEMU: the fetched Debian build or the developer's binary. */
  readonly resolution: QemuResolution;
  readonly host: Host;
  readonly qemu: RunningQemu;
  readonly server: PlumbingServer;
  /** QEMU's monitor, when asked for. */
  readonly qmp: QmpClient | null;
  /** The handler of the connected QEMU (null until its preload said HELLO). */
  grace(): GraceHost | null;
  /** Settles with how QEMU ended. */
  readonly exited: Promise<QemuExitError>;
  dispose(): Promise<void>;
}

export async function startRealQemu(o: RealQemuOptions): Promise<RealQemu> {
  const served = await serveGraceHost({
    clock: o.clock,
    ticker: o.ticker,
    physSid: o.physSid,
    ramPage: o.ramPage,
    seed: o.seed,
    faultPlan: o.faultPlan,
    ...(o.hostHw !== undefined ? { hostHw: o.hostHw } : {}),
    ...(o.hostTracer !== undefined ? { hostTracer: o.hostTracer } : {}),
    ...(o.tickMs !== undefined ? { tickMs: o.tickMs } : {}),
    ...(o.tickNs !== undefined ? { tickNs: o.tickNs } : {}),
    log: o.log,
    expectGuardPatched: o.qemu.kind === "fetched",
  });
  const { host, server } = served;
  // QEMU connects to the monitor's socket as a client while it starts (no polling).
  const dir = o.qmp ? mkdtempSync(join(tmpdir(), "cmdqv-qmp-")) : null;
  const monitor = dir !== null ? QmpClient.listen(join(dir, "qmp.sock")) : null;
  const dropMonitor = () => {
    monitor?.close();
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  };
  const extraArgs = [
    ...(o.extraArgs ?? []),
    ...(dir !== null ? ["-qmp", `unix:${join(dir, "qmp.sock")}`] : []),
  ];
  let qemu: RunningQemu;
  try {
    qemu = launchQemu({
      qemu: o.qemu,
      preload: o.preload,
      socketPath: server.socketPath,
      ramSize: qemuSize(o.ramSize),
      qtest: o.qtest,
      ...(o.boot ? { boot: o.boot } : {}),
      ...(o.trace ? { trace: o.trace } : {}),
      ...(extraArgs.length > 0 ? { extraArgs } : {}),
      ...(o.onConsoleLine ? { onConsoleLine: o.onConsoleLine } : {}),
    });
  } catch (e) {
    dropMonitor();
    await served.close();
    throw e;
  }
  let disposed: Promise<void> | null = null;
  const dispose = () => {
    disposed ??= (async () => {
      await qemu.dispose();
      dropMonitor();
      await served.close();
    })();
    return disposed;
  };
  let qmp: QmpClient | null = null;
  if (monitor !== null) {
    // If QEMU dies before it connects, say how it ended instead.
    const ended = qemu.exited.then((e) => {
      throw e;
    });
    try {
      qmp = await Promise.race([monitor.client, ended]);
    } catch (e) {
      await dispose();
      throw e;
    }
  }
  return {
    resolution: o.qemu,
    host,
    qemu,
    server,
    qmp,
    grace: served.grace,
    exited: qemu.exited,
    dispose,
  };
}

export interface GraceHostServerOptions {
  readonly clock: VirtualClock;
  readonly ticker: Ticker;
  readonly physSid: number;
  readonly ramPage: number;
  readonly seed: number;
  readonly faultPlan: FaultPlan;
  readonly hostHw?: Partial<HwConfig>;
  readonly hostTracer?: Tracer;
  /** Where to listen; by default a private temp dir. */
  readonly socketPath?: string;
  readonly tickMs?: number;
  readonly tickNs?: number;
  readonly log: (line: string) => void;
  /** Say so when a QEMU connects without the KVM guard patched (it will refuse accel=on). */
  readonly expectGuardPatched?: boolean;
}

export interface GraceHostServer {
  readonly host: Host;
  readonly server: PlumbingServer;
  /** The handler of the connected QEMU (null until its preload said HELLO). */
  grace(): GraceHost | null;
  /** Stop the ticker, end a connected QEMU's session, close the server, remove its files. */
  close(): Promise<void>;
}

/**
 * The simulated host served on a socket: one QEMU at a time gets a GraceHost, and the
 * hardware's time runs on the caller's ticker. `cmdqv host` is this alone; a real-QEMU
 * session adds QEMU.
 */
export async function serveGraceHost(o: GraceHostServerOptions): Promise<GraceHostServer> {
  const host = createHost({
    clock: o.clock,
    faultPlan: o.faultPlan,
    ...(o.hostHw !== undefined ? { hw: o.hostHw } : {}),
    ...(o.hostTracer !== undefined ? { tracer: o.hostTracer } : {}),
  });
  let grace: GraceHost | null = null;
  const server = await startPlumbingServer({
    log: o.log,
    ...(o.socketPath !== undefined ? { socketPath: o.socketPath } : {}),
    onHello: (hello, session) => {
      // One QEMU per host: a second connection would share one kernel's objects.
      if (grace !== null) return { errno: 16 };
      session.log(`QEMU pid ${hello.pid} connected`);
      if (!hello.guardPatched && o.expectGuardPatched)
        session.log("the preload did not patch the KVM guard; QEMU will refuse accel=on");
      grace = new GraceHost(
        { host, physSid: o.physSid, ramPage: o.ramPage, seed: o.seed },
        session,
      );
      return grace;
    },
  });
  const stopTicks = o.ticker(o.tickMs ?? 1, () => {
    grace?.tick(o.tickNs ?? 1_000_000);
  });
  let closed: Promise<void> | null = null;
  return {
    host,
    server,
    grace: () => grace,
    close() {
      closed ??= (async () => {
        stopTicks();
        await server.close();
      })();
      return closed;
    },
  };
}
