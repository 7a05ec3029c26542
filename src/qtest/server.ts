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
 * Serve one qtest session over a pair of streams (line-buffered; `\n` or `\r\n` ends a
 * line; a line may arrive split over chunks). Resolves when `input` ends or closes; a
 * partial last line without its newline is dropped, as QEMU's qtest_process_inbuf runs
 * only complete lines. Output errors (the reader went away) end the session quietly.
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
    options,
  );
  const onOutputError = (): void => {
    broken = true;
    session.close();
  };
  output.on("error", onOutputError);
  input.setEncoding("latin1");
  return new Promise<void>((resolve, reject) => {
    const finish = (error?: Error): void => {
      session.close();
      input.off("data", onData);
      input.off("end", onEnd);
      input.off("close", onEnd);
      input.off("error", onError);
      output.off("error", onOutputError);
      if (error) reject(error);
      else resolve();
    };
    const onData = (chunk: string): void => session.feed(chunk);
    const onEnd = (): void => finish();
    const onError = (error: Error): void => finish(error);
    input.on("data", onData);
    input.on("end", onEnd);
    input.on("close", onEnd);
    input.on("error", onError);
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
    const session = new QtestSession(
      target,
      (line) => {
        if (!socket.destroyed && socket.writable) socket.write(`${line}\n`, "latin1");
      },
      options,
    );
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => session.feed(chunk));
    socket.on("close", () => {
      session.close();
      if (active === socket) active = null;
      next();
    });
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

/**
 * The stdio transport as a blocking loop on file descriptors: read what the pipe holds,
 * run the complete lines, write the replies of that batch at once. `cmdqv qtest` on stdio
 * has nothing else to do, and skipping the stream machinery roughly halves the time a
 * round trip spends in the server. Returns false, having read nothing, when the input
 * cannot be read synchronously (EAGAIN: a non-blocking descriptor), so the caller can
 * fall back to serveStdio.
 */
export function serveStdioSync(
  target: QtestTarget,
  inFd: number,
  outFd: number,
  options: QtestSessionOptions = {},
): boolean {
  let pending = "";
  let broken = false;
  const session = new QtestSession(
    target,
    (line) => {
      pending += `${line}\n`;
    },
    options,
  );
  const buf = Buffer.alloc(1 << 16);
  const flush = (): void => {
    if (pending === "" || broken) {
      pending = "";
      return;
    }
    const data = Buffer.from(pending, "latin1");
    pending = "";
    try {
      for (let off = 0; off < data.length; ) off += writeSync(outFd, data, off, data.length - off);
    } catch {
      // The reader went away (EPIPE): keep consuming input, as the stream transport does.
      broken = true;
      session.close();
    }
  };
  let first = true;
  for (;;) {
    let n: number;
    try {
      n = readSync(inFd, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EAGAIN" && first) return false;
      if (code === "EAGAIN") continue;
      if (code === "EOF") break;
      throw e;
    }
    first = false;
    if (n === 0) break;
    session.feed(buf.toString("latin1", 0, n));
    flush();
  }
  session.close();
  return true;
}
