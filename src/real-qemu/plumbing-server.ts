// The server end of the preload's socket: it accepts QEMU's connection, cuts the stream
// into calls, and hands each call to a HostCallHandler, which gives it its meaning. While
// a call is open the handler reads and writes QEMU memory through QemuMemory (PEEK/POKE
// round trips); its answer becomes the call's final frame. This file only moves bytes.
//
// A peer that breaks the protocol (garbage, oversized frames, a reply nobody asked for) is
// logged in one line and disconnected; the server goes on accepting. A handler that throws
// is a bug in the handler: logged, and the call fails with EIO.

import type { Buffer } from "node:buffer";
import {
  closeSync,
  constants,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { constants as osConstants, tmpdir } from "node:os";
import { join } from "node:path";
import { err, OK_VOID, ok, type Result } from "../util/result.js";
import {
  type Call,
  type CloseCall,
  decodeMessage,
  Errno,
  encode,
  type Final,
  FrameDecoder,
  type Hello,
  type IoctlCall,
  MAX_PAYLOAD,
  type MmapCall,
  type MunmapCall,
  PROTOCOL_VERSION,
  type PreadCall,
  type PwriteCall,
  type RawFrame,
  type ReadCall,
  type Reply,
  type Request,
  type WriteCall,
} from "./wire.js";

export type Awaitable<T> = T | Promise<T>;
/** A failed call: QEMU sees -1 with this errno. */
export interface Failure {
  readonly errno: number;
}
/** A call's outcome: its return value, or a failure. */
export type Outcome = { readonly ret: number } | Failure;
/** An accepted mmap maps this file (see Session.sharedFile) at this offset instead. */
export type MapOutcome = { readonly path: string; readonly offset: bigint } | Failure;

export function isFailure<T extends object>(x: T | Failure): x is Failure {
  return "errno" in x;
}

/** QEMU's memory and fds, valid only while the call it was passed with is open. */
export interface QemuMemory {
  peek(addr: bigint | number, length: number): Promise<Result<Uint8Array, number>>;
  poke(addr: bigint | number, data: Uint8Array): Promise<Result<undefined, number>>;
  /**
   * A pipe in QEMU for a vEVENTQ: `readFd` is QEMU's (put it in the ioctl's out struct);
   * the server writes whole records with `writer` (a write of at most PIPE_BUF bytes is
   * atomic). QEMU's write end is already closed, so QEMU reads EOF once the writer closes,
   * and QEMU 11.1 then spins on the fd warning "read failed": keep the writer open until
   * the vEVENTQ is destroyed. Any left open are closed with the session.
   */
  newEventPipe(): Promise<Result<{ readonly readFd: number; readonly writer: PipeWriter }, number>>;
  /** Closes a pipe fd that newEventPipe made (e.g. when the ioctl fails after it). */
  closeFd(fd: number): Promise<Result<undefined, number>>;
}

export interface PipeWriter {
  /** Non-blocking write; EAGAIN when the pipe is full, EPIPE when QEMU closed its end. */
  write(data: Uint8Array): Result<number, number>;
  close(): void;
}

/** One QEMU process connected through the preload. */
export interface Session {
  readonly hello: Hello;
  readonly pid: number;
  /** A file for MapOutcome, removed with the server; Node reads/writes it with pread/pwrite. */
  sharedFile(size: number): Result<SharedFile, number>;
  /**
   * Opens one of QEMU's own fds through /proc for Node's fs calls, e.g. the guest-RAM memfd
   * that IOMMU_IOAS_MAP_FILE names (read/write it with readSync/writeSync at an offset).
   * Closed with the session; errno when QEMU has no such fd, EIO once the session ended
   * (QEMU is gone: nothing may be opened that no one would close).
   */
  openFd(fd: number, access: "r" | "rw"): Result<number, number>;
  /** Closes an fd openFd gave (one the caller will not keep) before the session ends. */
  closeOpened(nodeFd: number): void;
  log(line: string): void;
}

export interface SharedFile {
  readonly path: string;
  readonly fd: number;
  read(offset: number, length: number): Uint8Array;
  write(offset: number, data: Uint8Array): void;
  /** Closes and removes the file (a mapping QEMU still holds stays valid). */
  remove(): void;
}

/**
 * The meaning of QEMU's calls, one handler per connected QEMU. Only ioctl is required; the
 * others default to: mmap ENODEV, pread/pwrite/read/write EINVAL, munmap/close nothing.
 */
export interface HostCallHandler {
  ioctl(call: IoctlCall, mem: QemuMemory): Awaitable<Outcome>;
  mmap?(call: MmapCall, mem: QemuMemory): Awaitable<MapOutcome>;
  munmap?(call: MunmapCall): Awaitable<void>;
  pread?(call: PreadCall, mem: QemuMemory): Awaitable<Uint8Array | Failure>;
  pwrite?(call: PwriteCall, mem: QemuMemory): Awaitable<Outcome>;
  read?(call: ReadCall, mem: QemuMemory): Awaitable<Uint8Array | Failure>;
  write?(call: WriteCall, mem: QemuMemory): Awaitable<Outcome>;
  /** Already closed in QEMU; this is a notice. */
  close?(call: CloseCall): Awaitable<void>;
  /** The connection ended: QEMU exited, or the protocol broke (reason says which). */
  end?(reason: string): void;
}

/** Accepts a QEMU (returns its handler) or refuses it (QEMU exits with the errno). */
export type HandlerFactory = (hello: Hello, session: Session) => HostCallHandler | Failure;

export interface PlumbingServerOptions {
  onHello: HandlerFactory;
  /** Socket path; by default `host.sock` in a private temp dir removed on close. */
  socketPath?: string;
  /** One line per protocol event worth knowing; default stderr. */
  log?: (line: string) => void;
}

export interface PlumbingServer {
  readonly socketPath: string;
  /** Resolves when the server and every connection are closed and its files removed. */
  close(): Promise<void>;
}

export async function startPlumbingServer(opts: PlumbingServerOptions): Promise<PlumbingServer> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = opts.socketPath === undefined ? mkdtempSync(join(tmpdir(), "cmdqv-sock-")) : null;
  const socketPath = opts.socketPath ?? join(dir!, "host.sock");
  const files = new SharedFiles();
  const connections = new Set<Connection>();
  const server: Server = createServer((socket) => {
    const c = new Connection(socket, opts.onHello, files, log);
    connections.add(c);
    socket.on("close", () => connections.delete(c));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    if (dir) rmSync(dir, { recursive: true, force: true });
    files.removeAll();
    throw new PlumbingError(`cannot listen on ${socketPath}: ${(e as Error).message}`);
  }
  server.on("error", (e) => log(`plumbing server: ${e.message}`));
  let closing: Promise<void> | null = null;
  return {
    socketPath,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const c of connections) c.destroy("server closed");
        server.close(() => {
          files.removeAll();
          if (dir) rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      });
      return closing;
    },
  };
}

