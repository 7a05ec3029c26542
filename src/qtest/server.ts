// Transports for the qtest session: stdio (QEMU's `-qtest stdio`) and a unix socket
// server (QEMU's `-qtest unix:PATH,server=on`). This layer is an I/O adapter outside the
// deterministic core: it moves bytes and calls the synchronous QtestSession.
//
// Text is decoded and encoded as latin1, one char per byte, so the session sees the bytes
// QEMU's C code sees (lengths, `FAIL Unknown command '…'` echoing the bytes back).

import { Buffer } from "node:buffer";
import { lstatSync, readSync, unlinkSync, writeSync } from "node:fs";
import { Server, type Socket } from "node:net";
import type { Readable, Writable } from "node:stream";
import { QtestSession, type QtestSessionOptions } from "./protocol.js";
import type { QtestTarget } from "./target.js";

/**
 * Unsent reply bytes a transport may hold before the session stops running lines: a client
 * that sends requests and does not read the replies (150 `read`s of 16 MiB each would
 * queue 4.8 GB) makes the server stop reading it, not grow. One reply may pass the bound
 * (a `read` of QTEST_MAX_TRANSFER bytes is a 32 MiB line); the next line waits for it.
 */
export const QTEST_OUTPUT_HOLD = 1024 * 1024;

/**
 * Run `session` on a pair of streams until `input` ends, with backpressure: while
 * `output` holds more than QTEST_OUTPUT_HOLD unsent bytes, no line runs and `input` is
 * paused; each `drain` lets the held lines go on. Lines received before the input ended
 * are all answered before this resolves. Output errors (the reader went away) end the
 * answers, not the session: the input is still consumed to its end.
 */
function runOnStreams(
  session: QtestSession,
  input: Readable,
  output: Writable,
  onBroken: () => void,
): Promise<void> {
  input.setEncoding("latin1");
  return new Promise<void>((resolve, reject) => {
    let ended = false;
    let waitingForDrain = false;
    const finish = (error?: Error): void => {
      session.close();
      input.off("data", onData);
      input.off("end", onEnd);
      input.off("close", onEnd);
      input.off("error", onError);
      output.off("error", onOutputError);
      output.off("drain", onDrain);
      if (error) reject(error);
      else resolve();
    };
    const hold = (): void => {
      if (!session.holding) {
        if (ended) finish();
        else input.resume();
        return;
      }
      input.pause();
      if (!waitingForDrain) {
        waitingForDrain = true;
        output.once("drain", onDrain);
      }
    };
    const onDrain = (): void => {
      waitingForDrain = false;
      session.resume();
      session.idle();
      hold();
    };
    const onData = (chunk: string): void => {
      session.feed(chunk);
      session.idle();
      if (session.holding) hold();
    };
    const onEnd = (): void => {
      if (ended) return;
      ended = true;
      if (!session.holding) finish();
    };
    const onError = (error: Error): void => finish(error);
    const onOutputError = (): void => {
      onBroken();
      // Nothing will drain any more: let held lines run into the void.
      if (waitingForDrain) onDrain();
    };
    output.on("error", onOutputError);
    input.on("data", onData);
    input.on("end", onEnd);
    input.on("close", onEnd);
    input.on("error", onError);
  });
}

/**
 * Serve one qtest session over a pair of streams (line-buffered; `\n` or `\r\n` ends a
 * line; a line may arrive split over chunks). Resolves when `input` ends or closes and
 * every complete line has its reply; a partial last line without its newline is dropped,
 * as QEMU's qtest_process_inbuf runs only complete lines.
 */
export function serveStdio(
  target: QtestTarget,
  input: Readable,
  output: Writable,
  options: QtestSessionOptions = {},
): Promise<void> {
  let broken = false;
  const session = new QtestSession(
    target,
    (line) => {
      if (!broken) output.write(`${line}\n`, "latin1");
    },
    { ...options, holdReplies: () => !broken && output.writableLength > QTEST_OUTPUT_HOLD },
  );
  return runOnStreams(session, input, output, () => {
    broken = true;
  });
}

/**
 * A unix-socket qtest server. Like QEMU's socket chardev server it talks to one client at
 * a time: a second connection waits, unread, until the first one closes, then gets a
 * fresh session. `close()` also destroys the live and waiting connections (a plain
 * net.Server would wait for them) and removes the socket file.
 */
class QtestSocketServer extends Server {
  private readonly sockets = new Set<Socket>();

  track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
  }

  override close(callback?: (err?: Error) => void): this {
    for (const s of this.sockets) s.destroy();
    return super.close(callback);
  }
}

/**
 * Listen on unix socket `path`, serving each connection a new QtestSession. A stale socket
 * file at `path` is removed first (QEMU unlinks the path before bind); any other kind of
 * file there is an error, never deleted. Resolves once listening.
 */
