// Real QEMU on the simulated host, driven in-process over the qtest relay: what the
// end-to-end tests and the bench use (the CLI wires the same relay to stdio or a socket).
// send() gives each line's reply; IRQ lines are kept in `irqs`.

import { createInterface } from "node:readline";
import type { GuestView } from "../check/invariants.js";
import type { FaultPlan } from "../host/faults.js";
import { StreamingTracer, type TraceSink } from "../trace/trace.js";
import { VirtualClock } from "../util/clock.js";
import { resolveQemu } from "./fetch.js";
import { buildPreload } from "./native-build.js";
import type { QmpClient } from "./qmp.js";
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
  /** The host's trace events (kernel and CMDQV hardware) as they happen, on the host's clock. */
  readonly hostTrace?: TraceSink;
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
  const clock = new VirtualClock();
  const rq = await startRealQemu({
    qemu: resolveQemu(o.qemu !== undefined ? { qemu: o.qemu } : {}),
    preload: buildPreload().path,
    clock,
    ...(o.hostTrace !== undefined ? { hostTracer: new StreamingTracer(clock, o.hostTrace) } : {}),
    ticker: o.ticker,
    ramSize: 0x4000_0000,
    ramPage: 0x20_0000,
    physSid: 0x100,
    seed: 1,
    faultPlan: o.faultPlan ?? { kind: "none" },
    qtest: "stdio",
    ...(o.trace ? { trace: o.trace } : {}),
    ...(o.extraArgs ? { extraArgs: o.extraArgs } : {}),
    ...(o.qmp ? { qmp: true } : {}),
    ...(o.onConsoleLine ? { onConsoleLine: o.onConsoleLine } : {}),
    log: () => {},
  });
  const qmp = rq.qmp;
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
  if (qmp !== null) relay.setMonitor(qmp);
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
    dispose: () => rq.dispose(),
  };
}
