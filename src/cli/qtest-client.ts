// A small qtest client: drives QEMU (`qemu-system-aarch64 … -qtest stdio`) or our own
// `cmdqv qtest` over a child's stdio, or a qtest server over a unix socket. Requests are
// pipelined; replies are matched first-in first-out, as libqtest does.
//
// What counts as protocol (QEMU 7.2 softmmu/qtest.c, facts only): replies start with
// `OK`, `FAIL` (also a bare `FAIL`, from module_load) or `ERR` (`ERR invalid argument
// size` from write/b64write); `IRQ raise N` / `IRQ lower N` arrive asynchronously, before
// the reply of the command that caused them. QEMU writes its qtest log (`[R +…]`,
// `[S +…]`) to stderr unless -qtest-log says otherwise, and its warnings to stderr, so
// stdout normally holds only protocol; any other line is kept apart in `noise()`.

import { Buffer } from "node:buffer";
import { type ChildProcess, spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import type { Readable, Writable } from "node:stream";

/** One asynchronous `IRQ raise|lower N` line; `afterReplies` counts replies received before it. */
export interface IrqEvent {
  readonly line: number;
  readonly level: boolean;
  readonly afterReplies: number;
}

/** A command answered with something other than OK, or a connection that went away. */
export class QtestError extends Error {
  /** The command line sent. */
  readonly command: string;
  /** The reply line, or null when there was none (closed connection, bad request). */
  readonly reply: string | null;

  constructor(message: string, command: string, reply: string | null) {
    super(message);
    this.name = "QtestError";
    this.command = command;
    this.reply = reply;
  }
}

export interface QtestSpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * How long `close()` waits for the process to exit after closing its stdin before it
   * sends SIGTERM (default 500 ms). QEMU keeps running when its qtest stdin closes
   * (checked with 7.2 and -S), so it is always terminated; libqtest sends SIGTERM too.
   */
  graceMs?: number;
}

type Address = number | bigint;

interface Pending {
  readonly command: string;
  readonly resolve: (line: string) => void;
  readonly reject: (error: Error) => void;
}

const STDERR_KEEP = 64 * 1024;
const REPLY = /^(?:OK|FAIL|ERR)(?: |$)/;
const IRQ = /^IRQ (raise|lower) (\d+)$/;

