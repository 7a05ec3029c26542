// `cmdqv qtest`: QEMU's qtest text protocol over stdio (default) or a unix socket, on a
// machine with its VFIO device cold-plugged (so the CMDQV is present).

import { isatty } from "node:tty";
import { createMachine } from "../machine/machine.js";
import { MachineTarget } from "../qtest/machine-target.js";
import { serveSocket, serveStdio, serveStdioFds } from "../qtest/server.js";
import { type MachineFlags, machineFromFlags } from "./machine-flags.js";
import { UsageError } from "./options.js";

export interface QtestFlags extends MachineFlags {
  socket?: string;
}

export async function qtestCommand(f: QtestFlags): Promise<number> {
  const m = createMachine(machineFromFlags(f));
  if (!m.ok) throw new UsageError(`the machine could not be built: ${m.error}`);
  const target = new MachineTarget(m.value);
  if (f.socket) {
    const server = await serveSocket(target, f.socket).catch((e: Error) => {
      throw new UsageError(`--socket: cannot listen on ${JSON.stringify(f.socket)} (${e.message})`);
    });
    const stopped = new Promise<void>((resolve) => {
      const stop = () => server.close(() => resolve());
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    // Said once the signals are handled: a supervisor may stop us as soon as it reads it,
    // and the socket file must go then too.
    process.stderr.write(`cmdqv qtest: listening on ${f.socket}\n`);
    await stopped;
    return 0;
  }
  // A pipe or file on stdin: the blocking loop (lower latency per round trip), which moves
  // to the streams if a descriptor turns out non-blocking; a terminal: the streams. (isatty,
  // not process.stdin.isTTY: touching process.stdin would make a pipe non-blocking.)
  if (!isatty(0))
    await serveStdioFds(target, {
      inFd: 0,
      outFd: 1,
      input: () => process.stdin,
      output: () => process.stdout,
    });
  else await serveStdio(target, process.stdin, process.stdout);
  return 0;
}
