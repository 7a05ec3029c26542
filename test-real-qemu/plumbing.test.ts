// The byte-moving side against REAL QEMU 11.1 (Debian's build, fetched into the cache by
// before() on first run, ~40 MB): the KVM-guard patch, the forwarding of QEMU's host calls
// in order, the server's requests served inside a call, a server that survives garbage,
// and nothing left behind. Run: node --import tsx --test test-real-qemu/plumbing.test.ts

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fetchQemu, type QemuResolution, resolveQemu } from "../src/real-qemu/fetch.js";
import { buildPreload } from "../src/real-qemu/native-build.js";
import {
  type HostCallHandler,
  type PlumbingServer,
  type QemuMemory,
  startPlumbingServer,
} from "../src/real-qemu/plumbing-server.js";
import { launchQemu, type RunningQemu } from "../src/real-qemu/qemu-launch.js";
import {
  type Call,
  decodeMessage,
  Errno,
  encode,
  FdKind,
  FrameDecoder,
  type Message,
  PROTOCOL_VERSION,
} from "../src/real-qemu/wire.js";

// linux/iommufd.h: _IO(';', 0x80 + 0x12); linux/vfio.h: _IO(';', 100 + 18).
const IOMMU_IOAS_CHANGE_PROCESS = 0x3b92;
const VFIO_DEVICE_BIND_IOMMUFD = 0x3b76;

let qemu: QemuResolution;
let preload: string;

