// QEMU's monitor protocol (QMP), server side, as much of it as a client written for QEMU's
// qtest harness uses (tests/qtest/libqtest.c): the greeting, `qmp_capabilities`,
// `query-status`, `query-version`, `system_reset` (with its RESET event), `cont` and `stop`
// (RESUME, STOP) and `quit` (with its SHUTDOWN event). `QmpSession` is transport-free and synchronous: `feed` takes the
// text the client sent, `out` gets each message QEMU would write; `serveQmpSocket` runs
// one over a connected socket.
//
// Facts are QEMU 11.1.3's (Debian's build, a `-chardev socket … -mon mode=control`
// monitor), seen on the wire: every message is one line ending in "\r\n", written in
// QEMU's JSON style (", " and ": ", non-ASCII as uppercase \uXXXX); replies carry the
// request's "id" last after "return" and first before "error"; the RESET or SHUTDOWN event
// comes before the reply of the command that caused it; events go only to a monitor past
// capabilities negotiation. Error texts are QEMU's (qapi/qmp-dispatch.c, monitor/qmp.c).
//
// QEMU's input is a JSON stream, not lines: a message ends where its outermost brace or
// bracket closes, so one line may carry two messages and one message may span lines; an
// unclosed brace swallows what follows (QEMU does the same). A message is bounded by
// QMP_MAX_MESSAGE bytes and QMP_MAX_NESTING levels: past either the client is told once,
// the rest of that message is skipped unstored, and the session goes on.

import type { Socket } from "node:net";

/** Longest JSON text one message may take (QEMU's own limit is 64 MiB; ours are tiny). */
export const QMP_MAX_MESSAGE = 1024 * 1024;
/** Deepest nesting of braces and brackets (QEMU's json-streamer MAX_NESTING). */
export const QMP_MAX_NESTING = 1024;
/** Unsent reply bytes a socket may hold before the session stops reading the client. */
export const QMP_OUTPUT_HOLD = 1024 * 1024;

export interface QmpVersion {
  readonly major: number;
  readonly minor: number;
  readonly micro: number;
  /** QEMU's `package` string (Debian's build says "Debian 1:11.1.3+ds-2~bpo13+1"). */
  readonly package: string;
}

/** An event's wall-clock time, as QEMU stamps it (g_get_real_time). */
export interface QmpTimestamp {
  readonly seconds: number;
  readonly microseconds: number;
}

/** What the monitor's commands do to the machine. */
export interface QmpMachine {
  /** `query-status`: QEMU's run state ("prelaunch" under -S, "running", "paused"). */
  status(): { status: string; running: boolean };
  /**
   * `cont` (true) or `stop` (false): run or pause the machine; whether its state changed
   * (then QEMU sends RESUME or STOP). Stopping a machine that does not run changes nothing.
   */
  run(running: boolean): boolean;
  /** `system_reset`: reset the machine now (QEMU's RESET event follows). */
  reset(): void;
  /** `quit`: called once its SHUTDOWN event and reply are out; the transport ends the process. */
  quit(): void;
}

/**
 * QEMU's run state as QMP shows it: "prelaunch" under -S until `cont`, then "running";
 * `stop` pauses a running machine ("paused") and does nothing otherwise. Under qtest it is
 * only what query-status says: no vCPU runs either way.
 */
export class QmpRunState {
  private state: "prelaunch" | "running" | "paused";

  constructor(startPaused: boolean) {
    this.state = startPaused ? "prelaunch" : "running";
  }

  status(): { status: string; running: boolean } {
    return { status: this.state, running: this.state === "running" };
  }

  /** QmpMachine.run: whether the state changed. */
  run(running: boolean): boolean {
    if (running === (this.state === "running")) return false;
    this.state = running ? "running" : "paused";
    return true;
  }
}

