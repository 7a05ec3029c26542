// Real QEMU on the simulated host, driven in-process over the qtest relay: what the
// end-to-end tests and the bench use (the CLI wires the same relay to stdio or a socket).
// send() gives each line's reply; IRQ lines are kept in `irqs`.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { GuestView } from "../check/invariants.js";
import type { FaultPlan } from "../host/faults.js";
import { VirtualClock } from "../util/clock.js";
import { resolveQemu } from "./fetch.js";
import { buildPreload } from "./native-build.js";
import { QmpClient } from "./qmp.js";
import { QtestRelay } from "./qtest-relay.js";
import { type RealQemu, startRealQemu, type Ticker } from "./session.js";

export interface QtestSessionOptions {
  /** The hardware's wall-clock tick (timers are the caller's). */
  readonly ticker: Ticker;
  readonly faultPlan?: FaultPlan;
  readonly trace?: readonly string[];
  readonly qemu?: string;
  /** More QEMU arguments (e.g. `-d guest_errors,unimp`). */
  readonly extraArgs?: readonly string[];
  /** Every complete line QEMU prints on its console, as it arrives. */
  readonly onConsoleLine?: (line: string) => void;
  /** Also connect QEMU's monitor (QMP), for what qtest cannot do (`system_reset`). */
  readonly qmp?: boolean;
  /** What the client, playing the guest, saw: the relay's checker judges no-silent-hang by it. */
  readonly guest?: GuestView;
}

export interface QtestSession {
  readonly rq: RealQemu;
  readonly relay: QtestRelay;
  readonly irqs: string[];
  /** QEMU's monitor, when asked for. */
  readonly qmp: QmpClient | null;
  send(line: string): Promise<string>;
  dispose(): Promise<void>;
}

/** QEMU 11.1 (fetched, or `qemu`) with 1 GiB of RAM on 2 MiB host pages, qtest in-process. */
export async function startQtestSession(o: QtestSessionOptions): Promise<QtestSession> {
  const dir = o.qmp ? mkdtempSync(join(tmpdir(), "cmdqv-qmp-")) : null;
  const monitor = dir !== null ? QmpClient.listen(join(dir, "qmp.sock")) : null;
  const cleanup = () => {
    monitor?.close();
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  };
  const extraArgs = [
    ...(o.extraArgs ?? []),
    ...(dir !== null ? ["-qmp", `unix:${join(dir, "qmp.sock")}`] : []),
  ];
  let rq: RealQemu;
  try {
    rq = await startRealQemu({
      qemu: resolveQemu(o.qemu !== undefined ? { qemu: o.qemu } : {}),
      preload: buildPreload().path,
      clock: new VirtualClock(),
      ticker: o.ticker,
      ramSize: 0x4000_0000,
      ramPage: 0x20_0000,
      physSid: 0x100,
      seed: 1,
      faultPlan: o.faultPlan ?? { kind: "none" },
      qtest: "stdio",
      ...(o.trace ? { trace: o.trace } : {}),
      ...(extraArgs.length > 0 ? { extraArgs } : {}),
      ...(o.onConsoleLine ? { onConsoleLine: o.onConsoleLine } : {}),
      log: () => {},
    });
  } catch (e) {
    cleanup();
    throw e;
  }
  let qmp: QmpClient | null = null;
  if (monitor !== null) {
    // QEMU connects while it starts; if it dies first, say how it ended instead.
    const ended = rq.exited.then((e) => {
      throw e;
    });
    try {
      qmp = await Promise.race([monitor.client, ended]);
    } catch (e) {
      await rq.dispose();
      cleanup();
      throw e;
    }
  }
  const irqs: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  const qin = rq.qemu.qtestIn!;
  const relay = new QtestRelay(
    rq,
    (l) => qin.write(`${l}\n`),
    (l) => {
      if (l.startsWith("IRQ ")) irqs.push(l);
      else waiting.shift()?.(l);
    },
    o.guest ?? null,
  );
  createInterface({ input: rq.qemu.qtestOut! }).on("line", (l) => relay.fromQemu(l));
  return {
    rq,
    relay,
    irqs,
    qmp,
    send: (line) =>
      new Promise((resolve) => {
        waiting.push(resolve);
        relay.fromClient(line);
      }),
    dispose: async () => {
      await rq.dispose();
      cleanup();
    },
  };
}
