// A small QMP client: what the differential needs of QEMU's monitor, which qtest's text
// protocol lacks — `system_reset`. QMP is JSON lines over a unix socket: a greeting, then
// `qmp_capabilities`, then commands answered by {"return": …} or {"error": …}, with
// asynchronous {"event": …} lines in between (QEMU's docs/interop/qmp-spec.rst).

import { createServer, type Socket } from "node:net";
import { createInterface } from "node:readline";

export class QmpError extends Error {
  override readonly name = "QmpError";
}

interface Waiter {
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: Error) => void;
}

export class QmpClient {
  private readonly sock: Socket;
  private readonly replies: Waiter[] = [];
  private readonly eventWaiters = new Map<string, (() => void)[]>();
  private closedError: Error | null = null;

  private constructor(sock: Socket) {
    this.sock = sock;
    // The socket's own error handler below reports; readline re-emits it, unhandled.
    createInterface({ input: sock })
      .on("line", (line) => this.onLine(line))
      .on("error", () => {});
    const fail = (e: Error) => {
      this.closedError ??= e;
      for (const w of this.replies.splice(0)) w.reject(e);
    };
    sock.on("error", (e) => fail(new QmpError(`QMP: ${e.message}`)));
    sock.on("close", () => fail(new QmpError("QMP: QEMU closed the monitor")));
  }

  /**
   * Listen on `path` for QEMU's monitor (`-qmp unix:PATH`: QEMU connects as a client while
   * it starts, so no polling is needed). `client` settles once QEMU connected and
   * capabilities were negotiated; `close` stops listening and removes the socket.
   */
  static listen(path: string): { client: Promise<QmpClient>; close(): void } {
    const server = createServer();
    let accepted: QmpClient | null = null;
    const client = new Promise<QmpClient>((resolve, reject) => {
      server.once("error", (e) =>
        reject(new QmpError(`QMP: cannot listen on ${path}: ${e.message}`)),
      );
      server.once("connection", (sock) => {
        server.close(); // one QEMU per monitor
        const c = new QmpClient(sock);
        accepted = c;
        c.next()
          .then(() => c.execute("qmp_capabilities"))
          .then(() => resolve(c), reject);
      });
    });
    client.catch(() => {}); // the caller awaits it; an unawaited failure is not fatal here
    server.listen(path);
    return {
      client,
      close() {
        server.close();
        (accepted as QmpClient | null)?.close();
      },
    };
  }

  private onLine(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // not QMP; nothing to answer
    }
    if (typeof msg["event"] === "string") {
      for (const w of this.eventWaiters.get(msg["event"]) ?? []) w();
      this.eventWaiters.delete(msg["event"]);
      return;
    }
    const w = this.replies.shift();
    if (w === undefined) return;
    const err = msg["error"] as { desc?: string } | undefined;
    if (err !== undefined) w.reject(new QmpError(`QMP: ${err.desc ?? JSON.stringify(err)}`));
    else w.resolve(msg["return"] ?? msg["QMP"]);
  }

  private next(): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => this.replies.push({ resolve, reject }));
  }

  /** Run a command; resolves with its `return` value. */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const reply = this.next();
    this.sock.write(
      `${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`,
    );
    return reply;
  }

  /** Resolves at the next `event` (register before causing it). */
  event(name: string): Promise<void> {
    return new Promise((resolve) => {
      const list = this.eventWaiters.get(name) ?? [];
      list.push(resolve);
      this.eventWaiters.set(name, list);
    });
  }

  /** `system_reset`, returning once QEMU has run the reset (its RESET event). */
  async systemReset(): Promise<void> {
    const done = this.event("RESET");
    await this.execute("system_reset");
    await done;
  }

  close(): void {
    this.sock.destroy();
  }
}