export interface QmpSessionOptions {
  readonly version: QmpVersion;
  /** The wall clock for event timestamps (injected: none is read below src/cli). */
  readonly now: () => QmpTimestamp;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** QEMU's JSON writer: ", " and ": ", control and non-ASCII characters as \uXXXX (upper case). */
export function qmpJson(value: Json): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null";
  if (typeof value === "string") return qmpString(value);
  if (Array.isArray(value)) return `[${value.map(qmpJson).join(", ")}]`;
  const members = Object.entries(value).map(([k, v]) => `${qmpString(k)}: ${qmpJson(v)}`);
  return `{${members.join(", ")}}`;
}

const ESCAPES: Record<number, string> = {
  34: '\\"',
  92: "\\\\",
  8: "\\b",
  12: "\\f",
  10: "\\n",
  13: "\\r",
  9: "\\t",
};

function qmpString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const escaped = ESCAPES[c];
    if (escaped !== undefined) out += escaped;
    else if (c >= 0x20 && c <= 0x7e) out += s[i];
    else out += `\\u${c.toString(16).toUpperCase().padStart(4, "0")}`;
  }
  return `${out}"`;
}

/** A QMP error: its class and QEMU's text. */
class QmpFail extends Error {
  readonly errorClass: string;
  constructor(errorClass: "GenericError" | "CommandNotFound", desc: string) {
    super(desc);
    this.errorClass = errorClass;
  }
}

const isObject = (v: unknown): v is Record<string, Json> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The commands served (none of them may run out of band, as in QEMU). */
const COMMANDS = new Set([
  "qmp_capabilities",
  "query-status",
  "query-version",
  "system_reset",
  "cont",
  "stop",
  "quit",
]);

/** Characters that end a bare scalar at the top level of the stream. */
function endsScalar(c: number): boolean {
  return (
    c === 0x20 ||
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x7b ||
    c === 0x7d ||
    c === 0x5b ||
    c === 0x5d ||
    c === 0x22 ||
    c === 0x2c ||
    c === 0x3a
  );
}

export class QmpSession {
  private readonly machine: QmpMachine;
  private readonly out: (text: string) => void;
  private readonly options: QmpSessionOptions;
  private negotiated = false;
  private oob = false;
  private closed = false;
  // The JSON stream splitter's state: the message so far, its nesting and string state.
  private pieces: string[] = [];
  private size = 0;
  private depth = 0;
  /** 0: not in a string; 1: in one; 2: just after a backslash in one. */
  private str = 0;
  /** A bare scalar (a number, true, a typo) being read at the top level. */
  private scalar = false;
  /** Skipping the rest of a message that passed a limit. */
  private skipping = false;

  constructor(machine: QmpMachine, out: (text: string) => void, options: QmpSessionOptions) {
    this.machine = machine;
    this.out = out;
    this.options = options;
  }

  /** Whether `qmp_capabilities` has run (then events are sent). */
  get ready(): boolean {
    return this.negotiated;
  }

  /** The greeting QEMU sends when the monitor's connection opens. */
  greet(): void {
    this.send({ QMP: { version: this.versionJson(), capabilities: ["oob"] } });
  }

  /** Stop answering (the connection went away). */
  close(): void {
    this.closed = true;
    this.pieces = [];
    this.size = 0;
  }

  /** An asynchronous event, sent only once capabilities are negotiated (as QEMU does). */
  event(name: string, data?: Record<string, Json>): void {
    if (!this.negotiated) return;
    const t = this.options.now();
    const timestamp = { seconds: t.seconds, microseconds: t.microseconds };
    this.send(data === undefined ? { timestamp, event: name } : { timestamp, event: name, data });
  }