export class PlumbingError extends Error {
  override readonly name = "PlumbingError";
}

type Expect = readonly Reply["type"][];
interface Waiting {
  readonly expect: Expect;
  readonly resolve: (r: Reply | null) => void;
}

/** One preload connection: HELLO first, then calls one at a time. */
class Connection {
  private readonly decoder = new FrameDecoder();
  private handler: HostCallHandler | null = null;
  private session: Session | null = null;
  /** A call is open (its final frame not yet sent). */
  private busy = false;
  private waiting: Waiting | null = null;
  /** Requests of one call go out one at a time, in the order the handler made them. */
  private requests: Promise<unknown> = Promise.resolve();
  private readonly writers = new Set<PipeWriter>();
  /** Node fds from Session.openFd. */
  private readonly opened: number[] = [];
  private ended = false;
  private readonly socket: Socket;
  private readonly onHello: HandlerFactory;
  private readonly files: SharedFiles;
  private readonly log: (line: string) => void;

  constructor(
    socket: Socket,
    onHello: HandlerFactory,
    files: SharedFiles,
    log: (line: string) => void,
  ) {
    this.socket = socket;
    this.onHello = onHello;
    this.files = files;
    this.log = log;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => this.finish("connection error"));
    socket.on("close", () => this.finish(this.decoder.midFrame ? "closed mid-frame" : "closed"));
  }

  destroy(reason: string): void {
    this.finish(reason);
    this.socket.destroy();
  }

  private protocolError(reason: string): void {
    this.log(`plumbing server: protocol error from pid ${this.session?.pid ?? "?"}: ${reason}`);
    this.destroy(`protocol error: ${reason}`);
  }

  private finish(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.waiting?.resolve(null);
    this.waiting = null;
    for (const w of this.writers) w.close();
    this.writers.clear();
    for (const fd of this.opened.splice(0)) closeSync(fd);
    try {
      this.handler?.end?.(reason);
    } catch (e) {
      this.log(`plumbing server: handler end() threw: ${(e as Error).message}`);
    }
  }

  private onData(chunk: Buffer): void {
    if (this.ended) return;
    const frames = this.decoder.push(chunk);
    if (!frames.ok) {
      this.protocolError(frames.error.reason);
      return;
    }
    for (const raw of frames.value) {
      if (this.ended) return;
      const problem = this.take(raw);
      if (problem !== null) {
        this.protocolError(problem);
        return;
      }
    }
  }

  /** Acts on one frame; returns what is wrong with it in this state, or null. */
  private take(raw: RawFrame): string | null {
    const m = decodeMessage(raw);
    if (!m.ok) return m.error.reason;
    const msg = m.value;
    if (this.waiting) {
      const w = this.waiting;
      if (!(w.expect as readonly string[]).includes(msg.type)) {
        return `${msg.type} while waiting for ${w.expect.join("/")}`;
      }
      const wrong = replyProblem(msg as Reply);
      if (wrong !== null) return wrong;
      this.waiting = null;
      w.resolve(msg as Reply);
    } else if (this.busy) {
      return `${msg.type} while a call is open`;
    } else if (this.session === null) {
      if (msg.type !== "HELLO") return `${msg.type} before HELLO`;
      this.hello(msg);
    } else if (msg.type === "HELLO" || !isCall(msg)) {
      return `${msg.type} is not a call`;
    } else {
      this.busy = true;
      void this.serve(msg);
    }
    return null;
  }

  private send(frame: Final | Request): void {
    if (!this.ended && this.socket.writable) this.socket.write(encode(frame));
  }

  private hello(hello: Hello): void {
    this.session = {
      hello,
      pid: hello.pid,
      sharedFile: (size) => this.files.create(size),
      openFd: (fd, access) => {
        if (this.ended) return err(Errno.EIO);
        const flags = access === "rw" ? constants.O_RDWR : constants.O_RDONLY;
        try {
          const own = openSync(`/proc/${hello.pid}/fd/${fd}`, flags);
          this.opened.push(own);
          return ok(own);
        } catch (e) {
          return err(errnoOf(e));
        }
      },
      closeOpened: (nodeFd) => {
        const at = this.opened.indexOf(nodeFd);
        if (at < 0) return;
        this.opened.splice(at, 1);
        closeSync(nodeFd);
      },
      log: this.log,
    };
    let answer: HostCallHandler | Failure;
    if (hello.version !== PROTOCOL_VERSION) {
      this.log(`plumbing server: preload speaks version ${hello.version}, not ${PROTOCOL_VERSION}`);
      answer = { errno: Errno.EPROTO };
    } else {
      try {
        answer = this.onHello(hello, this.session);
      } catch (e) {
        this.log(`plumbing server: onHello threw: ${(e as Error).message}`);
        answer = { errno: Errno.EIO };
      }
    }
    if (isFailure(answer)) {
      // The preload exits QEMU with this errno; nothing more is read from it.
      this.send({ type: "RESULT", ret: -1, errno: answer.errno });
      this.finish("refused");
      this.socket.end();
      return;
    }
    this.handler = answer;
    this.send({ type: "RESULT", ret: 0, errno: 0 });
  }

  private async serve(call: Exclude<Call, Hello>): Promise<void> {
    const mem = this.memory();
    let frame: Uint8Array;
    try {
      // Encoded here so that an impossible answer (a fractional ret, a bad path) is a
      // handler failure like any other.
      frame = encode(await this.dispatch(call, mem.api));
    } catch (e) {
      this.log(`plumbing server: handler failed on ${call.type}: ${(e as Error).message}`);
      frame = encode({ type: "RESULT", ret: -1, errno: Errno.EIO });
    }
    mem.close();
    // Requests the handler started but did not await must not follow the final frame.
    await this.requests;
    this.busy = false;
    if (!this.ended && this.socket.writable) this.socket.write(frame);
  }

  private async dispatch(call: Exclude<Call, Hello>, mem: QemuMemory): Promise<Final> {
    const h = this.handler!;
    const result = (o: Outcome): Final =>
      isFailure(o)
        ? { type: "RESULT", ret: -1, errno: o.errno }
        : { type: "RESULT", ret: o.ret, errno: 0 };
    const fail = (errno: number): Final => ({ type: "RESULT", ret: -1, errno });
    const bytes = (r: Uint8Array | Failure, max: number): Final => {
      if (isFailure(r)) return fail(r.errno);
      if (r.length > max) throw new Error(`${r.length} bytes for a read of ${max}`);
      return { type: "RESULT_DATA", data: r };
    };
    switch (call.type) {
      case "IOCTL":
        return result(await h.ioctl(call, mem));
      case "MMAP": {
        const r = h.mmap ? await h.mmap(call, mem) : { errno: Errno.ENODEV };
        return isFailure(r) ? fail(r.errno) : { type: "RESULT_MAP", ...r };
      }
      case "MUNMAP":
        await h.munmap?.(call);
        return result({ ret: 0 });
      case "PREAD":
        return bytes(h.pread ? await h.pread(call, mem) : { errno: Errno.EINVAL }, call.length);
      case "READ":
        return bytes(h.read ? await h.read(call, mem) : { errno: Errno.EINVAL }, call.length);
      case "PWRITE":
        return result(h.pwrite ? await h.pwrite(call, mem) : { errno: Errno.EINVAL });
      case "WRITE":
        return result(h.write ? await h.write(call, mem) : { errno: Errno.EINVAL });
      case "CLOSE":
        await h.close?.(call);
        return result({ ret: 0 });
    }
  }

  /** Sends one request and waits for its reply (null: connection gone or call over). */
  private request(req: Request, expect: Expect, open: () => boolean): Promise<Reply | null> {
    const next = this.requests.then(
      () =>
        new Promise<Reply | null>((resolve) => {
          if (this.ended || !open()) return resolve(null);
          this.waiting = { expect, resolve };
          this.send(req);
        }),
    );
    this.requests = next;
    return next;
  }

  private memory(): { api: QemuMemory; close(): void } {
    let open = true;
    const isOpen = (): boolean => open;
    const gone = (what: string): number => {
      if (!this.ended) this.log(`plumbing server: ${what} after its call ended (handler bug)`);
      return Errno.EIO;
    };
    const ask = async (req: Request, expect: Expect): Promise<Result<Reply, number>> => {
      if (!open) return err(gone(req.type));
      const r = await this.request(req, expect, isOpen);
      if (r === null) return err(Errno.EIO);
      return r.type === "FAULT" ? err(r.errno) : ok(r);
    };
    const api: QemuMemory = {
      peek: async (addr, length) => {
        // The preload drops the connection on a PEEK longer than a frame.
        if (!Number.isSafeInteger(length) || length < 0 || length > MAX_PAYLOAD) {
          return err(Errno.EINVAL);
        }
        const r = await ask({ type: "PEEK", addr: BigInt(addr), length }, ["DATA", "FAULT"]);
        if (!r.ok) return r;
        const data = (r.value as Extract<Reply, { type: "DATA" }>).data;
        return data.length === length ? ok(data) : err(Errno.EIO);
      },
      poke: async (addr, data) => {
        if (data.length > MAX_PAYLOAD - 8) return err(Errno.EINVAL);
        const r = await ask({ type: "POKE", addr: BigInt(addr), data }, ["OK", "FAULT"]);
        return r.ok ? OK_VOID : r;
      },
      closeFd: async (fd) => {
        const r = await ask({ type: "CLOSEFD", fd }, ["OK", "FAULT"]);
        return r.ok ? OK_VOID : r;
      },
      newEventPipe: async () => {
        const r = await ask({ type: "NEWPIPE" }, ["PIPE", "FAULT"]);
        if (!r.ok) return r;
        const { readFd, writeFd } = r.value as Extract<Reply, { type: "PIPE" }>;
        const writer = openPipeWriter(this.session!.pid, writeFd);
        // QEMU's copy of the write end goes either way: the pipe is ours alone to write.
        await api.closeFd(writeFd);
        if (!writer.ok) {
          await api.closeFd(readFd);
          return writer;
        }
        // The connection may have ended while CLOSEFD was out: the session already closed
        // its writers, so this one is closed here, not kept by nobody.
        if (this.ended) {
          writer.value.close();
          return err(Errno.EIO);
        }
        this.writers.add(writer.value);
        return ok({ readFd, writer: writer.value });
      },
    };
    return {
      api,
      close: () => {
        open = false;
      },
    };
  }
}

