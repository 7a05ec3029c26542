// cmdqv driven the way QEMU's qtest harness drives QEMU (tests/qtest/libqtest.c,
// qtest_init): the test listens on two unix sockets, starts QTEST_QEMU_BINARY through
// `/bin/sh -c "exec BINARY -qtest unix:… -qtest-log /dev/null -chardev socket,path=…,id=char0
// -mon chardev=char0,mode=control -display none -audio none -run-with exit-with-parent=on
// EXTRA -accel qtest"`, accepts the qtest connection and then the QMP one, asks the
// endianness, reads the QMP greeting and negotiates, and ends the binary with QMP quit or,
// as qtest_quit does, SIGTERM (expecting exit status 0). Nothing may be left behind.

import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import { CMDQV, cmdqvErrorLines, hex as h } from "../qtest/irq-testkit.js";

const QTEST_QEMU_BINARY = resolve("bin/cmdqv-system-aarch64");

/** Lines from a socket, one at a time, in order. */
class Lines {
  private readonly lines: string[] = [];
  private readonly waiting: ((line: string | null) => void)[] = [];
  private partial = "";
  private ended = false;
  readonly closed: Promise<void>;
  readonly sock: Socket;

  constructor(sock: Socket) {
    this.sock = sock;
    sock.setEncoding("latin1");
    sock.on("data", (text: string) => {
      const parts = (this.partial + text).split("\n");
      this.partial = parts.pop() ?? "";
      for (const p of parts) this.push(p.replace(/\r$/, ""));
    });
    this.closed = new Promise((done) =>
      sock.once("close", () => {
        this.ended = true;
        for (const w of this.waiting.splice(0)) w(null);
        done();
      }),
    );
  }

  private push(line: string): void {
    const w = this.waiting.shift();
    if (w) w(line);
    else this.lines.push(line);
  }

  /** The next line, or null once the peer closed. */
  next(): Promise<string | null> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.ended) return Promise.resolve(null);
    return new Promise((r) => this.waiting.push(r));
  }
}

interface Harness {
  readonly dir: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly qtest: Lines;
  readonly qmp: Lines;
  /** A qtest command; its reply, after the IRQ lines it caused (collected in `irqs`). */
  cmd(line: string): Promise<string>;
  readonly irqs: string[];
  /** A QMP command; the messages up to and including its reply (events first). */
  qmpCmd(json: string): Promise<Record<string, unknown>[]>;
}

const dirs: string[] = [];
const children: ChildProcess[] = [];
/** Binaries whose parent shell was ours, not they. */
const orphans: number[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const pid of orphans) if (!dead(pid)) process.kill(pid, "SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function listen(path: string): Promise<Server> {
  return new Promise((done) => {
    const s = createServer();
    s.listen(path, () => done(s));
  });
}

function accept(server: Server): Promise<Socket> {
  return new Promise((done) =>
    server.once("connection", (sock) => {
      // libqtest closes the listening socket once it has accepted (and unlinks its path).
      server.close();
      done(sock);
    }),
  );
}