  /** Client text: split into JSON messages and answer each complete one. */
  feed(text: string): void {
    let start = 0;
    for (let i = 0; i < text.length && !this.closed; i++) {
      const c = text.charCodeAt(i);
      if (this.depth === 0 && this.str === 0) {
        if (this.scalar) {
          if (!endsScalar(c)) continue;
          this.keep(text, start, i);
          this.scalar = false;
          this.complete();
        }
        if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) continue;
        start = i;
        if (c === 0x7b || c === 0x5b) {
          this.depth = 1;
        } else if (c === 0x22) {
          this.str = 1;
        } else if (c === 0x7d || c === 0x5d) {
          this.fail(undefined, new QmpFail("GenericError", `JSON parse error, stray '${text[i]}'`));
        } else {
          this.scalar = true;
        }
        continue;
      }
      if (this.str === 2) this.str = 1;
      else if (this.str === 1) {
        if (c === 0x5c) this.str = 2;
        else if (c === 0x22) {
          this.str = 0;
          if (this.depth === 0) {
            this.keep(text, start, i + 1);
            this.complete();
          }
        }
      } else if (c === 0x22) this.str = 1;
      else if (c === 0x7b || c === 0x5b) {
        this.depth++;
        if (this.depth > QMP_MAX_NESTING && !this.skipping) {
          this.fail(
            undefined,
            new QmpFail("GenericError", `JSON nesting deeper than ${QMP_MAX_NESTING}`),
          );
          this.drop();
        }
      } else if (c === 0x7d || c === 0x5d) {
        this.depth--;
        if (this.depth === 0) {
          this.keep(text, start, i + 1);
          this.complete();
        }
      }
    }
    if (this.closed) return;
    if (this.depth > 0 || this.str !== 0 || this.scalar) this.keep(text, start, text.length);
  }

  /** Keep text[from, to) of the message being read, within QMP_MAX_MESSAGE. */
  private keep(text: string, from: number, to: number): void {
    if (this.skipping || to <= from) return;
    this.size += to - from;
    if (this.size > QMP_MAX_MESSAGE) {
      this.fail(
        undefined,
        new QmpFail("GenericError", `JSON message longer than ${QMP_MAX_MESSAGE} bytes`),
      );
      this.drop();
      return;
    }
    this.pieces.push(text.slice(from, to));
  }

  /** Forget the stored part of the message; skip the rest of it. */
  private drop(): void {
    this.pieces = [];
    this.size = 0;
    this.skipping = true;
  }

  /** The message ended (its outermost bracket closed, or a top-level scalar ended). */
  private complete(): void {
    const text = this.pieces.join("");
    const skipped = this.skipping;
    this.pieces = [];
    this.size = 0;
    this.skipping = false;
    if (skipped) return;
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      this.fail(
        undefined,
        new QmpFail("GenericError", `JSON parse error, ${(e as Error).message}`),
      );
      return;
    }
    this.dispatch(msg);
  }

  private dispatch(msg: unknown): void {
    if (!isObject(msg)) {
      this.fail(undefined, new QmpFail("GenericError", "QMP input must be a JSON object"));
      return;
    }
    const id = Object.hasOwn(msg, "id") ? (msg["id"] ?? null) : undefined;
    try {
      const reply = this.run(msg);
      if (this.closed) return;
      this.send(id === undefined ? { return: reply } : { return: reply, id });
      if (msg["execute"] === "quit") this.machine.quit();
    } catch (e) {
      if (!(e instanceof QmpFail)) throw e;
      this.fail(id, e);
    }
  }

  /** qemu: qmp_dispatch_check_obj, then the capabilities-mode check, then the command. */
  private run(msg: Record<string, Json>): Json {
    let name: string | null = null;
    let outOfBand = false;
    for (const [key, value] of Object.entries(msg)) {
      if (key === "execute" || (key === "exec-oob" && this.oob)) {
        if (typeof value !== "string")
          throw new QmpFail("GenericError", `QMP input member '${key}' must be a string`);
        if (name !== null)
          throw new QmpFail("GenericError", "QMP input member 'execute' clashes with 'exec-oob'");
        name = value;
        outOfBand = key === "exec-oob";
      } else if (key === "arguments") {
        if (!isObject(value))
          throw new QmpFail("GenericError", "QMP input member 'arguments' must be an object");
      } else if (key !== "id") {
        throw new QmpFail("GenericError", `QMP input member '${key}' is unexpected`);
      }
    }
    if (name === null) throw new QmpFail("GenericError", "QMP input lacks member 'execute'");
    if (!this.negotiated && name !== "qmp_capabilities")
      throw new QmpFail(
        "CommandNotFound",
        "Expecting capabilities negotiation with 'qmp_capabilities'",
      );
    if (this.negotiated && name === "qmp_capabilities")
      throw new QmpFail(
        "CommandNotFound",
        "Capabilities negotiation is already complete, command ignored",
      );
    if (!COMMANDS.has(name))
      throw new QmpFail("CommandNotFound", `The command ${name} has not been found`);
    if (outOfBand) throw new QmpFail("GenericError", `The command ${name} does not support OOB`);
    const args = (msg["arguments"] ?? {}) as Record<string, Json>;
    const allowed = name === "qmp_capabilities" ? ["enable"] : [];
    for (const key of Object.keys(args))
      if (!allowed.includes(key))
        throw new QmpFail("GenericError", `Parameter '${key}' is unexpected`);
    switch (name) {
      case "qmp_capabilities":
        return this.capabilities(args["enable"]);
      case "query-status": {
        const s = this.machine.status();
        return { status: s.status, running: s.running };
      }
      case "query-version":
        return this.versionJson();
      case "system_reset":
        this.machine.reset();
        this.event("RESET", { guest: false, reason: "host-qmp-system-reset" });
        return {};
      case "cont":
      case "stop":
        // qemu: RESUME and STOP carry no data.
        if (this.machine.run(name === "cont")) this.event(name === "cont" ? "RESUME" : "STOP");
        return {};
      default:
        // quit: its event now, its reply next, then the machine ends.
        this.event("SHUTDOWN", { guest: false, reason: "host-qmp-quit" });
        return {};
    }
  }

  // qemu: `enable` is a list of QMPCapability, of which QEMU offers "oob".
  private capabilities(enable: Json | undefined): Json {
    if (enable !== undefined) {
      if (!Array.isArray(enable))
        throw new QmpFail("GenericError", "Invalid parameter type for 'enable', expected: array");
      for (const cap of enable) {
        if (typeof cap !== "string")
          throw new QmpFail("GenericError", "Invalid parameter type for 'null', expected: string");
        if (cap !== "oob")
          throw new QmpFail("GenericError", `Parameter 'null' does not accept value '${cap}'`);
      }
      this.oob = enable.length > 0;
    }
    this.negotiated = true;
    return {};
  }

  private versionJson(): Json {
    const v = this.options.version;
    return { qemu: { micro: v.micro, minor: v.minor, major: v.major }, package: v.package };
  }

  private fail(id: Json | undefined, e: QmpFail): void {
    const error = { class: e.errorClass, desc: e.message };
    this.send(id === undefined ? { error } : { id, error });
  }

  private send(message: Json): void {
    if (!this.closed) this.out(`${qmpJson(message)}\r\n`);
  }
}

/**
 * Serve QMP over a connected socket: the greeting at once, then the client's text, until
 * the socket closes (`closed` settles then). A client that does not read its replies stops
 * being read while QMP_OUTPUT_HOLD bytes wait unsent.
 */
export function serveQmpSocket(
  machine: QmpMachine,
  socket: Socket,
  options: QmpSessionOptions,
): { session: QmpSession; closed: Promise<void> } {
  const session = new QmpSession(
    machine,
    (text) => {
      if (!socket.destroyed && socket.writable) socket.write(text);
    },
    options,
  );
  socket.setEncoding("utf8");
  const closed = new Promise<void>((resolve) => {
    socket.on("data", (text: string) => {
      session.feed(text);
      if (socket.writableLength > QMP_OUTPUT_HOLD && !socket.isPaused()) {
        socket.pause();
        socket.once("drain", () => socket.resume());
      }
    });
    socket.on("error", () => {
      // A reset peer; "close" follows.
    });
    socket.once("close", () => {
      session.close();
      resolve();
    });
  });
  session.greet();
  return { session, closed };
}
