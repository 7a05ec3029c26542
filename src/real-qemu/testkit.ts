// A stand-in for the preload in tests: it connects to a plumbing server, says HELLO, makes
// calls, and answers the server's requests (PEEK/POKE/NEWPIPE/CLOSEFD) from a small user
// memory of its own, or as the test says (a fault, a wrong reply, an extra frame, a close).
// Used by the *.test.ts files next to it.

import type { Buffer } from "node:buffer";
import { readdirSync, readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import {
  type Call,
  decodeMessage,
  Errno,
  encode,
  FdKind,
  type FdKindValue,
  FrameDecoder,
  type Message,
  PROTOCOL_VERSION,
  type Request,
} from "./wire.js";

/** QEMU's memory as the fake sees it: buffers handed out from one base; the rest faults. */
export class UserMemory {
  private readonly chunks: { base: bigint; bytes: Uint8Array }[] = [];
  private next = 0x7000_0000_0000n;

  /** A zeroed buffer of `len` bytes, or holding `init`; its user address. */
  alloc(len: number, init?: Uint8Array): bigint {
    const base = this.next;
    const bytes = new Uint8Array(len);
    if (init) bytes.set(init.subarray(0, len));
    this.chunks.push({ base, bytes });
    this.next += BigInt(Math.ceil((len + 1) / 0x1000) * 0x1000);
    return base;
  }

  private find(addr: bigint, len: number): { bytes: Uint8Array; off: number } | null {
    for (const c of this.chunks) {
      const off = addr - c.base;
      if (off >= 0n && off + BigInt(len) <= BigInt(c.bytes.length)) {
        return { bytes: c.bytes, off: Number(off) };
      }
    }
    return null;
  }

  read(addr: bigint, len: number): Uint8Array | null {
    const at = this.find(addr, len);
    return at === null ? null : at.bytes.slice(at.off, at.off + len);
  }

  write(addr: bigint, data: Uint8Array): boolean {
    const at = this.find(addr, data.length);
    if (at === null) return false;
    at.bytes.set(data, at.off);
    return true;
  }
}

/** What a test answers to one request: frames to send (the preload's own by default), or a close. */
export type Answerer = (req: Request, faithful: () => Uint8Array) => Uint8Array | "close";

type Final = Extract<Message, { type: "RESULT" | "RESULT_DATA" | "RESULT_MAP" }>;

export class FakePreload {
  readonly mem = new UserMemory();
  /** What NEWPIPE answers when the test does not say: these fds, or FAULT(EMFILE). */
  pipe: { readonly readFd: number; readonly writeFd: number } | null = null;
  private readonly socket: Socket;
  private readonly decoder = new FrameDecoder();
  private readonly inbox: Message[] = [];
  private wake: (() => void) | null = null;
  private ended = false;
  private readonly gone: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      const r = this.decoder.push(chunk);
      if (!r.ok) throw new Error(`the server sent a bad frame: ${r.error.reason}`);
      for (const raw of r.value) {
        const m = decodeMessage(raw);
        if (!m.ok) throw new Error(`the server sent a bad frame: ${m.error.reason}`);
        this.inbox.push(m.value);
      }
      this.wake?.();
    });
    socket.on("error", () => {});
    this.gone = new Promise((resolve) =>
      socket.on("close", () => {
        this.ended = true;
        this.wake?.();
        resolve();
      }),
    );
  }

  static connect(socketPath: string): Promise<FakePreload> {
    return new Promise((resolve, reject) => {
      const s = connect(socketPath);
      const q = new FakePreload(s);
      s.once("connect", () => resolve(q));
      s.once("error", reject);
    });
  }

  /** The server closed the connection (or we did). */
  get closed(): boolean {
    return this.ended;
  }

  private async next(): Promise<Message | "closed"> {
    for (;;) {
      const m = this.inbox.shift();
      if (m !== undefined) return m;
      if (this.ended) return "closed";
      await new Promise<void>((resolve) => {
        this.wake = () => {
          this.wake = null;
          resolve();
        };
      });
    }
  }

  send(bytes: Uint8Array): void {
    if (!this.ended) this.socket.write(bytes);
  }

  /** HELLO as the preload says it (this process's pid: /proc/PID/fd/N names our own fds). */
  async hello(pid = process.pid): Promise<Final | "closed"> {
    return this.call({
      type: "HELLO",
      version: PROTOCOL_VERSION,
      pid,
      iommufdFd: 100,
      vfioFd: 101,
      guardPatched: true,
    });
  }

  /** The preload's own answer to a request. */
  faithful(req: Request): Uint8Array {
    switch (req.type) {
      case "PEEK": {
        const data = this.mem.read(req.addr, req.length);
        return encode(data ? { type: "DATA", data } : { type: "FAULT", errno: Errno.EFAULT });
      }
      case "POKE":
        return encode(
          this.mem.write(req.addr, req.data)
            ? { type: "OK" }
            : { type: "FAULT", errno: Errno.EFAULT },
        );
      case "NEWPIPE":
        return encode(
          this.pipe ? { type: "PIPE", ...this.pipe } : { type: "FAULT", errno: Errno.EMFILE },
        );
      case "CLOSEFD":
        return encode({ type: "OK" });
    }
  }

  /** One call: the requests it brings answered by `answer`; its final frame, or "closed". */
  async call(c: Call, answer?: Answerer): Promise<Final | "closed"> {
    this.send(encode(c));
    for (;;) {
      const m = await this.next();
      if (m === "closed") return m;
      if (m.type === "RESULT" || m.type === "RESULT_DATA" || m.type === "RESULT_MAP") return m;
      if (m.type === "PEEK" || m.type === "POKE" || m.type === "NEWPIPE" || m.type === "CLOSEFD") {
        const reply = answer ? answer(m, () => this.faithful(m)) : this.faithful(m);
        if (reply === "close") {
          await this.destroy();
          return "closed";
        }
        this.send(reply);
      } else throw new Error(`the server sent ${m.type} inside a call`);
    }
  }

  /** An ioctl whose struct lives in this fake's memory; the result and the struct after it. */
  async ioctl(
    kind: FdKindValue,
    request: number,
    struct: Uint8Array,
    answer?: Answerer,
  ): Promise<{ ret: number; errno: number; out: Uint8Array; closed: boolean }> {
    const arg = this.mem.alloc(struct.length, struct);
    const fd = kind === FdKind.VFIO ? 101 : 100;
    const r = await this.call({ type: "IOCTL", fd, kind, request, arg }, answer);
    const out = this.mem.read(arg, struct.length)!;
    if (r === "closed") return { ret: -1, errno: 0, out, closed: true };
    if (r.type !== "RESULT") throw new Error(`ioctl ended with ${r.type}`);
    return { ret: r.ret, errno: r.errno, out, closed: false };
  }

  async destroy(): Promise<void> {
    this.socket.destroy();
    await this.gone;
  }
}

