// A seeded fuzzer for the simulated host's socket (`serveGraceHost`, what `cmdqv host`
// serves): the fuzzer plays QEMU's preload, and a hostile one. Each input is one fresh
// server and a seeded script of frames: HELLOs good and bad, well-formed calls aimed at
// the host's real objects, ioctls with wrong sizes and bad pointers, unknown numbers and
// types, garbage, truncated frames, wrong and huge lengths, frames before HELLO and after
// it, many connections, abrupt closes mid-call, and answers to the server's PEEK/POKE/
// NEWPIPE/CLOSEFD that are right, faulting, short, of the wrong type, late or never sent.
//
// After every input: the server still answers a well-formed HELLO and ioctls correctly on
// a fresh connection, bad ioctls got an errno (the exact one where the bytes decide it),
// nothing escaped the server (no handler failure logged, no thrown error, no blocked event
// loop), the kernel's release ran when the connection closed, no file descriptor and no
// temp dir outlives the server, and the process's RSS stays under RSS_BOUND_MB.
//
// The server runs on a worker thread (host-socket-worker.ts), so a hang or a crash is a
// finding instead of the end of the fuzzer. An input is its seed: replayHostSocket re-runs
// one (timing aside, the same frames in the same order).

import { spawnSync } from "node:child_process";
import {
  closeSync,
  constants,
  existsSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  rmSync,
  writeSync,
} from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Worker } from "node:worker_threads";
import { FAULT_SITES, type FaultPlan } from "../src/host/faults.js";
import { IOCTL } from "../src/host/kernel/uapi.js";
import {
  type Call,
  decodeMessage,
  Errno,
  encode,
  FdKind,
  type FdKindValue,
  FrameDecoder,
  FrameType,
  MAX_PAYLOAD,
  type Message,
  PROTOCOL_VERSION,
} from "../src/real-qemu/wire.js";
import { Prng } from "../src/util/prng.js";
import {
  CLOSED_FD,
  DATA_BASE,
  FakeMemory,
  type FdRoles,
  Gen,
  type IoctlPlan,
  type Knowledge,
  newKnowledge,
  planIoctl,
  RAM_IOVA,
  REGION_SIZE,
  STRUCT_BASE,
} from "./host-socket-calls.js";
import type { ServerAnswer, ServerCommand, ServerReport } from "./host-socket-worker.js";

export interface HostSocketFuzzOptions {
  readonly seed: number;
  /**
   * Frames per input: the calls, HELLOs and hostile frames the fuzzer starts (its replies
   * to the server's requests inside a call come on top).
   */
  readonly frames: number;
  /** Wall-clock budget of the whole run. */
  readonly seconds: number;
}

export interface HostSocketFailure {
  /** The input's own seed: replayHostSocket({ seed, frames }) runs it again. */
  readonly seed: number;
  readonly description: string;
}

export interface HostSocketFuzzResult {
  readonly inputs: number;
  readonly peakRssMb: number;
  readonly failures: HostSocketFailure[];
}

/** The process's resident memory must stay below this (server, fuzzer and their heaps). */
export const RSS_BOUND_MB = 1024;
/** How long the server may take to send a frame it owes before it counts as hung. */
const OWED_MS = 3000;
/** How long the server thread may take to answer a ping before its loop counts as blocked. */
const PING_MS = 2000;
/** A pid with no process (past pid_max): /proc/PID/fd/N never opens. */
const DEAD_PID = 0x7fff_fff0;
const MAX_CONNS = 48;
/** Failures kept per run (each input reports at most a few). */
const MAX_FAILURES = 200;
/** HOSTFUZZ_TRACE=1: every frame the fuzzer sends and receives, and the server's log, on stderr. */
const TRACE = process.env["HOSTFUZZ_TRACE"] === "1";
function trace(line: string): void {
  if (TRACE) process.stderr.write(`hostfuzz: ${line}\n`);
}
/** HOSTFUZZ_STATS=1: how often each call succeeded or failed and each request came, at the end. */
const STATS = process.env["HOSTFUZZ_STATS"] === "1";
const stats = new Map<string, number>();
function count(what: string): void {
  if (STATS) stats.set(what, (stats.get(what) ?? 0) + 1);
}

/** Runs inputs derived from `seed` until the time budget is spent. */
export async function fuzzHostSocket(o: HostSocketFuzzOptions): Promise<HostSocketFuzzResult> {
  const master = new Prng(o.seed);
  const rig = await Rig.open();
  const failures: HostSocketFailure[] = [];
  let inputs = 0;
  const deadline = Date.now() + o.seconds * 1000;
  try {
    while (Date.now() < deadline && failures.length < MAX_FAILURES) {
      const seed = master.next();
      // An input that outlives the budget stops early (its checks still run).
      const found = await rig.run(seed, o.frames, deadline);
      inputs++;
      for (const description of found) failures.push({ seed, description });
    }
  } finally {
    await rig.close();
  }
  if (STATS) {
    for (const [k, v] of [...stats].sort()) process.stderr.write(`hostfuzz: ${v}\t${k}\n`);
  }
  return { inputs, peakRssMb: Math.round(rig.peakRss / 2 ** 20), failures };
}

/** Re-runs single inputs (corpus entries) on one server thread; close() when done. */
export interface HostSocketReplayer {
  /** One input again: its failures, none when it passes. */
  run(o: { readonly seed: number; readonly frames: number }): Promise<string[]>;
  close(): Promise<void>;
}

export async function openHostSocketReplayer(): Promise<HostSocketReplayer> {
  const rig = await Rig.open();
  return {
    run: (o) => rig.run(o.seed >>> 0, o.frames),
    close: () => rig.close(),
  };
}

/** Runs one input again (a corpus entry); its failures, none when it passes. */
export async function replayHostSocket(o: {
  readonly seed: number;
  readonly frames: number;
}): Promise<string[]> {
  const r = await openHostSocketReplayer();
  try {
    return await r.run(o);
  } finally {
    await r.close();
  }
}

// ---- the server thread ------------------------------------------------------------------

type Command = ServerCommand extends infer C ? (C extends unknown ? Omit<C, "id"> : never) : never;

/** The worker that runs the servers, restarted when it dies or blocks. */
class ServerThread {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (a: ServerAnswer | null) => void>();
  /** Why the thread died, until it is restarted. */
  crash: string | null = null;

  constructor() {
    this.spawn();
  }

  private spawn(): void {
    this.crash = null;
    const w = new Worker(new URL("./host-socket-worker.mjs", import.meta.url), {
      // A server that allocates without bound hits this and ends its thread, not the fuzzer.
      resourceLimits: { maxOldGenerationSizeMb: 768 },
    });
    w.on("message", (a: ServerAnswer) => {
      const r = this.pending.get(a.id);
      this.pending.delete(a.id);
      r?.(a);
    });
    w.on("error", (e) => {
      if (this.worker !== w) return;
      this.crash = e.stack ?? String(e);
      this.failPending();
    });
    w.on("exit", (code) => {
      if (this.worker !== w) return;
      this.crash ??= `the server thread exited with code ${code}`;
      this.failPending();
    });
    this.worker = w;
  }

  private failPending(): void {
    for (const r of this.pending.values()) r(null);
    this.pending.clear();
  }

  /** Sends a command; its answer, or "timeout", or "crashed". */
  ask(c: Command, ms: number): Promise<ServerAnswer | "timeout" | "crashed"> {
    const w = this.worker;
    if (w === null || this.crash !== null) return Promise.resolve("crashed");
    const id = this.nextId++;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        resolve("timeout");
      }, ms);
      this.pending.set(id, (a) => {
        clearTimeout(t);
        resolve(a ?? "crashed");
      });
      w.postMessage({ ...c, id });
    });
  }

  async restart(): Promise<void> {
    await this.stop();
    this.spawn();
  }

  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.failPending();
    if (w !== null) await w.terminate();
  }
}

