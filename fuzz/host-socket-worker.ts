// The server side of the host-socket fuzzer, on its own thread: one `serveGraceHost` per
// fuzz input, with a VirtualClock and a ticker that runs only when the fuzzer says so.
// A thread of its own lets the fuzzer see what an in-process server cannot report: an
// event loop that never comes back (a hang) is a ping left unanswered, and a throw that
// escapes the server (or a heap that runs out) ends this thread, which the fuzzer sees as
// the worker's `error` event instead of dying with it.

import { parentPort } from "node:worker_threads";
import type { FaultPlan } from "../src/host/faults.js";
import { type GraceHostServer, serveGraceHost } from "../src/real-qemu/session.js";
import { VirtualClock } from "../src/util/clock.js";

export type ServerCommand =
  | {
      readonly id: number;
      readonly op: "start";
      readonly ramPage: number;
      readonly seed: number;
      readonly faultPlan: FaultPlan;
    }
  | { readonly id: number; readonly op: "tick"; readonly count: number }
  | { readonly id: number; readonly op: "ping" }
  /** Whether the server has accepted a QEMU (a GraceHost exists). */
  | { readonly id: number; readonly op: "state" }
  | { readonly id: number; readonly op: "close" };

/** What the server left behind once closed. */
export interface ServerReport {
  /** Every line the server logged. */
  readonly logs: readonly string[];
  /** A QEMU was accepted (a GraceHost was made). */
  readonly accepted: boolean;
  /** The GraceHost's end reason (null: its session never ended). */
  readonly ended: string | null;
  /** The kernel's release ran (every reference to the iommufd file was dropped). */
  readonly released: boolean;
  /** Objects the release could not free, and objects still published. */
  readonly leaked: number;
  readonly live: number;
  /** vEVENT bytes the host wrote to QEMU's pipes (how far the hardware's error path ran). */
  readonly eventBytes: number;
}

export type ServerAnswer =
  | { readonly id: number; readonly socketPath: string }
  | { readonly id: number; readonly report: ServerReport }
  | { readonly id: number; readonly error: string }
  | { readonly id: number; readonly accepted: boolean }
  | { readonly id: number };

const port = parentPort;
if (port === null) throw new Error("host-socket-worker runs as a worker thread");

let served: GraceHostServer | null = null;
let tick: (() => void) | null = null;
let logs: string[] = [];

async function handle(c: ServerCommand): Promise<ServerAnswer> {
  switch (c.op) {
    case "start": {
      if (served !== null) return { id: c.id, error: "a server is already running" };
      logs = [];
      tick = null;
      served = await serveGraceHost({
        clock: new VirtualClock(),
        // The hardware's time moves only on the fuzzer's "tick" commands.
        ticker: (_ms, fn) => {
          tick = fn;
          return () => {
            tick = null;
          };
        },
        physSid: 0x100,
        ramPage: c.ramPage,
        seed: c.seed,
        faultPlan: c.faultPlan,
        log: (line) => {
          if (logs.length < 10_000) logs.push(line);
        },
      });
      return { id: c.id, socketPath: served.server.socketPath };
    }
    case "tick": {
      try {
        for (let n = 0; n < c.count; n++) tick?.();
      } catch (e) {
        return { id: c.id, error: `tick threw: ${(e as Error).stack ?? String(e)}` };
      }
      return { id: c.id };
    }
    case "ping":
      return { id: c.id };
    case "state":
      return { id: c.id, accepted: served?.grace() != null };
    case "close": {
      const s = served;
      if (s === null) return { id: c.id, error: "no server" };
      served = null;
      await s.close();
      const grace = s.grace();
      const k = s.host.iommufd;
      const release = k.log.entries().find((e) => e.call === "release");
      const leakedList = (release?.result as { leaked?: unknown[] } | undefined)?.leaked;
      return {
        id: c.id,
        report: {
          logs,
          accepted: grace !== null,
          ended: grace?.endReason ?? null,
          released: k.isReleased,
          leaked: Array.isArray(leakedList) ? leakedList.length : 0,
          live: s.host.liveObjects().length,
          eventBytes: grace?.eventBytesDelivered() ?? 0,
        },
      };
    }
  }
}

port.on("message", (c: ServerCommand) => {
  // A rejection here is a bug that escaped the server: let it end the thread.
  void handle(c).then((a) => port.postMessage(a));
});