/** A little-endian struct image. */
export function struct(size: number, fields: readonly [number, number | bigint][]): Uint8Array {
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  for (const [off, v] of fields) {
    if (typeof v === "bigint") dv.setBigUint64(off, v, true);
    else dv.setUint32(off, v >>> 0, true);
  }
  return b;
}

export function u32At(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
}

export function u64At(b: Uint8Array, off: number): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
}

/** This process's open descriptors (to see that nothing was left open). */
export function openFds(): string[] {
  return readdirSync("/proc/self/fd").sort();
}

/**
 * Descriptors open now that were not in `before`: what a test left open. (Not equality
 * with `before`: another handle in the process, say a socket of an earlier test, may
 * close in the meantime, and that is no leak.)
 */
export function fdsOpenedSince(before: readonly string[]): string[] {
  const was = new Set(before);
  return openFds().filter((fd) => !was.has(fd));
}

// linux/iommufd.h and linux/vfio.h numbers the realize below uses.
export const NR = {
  IOMMU_IOAS_ALLOC: 0x3b81,
  IOMMU_HWPT_ALLOC: 0x3b89,
  IOMMU_HWPT_INVALIDATE: 0x3b8d,
  IOMMU_IOAS_MAP_FILE: 0x3b8f,
  IOMMU_VIOMMU_ALLOC: 0x3b90,
  IOMMU_VEVENTQ_ALLOC: 0x3b93,
  VFIO_DEVICE_BIND_IOMMUFD: 0x3b76,
} as const;

export interface Realized {
  readonly devId: number;
  readonly ioasId: number;
  readonly hwptId: number;
  readonly viommuId: number;
  /** The VINTF page0 QEMU mmaps: offset and length on the iommufd. */
  readonly vintf: { readonly offset: bigint; readonly length: bigint };
}

/** QEMU's realize up to the Tegra241 vIOMMU (bind, IOAS, nest parent, vIOMMU). */
export async function realizeViommu(q: FakePreload): Promise<Realized> {
  const ok = (what: string, r: { ret: number; errno: number }) => {
    if (r.ret !== 0) throw new Error(`${what}: errno ${r.errno}`);
  };
  const bind = await q.ioctl(
    FdKind.VFIO,
    NR.VFIO_DEVICE_BIND_IOMMUFD,
    struct(24, [
      [0, 24],
      [8, 100],
    ]),
  );
  ok("bind", bind);
  const devId = u32At(bind.out, 12);
  const ioas = await q.ioctl(FdKind.IOMMUFD, NR.IOMMU_IOAS_ALLOC, struct(12, [[0, 12]]));
  ok("ioas", ioas);
  const ioasId = u32At(ioas.out, 8);
  const hwpt = await q.ioctl(
    FdKind.IOMMUFD,
    NR.IOMMU_HWPT_ALLOC,
    struct(48, [
      [0, 48],
      [4, 1], // NEST_PARENT
      [8, devId],
      [12, ioasId],
    ]),
  );
  ok("hwpt", hwpt);
  const hwptId = u32At(hwpt.out, 16);
  const data = q.mem.alloc(16);
  const viommu = await q.ioctl(
    FdKind.IOMMUFD,
    NR.IOMMU_VIOMMU_ALLOC,
    struct(40, [
      [0, 40],
      [8, 2], // TEGRA241_CMDQV
      [12, devId],
      [16, hwptId],
      [24, 16],
      [32, data],
    ]),
  );
  ok("viommu", viommu);
  const out = q.mem.read(data, 16)!;
  return {
    devId,
    ioasId,
    hwptId,
    viommuId: u32At(viommu.out, 20),
    vintf: { offset: u64At(out, 0), length: u64At(out, 8) },
  };
}

/**
 * Processes still running that a `cmdqv` process `pid` started as QEMU: each carries that
 * pid in CMDQV_PARENT_PID (qemu-launch.ts). Empty once the run cleaned up after itself.
 */
export function qemusStartedBy(pid: number): string[] {
  const mark = `CMDQV_PARENT_PID=${pid}\0`;
  return readdirSync("/proc").filter((d) => {
    if (!/^\d+$/.test(d)) return false;
    try {
      return readFileSync(`/proc/${d}/environ`, "latin1").includes(mark);
    } catch {
      return false;
    }
  });
}