// ---- the rig: the thread, the fuzzer's files, and the checks around each input ------------

class Rig {
  readonly thread: ServerThread;
  readonly dir: string;
  readonly roles: FdRoles;
  private readonly own: number[];
  peakRss = 0;
  private warm = false;

  private constructor(thread: ServerThread, dir: string, roles: FdRoles, own: number[]) {
    this.thread = thread;
    this.dir = dir;
    this.roles = roles;
    this.own = own;
  }

  static async open(): Promise<Rig> {
    const dir = mkdtempSync(join(tmpdir(), "hostfuzz-"));
    // QEMU's descriptors as the fuzzer names them: the server opens them through
    // /proc/PID/fd/N when a HELLO gives the fuzzer's own pid.
    const ramSize = 0x40_0000;
    const file = (name: string, size: number): number => {
      const fd = openSync(join(dir, name), "w+", 0o600);
      ftruncateSync(fd, size);
      return fd;
    };
    const ram = file("ram", ramSize);
    const odd = file("odd", 4097);
    let huge: number;
    try {
      huge = file("huge", 2 ** 40);
    } catch {
      huge = file("huge", 2 ** 34);
    }
    let fifo: number | null = null;
    if (spawnSync("mkfifo", [join(dir, "fifo")]).status === 0) {
      fifo = openSync(join(dir, "fifo"), constants.O_RDWR | constants.O_NONBLOCK);
    }
    const roles: FdRoles = { ram, ramSize, odd, huge, fifo };
    const own = [ram, odd, huge, ...(fifo === null ? [] : [fifo])];
    const rig = new Rig(new ServerThread(), dir, roles, own);
    return rig;
  }

  async close(): Promise<void> {
    await this.thread.stop();
    for (const fd of this.own) closeSync(fd);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** One input: a fresh server, the script, the checks. Returns what went wrong. */
  async run(seed: number, frames: number, deadline: number | null = null): Promise<string[]> {
    if (!this.warm) {
      // The thread loads the host's modules on its first command: not a hang.
      const a = await this.thread.ask({ op: "ping" }, 60_000);
      if (typeof a !== "object") throw new Error(`the server thread did not start: ${a}`);
      this.warm = true;
    }
    const rng = new Prng(seed);
    const g = new Gen(rng);
    const ramPage = g.pick([0x1000, 0x1_0000, 0x20_0000, 0x20_0000]);
    const faultPlan: FaultPlan = g.chance(0.2)
      ? { kind: "site", site: g.pick(FAULT_SITES), nth: 1 + g.int(3) }
      : g.chance(0.1)
        ? { kind: "probability", seed: rng.next(), p: { [g.pick(FAULT_SITES)]: 0.5 } }
        : { kind: "none" };
    const fdsBefore = listFds();
    const started = await this.thread.ask({ op: "start", ramPage, seed, faultPlan }, 10_000);
    if (typeof started !== "object" || !("socketPath" in started)) {
      const why = typeof started === "object" ? JSON.stringify(started) : started;
      await this.recover(null);
      return [`the server did not start: ${why} ${this.thread.crash ?? ""}`.trim()];
    }
    const socketPath = started.socketPath;
    const input = new Input(this, g, socketPath, frames, deadline);
    const failures: string[] = [];
    try {
      await input.script();
      await input.endChecks();
    } catch (e) {
      if (!(e instanceof Abort)) throw e;
      failures.push(...input.failures, e.message);
      await input.abandon();
      for (const d of input.shmDirs) rmSync(d, { recursive: true, force: true });
      await this.recover(socketPath);
      this.sampleRss(failures);
      return dedupe(failures);
    }
    const closed = await this.thread.ask({ op: "close" }, 10_000);
    await input.afterClose();
    failures.push(...input.failures);
    if (typeof closed !== "object" || !("report" in closed)) {
      failures.push(
        `closing the server failed: ${typeof closed === "object" ? JSON.stringify(closed) : closed} ${this.thread.crash ?? ""}`.trim(),
      );
      await this.recover(socketPath);
      return dedupe(failures);
    }
    for (const l of closed.report.logs) trace(`server log: ${l}`);
    failures.push(...judgeReport(closed.report));
    if (closed.report.eventBytes > 0) count("inputs with vEVENTs delivered");
    for (const d of [dirname(socketPath), ...input.shmDirs]) {
      if (existsSync(d)) failures.push(`${d} is left behind after the server closed`);
    }
    failures.push(...(await fdLeaks(fdsBefore)));
    this.resetFiles();
    this.sampleRss(failures);
    return dedupe(failures);
  }

  /** After a dead or blocked server: a new thread, and its files removed by hand. */
  private async recover(socketPath: string | null): Promise<void> {
    await this.thread.restart();
    this.warm = false;
    if (socketPath !== null) rmSync(dirname(socketPath), { recursive: true, force: true });
    this.resetFiles();
  }

  /** Each input starts from the same files: the fifo drained, the files zeroed. */
  private resetFiles(): void {
    const r = this.roles;
    if (r.fifo !== null) {
      const buf = new Uint8Array(65536);
      for (;;) {
        try {
          if (readSync(r.fifo, buf, 0, buf.length, null) <= 0) break;
        } catch {
          break; // EAGAIN: empty
        }
      }
    }
    for (const [fd, size] of [
      [r.ram, r.ramSize],
      [r.odd, 4097],
    ] as const) {
      ftruncateSync(fd, 0);
      ftruncateSync(fd, size);
    }
  }

  sampleRss(failures?: string[]): void {
    const rss = process.memoryUsage().rss;
    if (rss > this.peakRss) this.peakRss = rss;
    if (failures && rss > RSS_BOUND_MB * 2 ** 20) {
      failures.push(`RSS ${Math.round(rss / 2 ** 20)} MB is over the ${RSS_BOUND_MB} MB bound`);
    }
  }
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** What the server's own account says went wrong. */
function judgeReport(r: ServerReport): string[] {
  const out: string[] = [];
  for (const line of r.logs) {
    if (line.includes("\n")) out.push(`a log line spans lines: ${JSON.stringify(line)}`);
    if (/handler failed|threw|handler bug|after its call ended/.test(line)) {
      out.push(`the server logged a handler failure: ${line}`);
    }
  }
  if (r.accepted && r.ended === null) out.push("the accepted session never ended");
  if (r.accepted && !r.released) {
    out.push("the kernel's release never ran: something still holds QEMU's iommufd file");
  }
  if (r.leaked > 0) out.push(`the kernel's release leaked ${r.leaked} objects`);
  if (r.accepted && r.live > 0) out.push(`${r.live} kernel objects outlive the session`);
  return out;
}

/** The process's descriptors and what they name. */
function listFds(): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of readdirSync("/proc/self/fd")) {
    try {
      out.set(n, readlinkSync(`/proc/self/fd/${n}`));
    } catch {
      // closed while listing (the listing's own fd)
    }
  }
  return out;
}

/** Descriptors opened since `before` that are still open (a few turns of the loop allowed). */
async function fdLeaks(before: Map<string, string>): Promise<string[]> {
  let extra: string[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const now = listFds();
    extra = [...now].filter(([n, t]) => before.get(n) !== t).map(([n, t]) => `${n} -> ${t}`);
    if (extra.length === 0) return [];
    await new Promise((r) => setTimeout(r, 20));
  }
  return [`${extra.length} file descriptors leaked: ${extra.slice(0, 6).join(", ")}`];
}

