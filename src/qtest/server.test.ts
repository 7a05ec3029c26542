import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, describe, it } from "node:test";
import { FAKE_IRQ_LINE, FAKE_IRQ_REG, FakeTarget } from "./fake-target.js";
import { serveSocket, serveStdio } from "./server.js";

const dir = mkdtempSync(join(tmpdir(), "cmdqv-qtest-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const socketPath = (): string => join(dir, `s${n++}.sock`);

/** Collect what a stream carries, as lines. */
function lines(stream: PassThrough): () => string[] {
  let text = "";
  stream.setEncoding("latin1");
  stream.on("data", (chunk: string) => {
    text += chunk;
  });
  return () => text.split("\n").slice(0, -1);
}

/** A connected unix-socket client that waits for a number of reply lines. */
function client(
  path: string,
): Promise<{ socket: Socket; next: (count: number) => Promise<string[]> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffered: string[] = [];
    let partial = "";
    let waiter: { count: number; resolve: (l: string[]) => void } | null = null;
    const check = (): void => {
      if (waiter !== null && buffered.length >= waiter.count) {
        const got = buffered.slice(0, waiter.count);
        buffered = buffered.slice(waiter.count);
        const w = waiter;
        waiter = null;
        w.resolve(got);
      }
    };
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      buffered.push(...parts);
      check();
    });
    socket.once("error", reject);
    socket.once("connect", () =>
      resolve({
        socket,
        next: (count) =>
          new Promise((res) => {
            waiter = { count, resolve: res };
            check();
          }),
      }),
    );
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function ended(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once("close", () => resolve());
  });
}

describe("qtest stdio transport", () => {
  it("answers lines split across chunks and ended by \\r\\n, and resolves when the input ends", async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const got = lines(output);
    const done = serveStdio(new FakeTarget(), input, output);
    input.write("endi");
    input.write("anness\r\nwritel 0x40000000 0x");
    input.write("12345678\nreadl 0x40000000\n");
    input.end("read 0x40000000 4\nclock_step 5");
    await done;
    assert.deepEqual(got(), ["OK little", "OK", "OK 0x0000000012345678", "OK 0x78563412"]);
  });

  it("keeps going after malformed lines", async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const got = lines(output);
    const done = serveStdio(new FakeTarget(), input, output);
    input.end("\nbogus\nreadl zz\nendianness\n");
    await done;
    assert.deepEqual(got(), [
      "FAIL empty command",
      "FAIL Unknown command 'bogus'",
      "FAIL readl: invalid ADDR 'zz'",
      "OK little",
    ]);
  });

  it("passes bytes through unchanged as latin1", async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const chunks: Buffer[] = [];
    output.on("data", (c: Buffer) => chunks.push(c));
    const done = serveStdio(new FakeTarget(), input, output);
    input.end(Buffer.from([0x66, 0xe9, 0xff, 0x0a]));
    await done;
    assert.deepEqual(
      Buffer.concat(chunks),
      Buffer.concat([
        Buffer.from("FAIL Unknown command 'f"),
        Buffer.from([0xe9, 0xff]),
        Buffer.from("'\n"),
      ]),
    );
  });
});