export async function serveSocket(
  target: QtestTarget,
  path: string,
  options: QtestSessionOptions = {},
): Promise<Server> {
  removeStaleSocket(path);
  const server = new QtestSocketServer({ pauseOnConnect: true });
  const waiting: Socket[] = [];
  let active: Socket | null = null;

  const start = (socket: Socket): void => {
    active = socket;
    let broken = false;
    const session = new QtestSession(
      target,
      (line) => {
        if (!broken && !socket.destroyed && socket.writable) socket.write(`${line}\n`, "latin1");
      },
      {
        ...options,
        // A client that does not read its replies stops being read (bounded memory).
        holdReplies: () => !broken && socket.writableLength > QTEST_OUTPUT_HOLD,
      },
    );
    const done = (): void => {
      session.close();
      if (active === socket) active = null;
      next();
    };
    socket.once("close", done);
    runOnStreams(session, socket, socket, () => {
      broken = true;
    }).then(
      () => socket.end(),
      () => socket.destroy(),
    );
    socket.resume();
  };
  const next = (): void => {
    while (active === null && waiting.length > 0) {
      const socket = waiting.shift();
      if (socket !== undefined && !socket.destroyed) start(socket);
    }
  };

  server.on("connection", (socket) => {
    server.track(socket);
    socket.on("error", () => {
      // A reset peer; "close" follows and frees the slot.
    });
    if (active === null) {
      start(socket);
    } else {
      waiting.push(socket);
      socket.on("close", () => {
        const i = waiting.indexOf(socket);
        if (i >= 0) waiting.splice(i, 1);
      });
    }
  });
  server.on("close", () => {
    waiting.length = 0;
    try {
      removeStaleSocket(path);
    } catch {
      // Something else took the path; leave it.
    }
  });

  return await new Promise<Server>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

function removeStaleSocket(path: string): void {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket; not removing it`);
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

export interface StdioFds {
  readonly inFd: number;
  readonly outFd: number;
  /** The same descriptors as streams, made only if the blocking loop cannot go on. */
  readonly input: () => Readable;
  readonly output: () => Writable;
}

/**
 * The stdio transport as a blocking loop on file descriptors: read what the pipe holds,
 * run the complete lines, write the replies of that batch at once. `cmdqv qtest` on stdio
 * has nothing else to do, and skipping the stream machinery roughly halves the time a
 * round trip spends in the server.
 *
 * A descriptor may be non-blocking, though (its open file is shared with whoever started
 * us, and Node makes a pipe non-blocking as soon as process.stdin or process.stdout is
 * touched). Then a read or a write answers EAGAIN; the session goes on over the streams,
 * which wait for the descriptor properly (no spinning, no dropped reply) and apply
 * backpressure. Replies are written in full while the reader lives; a reader that went
 * away (EPIPE) only ends the answers.
 */
export async function serveStdioFds(
  target: QtestTarget,
  fds: StdioFds,
  options: QtestSessionOptions = {},
): Promise<void> {
  /** The replies of the current batch, as bytes: `pending` of them in `replies`. */
  let replies = Buffer.allocUnsafe(1 << 16);
  let pending = 0;
  let broken = false;
  let output: Writable | null = null;
  const session = new QtestSession(
    target,
    (line) => {
      if (broken) return;
      if (output !== null) {
        output.write(`${line}\n`, "latin1");
        return;
      }
      if (pending + line.length + 1 > replies.length) {
        const grown = Buffer.allocUnsafe(Math.max(2 * replies.length, pending + line.length + 1));
        replies.copy(grown, 0, 0, pending);
        replies = grown;
      }
      pending += replies.write(line, pending, "latin1");
      replies[pending++] = 0x0a;
    },
    {
      ...options,
      holdReplies: () => output !== null && !broken && output.writableLength > QTEST_OUTPUT_HOLD,
    },
  );
  const buf = Buffer.alloc(1 << 16);
  /** Bytes a write left unsent when the descriptor would block. */
  let unsent: Buffer | null = null;
  let inputEnded = false;
  let wouldBlock = false;
  while (!wouldBlock) {
    let n: number;
    try {
      n = readSync(fds.inFd, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") {
        wouldBlock = true;
        break;
      }
      if (code !== "EOF") throw e;
      n = 0;
    }
    if (n === 0) {
      inputEnded = true;
      break;
    }
    session.feed(buf.toString("latin1", 0, n));
    const length = pending;
    pending = 0;
    let off = 0;
    if (length > 0 && !broken)
      try {
        while (off < length) off += writeSync(fds.outFd, replies, off, length - off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") {
          unsent = Buffer.from(replies.subarray(off, length));
          wouldBlock = true;
        } else broken = true; // EPIPE: the reader went away; keep consuming input
      }
    // The replies are out: the target's deferred work (the invariant check) runs while
    // the client reads them, not before.
    session.idle();
    // A large reply (a `read` of megabytes) grew the buffer: do not keep that for good.
    if (replies.length > QTEST_OUTPUT_HOLD) replies = Buffer.allocUnsafe(1 << 16);
  }
  if (!wouldBlock) {
    session.close();
    return;
  }
  const out = fds.output();
  output = out;
  if (unsent !== null) out.write(unsent);
  if (inputEnded) {
    session.close();
    await new Promise<void>((resolve) => {
      if (out.writableLength === 0) resolve();
      else out.once("drain", () => resolve()).once("error", () => resolve());
    });
    return;
  }
  await runOnStreams(session, fds.input(), out, () => {
    broken = true;
  });
}