// ---- one connection, as the fuzzer sees it --------------------------------------------------

type Next = Message | "closed" | "timeout";

class Conn {
  readonly socket: Socket;
  private readonly decoder = new FrameDecoder();
  private readonly inbox: Message[] = [];
  private wake: (() => void) | null = null;
  closed = false;
  /** The server sent bytes that are not a protocol frame. */
  broken: string | null = null;
  /** We broke the protocol in a way whose outcome is not knowable: expect nothing more. */
  dirty = false;
  hello: "none" | "accepted" | "refused" = "none";
  /** A server request left unanswered, and the call it belongs to. */
  pending: { readonly request: Message; readonly call: CallState } | null = null;
  private readonly gone: Promise<void>;
  private static count = 0;
  readonly name = `c${Conn.count++}`;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.gone = new Promise((resolve) =>
      socket.on("close", () => {
        trace(`${this.name} closed`);
        this.closed = true;
        this.wake?.();
        resolve();
      }),
    );
    socket.on("error", () => {
      // EPIPE/ECONNRESET: the server dropped us; "close" follows.
    });
  }

  static open(path: string): Promise<Conn | null> {
    return new Promise((resolve) => {
      const s = connect(path);
      const c = new Conn(s);
      s.once("connect", () => resolve(c));
      s.once("error", () => resolve(null));
    });
  }

  private onData(chunk: Buffer): void {
    const r = this.decoder.push(chunk);
    if (!r.ok) {
      this.broken ??= r.error.reason;
    } else {
      for (const raw of r.value) {
        const m = decodeMessage(raw);
        if (!m.ok) this.broken ??= m.error.reason;
        else {
          trace(`${this.name} <- ${show(m.value)}`);
          this.inbox.push(m.value);
        }
      }
    }
    this.wake?.();
  }

  send(bytes: Uint8Array): void {
    if (this.closed || this.socket.destroyed || !this.socket.writable) return;
    if (TRACE) {
      const d = new FrameDecoder().push(bytes);
      const m = d.ok && d.value.length > 0 ? decodeMessage(d.value[0]!) : null;
      const what = m?.ok ? show(m.value) : `${bytes.length} raw bytes`;
      trace(
        `${this.name} -> ${what}${d.ok && d.value.length > 1 ? ` (+${d.value.length - 1})` : ""}`,
      );
    }
    this.socket.write(bytes);
  }

  get usable(): boolean {
    return !this.closed && !this.dirty && this.broken === null;
  }

  /** The next frame from the server, or its close, or "timeout" after `ms` without either. */
  async next(ms: number): Promise<Next> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.inbox.shift();
      if (m !== undefined) return m;
      if (this.closed || this.broken !== null) return "closed";
      const left = deadline - Date.now();
      if (left <= 0) return "timeout";
      // Woken by any chunk (a frame may need several) or the close; then look again.
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.wake = null;
          resolve();
        }, left);
        this.wake = () => {
          clearTimeout(t);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  /** Abrupt close (RST-like: no more bytes either way). */
  async destroy(): Promise<void> {
    this.socket.destroy();
    await this.gone;
  }

  /** Our half closed; the server's side follows. */
  end(): void {
    // Nothing more can be sent; what the server still sends is of no interest.
    this.dirty = true;
    this.socket.end();
  }

  closedPromise(): Promise<void> {
    return this.gone;
  }
}

/** A call in progress: what it was and how our replies went. */
interface CallState {
  readonly call: Call;
  readonly plan: IoctlPlan | null;
  readonly desc: string;
  /** Misbehave on some requests. */
  readonly hostile: boolean;
  /** Every reply so far was what the preload itself would send. */
  faithful: boolean;
  /** A reply broke the protocol's rules on content: a drop is as good as an answer. */
  mayDrop: boolean;
}

class Abort extends Error {}

/** Frame types whose payload is a minimum plus any bytes (wire.ts's LAYOUT). */
const TAIL_MIN = new Map<number, number>([
  [FrameType.PWRITE, 16],
  [FrameType.WRITE, 8],
  [FrameType.DATA, 0],
  [FrameType.POKE, 8],
]);

const FINALS = new Set(["RESULT", "RESULT_DATA", "RESULT_MAP"]);
const REQUESTS = new Set(["PEEK", "POKE", "NEWPIPE", "CLOSEFD"]);

// ---- one input --------------------------------------------------------------------------

class Input {
  readonly failures: string[] = [];
  readonly shmDirs = new Set<string>();
  private readonly rig: Rig;
  private readonly g: Gen;
  private readonly socketPath: string;
  private readonly mem = new FakeMemory();
  private readonly k: Knowledge = newKnowledge();
  private conns: Conn[] = [];
  /** The server accepted a HELLO (it takes one QEMU; later ones get EBUSY). */
  private accepted = false;
  private framesLeft: number;
  /** The files the server gave for mmaps (page0), which "QEMU" may store into. */
  private readonly maps: string[] = [];
  /** Pipe fds the fuzzer handed out in PIPE replies (CLOSEFD may name them). */
  private readonly handedOut = new Set<number>();
  private actions = 0;
  /** A connection left inside a call through the server's close. */
  private survivor: Conn | null = null;

  private readonly deadline: number | null;

  constructor(rig: Rig, g: Gen, socketPath: string, frames: number, deadline: number | null) {
    this.deadline = deadline;
    this.rig = rig;
    this.g = g;
    this.socketPath = socketPath;
    this.framesLeft = Math.max(1, frames);
  }

  private fail(what: string): void {
    if (this.failures.length < 20) this.failures.push(what);
  }

  private checkThread(): void {
    if (this.rig.thread.crash !== null) {
      throw new Abort(`the server thread died: ${this.rig.thread.crash}`);
    }
  }

  /** A frame the server owes on `c`: it, or the connection's end; a hang aborts the input. */
  private async owed(c: Conn, what: string): Promise<Message | "closed"> {
    const r = await c.next(OWED_MS);
    if (r !== "timeout") {
      if (r === "closed" && c.broken !== null) {
        this.fail(`the server sent a malformed frame (${c.broken}) during ${what}`);
      }
      return r;
    }
    const p = await this.rig.thread.ask({ op: "ping" }, PING_MS);
    if (p === "crashed") throw new Abort(`the server thread died: ${this.rig.thread.crash}`);
    if (p === "timeout") throw new Abort(`the server's event loop is blocked (during ${what})`);
    throw new Abort(`the server never answered ${what} (alive, but waiting)`);
  }

  /** The server must drop `c` now (it broke the protocol in a way the server must see). */
  private async expectDrop(c: Conn, what: string): Promise<void> {
    // Frames the server sent before it read ours may come first; then the connection ends.
    while ((await this.owed(c, `the drop after ${what}`)) !== "closed") {}
  }

  private async open(): Promise<Conn | null> {
    if (this.conns.length >= MAX_CONNS) {
      const victim = this.conns.splice(this.g.int(this.conns.length), 1)[0]!;
      await victim.destroy();
    }
    const c = await Conn.open(this.socketPath);
    if (c === null) {
      this.fail("a connection to the server was refused");
      return null;
    }
    this.conns.push(c);
    return c;
  }

  private spend(n = 1): void {
    this.framesLeft -= n;
  }

  // ---- the script ----

