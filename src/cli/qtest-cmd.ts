// `cmdqv qtest`: QEMU's qtest text protocol over stdio (default) or a unix socket, on a
// machine with its VFIO device cold-plugged (so the CMDQV is present).

import { createMachine } from "../machine/machine.js";
import { MachineTarget } from "../qtest/machine-target.js";
import { serveSocket, serveStdio, serveStdioSync } from "../qtest/server.js";
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
    process.stderr.write(`cmdqv qtest: listening on ${f.socket}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => server.close(() => resolve());
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    return 0;
  }
  // A pipe or file on stdin: the blocking loop (lower latency per round trip); a terminal
  // or a non-blocking descriptor: the stream transport.
  if (!process.stdin.isTTY && serveStdioSync(target, 0, 1)) return 0;
  await serveStdio(target, process.stdin, process.stdout);
  return 0;
}