/**
 * What is impossible in a reply of the expected type: the preload's FAULT carries a real
 * errno (1..4095, as the kernel's -errno range) and its PIPE two real descriptors. A
 * handler would read FAULT(0) as a failure without an errno, and -5 as fd 5's success.
 */
function replyProblem(r: Reply): string | null {
  if (r.type === "FAULT" && !(r.errno >= 1 && r.errno <= MAX_ERRNO)) {
    return `FAULT with errno ${r.errno}`;
  }
  if (r.type === "PIPE" && (r.readFd < 0 || r.writeFd < 0)) {
    return `PIPE with fds ${r.readFd}, ${r.writeFd}`;
  }
  return null;
}
/** The largest errno (include/linux/err.h MAX_ERRNO). */
const MAX_ERRNO = 4095;

function isCall(m: { readonly type: string }): m is Call {
  return CALL_TYPES.has(m.type);
}
const CALL_TYPES = new Set<string>([
  "IOCTL",
  "MMAP",
  "MUNMAP",
  "PREAD",
  "PWRITE",
  "READ",
  "WRITE",
  "CLOSE",
]);

/** The errno of a failed fs call (Node gives the name in `code`). */
function errnoOf(e: unknown): number {
  const code = (e as NodeJS.ErrnoException).code;
  return (code && osConstants.errno[code as keyof typeof osConstants.errno]) || Errno.EIO;
}