  async script(): Promise<void> {
    const g = this.g;
    // Half the inputs start as QEMU does; the hostile part follows.
    if (g.chance(0.5)) await this.realize();
    while (this.framesLeft > 0) {
      if (this.deadline !== null && Date.now() > this.deadline) break;
      this.checkThread();
      this.actions++;
      if ((this.actions & 15) === 0) this.rig.sampleRss();
      const live = this.conns.filter((c) => !c.closed);
      this.conns = live;
      const main = live.find((c) => c.hello === "accepted" && c.usable) ?? null;
      // With page0 mapped, the guest's stores and the hardware's time are much of the life.
      if (this.maps.length > 0 && g.chance(0.15)) {
        await this.scribble();
        continue;
      }
      const roll = g.int(100);
      if (live.length === 0 || roll < 6) {
        const c = await this.open();
        if (c !== null && g.chance(0.7)) await this.hello(c, g.chance(0.9));
        continue;
      }
      const c = main !== null && g.chance(0.7) ? main : g.pick(live);
      if (roll < 50) {
        if (c.pending !== null && g.chance(0.5)) await this.resume(c);
        else await this.call(c);
      } else if (roll < 56) await this.hello(c, g.chance(0.8));
      else if (roll < 62) await this.garbage(c);
      else if (roll < 66) await this.badLength(c);
      else if (roll < 70) await this.truncated(c);
      else if (roll < 74) await this.wrongSize(c);
      else if (roll < 77) await this.unknownType(c);
      else if (roll < 80) await this.unasked(c);
      else if (roll < 83) await this.pipelined(c);
      else if (roll < 86) await this.tick();
      else if (roll < 89) await this.burst();
      else if (roll < 91) await this.hugeFrame(c);
      else if (roll < 95) {
        this.spend();
        if (g.chance(0.5)) await c.destroy();
        else c.end();
      } else await this.call(c);
    }
  }

  /** QEMU's realize, in order, with faithful replies (ids from the host's answers). */
  private async realize(): Promise<void> {
    const c = await this.open();
    if (c === null) return;
    await this.hello(c, true);
    if (c.hello !== "accepted") return;
    const steps: [FdKindValue, number][] = [
      [FdKind.IOMMUFD, IOCTL.IOMMU_IOAS_CHANGE_PROCESS],
      [FdKind.VFIO, 0x3b76], // VFIO_DEVICE_BIND_IOMMUFD
      [FdKind.IOMMUFD, IOCTL.IOMMU_IOAS_ALLOC],
      [FdKind.IOMMUFD, IOCTL.IOMMU_GET_HW_INFO],
      [FdKind.IOMMUFD, IOCTL.IOMMU_HWPT_ALLOC],
      [FdKind.VFIO, 0x3b77], // VFIO_DEVICE_ATTACH_IOMMUFD_PT
      [FdKind.IOMMUFD, IOCTL.IOMMU_IOAS_MAP_FILE],
      [FdKind.IOMMUFD, IOCTL.IOMMU_VIOMMU_ALLOC],
      [FdKind.IOMMUFD, IOCTL.IOMMU_VEVENTQ_ALLOC],
      [FdKind.IOMMUFD, IOCTL.IOMMU_HWPT_ALLOC], // the STE HWPT on the vIOMMU
      [FdKind.IOMMUFD, IOCTL.IOMMU_VDEVICE_ALLOC],
      [FdKind.IOMMUFD, IOCTL.IOMMU_HW_QUEUE_ALLOC],
      [FdKind.IOMMUFD, IOCTL.IOMMU_HWPT_INVALIDATE],
    ];
    // Each step's struct is QEMU's; a few are cut short so later states vary.
    const stop = this.g.chance(0.2) ? this.g.int(steps.length) : steps.length;
    this.g.strict = true;
    try {
      for (const [kind, request] of steps.slice(0, stop)) {
        if (!c.usable || this.framesLeft <= 0) return;
        await this.call(c, { kind, request });
      }
    } finally {
      this.g.strict = false;
    }
    if (c.usable && this.k.vintf !== null && this.framesLeft > 0) {
      await this.run(
        c,
        {
          type: "MMAP",
          fd: 100,
          kind: FdKind.IOMMUFD,
          addr: 0n,
          length: this.k.vintf.length,
          prot: 3,
          flags: 1,
          offset: this.k.vintf.offset,
        },
        null,
        false,
      );
    }
  }

  private helloFrame(valid: boolean): Uint8Array {
    const g = this.g;
    const pid = g.chance(0.85) ? process.pid : g.pick([DEAD_PID, 0, 0xffff_ffff]);
    const iommufdFd = g.chance(0.9) ? 100 : g.u32() | 0;
    return encode({
      type: "HELLO",
      version: valid ? PROTOCOL_VERSION : g.pick([0, 2, 999, 0xffff_ffff]),
      pid,
      iommufdFd,
      vfioFd: g.chance(0.9) ? 101 : g.u32() | 0,
      guardPatched: g.chance(0.5),
    });
  }

  private async hello(c: Conn, wanted: boolean): Promise<void> {
    this.spend();
    // A good HELLO on a connection out of step could be accepted without the fuzzer
    // knowing; then the server's one-QEMU rule would make every later answer a guess.
    const valid = wanted && (!c.dirty || this.accepted);
    const frame = this.helloFrame(valid);
    const iommufdFd = new DataView(frame.buffer).getInt32(16, true);
    c.send(frame);
    if (!c.usable) return;
    if (c.pending !== null) return this.expectDrop(c, "a HELLO while the server waits for a reply");
    if (c.hello !== "none") return this.expectDrop(c, "a second HELLO");
    const r = await this.owed(c, "HELLO");
    if (r === "closed") return this.fail("the server dropped a well-formed HELLO");
    // A HELLO inside a connection out of step may have been taken by the server unseen.
    if (valid && !this.accepted && r.type === "RESULT" && r.errno === Errno.EBUSY) {
      if (await this.serverAccepted()) this.accepted = true;
    }
    const want = !valid ? Errno.EPROTO : this.accepted ? Errno.EBUSY : 0;
    if (r.type !== "RESULT") return this.fail(`HELLO answered with ${r.type}`);
    if (want === 0 ? r.ret !== 0 : r.ret !== -1 || r.errno !== want) {
      this.fail(
        `HELLO answered ret ${r.ret} errno ${r.errno}, not ${want ? `errno ${want}` : "0"}`,
      );
    }
    if (r.ret === 0) {
      c.hello = "accepted";
      this.accepted = true;
      this.k.iommufdFd = iommufdFd;
    } else {
      c.hello = "refused";
      await this.expectDrop(c, "a refused HELLO");
    }
  }

  /** The server's own word on whether it holds a QEMU. */
  private async serverAccepted(): Promise<boolean> {
    const a = await this.rig.thread.ask({ op: "state" }, PING_MS);
    if (a === "crashed") throw new Abort(`the server thread died: ${this.rig.thread.crash}`);
    if (a === "timeout") throw new Abort("the server's event loop is blocked (state)");
    return "accepted" in a && a.accepted;
  }

  // ---- calls ----