/** Temp entries the plumbing may create, to check that none is left behind. */
function ourTempEntries(): string[] {
  const list = (dir: string): string[] => {
    try {
      return readdirSync(dir)
        .filter((n) => n.startsWith("cmdqv-sock-") || n.startsWith("cmdqv-shm-"))
        .map((n) => `${dir}/${n}`);
    } catch {
      return [];
    }
  };
  return [...list(tmpdir()), ...list("/dev/shm")].sort();
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A logging handler that refuses every ioctl with ENOTTY. */
function loggingHandler(log: string[], onIoctl?: (mem: QemuMemory) => Promise<void>) {
  const entry = (c: Call): string =>
    c.type === "IOCTL"
      ? `IOCTL ${kindName(c.kind)} 0x${c.request.toString(16)}`
      : `${c.type} ${"kind" in c ? kindName(c.kind) : ""}`.trim();
  const handler: HostCallHandler = {
    async ioctl(call, mem) {
      const size = await mem.peek(call.arg, 4);
      log.push(
        `${entry(call)} first-u32=${size.ok ? new DataView(size.value.buffer).getUint32(0, true) : "fault"}`,
      );
      if (onIoctl) await onIoctl(mem);
      return { errno: Errno.ENOTTY };
    },
    mmap(call) {
      log.push(entry(call));
      return { errno: Errno.ENODEV };
    },
    close(call) {
      log.push(entry(call));
    },
    end(reason) {
      log.push(`END ${reason}`);
    },
  };
  return handler;
}

function kindName(k: number): string {
  return Object.entries(FdKind).find(([, v]) => v === k)?.[0] ?? `kind${k}`;
}

async function runQemu(
  server: PlumbingServer,
  extra: { patchKvmGuard?: boolean } = {},
): Promise<{ q: RunningQemu; message: string }> {
  const q = launchQemu({
    qemu,
    preload,
    socketPath: server.socketPath,
    qtest: "stdio",
    ...extra,
  });
  const exit = await q.exited;
  await q.dispose();
  return { q, message: exit.message };
}

before(() => {
  const fetched = fetchQemu({ progress: (l) => console.log(`# fetch: ${l}`) });
  console.log(`# QEMU ${fetched.version} ${fetched.cached ? "(cached)" : "(fetched)"}`);
  qemu = resolveQemu();
  preload = buildPreload().path;
});

describe("real QEMU 11.1 through the preload", { timeout: 120_000 }, () => {
  const tempBefore = ourTempEntries();

  it("without the patch, QEMU stops at the KVM guard and the launcher says why", async () => {
    const server = await startPlumbingServer({ onHello: () => loggingHandler([]), log: () => {} });
    const { message } = await runQemu(server, { patchKvmGuard: false });
    await server.close();
    assert.match(message, /^QEMU exited with status 1; last console lines:/);
    assert.match(message, /SMMUv3 accel=on requires KVM with kernel-irqchip=on support/);
  });

  it("patches the guard and forwards QEMU's first host calls in order", async () => {
    const log: string[] = [];
    let helloPid = -1;
    let patched = false;
    const server = await startPlumbingServer({
      onHello: (hello) => {
        helloPid = hello.pid;
        patched = hello.guardPatched;
        log.push(`HELLO v${hello.version} iommufd=${hello.iommufdFd} vfio=${hello.vfioFd}`);
        return loggingHandler(log);
      },
      log: (l) => log.push(`SERVER ${l}`),
    });
    const { q, message } = await runQemu(server);
    await server.close();
    assert.equal(patched, true);
    assert.equal(helloPid, q.pid, "the wrapper must exec, not fork: QEMU is the child");
    assert.doesNotMatch(message, /requires KVM/);
    assert.deepEqual(log, [
      `HELLO v${PROTOCOL_VERSION} iommufd=100 vfio=101`,
      // struct iommu_ioas_change_process is 8 bytes; QEMU goes on when it fails
      `IOCTL IOMMUFD 0x${IOMMU_IOAS_CHANGE_PROCESS.toString(16)} first-u32=8`,
      // struct vfio_device_bind_iommufd is 24 bytes; its failure ends the realize
      `IOCTL VFIO 0x${VFIO_DEVICE_BIND_IOMMUFD.toString(16)} first-u32=24`,
      "CLOSE VFIO",
      "END closed",
    ]);
    assert.match(message, /^QEMU exited with status 1; last console lines:\n/);
    assert.match(
      message,
      /error bind device fd=101 to iommufd=100: Inappropriate ioctl for device/,
    );
  });

  it("serves PEEK, POKE, NEWPIPE and CLOSEFD inside a call", async () => {
    const seen: string[] = [];
    let pid = 0;
    const probe = async (mem: QemuMemory): Promise<void> => {
      if (seen.length > 0) return;
      const bad = await mem.peek(0x10, 8); // unmapped: a fault value, QEMU lives on
      seen.push(`peek(0x10): ${bad.ok ? "data" : bad.error}`);
      const page = await mem.peek(0n, 0);
      seen.push(`peek empty: ${page.ok ? page.value.length : page.error}`);
      const pipe = await mem.newEventPipe();
      assert.ok(pipe.ok);
      const fdLink = readlinkSync(`/proc/${pid}/fd/${pipe.value.readFd}`);
      seen.push(`pipe in QEMU: ${fdLink.startsWith("pipe:")}`);
      const w = pipe.value.writer.write(Uint8Array.of(1, 2, 3));
      seen.push(`write: ${w.ok ? w.value : w.error}`);
      seen.push(`closeFd(0): ${(await mem.closeFd(0)).ok ? "closed" : "refused"}`);
      seen.push(`closeFd(read end): ${(await mem.closeFd(pipe.value.readFd)).ok}`);
      pipe.value.writer.close();
    };
    const server = await startPlumbingServer({
      onHello: (hello) => {
        pid = hello.pid;
        return {
          ...loggingHandler([], probe),
          // POKE into the struct, PEEK it back: the 8-byte change_process struct is writable
          async ioctl(call, mem) {
            await probe(mem);
            const w = await mem.poke(call.arg + 4n, Uint8Array.of(0xaa, 0xbb, 0xcc, 0xdd));
            const r = await mem.peek(call.arg, 8);
            if (call.request === IOMMU_IOAS_CHANGE_PROCESS) {
              seen.push(`poke: ${w.ok}, peek back: ${r.ok ? [...r.value].join(",") : r.error}`);
            }
            return { errno: Errno.ENOTTY };
          },
        };
      },
      log: () => {},
    });
    await runQemu(server);
    await server.close();
    assert.deepEqual(seen, [
      `peek(0x10): ${Errno.EFAULT}`,
      "peek empty: 0",
      "pipe in QEMU: true",
      "write: 3",
      "closeFd(0): refused",
      "closeFd(read end): true",
      "poke: true, peek back: 8,0,0,0,170,187,204,221",
    ]);
  });

  it("a QEMU that cannot reach the server exits with the preload's one line", async () => {
    const q = launchQemu({
      qemu,
      preload,
      socketPath: join(tmpdir(), "cmdqv-absent.sock"),
      qtest: "stdio",
    });
    const exit = await q.exited;
    await q.dispose();
    assert.equal(exit.code, 1);
    assert.deepEqual(exit.consoleLines, [
      "cmdqv-preload: cannot connect to CMDQV_SOCKET: No such file or directory",
    ]);
  });

  it("QEMU dies with a Node process that is killed outright", async () => {
    // A child Node launches QEMU, whose first ioctl is never answered, prints its pid
    // and is then SIGKILLed: no exit handler runs, the preload's parent-death signal does.
    const script = `
      import { launchQemu } from ${JSON.stringify(new URL("../src/real-qemu/qemu-launch.ts", import.meta.url).href)};
      import { startPlumbingServer } from ${JSON.stringify(new URL("../src/real-qemu/plumbing-server.ts", import.meta.url).href)};
      const qemu = JSON.parse(process.env.QEMU_RES);
      const server = await startPlumbingServer({
        onHello: () => ({ ioctl: () => new Promise(() => process.stdout.write(q.pid + " " + server.socketPath + "\\n")) }),
        log: () => {},
      });
      const q = launchQemu({ qemu, preload: process.env.PRELOAD, socketPath: server.socketPath, qtest: "stdio" });
    `;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      {
        env: { ...process.env, QEMU_RES: JSON.stringify(qemu), PRELOAD: preload },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const [pid, socketPath] = await new Promise<[number, string]>((resolve) =>
      child.stdout.on("data", (c: Buffer) => {
        const [p, path] = String(c).trim().split(" ");
        resolve([Number(p), path!]);
      }),
    );
    assert.ok(groupAlive(pid));
    child.kill("SIGKILL");
    for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(existsSync(`/proc/${pid}`), false, "QEMU outlived the Node that started it");
    // A Node killed outright cannot remove its socket dir; that one is ours to clean.
    rmSync(dirname(socketPath), { recursive: true, force: true });
  });

  it("leaves no QEMU process, socket or temp file behind", async () => {
    const server = await startPlumbingServer({ onHello: () => loggingHandler([]), log: () => {} });
    // A QEMU that stays up (its ioctl never answered) is killed by dispose.
    let release: () => void = () => {};
    const stalled = new Promise<void>((r) => {
      release = r;
    });
    let inIoctl: () => void = () => {};
    const entered = new Promise<void>((r) => {
      inIoctl = r;
    });
    const blocking = await startPlumbingServer({
      onHello: () => ({
        ioctl: () => {
          inIoctl();
          return stalled.then(() => ({ errno: Errno.ENOTTY }));
        },
      }),
      log: () => {},
    });
    const q = launchQemu({ qemu, preload, socketPath: blocking.socketPath, qtest: "stdio" });
    await entered; // QEMU now waits inside its first ioctl
    assert.ok(groupAlive(q.pid), q.consoleLines().join("\n"));
    await q.dispose();
    release();
    assert.equal(groupAlive(q.pid), false);
    assert.equal(existsSync(`/proc/${q.pid}`), false);
    const paths = [server.socketPath, blocking.socketPath];
    await server.close();
    await blocking.close();
    for (const p of paths) assert.equal(existsSync(p), false, p);
    assert.deepEqual(ourTempEntries(), tempBefore);
  });
});

describe("fetch and resolve errors", { timeout: 60_000 }, () => {
  it("names the archive host in one line when it cannot be reached, and keeps nothing", () => {
    const cache = mkdtempSync(join(tmpdir(), "cmdqv-ctest-"));
    try {
      const dead = {
        debian: "http://127.0.0.1:9/debian",
        security: "http://127.0.0.1:9/debian-security",
      };
      assert.throws(
        () => fetchQemu({ env: { XDG_CACHE_HOME: cache }, mirror: dead }),
        (e: Error) =>
          e.name === "FetchError" &&
          /^cannot read the Debian archive at 127\.0\.0\.1:9 \(.*Connection refused.*\)$/.test(
            e.message,
          ),
      );
      assert.deepEqual(
        readdirSync(join(cache, "cmdqv/qemu-11.1")).flatMap((v) =>
          readdirSync(join(cache, "cmdqv/qemu-11.1", v)),
        ),
        [],
      );
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it("refuses a --qemu path that does not exist", () => {
    assert.throws(
      () => resolveQemu({ qemu: "/nonexistent/qemu" }),
      /^FetchError: no QEMU binary at \/nonexistent\/qemu$/,
    );
  });
});

/** A raw client: sends bytes, collects decoded frames until the server closes or `want` arrive. */
async function rawSession(
  socketPath: string,
  send: (s: Socket) => void,
  want = Number.POSITIVE_INFINITY,
): Promise<{ frames: Message[]; closedByServer: boolean }> {
  const s = connect(socketPath);
  const d = new FrameDecoder();
  const frames: Message[] = [];
  return await new Promise((resolve) => {
    let done = false;
    const finish = (closedByServer: boolean): void => {
      if (done) return;
      done = true;
      s.destroy();
      resolve({ frames, closedByServer });
    };
    s.on("connect", () => send(s));
    s.on("data", (chunk: Buffer) => {
      const r = d.push(chunk);
      if (!r.ok) return finish(false);
      for (const raw of r.value) {
        const m = decodeMessage(raw);
        if (m.ok) frames.push(m.value);
      }
      if (frames.length >= want) finish(false);
    });
    s.on("close", () => finish(true));
    s.on("error", () => finish(true));
  });
}

const HELLO = encode({
  type: "HELLO",
  version: PROTOCOL_VERSION,
  pid: process.pid,
  iommufdFd: 100,
  vfioFd: 101,
  guardPatched: false,
});

describe("the plumbing server against garbage", { timeout: 30_000 }, () => {
  let server: PlumbingServer;
  const lines: string[] = [];
  before(async () => {
    server = await startPlumbingServer({
      onHello: () => ({ ioctl: (call) => ({ ret: call.request & 0xff }) }),
      log: (l) => lines.push(l),
    });
  });
  after(() => server.close());

  /** A well-behaved client still gets served: the server is neither crashed nor wedged. */
  async function stillServes(): Promise<void> {
    const ioctl = encode({
      type: "IOCTL",
      fd: 100,
      kind: FdKind.IOMMUFD,
      request: 0x3b81,
      arg: 0n,
    });
    const r = await rawSession(server.socketPath, (s) => s.write(Buffer.concat([HELLO, ioctl])), 2);
    assert.deepEqual(r.frames, [
      { type: "RESULT", ret: 0, errno: 0 },
      { type: "RESULT", ret: 0x81, errno: 0 },
    ]);
  }

  const garbage: [string, Uint8Array][] = [
    ["random bytes", Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff)],
    ["an oversized length", Uint8Array.of(0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0)],
    ["a length below the type", Uint8Array.of(2, 0, 0, 0, 1, 0, 0, 0)],
    ["a call before HELLO", encode({ type: "CLOSE", fd: 3, kind: FdKind.VFIO })],
    [
      "an unknown type after HELLO",
      Buffer.concat([HELLO, Uint8Array.of(4, 0, 0, 0, 0x77, 0, 0, 0)]),
    ],
    ["a reply nobody asked for", Buffer.concat([HELLO, encode({ type: "OK" })])],
    [
      "a server frame from the client",
      Buffer.concat([HELLO, encode({ type: "RESULT", ret: 0, errno: 0 })]),
    ],
    ["a short HELLO", Uint8Array.of(8, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0)],
  ];
  for (const [what, bytes] of garbage) {
    it(`drops a client that sends ${what}, and goes on serving`, async () => {
      const r = await rawSession(server.socketPath, (s) => s.write(bytes));
      assert.equal(r.closedByServer, true);
      await stillServes();
    });
  }

  it("survives a client that closes mid-frame and one that stalls mid-frame", async () => {
    await rawSession(server.socketPath, (s) => s.end(HELLO.subarray(0, 5)));
    const stalled = connect(server.socketPath);
    stalled.write(HELLO.subarray(0, 9));
    await stillServes(); // served while the stalled client holds its half frame
    stalled.destroy();
  });

  it("turns a handler's impossible answer or throw into EIO, and refuses oversized PEEKs", async () => {
    const errs: string[] = [];
    const odd = await startPlumbingServer({
      onHello: () => ({
        async ioctl(call, mem) {
          if (call.request === 1) return { ret: 0.5 };
          if (call.request === 2) throw new Error("boom");
          const big = await mem.peek(0n, 64 * 1024 * 1024);
          return { ret: big.ok ? 0 : -big.error };
        },
      }),
      log: (l) => errs.push(l),
    });
    const calls = [HELLO, 1, 2, 3].map((request) =>
      typeof request === "number"
        ? encode({ type: "IOCTL", fd: 100, kind: FdKind.IOMMUFD, request, arg: 0n })
        : request,
    );
    // One call at a time, the next sent when the previous one's final frame arrives.
    const frames: Message[] = [];
    const s = connect(odd.socketPath);
    const d = new FrameDecoder();
    await new Promise<void>((resolve) => {
      s.on("connect", () => s.write(calls[0]!));
      s.on("data", (chunk: Buffer) => {
        const r = d.push(chunk);
        assert.ok(r.ok);
        for (const raw of r.value) {
          const m = decodeMessage(raw);
          assert.ok(m.ok);
          frames.push(m.value);
          if (frames.length < calls.length) s.write(calls[frames.length]!);
          else resolve();
        }
      });
    });
    s.destroy();
    await odd.close();
    assert.deepEqual(frames, [
      { type: "RESULT", ret: 0, errno: 0 },
      { type: "RESULT", ret: -1, errno: Errno.EIO },
      { type: "RESULT", ret: -1, errno: Errno.EIO },
      { type: "RESULT", ret: -Errno.EINVAL, errno: 0 },
    ]);
    assert.equal(errs.length, 2, errs.join("\n"));
  });

  it("refuses a preload of another protocol version", async () => {
    const old = encode({
      type: "HELLO",
      version: 999,
      pid: 1,
      iommufdFd: -1,
      vfioFd: -1,
      guardPatched: false,
    });
    const r = await rawSession(server.socketPath, (s) => s.write(old), 1);
    assert.deepEqual(r.frames, [{ type: "RESULT", ret: -1, errno: Errno.EPROTO }]);
  });

  it("logged each protocol error in one line", () => {
    assert.ok(lines.length >= garbage.length, lines.join("\n"));
    for (const l of lines) assert.doesNotMatch(l, /\n/);
  });
});

// The preload's other calls (mmap, pread, pwrite, read, write, close) and its behaviour on a
// misbehaving server, checked with a small C program instead of QEMU, which does not get
// that far on a host that answers ENOTTY.
const PROGRAM = `
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
static void line(const char *what, long r) { printf("%s %ld %d\\n", what, r, r < 0 ? errno : 0); }
int main(int argc, char **argv) {
  unsigned char buf[64] = {7};
  long r = ioctl(100, 0x3b81, buf);
  printf("ioctl %ld %d poked=%d\\n", r, r < 0 ? errno : 0, buf[4]);
  if (argc > 1) {
    line("ioctl", ioctl(100, 0x3b82, buf));
    line("ioctl", ioctl(100, 0x3b83, buf));
    line("pread", pread(101, buf, 8, 0));
    printf("alive\\n");
    return 0;
  }
  unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 100, 0x30000);
  if (p == MAP_FAILED) { line("mmap", -1); return 1; }
  printf("mmap sees %d\\n", p[1]);
  p[0] = 0x5a;
  line("munmap", munmap(p, 4096));
  long n = pread(101, buf, 16, 0x100);
  printf("pread %ld %d..%d\\n", n, buf[0], buf[n - 1]);
  line("pwrite", pwrite(101, "hello", 5, 0x200));
  line("read", read(101, buf, 8));
  line("write", write(101, "xy", 2));
  line("close", close(101));
  line("ioctl after close", ioctl(101, 0x3b81, 0));
  return 0;
}
`;

describe("the preload's calls and a misbehaving server", { timeout: 60_000 }, () => {
  let dir: string;
  let program: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "cmdqv-ctest-"));
    writeFileSync(join(dir, "p.c"), PROGRAM);
    program = join(dir, "p");
    const cc = spawnSync("cc", ["-O1", "-o", program, join(dir, "p.c")], { encoding: "utf8" });
    assert.equal(cc.status, 0, cc.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function run(socketPath: string | null, args: string[] = [], patch = "0") {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LD_PRELOAD: preload,
      CMDQV_IOMMUFD_FD: "100",
      CMDQV_VFIO_FD: "101",
      CMDQV_PATCH_KVM_GUARD: patch,
    };
    if (socketPath) env["CMDQV_SOCKET"] = socketPath;
    else delete env["CMDQV_SOCKET"];
    // Async: the server answering it lives on this event loop.
    return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(program, args, { env });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c) => (stdout += c));
      child.stderr.on("data", (c) => (stderr += c));
      child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
  }

  it("forwards ioctl, mmap, munmap, pread, pwrite, read, write and close", async () => {
    const seen: string[] = [];
    const server = await startPlumbingServer({
      onHello: (_hello, session) => {
        const file = session.sharedFile(4096);
        assert.ok(file.ok);
        file.value.write(1, Uint8Array.of(0x42));
        return {
          async ioctl(call, mem) {
            await mem.poke(call.arg + 4n, Uint8Array.of(9));
            const own = session.openFd(100, "rw"); // the preload's /dev/null stand-in
            const none = session.openFd(999, "r");
            seen.push(`openFd ${own.ok} ${none.ok ? "?" : none.error}`);
            return { ret: 0 };
          },
          mmap(call) {
            seen.push(`mmap len=${call.length} off=0x${call.offset.toString(16)} fd=${call.fd}`);
            return { path: file.value.path, offset: 0n };
          },
          munmap(call) {
            seen.push(
              `munmap len=${call.length}, page[0]=0x${file.value.read(0, 1)[0]!.toString(16)}`,
            );
          },
          pread: (call) => Uint8Array.from({ length: call.length }, (_, i) => i + 1),
          pwrite(call) {
            seen.push(
              `pwrite ${new TextDecoder().decode(call.data)} at 0x${call.offset.toString(16)}`,
            );
            return { ret: call.data.length };
          },
          write: (call) => ({ ret: call.data.length }),
          close(call) {
            seen.push(`close ${kindName(call.kind)}`);
          },
        };
      },
      log: (l) => seen.push(`SERVER ${l}`),
    });
    const r = await run(server.socketPath);
    await server.close();
    assert.equal(r.stderr, "");
    assert.equal(r.status, 0);
    assert.deepEqual(r.stdout.trim().split("\n"), [
      "ioctl 0 0 poked=9",
      "mmap sees 66",
      "munmap 0 0",
      "pread 16 1..16",
      "pwrite 5 0",
      `read -1 ${Errno.EINVAL}`,
      "write 2 0",
      "close 0 0",
      `ioctl after close -1 ${Errno.EBADF}`,
    ]);
    assert.deepEqual(seen, [
      `openFd true ${Errno.ENOENT}`,
      "mmap len=4096 off=0x30000 fd=100",
      "munmap len=4096, page[0]=0x5a",
      "pwrite hello at 0x200",
      "close VFIO",
    ]);
  });

  /** A raw server: accepts HELLO, answers the first ioctl with a POKE, then misbehaves. */
  async function misbehave(bad: (s: Socket) => void): Promise<{ stdout: string; stderr: string }> {
    const sockDir = mkdtempSync(join(tmpdir(), "cmdqv-ctest-"));
    const path = join(sockDir, "s");
    let calls = 0;
    const srv = createServer((s) => {
      const d = new FrameDecoder();
      s.on("data", (chunk: Buffer) => {
        const frames = d.push(chunk);
        if (!frames.ok) return;
        for (const raw of frames.value) {
          const m = decodeMessage(raw);
          if (!m.ok) continue;
          if (m.value.type === "HELLO") s.write(encode({ type: "RESULT", ret: 0, errno: 0 }));
          else if (m.value.type === "IOCTL" && calls++ === 0) {
            s.write(encode({ type: "POKE", addr: m.value.arg + 4n, data: Uint8Array.of(9) }));
          } else if (m.value.type === "OK") s.write(encode({ type: "RESULT", ret: 0, errno: 0 }));
          else if (m.value.type === "IOCTL") bad(s);
        }
      });
      s.on("error", () => {});
    });
    await new Promise<void>((r) => srv.listen(path, r));
    const r = await run(path, ["garbage"]);
    await new Promise<void>((r) => srv.close(() => r()));
    rmSync(sockDir, { recursive: true, force: true });
    assert.equal(r.status, 0, r.stderr);
    return r;
  }

  const EIO_LINES = [
    "ioctl 0 0 poked=9",
    `ioctl -1 ${Errno.EIO}`,
    `ioctl -1 ${Errno.EIO}`,
    `pread -1 ${Errno.EIO}`,
    "alive",
  ];
  const cases: [string, (s: Socket) => void, RegExp][] = [
    [
      "an unknown frame type",
      (s) => s.write(Uint8Array.of(4, 0, 0, 0, 0x77, 0, 0, 0)),
      /malformed request/,
    ],
    [
      "an oversized length",
      (s) => s.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x50, 0, 0, 0)),
      /bad length/,
    ],
    [
      "a short RESULT",
      (s) => s.write(Uint8Array.of(8, 0, 0, 0, 0x50, 0, 0, 0, 0, 0, 0, 0)),
      /unexpected final frame/,
    ],
    [
      "a PEEK of a huge length",
      (s) => s.write(encode({ type: "PEEK", addr: 0n, length: 0 }).fill(0xff, 16)),
      /malformed request/,
    ],
    ["a closed connection", (s) => s.destroy(), /closed the connection/],
  ];
  for (const [what, bad, said] of cases) {
    it(`fails the call and every later one with EIO on ${what}, without crashing`, async () => {
      const r = await misbehave(bad);
      assert.deepEqual(r.stdout.trim().split("\n"), EIO_LINES);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, said);
      assert.match(lines[0]!, /^cmdqv-preload: .*; calls on the simulated host now fail with EIO$/);
    });
  }

  it("exits with one clear line when CMDQV_SOCKET is missing or unreachable", async () => {
    const none = await run(null);
    assert.equal(none.status, 1);
    assert.equal(none.stderr, "cmdqv-preload: CMDQV_SOCKET is not set\n");
    const gone = await run(join(tmpdir(), "cmdqv-no-such-socket"));
    assert.equal(gone.status, 1);
    assert.match(
      gone.stderr,
      /^cmdqv-preload: cannot connect to CMDQV_SOCKET: No such file or directory\n$/,
    );
  });

  it("refuses loudly when the KVM guard pattern is absent", async () => {
    const r = await run(join(tmpdir(), "cmdqv-unused"), [], "1");
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr,
      "cmdqv-preload: cannot patch QEMU's KVM guard for arm-smmuv3,accel=on: this QEMU exports no kvm_allowed/kvm_kernel_irqchip\n",
    );
  });
});