/** qtest_init: listen, start the binary through sh as libqtest does, accept both, handshake. */
async function qtestInit(
  extra: string,
  launch?: (command: string) => ChildProcess,
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "cmdqv-harness-"));
  dirs.push(dir);
  const sockPath = join(dir, "qtest.sock");
  const qmpPath = join(dir, "qtest.qmp");
  const [sockServer, qmpServer] = await Promise.all([listen(sockPath), listen(qmpPath)]);
  const command =
    `exec ${process.env["QTEST_QEMU_BINARY"] ?? QTEST_QEMU_BINARY} -qtest unix:${sockPath} ` +
    `-qtest-log /dev/null -chardev socket,path=${qmpPath},id=char0 ` +
    "-mon chardev=char0,mode=control -display none -audio none " +
    `-run-with exit-with-parent=on ${extra} -accel qtest`;
  const child = launch
    ? launch(command)
    : spawn("/bin/sh", ["-c", command], { stdio: ["ignore", "ignore", "inherit"] });
  children.push(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once("exit", (code, signal) => done({ code, signal })),
  );
  const qtest = new Lines(await accept(sockServer));
  const qmp = new Lines(await accept(qmpServer));
  const irqs: string[] = [];
  const cmd = async (line: string): Promise<string> => {
    qtest.sock.write(`${line}\n`);
    for (;;) {
      const reply = await qtest.next();
      assert.ok(reply !== null, `qtest closed before replying to ${line}`);
      if (!reply.startsWith("IRQ ")) return reply;
      irqs.push(reply);
    }
  };
  const qmpCmd = async (json: string): Promise<Record<string, unknown>[]> => {
    qmp.sock.write(`${json}\n`);
    const got: Record<string, unknown>[] = [];
    for (;;) {
      const line = await qmp.next();
      assert.ok(line !== null, `QMP closed before replying to ${json}`);
      const msg = JSON.parse(line) as Record<string, unknown>;
      got.push(msg);
      if (!("event" in msg)) return got;
    }
  };
  // qtest_query_target_endianness, then qtest_init's QMP handshake.
  assert.equal(await cmd("endianness"), "OK little");
  const greeting = JSON.parse((await qmp.next()) ?? "null") as {
    QMP: { version: { qemu: { major: number; minor: number } }; capabilities: string[] };
  };
  assert.deepEqual(
    [greeting.QMP.version.qemu.major, greeting.QMP.version.qemu.minor, greeting.QMP.capabilities],
    [11, 1, ["oob"]],
  );
  assert.deepEqual(await qmpCmd("{ 'execute': 'qmp_capabilities' }".replaceAll("'", '"')), [
    { return: {} },
  ]);
  return { dir, child, exited, qtest, qmp, cmd, irqs, qmpCmd };
}