describe("qtest socket transport", () => {
  it("serves a client over a unix socket, IRQ lines included, and removes the socket on close", async () => {
    const path = socketPath();
    const server = await serveSocket(new FakeTarget(), path);
    const c = await client(path);
    c.socket.write(`endianness\nirq_intercept_in fake\nwritel ${FAKE_IRQ_REG} 1\n`);
    assert.deepEqual(await c.next(4), ["OK little", "OK", `IRQ raise ${FAKE_IRQ_LINE}`, "OK"]);
    c.socket.end();
    await ended(c.socket);
    await closeServer(server);
    assert.equal(existsSync(path), false);
  });

  it("serves one client at a time; the next one gets a fresh session when the first leaves", async () => {
    const path = socketPath();
    const target = new FakeTarget();
    const server = await serveSocket(target, path);
    const first = await client(path);
    first.socket.write("irq_intercept_in fake\n");
    assert.deepEqual(await first.next(1), ["OK"]);
    const second = await client(path);
    second.socket.write("irq_intercept_in /machine/other\n");
    first.socket.write("endianness\n");
    assert.deepEqual(await first.next(1), ["OK little"]);
    first.socket.end();
    // A fresh session: no intercept yet, so another device is accepted.
    assert.deepEqual(await second.next(1), ["OK"]);
    second.socket.write(`writel ${FAKE_IRQ_REG} 1\n`);
    assert.deepEqual(await second.next(2), [`IRQ raise ${FAKE_IRQ_LINE}`, "OK"]);
    second.socket.end();
    await Promise.all([ended(first.socket), ended(second.socket)]);
    await closeServer(server);
  });

  it("closes promptly while clients are still connected", async () => {
    const path = socketPath();
    const server = await serveSocket(new FakeTarget(), path);
    const first = await client(path);
    const second = await client(path);
    await closeServer(server);
    await Promise.all([ended(first.socket), ended(second.socket)]);
  });

  it("replaces a stale socket file left at the path", async () => {
    const path = socketPath();
    const made = spawnSync(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`,
    ]);
    assert.equal(made.status, 0);
    assert.equal(existsSync(path), true);
    const server = await serveSocket(new FakeTarget(), path);
    const c = await client(path);
    c.socket.write("endianness\n");
    assert.deepEqual(await c.next(1), ["OK little"]);
    c.socket.end();
    await ended(c.socket);
    await closeServer(server);
  });

  it("refuses to remove a file at the path that is not a socket", async () => {
    const path = join(dir, "regular-file");
    writeFileSync(path, "keep me");
    await assert.rejects(serveSocket(new FakeTarget(), path), /not a socket/);
    assert.equal(existsSync(path), true);
  });
});

describe("qtest transports under backpressure", () => {
  it("stops reading a socket client that does not read its replies, then answers every line once it does", async () => {
    const path = socketPath();
    const target = new FakeTarget();
    const server = await serveSocket(target, path);
    const c = await client(path);
    c.socket.pause();
    const N = 40;
    for (let i = 0; i < N; i++) c.socket.write("read 0x40000000 1048576\n");
    c.socket.write("endianness\n");
    // Give the server every chance to run ahead (each turn of the loop polls the socket): it
    // runs only what fits the bound.
    for (let i = 0; i < 500; i++) await new Promise((r) => setImmediate(r));
    const ran = target.calls.filter((x) => x.startsWith("readBytes")).length;
    assert.ok(ran < N / 2, `${ran} of ${N} reads ran while the client read nothing`);
    // Read everything: all N + 1 replies arrive, whole.
    let count = 0;
    let bytes = 0;
    let last = "";
    await new Promise<void>((resolve) => {
      c.socket.removeAllListeners("data");
      c.socket.on("data", (d: Buffer | string) => {
        const b = Buffer.isBuffer(d) ? d : Buffer.from(d, "latin1");
        bytes += b.length;
        for (const x of b) if (x === 10) count++;
        last = (last + b.toString("latin1")).slice(-11);
        if (count === N + 1) resolve();
      });
      c.socket.resume();
    });
    assert.equal(last, "\nOK little\n");
    assert.equal(bytes, N * (5 + 2 * 1048576 + 1) + "OK little\n".length);
    c.socket.end();
    await ended(c.socket);
    await closeServer(server);
  });

  it("holds the lines of a stream client whose output is full, and answers them all before it resolves", async () => {
    const input = new PassThrough();
    const output = new PassThrough({ highWaterMark: 1024 });
    const target = new FakeTarget();
    const done = serveStdio(target, input, output);
    for (let i = 0; i < 8; i++) input.write("read 0x40000000 1048576\n");
    input.end("endianness\n");
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.ok(target.calls.filter((x) => x.startsWith("readBytes")).length < 8);
    let count = 0;
    output.on("data", (d: Buffer) => {
      for (const x of d) if (x === 10) count++;
    });
    await done;
    await new Promise((r) => setImmediate(r));
    assert.equal(count, 9);
  });
});