  private async call(c: Conn, only?: { kind: FdKindValue; request: number }): Promise<void> {
    const g = this.g;
    let call: Call;
    let plan: IoctlPlan | null = null;
    const roll = only ? 0 : g.int(100);
    const kind = (): FdKindValue =>
      g.pick([FdKind.IOMMUFD, FdKind.VFIO, FdKind.VFIO, FdKind.EVENTQ]);
    if (roll < 62) {
      plan = this.planFor(only);
      call = {
        type: "IOCTL",
        fd: plan.kind === FdKind.VFIO ? 101 : 100,
        kind: plan.kind,
        request: plan.request,
        arg: plan.arg,
      };
    } else if (roll < 70) {
      const v = this.k.vintf;
      call = {
        type: "MMAP",
        fd: 100,
        kind: g.chance(0.8) ? FdKind.IOMMUFD : kind(),
        addr: 0n,
        length: v !== null && g.chance(0.7) ? v.length : g.u64(),
        prot: g.chance(0.8) ? 3 : g.u32(),
        flags: g.chance(0.8) ? 1 : g.u32(),
        offset: v !== null && g.chance(0.7) ? v.offset : g.u64(),
      };
    } else if (roll < 75) {
      call = {
        type: "MUNMAP",
        fd: 100,
        kind: kind(),
        addr: g.chance(0.5) ? 0n : g.u64(),
        length: this.k.vintf !== null && g.chance(0.6) ? this.k.vintf.length : g.u64(),
      };
    } else if (roll < 83) {
      call = {
        type: "PREAD",
        fd: 101,
        kind: g.chance(0.8) ? FdKind.VFIO : kind(),
        offset: g.chance(0.7) ? (7n << 40n) + BigInt(g.int(0x1100)) : g.u64(),
        length: g.pick([1, 2, 4, 4096, 8192, g.int(MAX_PAYLOAD + 1), MAX_PAYLOAD]),
      };
    } else if (roll < 89) {
      const n = g.chance(0.97) ? g.pick([1, 2, 4, 64, 5000]) : g.int(1 << 20);
      call = {
        type: "PWRITE",
        fd: 101,
        kind: g.chance(0.8) ? FdKind.VFIO : kind(),
        offset: g.chance(0.7) ? (7n << 40n) + BigInt(g.int(0x1100)) : g.u64(),
        data: g.bytes(n),
      };
    } else if (roll < 92) {
      call = { type: "READ", fd: 101, kind: kind(), length: g.int(MAX_PAYLOAD + 1) };
    } else if (roll < 94) {
      call = { type: "WRITE", fd: 101, kind: kind(), data: g.bytes(g.int(64)) };
    } else {
      const fds = this.k.eventFds;
      const k = g.chance(0.3) ? FdKind.EVENTQ : kind();
      call = {
        type: "CLOSE",
        fd: k === FdKind.EVENTQ && fds.length > 0 && g.chance(0.8) ? g.pick(fds) : g.u32() | 0,
        kind: k,
      };
    }
    await this.run(c, call, plan, g.chance(only ? 0.1 : 0.3));
  }

  private planFor(only?: { kind: FdKindValue; request: number }): IoctlPlan {
    return planIoctl(this.g, this.k, this.rig.roles, this.mem, only);
  }

  /** Sends one call on `c` and plays the preload's side until the call ends (or we stop). */
  private async run(c: Conn, call: Call, plan: IoctlPlan | null, hostile: boolean): Promise<void> {
    this.spend();
    const st: CallState = {
      call,
      plan,
      desc: describeCall(call, plan),
      hostile,
      faithful: true,
      mayDrop: false,
    };
    c.send(encode(call));
    if (!c.usable) return;
    if (c.pending !== null) return this.expectDrop(c, `${st.desc} while the server waits`);
    if (c.hello !== "accepted") return this.expectDrop(c, `${st.desc} before HELLO`);
    await this.drive(c, st);
  }

  /** Answers a request left pending, late but right, and follows the call to its end. */
  private async resume(c: Conn): Promise<void> {
    const p = c.pending;
    if (p === null || !c.usable) return;
    c.pending = null;
    this.spend();
    c.send(this.faithfulReply(p.request));
    await this.drive(c, p.call);
  }

  private async drive(c: Conn, st: CallState): Promise<void> {
    for (;;) {
      const m = await this.owed(c, st.desc);
      if (m === "closed") {
        if (!st.mayDrop && !c.dirty && c.broken === null) {
          this.fail(`the server dropped a conforming client during ${st.desc}`);
        }
        return;
      }
      if (FINALS.has(m.type)) return this.judgeFinal(st, m);
      count(`request ${m.type}`);
      if (!REQUESTS.has(m.type)) {
        this.fail(`the server sent ${m.type} during ${st.desc}`);
        c.dirty = true;
        return;
      }
      const next = await this.reply(c, m, st);
      if (next === "stop") return;
      if (next === "drop") return this.expectDrop(c, `a wrong reply to ${m.type} in ${st.desc}`);
    }
  }

  /** The preload's own answer to a request. */
  private faithfulReply(m: Message): Uint8Array {
    const roles = this.rig.roles;
    switch (m.type) {
      case "PEEK": {
        const data = this.mem.read(m.addr, m.length);
        return encode(data ? { type: "DATA", data } : { type: "FAULT", errno: Errno.EFAULT });
      }
      case "POKE":
        return encode(
          this.mem.write(m.addr, m.data) ? { type: "OK" } : { type: "FAULT", errno: Errno.EFAULT },
        );
      case "NEWPIPE":
        if (roles.fifo === null) return encode({ type: "FAULT", errno: Errno.EMFILE });
        this.handedOut.add(roles.fifo);
        return encode({ type: "PIPE", readFd: roles.fifo, writeFd: roles.fifo });
      case "CLOSEFD":
        return encode(
          this.handedOut.has(m.fd) ? { type: "OK" } : { type: "FAULT", errno: Errno.EBADF },
        );
      default:
        throw new Error(`not a request: ${m.type}`);
    }
  }

  /** Answers one request: faithfully, or (in a hostile call) in one of many wrong ways. */
  private async reply(c: Conn, m: Message, st: CallState): Promise<"go" | "stop" | "drop"> {
    const g = this.g;
    if (!st.hostile || !g.chance(0.35)) {
      c.send(this.faithfulReply(m));
      return "go";
    }
    st.faithful = false;
    const wrongType = (): Uint8Array => {
      const right: Record<string, string[]> = {
        PEEK: ["DATA", "FAULT"],
        POKE: ["OK", "FAULT"],
        NEWPIPE: ["PIPE", "FAULT"],
        CLOSEFD: ["OK", "FAULT"],
      };
      const choices: Message[] = (
        [
          { type: "DATA", data: g.bytes(4) },
          { type: "OK" },
          { type: "PIPE", readFd: 3, writeFd: 4 },
        ] as Message[]
      ).filter((x) => !right[m.type]!.includes(x.type));
      return encode(g.pick(choices));
    };
    switch (g.int(11)) {
      case 0:
        c.send(encode({ type: "FAULT", errno: g.pick([Errno.EFAULT, Errno.EIO, 1, 4095]) }));
        return "go";
      case 1:
        st.mayDrop = true;
        c.send(encode({ type: "FAULT", errno: g.pick([0, -1, -14, 4096, 0x7fff_ffff]) }));
        return "go";
      case 2:
        st.mayDrop = true;
        if (m.type === "PEEK") {
          const n = Math.max(0, m.length + g.pick([-1, 1, -m.length, 7]));
          c.send(encode({ type: "DATA", data: g.bytes(n) }));
          return "go";
        }
        c.send(wrongType());
        return "drop";
      case 3:
        c.send(wrongType());
        return "drop";
      case 4:
        c.send(encode({ type: "IOCTL", fd: 100, kind: 1, request: 0x3b81, arg: STRUCT_BASE }));
        return "drop";
      case 5:
        c.dirty = true;
        c.send(g.bytes(1 + g.int(64)));
        return "stop";
      case 6: {
        // Half a reply: the server waits for the rest, which never comes.
        const full = this.faithfulReply(m);
        c.dirty = true;
        c.send(full.subarray(0, 1 + g.int(full.length - 1)));
        return "stop";
      }
      case 7:
        await c.destroy();
        return "stop";
      case 8:
        // No reply for now: a later action may answer it, or close the connection.
        c.pending = { request: m, call: st };
        return "stop";
      case 9:
        if (m.type === "NEWPIPE") {
          st.mayDrop = true;
          const fds = this.rig.roles;
          c.send(
            encode({
              type: "PIPE",
              readFd: g.pick([-1, CLOSED_FD, fds.fifo ?? 3, fds.ram, 0]),
              writeFd: g.pick([-1, CLOSED_FD, fds.odd, fds.fifo ?? 4, -5]),
            }),
          );
          return "go";
        }
        c.send(this.faithfulReply(m));
        return "go";
      default:
        // The right reply, then one nobody asked for.
        c.send(Buffer.concat([this.faithfulReply(m), this.faithfulReply(m)]));
        return "drop";
    }
  }

