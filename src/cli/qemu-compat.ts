// `cmdqv qtest -qtest unix:PATH -chardev socket,path=QMP,id=ID -mon chardev=ID,mode=control
// …` (and bin/cmdqv-system-aarch64, which is that command): cmdqv's machine started the way
// QEMU's qtest harness starts QEMU, so a client written for the harness drives it
// unchanged. The harness listens on both sockets and we connect to them, as QEMU does
// (server=on makes us listen instead); qtest is served on the one, QMP on the other.
//
// The process lives as QEMU's does: until QMP `quit`, SIGTERM/SIGINT/SIGHUP (the harness's
// qtest_quit sends SIGTERM and expects exit status 0), or, with `-run-with
// exit-with-parent=on`, the death of the process that started it. A qtest or QMP client
// that goes away ends nothing. At the end both sockets are flushed and closed, a socket we
// listened on is removed, and the status is 0. Wall time lives here (event timestamps, the
// parent watch, the flush bound).

import { connect, createServer, type Server, type Socket } from "node:net";
import { createMachine } from "../machine/machine.js";
import { MachineTarget } from "../qtest/machine-target.js";
import {
  type QmpMachine,
  QmpRunState,
  type QmpSession,
  serveQmpSocket,
} from "../qtest/qmp-server.js";
import { QtestLogWriter } from "../qtest/qtest-log.js";
import { serveSocket, serveStdio } from "../qtest/server.js";
import { machineFromFlags } from "./machine-flags.js";
import { UsageError } from "./options.js";
import { parseQemuArgs, type SocketEnd } from "./qemu-args.js";
import { openQtestLog, wallSeconds } from "./qtest-log-file.js";

/** The QEMU whose device model cmdqv models, as the QMP greeting and query-version say it. */
const MODELLED_QEMU = { major: 11, minor: 1, micro: 3 } as const;

/** How often the parent is looked at under exit-with-parent (ms). */
const PARENT_POLL_MS = 200;
/** How long the last replies may take to flush at the end before the sockets are cut (ms). */
const FLUSH_MS = 2000;

function wallClock(): { seconds: number; microseconds: number } {
  const ms = Date.now();
  return { seconds: Math.floor(ms / 1000), microseconds: (ms % 1000) * 1000 };
}

/** Connect to a unix socket the harness listens on (QEMU's chardev in client mode). */
function connectUnix(what: string, path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ path });
    sock.once("connect", () => {
      sock.off("error", onError);
      resolve(sock);
    });
    const onError = (e: NodeJS.ErrnoException) =>
      reject(
        new UsageError(
          `${what}: cannot connect to ${JSON.stringify(path)} (${e.code ?? e.message})`,
        ),
      );
    sock.once("error", onError);
  });
}

/** End a socket, waiting (boundedly) for what was written to leave, then close it. */
function flushAndClose(sock: Socket): Promise<void> {
  if (sock.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve();
    };
    const timer = setTimeout(done, FLUSH_MS);
    sock.once("close", done);
    sock.end(done);
  });
}