/**
 * QEMU's write end of a pipe, opened again through /proc (no fd passing needed): the
 * open file is shared, so QEMU's own copy can be closed at once.
 */
function openPipeWriter(pid: number, writeFd: number): Result<PipeWriter, number> {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/fd/${writeFd}`, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch (e) {
    return err(errnoOf(e));
  }
  let open = true;
  return ok({
    write(data) {
      if (!open) return err(Errno.EBADF);
      try {
        return ok(writeSync(fd, data));
      } catch (e) {
        return err(errnoOf(e));
      }
    },
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  });
}

/**
 * Files that back QEMU's mmaps of simulated fds, in a private directory (tmpfs /dev/shm
 * where there is one: the page is shared memory, not disk), removed with the server.
 */
class SharedFiles {
  private dir: string | null = null;
  private next = 0;
  private readonly live = new Set<SharedFile>();

  create(size: number): Result<SharedFile, number> {
    try {
      this.dir ??= mkdtempSync(join(shmBase(), "cmdqv-shm-"));
      const path = join(this.dir, `map-${this.next++}`);
      const fd = openSync(path, "wx+", 0o600);
      ftruncateSync(fd, size);
      let gone = false;
      const file: SharedFile = {
        path,
        fd,
        read(offset, length) {
          const buf = new Uint8Array(length);
          readSync(fd, buf, 0, length, offset);
          return buf;
        },
        write(offset, data) {
          writeSync(fd, data, 0, data.length, offset);
        },
        remove: () => {
          if (gone) return;
          gone = true;
          this.live.delete(file);
          closeSync(fd);
          unlinkSync(path);
        },
      };
      this.live.add(file);
      return ok(file);
    } catch (e) {
      return err(errnoOf(e));
    }
  }

  removeAll(): void {
    for (const f of this.live) f.remove();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}

function shmBase(): string {
  try {
    if (statSync("/dev/shm").isDirectory()) return "/dev/shm";
  } catch {
    // no /dev/shm: the temp dir works the same, only on disk
  }
  return tmpdir();
}