function gone(pid: number | undefined): boolean {
  try {
    process.kill(pid ?? 0, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

const MACHINE =
  "-machine virt,gic-version=3 -m 1G -device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,cmdqv=on";

describe("cmdqv under QEMU's qtest harness (QTEST_QEMU_BINARY=bin/cmdqv-system-aarch64)", () => {
  it("serves qtest and QMP on the harness's sockets, resets over QMP, and quits cleanly", async () => {
    const q = await qtestInit(MACHINE);
    // The CMDQV's interrupt, seen on the SMMUv3's outputs as QEMU 11.1 numbers them.
    assert.equal(await q.cmd("irq_intercept_out /machine/peripheral/smmu0 sysbus-irq"), "OK");
    for (const line of cmdqvErrorLines()) assert.match(await q.cmd(line), /^OK/, line);
    assert.deepEqual(q.irqs, ["IRQ raise 4", "IRQ lower 4"]);
    assert.equal(await q.cmd(`readl ${h(CMDQV + 0x14)}`), "OK 0x0000000000000001", "VI_ERR_MAP");
    assert.equal(await q.cmd(`readl ${h(CMDQV + 0x200)}`), "OK 0x0000000000000001");

    const reset = await q.qmpCmd('{"execute": "system_reset", "id": "r"}');
    assert.deepEqual(
      reset.map((m) => m["event"] ?? m["return"]),
      ["RESET", {}],
      "the RESET event, then the reply",
    );
    assert.deepEqual(reset[0]?.["data"], { guest: false, reason: "host-qmp-system-reset" });
    assert.equal(reset[1]?.["id"], "r");
    assert.equal(await q.cmd(`readl ${h(CMDQV + 0x200)}`), "OK 0x0000000000000000", "reset");
    assert.deepEqual(await q.qmpCmd('{"execute": "query-status"}'), [
      { return: { status: "running", running: true } },
    ]);
    assert.deepEqual(await q.qmpCmd('{"execute": "device_add"}'), [
      { error: { class: "CommandNotFound", desc: "The command device_add has not been found" } },
    ]);

    const quit = await q.qmpCmd('{"execute": "quit"}');
    assert.deepEqual(
      quit.map((m) => m["event"] ?? m["return"]),
      ["SHUTDOWN", {}],
    );
    assert.deepEqual(await q.exited, { code: 0, signal: null });
    await Promise.all([q.qtest.closed, q.qmp.closed]);
    assert.equal(await q.qtest.next(), null, "the qtest socket was closed");
    assert.ok(gone(q.child.pid), "no process is left");
    assert.deepEqual(readdirSync(q.dir), [], "no file is left (the harness removed its sockets)");
  });

  it("starts paused under -S until cont, writes -qtest-log, and ends with status 0 on SIGTERM as qtest_quit expects", async () => {
    const log = join(mkdtempSync(join(tmpdir(), "cmdqv-harness-log-")), "qtest.log");
    dirs.push(dirname(log));
    const q = await qtestInit(`-machine virt -S -qtest-log ${log}`);
    assert.deepEqual(await q.qmpCmd('{"execute": "query-status"}'), [
      { return: { status: "prelaunch", running: false } },
    ]);
    const cont = await q.qmpCmd('{"execute": "cont"}');
    assert.deepEqual(
      cont.map((m) => m["event"] ?? m["return"]),
      ["RESUME", {}],
    );
    q.child.kill("SIGTERM");
    const event = JSON.parse((await q.qmp.next()) ?? "null") as Record<string, unknown>;
    assert.equal(event["event"], "SHUTDOWN");
    assert.deepEqual(event["data"], { guest: false, reason: "host-signal" });
    assert.deepEqual(await q.exited, { code: 0, signal: null });
    assert.equal(await q.qmp.next(), null, "the QMP socket was closed");
    assert.ok(gone(q.child.pid));
    // QEMU's qtest log of the session, to its close.
    assert.match(
      readFileSync(log, "utf8"),
      /^\[I \d+\.\d{6}\] OPENED\n\[R \+\d+\.\d{6}\] endianness\n\[S \+\d+\.\d{6}\] OK little\n\[I \+\d+\.\d{6}\] CLOSED\n$/,
    );
  });

  it("ends when the process that started it does (-run-with exit-with-parent=on)", async () => {
    // A parent shell starts the binary in the background, says its pid and exits when told:
    // the binary, orphaned, must end by itself, closing both sockets.
    let shell: ChildProcess | undefined;
    const q = await qtestInit("-machine virt", (command) => {
      shell = spawn("/bin/sh", ["-c", `${command} & echo $!; read x`], {
        stdio: ["pipe", "pipe", "inherit"],
      });
      return shell;
    });
    assert.ok(shell !== undefined);
    const said = await new Promise<Buffer>((r) => shell?.stdout?.once("data", r));
    const pid = Number(said.toString().trim());
    orphans.push(pid);
    shell.stdin?.end("exit\n");
    assert.deepEqual(await q.exited, { code: 0, signal: null }, "the parent shell ended");
    const event = JSON.parse((await q.qmp.next()) ?? "null") as Record<string, unknown>;
    assert.deepEqual(
      [event["event"], event["data"]],
      ["SHUTDOWN", { guest: false, reason: "host-signal" }],
    );
    await Promise.all([q.qtest.closed, q.qmp.closed]);
    assert.ok(await ended(pid), `the orphan ${pid} ended`);
  });

  it("refuses an argument QEMU's harness may pass that the machine cannot honour, in one line", async () => {
    const child = spawn(
      QTEST_QEMU_BINARY,
      ["-qtest", "unix:/nonexistent/q.sock", "-device", "virtio-blk-pci"],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let err = "";
    child.stderr!.setEncoding("utf8").on("data", (t: string) => {
      err += t;
    });
    const code = await new Promise<number | null>((r) => child.once("close", r));
    assert.equal(code, 2);
    assert.equal(
      err,
      "cmdqv: -device virtio-blk-pci: cmdqv's machine has no virtio-blk-pci (it takes arm-smmuv3, vfio-pci, pxb-pcie, pcie-root-port)\n",
    );
  });
});

/** Whether `pid` has ended: gone, or a zombie its new parent has not reaped yet. */
function dead(pid: number): boolean {
  if (gone(pid)) return true;
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z") ?? true;
  } catch {
    return true;
  }
}

/** Whether the orphan `pid` ends once its sockets closed (it exits right after). */
async function ended(pid: number): Promise<boolean> {
  for (let i = 0; i < 400 && !dead(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return dead(pid);
}