function hex(v: Address): string {
  return `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
}

function waitFor(done: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    done.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export class QtestClient {
  private readonly output: Writable;
  private readonly child: ChildProcess | null;
  private readonly socket: Socket | null;
  private readonly graceMs: number;
  private readonly ended: Promise<void>;
  private readonly pending: Pending[] = [];
  private readonly events: IrqEvent[] = [];
  private readonly levels = new Map<number, boolean>();
  private readonly junk: string[] = [];
  private partial = "";
  /**
   * Request lines not yet written: the lines sent in one synchronous run (a pipelined
   * batch) go out in one write at the end of it, not one write (one syscall) each.
   */
  private outgoing = "";
  private replies = 0;
  private closedReason: string | null = null;
  private stderrText = "";

  private constructor(
    input: Readable,
    output: Writable,
    child: ChildProcess | null,
    socket: Socket | null,
    graceMs: number,
  ) {
    this.output = output;
    this.child = child;
    this.socket = socket;
    this.graceMs = graceMs;
    input.setEncoding("latin1");
    input.on("data", (chunk: string) => this.onData(chunk));
    output.on("error", () => {
      // The peer went away; the input side's end/close reports it.
    });
    this.ended = new Promise<void>((resolve) => {
      const done = (reason: string): void => {
        this.terminate(reason);
        resolve();
      };
      if (child !== null) {
        child.on("error", (e) => done(`cannot run the qtest process: ${e.message}`));
        child.on("close", (code, signal) =>
          done(`the qtest process exited (${signal ?? `code ${code}`})`),
        );
      } else {
        input.on("error", (e) => done(`connection error: ${e.message}`));
        input.on("close", () => done("the qtest connection closed"));
      }
    });
  }

  /** Start `cmd args…` and speak qtest over its stdin/stdout (stderr is collected). */
  static spawn(cmd: string, args: readonly string[], options: QtestSpawnOptions = {}): QtestClient {
    const child = spawn(cmd, args, {
      stdio: ["pipe", "pipe", "pipe"],
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.env !== undefined ? { env: options.env } : {}),
    });
    const client = new QtestClient(child.stdout, child.stdin, child, null, options.graceMs ?? 500);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      client.stderrText = (client.stderrText + chunk).slice(-STDERR_KEEP);
    });
    return client;
  }

  /** Connect to a qtest server listening on unix socket `path`. */
  static connect(path: string): Promise<QtestClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new QtestClient(socket, socket, null, socket, 0));
      });
    });
  }

  /** Send one raw line; resolves with the reply line (OK, FAIL or ERR alike). */
  command(line: string): Promise<string> {
    if (/[\r\n]/.test(line)) {
      return Promise.reject(new QtestError("a qtest command is a single line", line, null));
    }
    if (this.closedReason !== null) {
      return Promise.reject(new QtestError(this.closedReason, line, null));
    }
    return new Promise<string>((resolve, reject) => {
      this.pending.push({ command: line, resolve, reject });
      if (this.outgoing === "") queueMicrotask(this.flush);
      this.outgoing += `${line}\n`;
    });
  }

  /** Write the request lines queued since the last flush, in one write. */
  private readonly flush = (): void => {
    if (this.outgoing === "") return;
    const text = this.outgoing;
    this.outgoing = "";
    this.output.write(text, "latin1");
  };

  /** `endianness` → "little" or "big". */
  async endianness(): Promise<string> {
    return this.ok("endianness");
  }

  async readb(addr: Address): Promise<number> {
    return Number(await this.readN("readb", addr));
  }
  async readw(addr: Address): Promise<number> {
    return Number(await this.readN("readw", addr));
  }
  async readl(addr: Address): Promise<number> {
    return Number(await this.readN("readl", addr));
  }
  async readq(addr: Address): Promise<bigint> {
    return this.readN("readq", addr);
  }

  async writeb(addr: Address, value: number | bigint): Promise<void> {
    await this.ok(`writeb ${hex(addr)} ${hex(value)}`);
  }
  async writew(addr: Address, value: number | bigint): Promise<void> {
    await this.ok(`writew ${hex(addr)} ${hex(value)}`);
  }
  async writel(addr: Address, value: number | bigint): Promise<void> {
    await this.ok(`writel ${hex(addr)} ${hex(value)}`);
  }
  async writeq(addr: Address, value: number | bigint): Promise<void> {
    await this.ok(`writeq ${hex(addr)} ${hex(value)}`);
  }

  /** `read ADDR SIZE`; an empty read is answered locally (QEMU asserts on SIZE 0). */
  async memread(addr: Address, len: number): Promise<Uint8Array> {
    if (len === 0) return new Uint8Array(0);
    const command = `read ${hex(addr)} ${hex(len)}`;
    const payload = await this.ok(command);
    if (!/^0x[0-9a-f]*$/.test(payload) || payload.length !== 2 + 2 * len) {
      throw new QtestError(`unexpected reply to ${command}`, command, `OK ${payload}`);
    }
    return new Uint8Array(Buffer.from(payload.slice(2), "hex"));
  }

  /** `write ADDR SIZE 0x…`; an empty write is skipped (QEMU answers ERR to a short DATA). */
  async memwrite(addr: Address, data: Uint8Array): Promise<void> {
    if (data.length === 0) return;
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.length).toString("hex");
    await this.ok(`write ${hex(addr)} ${hex(data.length)} 0x${bytes}`);
  }

  /** `b64read ADDR SIZE`. */
  async b64read(addr: Address, len: number): Promise<Uint8Array> {
    const payload = await this.ok(`b64read ${hex(addr)} ${hex(len)}`);
    return new Uint8Array(Buffer.from(payload, "base64"));
  }

  /** `b64write ADDR SIZE B64`; an empty write is skipped (QEMU answers ERR to a short DATA). */
  async b64write(addr: Address, data: Uint8Array): Promise<void> {
    if (data.length === 0) return;
    const b64 = Buffer.from(data.buffer, data.byteOffset, data.length).toString("base64");
    await this.ok(`b64write ${hex(addr)} ${hex(data.length)} ${b64}`);
  }

  /** `memset ADDR SIZE VALUE` (the low byte of `value`). */
  async memset(addr: Address, len: number, value: number): Promise<void> {
    await this.ok(`memset ${hex(addr)} ${hex(len)} ${hex(value & 0xff)}`);
  }

  /** `clock_step [NS]` → the new virtual time in ns. */
  async clockStep(ns?: number | bigint): Promise<number> {
    const payload = await this.ok(ns === undefined ? "clock_step" : `clock_step ${BigInt(ns)}`);
    return Number(payload);
  }

  /** `clock_set NS` → the new virtual time in ns. */
  async clockSet(ns: number | bigint): Promise<number> {
    return Number(await this.ok(`clock_set ${BigInt(ns)}`));
  }

  async irqInterceptIn(path: string): Promise<void> {
    await this.ok(`irq_intercept_in ${path}`);
  }
  async irqInterceptOut(path: string): Promise<void> {
    await this.ok(`irq_intercept_out ${path}`);
  }

  /** `set_irq_in PATH NAME NUM LEVEL` (NAME "unnamed-gpio-in" for the unnamed list). */
  async setIrqIn(path: string, name: string, line: number, level: number): Promise<void> {
    await this.ok(`set_irq_in ${path} ${name} ${line} ${level}`);
  }

  /** Every IRQ line received so far, in order. */
  irqEvents(): readonly IrqEvent[] {
    return [...this.events];
  }

  clearIrqEvents(): void {
    this.events.length = 0;
  }

  /** The level last reported for `line` (false before any report, as QEMU's irq_levels). */
  irqLevel(line: number): boolean {
    return this.levels.get(line) ?? false;
  }

  /** Lines that were neither replies nor IRQ lines (or replies nobody waited for). */
  noise(): readonly string[] {
    return [...this.junk];
  }

  /** The last 64 KiB a spawned process wrote to stderr. */
  stderr(): string {
    return this.stderrText;
  }

  /**
   * End the session: close the request stream; a spawned process gets `graceMs` to exit,
   * then SIGTERM, then SIGKILL after 2 s. Pending requests are rejected.
   */
  async close(): Promise<void> {
    this.flush();
    if (this.socket !== null) {
      this.socket.end();
      if (!(await waitFor(this.ended, 2000))) this.socket.destroy();
    }
    const child = this.child;
    if (child !== null) {
      child.stdin?.end();
      if (!(await waitFor(this.ended, this.graceMs))) {
        child.kill("SIGTERM");
        if (!(await waitFor(this.ended, 2000))) child.kill("SIGKILL");
      }
    }
    await this.ended;
    this.terminate("the qtest client was closed");
  }

  private async ok(command: string): Promise<string> {
    const reply = await this.command(command);
    if (reply === "OK") return "";
    if (reply.startsWith("OK ")) return reply.slice(3);
    throw new QtestError(`${command}: ${reply}`, command, reply);
  }

  private async readN(cmd: string, addr: Address): Promise<bigint> {
    const command = `${cmd} ${hex(addr)}`;
    const payload = await this.ok(command);
    if (!/^0x[0-9a-f]{16}$/.test(payload)) {
      throw new QtestError(`unexpected reply to ${command}`, command, `OK ${payload}`);
    }
    return BigInt(payload);
  }

  private onData(chunk: string): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf("\n", start);
      if (nl < 0) break;
      let line = this.partial + chunk.slice(start, nl);
      this.partial = "";
      start = nl + 1;
      if (line.endsWith("\r")) line = line.slice(0, -1);
      this.onLine(line);
    }
    this.partial += chunk.slice(start);
  }

  private onLine(line: string): void {
    const irq = IRQ.exec(line);
    if (irq !== null) {
      const n = Number(irq[2]);
      const level = irq[1] === "raise";
      this.levels.set(n, level);
      this.events.push({ line: n, level, afterReplies: this.replies });
      return;
    }
    if (REPLY.test(line)) {
      const waiter = this.pending.shift();
      if (waiter !== undefined) {
        this.replies++;
        waiter.resolve(line);
        return;
      }
    }
    this.junk.push(line);
  }

  private terminate(reason: string): void {
    if (this.closedReason !== null) return;
    const tail = this.stderrText.trim().split("\n").slice(-5).join("\n");
    this.closedReason = tail === "" ? reason : `${reason}; stderr: ${tail}`;
    for (const p of this.pending.splice(0)) {
      p.reject(new QtestError(this.closedReason, p.command, null));
    }
  }
}
