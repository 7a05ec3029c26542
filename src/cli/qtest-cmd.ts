// `cmdqv qtest`: QEMU's qtest text protocol over stdio (default) or a unix socket, on a
// machine with its VFIO device cold-plugged (so the CMDQV is present).
//
// stderr is the VMM's console, as QEMU's: error_report/warn_report lines always, the
// qemu_log_mask lines of the `--log` items (QEMU's -d), and the `--trace` events without
// file= (QEMU's log trace backend). `--qtest-log FILE` is QEMU's -qtest-log. On a terminal
// (stdin a TTY) a banner says what this is and `help` lists the commands; on a pipe nothing
// extra is said and `help` is an unknown command, as QEMU answers it.

import type { Readable, Writable } from "node:stream";
import { isatty } from "node:tty";
import { createMachine } from "../machine/machine.js";
import { helpLines, MACHINE_EXTENSIONS } from "../qtest/help.js";
import { MachineTarget } from "../qtest/machine-target.js";
import type { QtestSessionOptions } from "../qtest/protocol.js";
import { serveSocket, serveStdio, serveStdioFds } from "../qtest/server.js";
import type { LogItem } from "../vmm/console.js";
import { parseLogItems, printConsole } from "./log-flag.js";
import { type MachineFlags, machineFromFlags } from "./machine-flags.js";
import { UsageError } from "./options.js";
import { TraceFiles } from "./output.js";
import { checkOutputFile } from "./output-files.js";
import { openQtestLog, wallSeconds } from "./qtest-log-file.js";
import { traceSpec } from "./trace-flag.js";

export interface QtestFlags extends MachineFlags {
  socket?: string;
  /** --log's items (log-flag.ts). */
  log?: string;
  /** --trace's values (trace-flag.ts). */
  trace?: readonly string[];
  /** --qtest-log's file. */
  qtestLog?: string;
}

/** Where the command meets the world: the process's by default, fakes in tests. */
export interface QtestIo {
  /** Whether descriptor `fd` is a terminal (node:tty's isatty). */
  readonly isatty: (fd: number) => boolean;
  readonly stdin: () => Readable;
  readonly stdout: () => Writable;
  readonly stderr: (text: string) => void;
  /** Serve stdio with the blocking loop on descriptors 0 and 1 (the real process only). */
  readonly fds: boolean;
  /** Seconds on a monotonic clock: the qtest log's times. */
  readonly seconds: () => number;
}

export const PROCESS_IO: QtestIo = {
  isatty,
  stdin: () => process.stdin,
  stdout: () => process.stdout,
  stderr: (text) => process.stderr.write(text),
  fds: true,
  seconds: wallSeconds,
};

/** The banner a person at a terminal sees: what this is, on which machine, how to go on. */
export function qtestBanner(m: {
  config: { profile: string; ramSize: number; vcmdqs: number };
}): string {
  const c = m.config;
  const gib = c.ramSize / 2 ** 30;
  const ram = Number.isInteger(gib) ? `${gib} GiB` : `${c.ramSize / 2 ** 20} MiB`;
  return `cmdqv qtest: QEMU's qtest protocol on the model VMM (profile ${c.profile}, ${ram} RAM, ${c.vcmdqs} VCMDQs); type 'help' for the commands, Ctrl-D to end\n`;
}

export async function qtestCommand(f: QtestFlags, io: QtestIo = PROCESS_IO): Promise<number> {
  const items: ReadonlySet<LogItem> = f.log !== undefined ? parseLogItems(f.log) : new Set();
  const spec = traceSpec(f.trace, (l) => io.stderr(`cmdqv: ${l}\n`));
  if (spec?.file !== undefined) checkOutputFile("--trace", spec.file);
  const traces = spec !== undefined ? TraceFiles.open(spec, undefined, [], io.stderr) : null;
  const qlog = openQtestLog("--qtest-log", f.qtestLog, io.seconds);
  try {
    const m = createMachine(machineFromFlags(f), traces !== null ? { trace: traces } : {});
    if (!m.ok) throw new UsageError(`the machine could not be built: ${m.error}`);
    const stopConsole = printConsole(m.value.log, items, io.stderr);
    try {
      return await serve(
        f,
        io,
        new MachineTarget(m.value),
        qlog.log === undefined ? {} : { log: qlog.log },
      );
    } finally {
      stopConsole();
    }
  } finally {
    qlog.close();
    traces?.close();
  }
}

async function serve(
  f: QtestFlags,
  io: QtestIo,
  target: MachineTarget,
  options: QtestSessionOptions,
): Promise<number> {
  if (f.socket) {
    const server = await serveSocket(target, f.socket, options).catch((e: Error) => {
      throw new UsageError(`--socket: cannot listen on ${JSON.stringify(f.socket)} (${e.message})`);
    });
    const stopped = new Promise<void>((resolve) => {
      const stop = () => server.close(() => resolve());
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    // Said once the signals are handled: a supervisor may stop us as soon as it reads it,
    // and the socket file must go then too.
    io.stderr(`cmdqv qtest: listening on ${f.socket}\n`);
    await stopped;
    return 0;
  }
  // A pipe or file on stdin: the blocking loop (lower latency per round trip), which moves
  // to the streams if a descriptor turns out non-blocking; a terminal: the streams, a
  // banner and `help`. (isatty, not process.stdin.isTTY: touching process.stdin would make
  // a pipe non-blocking.)
  if (!io.isatty(0)) {
    if (io.fds)
      await serveStdioFds(
        target,
        { inFd: 0, outFd: 1, input: io.stdin, output: io.stdout },
        options,
      );
    else await serveStdio(target, io.stdin(), io.stdout(), options);
    return 0;
  }
  io.stderr(qtestBanner(target.m));
  await serveStdio(target, io.stdin(), io.stdout(), {
    ...options,
    help: helpLines(MACHINE_EXTENSIONS),
  });
  return 0;
}