export async function qemuCompatCommand(args: readonly string[], version: string): Promise<number> {
  const inv = parseQemuArgs(args);
  const cfg = machineFromFlags(inv.flags, {
    ...(inv.ramSize !== undefined ? { ramSize: inv.ramSize } : {}),
    ...(inv.cmdqv !== undefined ? { cmdqv: inv.cmdqv } : {}),
  });
  const built = createMachine(cfg);
  if (!built.ok) throw new UsageError(`the machine could not be built: ${built.error}`);
  const target = new MachineTarget(built.value, inv.qom);
  // qemu: -qtest-log FILE, none, or (without it) stderr.
  const qlog =
    inv.qtestLog === "stderr"
      ? { log: new QtestLogWriter((t) => process.stderr.write(t), wallSeconds), close() {} }
      : openQtestLog("-qtest-log", inv.qtestLog === "none" ? "none" : inv.qtestLog.file);
  const sessionOptions = qlog.log === undefined ? {} : { log: qlog.log };

  let finish: (why: "quit" | "signal" | "parent") => void = () => {};
  const finished = new Promise<"quit" | "signal" | "parent">((resolve) => {
    finish = resolve;
  });
  const sockets = new Set<Socket>();
  const servers: Server[] = [];
  const qmpSessions = new Set<QmpSession>();
  const cleanup: (() => void)[] = [];
  /** The qtest sessions on stdio or a connected socket: they end when their input does. */
  const sessions: Promise<void>[] = [];
  const runState = new QmpRunState(inv.startPaused);

  // From the start: a harness may stop us while we connect.
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`cmdqv: terminating on signal ${signal}\n`);
    finish("signal");
  };
  for (const s of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.on(s, onSignal);
    cleanup.push(() => process.off(s, onSignal));
  }

  try {
    // qtest, then QMP: libqtest accepts them in that order.
    if (inv.qtest === "stdio") {
      sessions.push(
        serveStdio(target, process.stdin, process.stdout, sessionOptions).catch(() => {}),
      );
      cleanup.push(() => process.stdin.destroy());
    } else if (inv.qtest.server) {
      const path = inv.qtest.path;
      servers.push(
        await serveSocket(target, path, sessionOptions).catch((e: Error) => {
          throw new UsageError(`-qtest unix:${path}: cannot listen (${e.message})`);
        }),
      );
    } else {
      const sock = await connectUnix("-qtest", inv.qtest.path);
      sockets.add(sock);
      sock.on("error", () => {
        // The harness went away; "close" follows, and the machine lives on as QEMU's does.
      });
      sessions.push(
        serveStdio(target, sock, sock, sessionOptions).then(
          () => {
            sock.end();
          },
          () => {
            sock.destroy();
          },
        ),
      );
    }
    if (inv.qmp !== null) await startQmp(inv.qmp);
  } catch (e) {
    for (const s of sockets) s.destroy();
    for (const s of servers) s.close();
    for (const f of cleanup) f();
    qlog.close();
    throw e;
  }

  async function startQmp(end: SocketEnd): Promise<void> {
    const machine: QmpMachine = {
      status: () => runState.status(),
      run: (running) => runState.run(running),
      reset: () => {
        target.extension("cmdqv_reset", []);
      },
      quit: () => finish("quit"),
    };
    const options = {
      version: { ...MODELLED_QEMU, package: `cmdqv ${version}` },
      now: wallClock,
    };
    const serve = (sock: Socket): void => {
      sockets.add(sock);
      const { session, closed } = serveQmpSocket(machine, sock, options);
      qmpSessions.add(session);
      void closed.then(() => {
        qmpSessions.delete(session);
        sockets.delete(sock);
      });
    };
    if (!end.server) {
      serve(await connectUnix("-chardev", end.path));
      return;
    }
    // Listening: one monitor client at a time (a second is turned away while one is on).
    const server = createServer((sock) => serve(sock));
    server.maxConnections = 1;
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e) =>
        reject(new UsageError(`-chardev path=${end.path}: cannot listen (${e.message})`)),
      );
      server.listen(end.path, resolve);
    });
  }

  if (inv.exitWithParent) {
    const parent = process.ppid;
    const watch = setInterval(() => {
      if (process.ppid !== parent) finish("parent");
    }, PARENT_POLL_MS);
    cleanup.push(() => clearInterval(watch));
  }

  const why = await finished;
  // qemu: a signal ends the run with SHUTDOWN (reason host-signal), and exit-with-parent
  // is the parent's death delivered as a signal; quit sent its own.
  if (why !== "quit")
    for (const s of qmpSessions) s.event("SHUTDOWN", { guest: false, reason: "host-signal" });
  for (const f of cleanup) f();
  await Promise.all([...sockets].map(flushAndClose));
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  // The sessions have logged their close before the log's file is.
  await Promise.all(sessions);
  qlog.close();
  return 0;
}