  private judgeFinal(st: CallState, m: Message): void {
    const call = st.call;
    const what = st.desc;
    if (m.type === "RESULT") {
      const sane =
        (m.ret >= 0 && m.errno === 0) || (m.ret === -1 && m.errno >= 1 && m.errno < 4096);
      if (!sane) {
        this.fail(`${what} ended with ret ${m.ret} errno ${m.errno}`);
        return;
      }
    } else if (m.type === "RESULT_DATA") {
      if (call.type !== "PREAD" && call.type !== "READ") {
        this.fail(`${what} ended with RESULT_DATA`);
        return;
      }
      if (m.data.length > call.length) {
        this.fail(`${what} got ${m.data.length} bytes for a read of ${call.length}`);
        return;
      }
    } else if (m.type === "RESULT_MAP") {
      if (call.type !== "MMAP") {
        this.fail(`${what} ended with RESULT_MAP`);
        return;
      }
      this.shmDirs.add(dirname(m.path));
      if (this.maps.length < 8) this.maps.push(m.path);
      if (!existsSync(m.path)) this.fail(`${what} maps ${m.path}, which does not exist`);
    }
    const errno = m.type === "RESULT" && m.ret === -1 ? m.errno : 0;
    count(
      `${this.g.strict ? "realize " : ""}${st.plan?.name ?? call.type}${"kind" in call ? `/${call.kind}` : ""} ${errno === 0 ? "ok" : `errno ${errno}`}`,
    );
    // What the bytes alone decide, when every reply was the preload's own.
    if (st.faithful) {
      const want = expectedErrno(call, st.plan);
      if (want !== null && errno !== want) {
        this.fail(`${what} gave ${errno === 0 ? "success" : `errno ${errno}`}, not errno ${want}`);
      }
    }
    if (call.type === "IOCTL" && st.plan !== null && m.type === "RESULT" && m.ret >= 0) {
      this.learn(st.plan);
    }
  }

  /** Ids the host wrote back into a successful ioctl's struct. */
  private learn(p: IoctlPlan): void {
    const k = this.k;
    const s = this.mem.read(p.arg, 48) ?? this.mem.read(p.arg, 8);
    if (s === null) return;
    const dv = new DataView(s.buffer, s.byteOffset, s.byteLength);
    const u32 = (off: number) => (off + 4 <= s.length ? dv.getUint32(off, true) : 0);
    for (const off of p.outs) {
      const id = u32(off);
      if (id !== 0 && !k.ids.includes(id) && k.ids.length < 64) k.ids.push(id);
    }
    const out = p.outs[0] === undefined ? 0 : u32(p.outs[0]);
    switch (p.request) {
      case 0x3b76:
        if (p.kind === FdKind.VFIO) k.devId = out;
        break;
      case IOCTL.IOMMU_IOAS_ALLOC:
        k.ioasId ??= out;
        break;
      case IOCTL.IOMMU_HWPT_ALLOC:
        if ((u32(4) & 1) !== 0) k.nestHwpt ??= out;
        break;
      case IOCTL.IOMMU_VIOMMU_ALLOC: {
        k.viommuId = out;
        const data = this.mem.read(DATA_BASE, 16);
        if (data !== null && u32(24) >= 16) {
          const d = new DataView(data.buffer);
          k.vintf = { offset: d.getBigUint64(0, true), length: d.getBigUint64(8, true) };
        }
        break;
      }
      case IOCTL.IOMMU_VEVENTQ_ALLOC:
        if (k.eventFds.length < 16) k.eventFds.push(dv.getInt32(24, true));
        break;
      case IOCTL.IOMMU_HW_QUEUE_ALLOC:
        if (s.length >= 40 && k.queues.length < 8) {
          k.queues.push({
            index: u32(16),
            iova: dv.getBigUint64(24, true),
            length: dv.getBigUint64(32, true),
          });
        }
        break;
    }
  }

  // ---- frames outside the protocol ----

  private async garbage(c: Conn): Promise<void> {
    this.spend();
    const n = this.g.pick([1, 3, 7, 8, 9, 64, 300, 4096]);
    c.send(this.g.bytes(n));
    c.dirty = true;
  }

  /** A header whose length is below the type or past MAX_PAYLOAD: the server must drop us. */
  private async badLength(c: Conn): Promise<void> {
    this.spend();
    const h = new DataView(new ArrayBuffer(8));
    h.setUint32(0, this.g.pick([0, 1, 3, MAX_PAYLOAD + 5, 0xffff_ffff, 0x8000_0000]), true);
    h.setUint32(4, this.g.pick([FrameType.HELLO, FrameType.IOCTL, 0x99]), true);
    c.send(new Uint8Array(h.buffer));
    if (!c.usable) return;
    c.dirty = true;
    await this.expectDrop(c, "a frame length out of range");
  }

  /** A valid frame cut short: then the connection closes, stalls, or goes on (out of step). */
  private async truncated(c: Conn): Promise<void> {
    this.spend();
    const frame = this.anyFrame();
    c.send(frame.subarray(0, this.g.int(frame.length)));
    c.dirty = true;
    const then = this.g.int(3);
    if (then === 0) await c.destroy();
    else if (then === 1) c.end();
  }

  /** A known type with a payload of the wrong size: the server must drop us. */
  private async wrongSize(c: Conn): Promise<void> {
    this.spend();
    const frame = this.anyFrame();
    const payload = frame.length - 8;
    const size = Math.max(0, payload + this.g.pick([-1, 1, -payload, 3, 64]));
    const out = new Uint8Array(8 + size);
    out.set(frame.subarray(0, Math.min(frame.length, out.length)));
    new DataView(out.buffer).setUint32(0, 4 + size, true);
    const type = new DataView(out.buffer).getUint32(4, true);
    // Types whose payload may have any length past a minimum are no test of this.
    const min = TAIL_MIN.get(type);
    c.send(out);
    if (!c.usable) return;
    c.dirty = true;
    if (min !== undefined && size >= min) return;
    await this.expectDrop(c, `a type 0x${type.toString(16)} frame of ${size} payload bytes`);
  }

  private async unknownType(c: Conn): Promise<void> {
    this.spend();
    const h = new DataView(new ArrayBuffer(8 + 4));
    h.setUint32(0, 8, true);
    h.setUint32(4, this.g.pick([0, 0x0a, 0x24, 0x44, 0x53, 0xff, 0xffff_ffff]), true);
    c.send(new Uint8Array(h.buffer));
    if (!c.usable) return;
    c.dirty = true;
    await this.expectDrop(c, "an unknown frame type");
  }

  /** A reply nobody asked for, or a frame only the server sends: the server must drop us. */
  private async unasked(c: Conn): Promise<void> {
    this.spend();
    const g = this.g;
    const m: Message = g.pick<Message>([
      { type: "DATA", data: g.bytes(8) },
      { type: "OK" },
      { type: "FAULT", errno: 14 },
      { type: "PIPE", readFd: 3, writeFd: 4 },
      { type: "RESULT", ret: 0, errno: 0 },
      { type: "PEEK", addr: 0n, length: 8 },
      { type: "NEWPIPE" },
      { type: "RESULT_MAP", offset: 0n, path: "/etc/passwd" },
    ]);
    const waiting = c.pending !== null;
    c.send(encode(m));
    if (!c.usable) return;
    // While the server waits, a reply of the awaited type is simply the answer.
    if (waiting) {
      c.dirty = true;
      return;
    }
    c.dirty = true;
    await this.expectDrop(c, `an unasked ${m.type}`);
  }

  /** Two calls in one write: the second arrives while the first is open. */
  private async pipelined(c: Conn): Promise<void> {
    this.spend(2);
    const call = (): Uint8Array =>
      encode({
        type: "IOCTL",
        fd: 100,
        kind: FdKind.IOMMUFD,
        request: this.g.pick([IOCTL.IOMMU_IOAS_ALLOC, 0x3bfe, IOCTL.IOMMU_DESTROY]),
        arg: STRUCT_BASE + 0x100n,
      });
    c.send(Buffer.concat([call(), call()]));
    if (!c.usable || c.hello !== "accepted" || c.pending !== null) {
      c.dirty = true;
      return;
    }
    c.dirty = true;
    await this.expectDrop(c, "a call while a call is open");
  }

  /** A header announcing MAX_PAYLOAD bytes, then a little, then silence (or all of it). */
  private async hugeFrame(c: Conn): Promise<void> {
    this.spend();
    const g = this.g;
    if (c.usable && c.hello === "accepted" && c.pending === null && g.chance(0.1)) {
      // The largest frame there is, complete and valid.
      const data = new Uint8Array(MAX_PAYLOAD - 16);
      return this.run(
        c,
        { type: "PWRITE", fd: 101, kind: FdKind.VFIO, offset: 7n << 40n, data },
        null,
        false,
      );
    }
    const h = new DataView(new ArrayBuffer(8 + 64));
    h.setUint32(0, MAX_PAYLOAD + 4, true);
    h.setUint32(4, g.pick([FrameType.PWRITE, FrameType.IOCTL, FrameType.DATA, 0x77]), true);
    c.send(new Uint8Array(h.buffer).subarray(0, 8 + g.int(65)));
    c.dirty = true;
  }

  /** Many connections at once, each doing one small thing, most closed again. */
  private async burst(): Promise<void> {
    const g = this.g;
    const n = 2 + g.int(24);
    this.spend(n);
    const opened = await Promise.all(Array.from({ length: n }, () => Conn.open(this.socketPath)));
    const conns = opened.filter((c): c is Conn => c !== null);
    if (conns.length < opened.length) this.fail("the server refused connections in a burst");
    for (const c of conns) {
      switch (g.int(6)) {
        case 0:
          break;
        case 1:
          c.send(g.bytes(1 + g.int(40)));
          break;
        case 2: {
          const h = new DataView(new ArrayBuffer(8));
          h.setUint32(0, MAX_PAYLOAD + 4, true);
          h.setUint32(4, FrameType.PWRITE, true);
          c.send(new Uint8Array(h.buffer));
          break;
        }
        case 3:
          // A wrong version is refused whoever comes first; a good HELLO only once one
          // was accepted (else which connection wins would be a race).
          c.send(this.helloFrame(!this.accepted ? false : g.chance(0.5)));
          break;
        case 4:
          c.send(this.helloFrame(false).subarray(0, 5));
          break;
        default:
          c.send(encode({ type: "CLOSE", fd: 3, kind: FdKind.VFIO }));
          break;
      }
      c.dirty = true;
    }
    const keep = g.int(4);
    for (const [i, c] of conns.entries()) {
      if (i < keep && this.conns.length < MAX_CONNS) this.conns.push(c);
      else if (g.chance(0.5)) await c.destroy();
      else c.end();
    }
    // Whatever they did, the server must still take a connection at once.
    const probe = await Conn.open(this.socketPath);
    if (probe === null) this.fail("the server stopped accepting connections after a burst");
    else await probe.destroy();
  }

  /**
   * QEMU's guest at work, hostile: stores into page0 (PROD, CONFIG, any word of the first
   * queues' registers; rarely the file cut short), commands written into guest RAM where
   * the rings are, then the hardware's time.
   */
  private async scribble(): Promise<void> {
    const g = this.g;
    this.spend();
    const path = g.pick(this.maps);
    // Mostly a queue the host allocated: its ring filled, enabled, PROD moved.
    const q = this.k.queues.length > 0 && g.chance(0.7) ? g.pick(this.k.queues) : null;
    count(q === null ? "page0 stores" : "page0 stores to a live queue");
    const slotOf = (): number => (q !== null && g.chance(0.8) ? q.index & 3 : g.int(4));
    const ringAt =
      q !== null && q.iova >= RAM_IOVA && q.iova - RAM_IOVA < BigInt(this.rig.roles.ramSize)
        ? Number(q.iova - RAM_IOVA)
        : 0x1_0000 * g.int(32);
    const cmds = 1 + g.int(16);
    const ring = new DataView(new ArrayBuffer(16 * cmds));
    for (let i = 0; i < ring.byteLength; i += 16) {
      // TLBI_NH_ASID, CMD_SYNC, CFGI_STE (illegal on a VINTF), TLBI_NH_ALL, or any opcode
      ring.setBigUint64(i, BigInt(g.pick([0x11, 0x46, 0x03, 0x10, g.u32()])), true);
      ring.setBigUint64(i + 8, g.u64(), true);
    }
    writeSync(this.rig.roles.ram, new Uint8Array(ring.buffer), 0, ring.byteLength, ringAt);
    let fd: number;
    try {
      fd = openSync(path, "r+");
    } catch {
      return; // unmapped since: the server removed the file
    }
    try {
      if (g.chance(0.05)) ftruncateSync(fd, g.pick([0, 6, 0x80]));
      const store = (slot: number, reg: number, v: number): void => {
        const word = new DataView(new ArrayBuffer(4));
        word.setUint32(0, v, true);
        writeSync(fd, new Uint8Array(word.buffer), 0, 4, slot * 0x80 + 4 * reg);
      };
      // Registers: CONS 0, PROD 1, CONFIG 2, STATUS 3, GERROR 4, GERRORN 5.
      if (q !== null) store(slotOf(), 2, 1);
      for (let n = g.int(4); n > 0; n--) store(slotOf(), g.int(6), g.u32());
      store(slotOf(), 1, g.chance(0.8) ? cmds : g.u32());
    } finally {
      closeSync(fd);
    }
    await this.tick();
  }

  private async tick(): Promise<void> {
    const count = 1 + this.g.int(20);
    const a = await this.rig.thread.ask({ op: "tick", count }, PING_MS + count * 50);
    if (a === "crashed") throw new Abort(`the server thread died: ${this.rig.thread.crash}`);
    if (a === "timeout") throw new Abort("the hardware's tick blocked the server");
    if ("error" in a) this.fail(a.error);
  }

  /** Any well-formed frame, of any type, for the frame-level mutations. */
  private anyFrame(): Uint8Array {
    const g = this.g;
    return encode(
      g.pick<Message>([
        {
          type: "HELLO",
          version: 1,
          pid: process.pid,
          iommufdFd: 100,
          vfioFd: 101,
          guardPatched: true,
        },
        { type: "IOCTL", fd: 100, kind: FdKind.IOMMUFD, request: 0x3b81, arg: STRUCT_BASE },
        { type: "MMAP", fd: 100, kind: 1, addr: 0n, length: 4096n, prot: 3, flags: 1, offset: 0n },
        { type: "MUNMAP", fd: 100, kind: 1, addr: 0n, length: 4096n },
        { type: "PREAD", fd: 101, kind: 2, offset: 7n << 40n, length: 4 },
        { type: "PWRITE", fd: 101, kind: 2, offset: 7n << 40n, data: g.bytes(4) },
        { type: "READ", fd: 101, kind: 2, length: 8 },
        { type: "WRITE", fd: 101, kind: 2, data: g.bytes(2) },
        { type: "CLOSE", fd: 101, kind: 2 },
        { type: "DATA", data: g.bytes(12) },
        { type: "FAULT", errno: 14 },
        { type: "PIPE", readFd: 3, writeFd: 4 },
        { type: "POKE", addr: STRUCT_BASE, data: g.bytes(4) },
      ]),
    );
  }

  // ---- the end of an input ----

  /** Is the server still right? On the fuzzed connection (if it is usable) and a fresh one. */
  async endChecks(): Promise<void> {
    this.checkThread();
    const main = this.conns.find((c) => c.usable && c.hello === "accepted" && c.pending === null);
    if (main !== undefined) await this.probe(main, false);
    // Sometimes QEMU is still inside a call (the server waits for its reply) when the host
    // shuts down: that connection stays open through the server's close.
    const stalled = this.conns.find((c) => c.pending !== null && !c.closed);
    if (stalled !== undefined && this.g.chance(0.5)) this.survivor = stalled;
    await this.dropAll();
    // A connection out of step may have got a HELLO accepted unseen: ask the server.
    const held = await this.serverAccepted();
    if (this.accepted && !held) this.fail("the server forgot the QEMU it accepted");
    this.accepted ||= held;
    const c = await Conn.open(this.socketPath);
    if (c === null) {
      this.fail("the server refuses new connections after the input");
      return;
    }
    this.conns.push(c);
    c.send(
      encode({
        type: "HELLO",
        version: PROTOCOL_VERSION,
        pid: process.pid,
        iommufdFd: 100,
        vfioFd: 101,
        guardPatched: true,
      }),
    );
    const r = await this.owed(c, "the closing HELLO");
    if (r === "closed" || r.type !== "RESULT") {
      this.fail(`the closing HELLO got ${r === "closed" ? "a closed connection" : r.type}`);
    } else if (this.accepted) {
      // The host serves one QEMU; a second gets EBUSY, at once and in one frame.
      if (r.ret !== -1 || r.errno !== Errno.EBUSY) {
        this.fail(`a HELLO after the session got ret ${r.ret} errno ${r.errno}, not EBUSY`);
      }
    } else if (r.ret !== 0) {
      this.fail(`the first good HELLO got ret ${r.ret} errno ${r.errno}`);
    } else {
      c.hello = "accepted";
      await this.probe(c, true);
    }
    await this.dropAll();
  }

  /** Well-formed ioctls whose answers are known: ENOTTY, EFAULT, EINVAL (and a good one). */
  private async probe(c: Conn, fresh: boolean): Promise<void> {
    const ask = async (request: number, arg: bigint, struct: Uint8Array | null) => {
      if (struct !== null) this.mem.fill(arg, struct);
      c.send(encode({ type: "IOCTL", fd: 100, kind: FdKind.IOMMUFD, request, arg }));
      for (;;) {
        const m = await this.owed(c, `probe ioctl 0x${request.toString(16)}`);
        if (m === "closed") {
          this.fail(`the server dropped a probe ioctl 0x${request.toString(16)}`);
          return null;
        }
        if (FINALS.has(m.type)) return m;
        c.send(this.faithfulReply(m));
      }
    };
    const expect = async (what: string, want: number, r: Message | null) => {
      if (r === null) return;
      const got = r.type === "RESULT" ? (r.ret === -1 ? r.errno : 0) : -1;
      if (got !== want) {
        this.fail(
          `${what}: got ${r.type} ret ${"ret" in r ? r.ret : "?"} errno ${got}, not ${want}`,
        );
      }
    };
    const ioasAlloc = (size: number) => {
      const s = new Uint8Array(16);
      new DataView(s.buffer).setUint32(0, size, true);
      return s;
    };
    const at = STRUCT_BASE + 0x800n;
    await expect("an unknown iommufd ioctl", Errno.ENOTTY, await ask(0x3bfe, at, null));
    await expect("IOAS_ALLOC at an unmapped address", Errno.EFAULT, await ask(0x3b81, 0x10n, null));
    await expect("IOAS_ALLOC with size 4", Errno.EINVAL, await ask(0x3b81, at, ioasAlloc(4)));
    await expect(
      "IOAS_ALLOC past its mapping",
      Errno.EFAULT,
      await ask(0x3b81, STRUCT_BASE + BigInt(REGION_SIZE - 6), ioasAlloc(12)),
    );
    if (!fresh) return;
    const r = await ask(0x3b81, at, ioasAlloc(12));
    await expect("a good IOAS_ALLOC on a fresh session", 0, r);
    const back = this.mem.read(at + 8n, 4);
    if (r !== null && back !== null && new DataView(back.buffer).getUint32(0, true) === 0) {
      this.fail("a good IOAS_ALLOC did not write its id back");
    }
  }

  /** Closes every connection and waits until each is gone. */
  /** Closes every connection (but the survivor) and waits until each is gone. */
  async dropAll(): Promise<void> {
    const all = this.conns.filter((c) => c !== this.survivor);
    this.conns = this.survivor !== null ? [this.survivor] : [];
    await Promise.all(all.map((c) => c.destroy()));
  }

  /** After an abort: every connection closed, no more expectations. */
  async abandon(): Promise<void> {
    this.survivor = null;
    await this.dropAll();
  }

  /** After the server closed: the survivor must have been closed by it. */
  async afterClose(): Promise<void> {
    const c = this.survivor;
    this.survivor = null;
    if (c !== null) {
      const r = await c.next(OWED_MS);
      if (r === "timeout") this.fail("a connection inside a call outlived the server's close");
    }
    await this.dropAll();
  }
}

/** A message in one short line (bytes as a length). */
function show(m: Message): string {
  return JSON.stringify(m, (_k, v: unknown) =>
    typeof v === "bigint"
      ? `0x${v.toString(16)}`
      : v instanceof Uint8Array
        ? v.length <= 64
          ? Buffer.from(v).toString("hex")
          : `<${v.length} bytes>`
        : v,
  );
}

function describeCall(call: Call, plan: IoctlPlan | null): string {
  if (call.type === "IOCTL") {
    const kind =
      call.kind === FdKind.IOMMUFD ? "iommufd" : call.kind === FdKind.VFIO ? "vfio" : "veventq";
    return `ioctl(${kind}, ${plan?.name ?? `0x${call.request.toString(16)}`}, 0x${call.arg.toString(16)})`;
  }
  return `${call.type.toLowerCase()}(kind ${"kind" in call ? call.kind : "?"})`;
}

/** The errno a call must get when the fuzzer answered every request as the preload would. */
function expectedErrno(call: Call, plan: IoctlPlan | null): number | null {
  switch (call.type) {
    case "IOCTL":
      return plan?.expect ?? null;
    case "READ":
    case "WRITE":
      return Errno.EINVAL;
    case "PREAD":
    case "PWRITE":
      return call.kind === FdKind.VFIO ? null : Errno.EINVAL;
    case "MMAP":
      return call.kind === FdKind.IOMMUFD ? null : Errno.ENODEV;
    case "MUNMAP":
    case "CLOSE":
      return 0;
    default:
      return null;
  }
}
