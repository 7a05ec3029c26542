// The wire between native/cmdqv-preload.c (inside QEMU) and the plumbing server: one unix
// socket, strictly request/response, little-endian frames `u32 length-of-rest, u32 type,
// payload`. This file is the one definition of the frame types and payload layouts; the C
// file repeats the numbers and must match.
//
// Decoding never throws: hostile or truncated input is an error value, so a garbage peer
// cannot crash the server. Encoding our own messages with impossible fields is a bug and
// throws RangeError.

import { err, ok, type Result } from "../util/result.js";

export const PROTOCOL_VERSION = 1;
/** The longest payload either side accepts (the C side bounds it the same way). */
export const MAX_PAYLOAD = 16 * 1024 * 1024;
const HEADER = 8;
/** PATH_MAX minus the NUL the C side appends. */
const MAX_PATH_BYTES = 4095;

/**
 * Frame types. Calls flow preload → server; while a call is open the server may send
 * requests (PEEK…CLOSEFD), each answered by one reply (DATA…PIPE); the call ends with one
 * final frame (RESULT*).
 */
export const FrameType = {
  // calls (preload → server)
  HELLO: 0x01,
  IOCTL: 0x02,
  MMAP: 0x03,
  MUNMAP: 0x04,
  PREAD: 0x05,
  PWRITE: 0x06,
  READ: 0x07,
  WRITE: 0x08,
  CLOSE: 0x09,
  // replies to requests (preload → server)
  DATA: 0x20,
  OK: 0x21,
  FAULT: 0x22,
  PIPE: 0x23,
  // requests (server → preload)
  PEEK: 0x40,
  POKE: 0x41,
  NEWPIPE: 0x42,
  CLOSEFD: 0x43,
  // final frames of a call (server → preload)
  RESULT: 0x50,
  RESULT_DATA: 0x51,
  RESULT_MAP: 0x52,
} as const;
export type FrameTypeName = keyof typeof FrameType;

/** What a file descriptor in QEMU is to the preload. */
export const FdKind = {
  IOMMUFD: 1,
  VFIO: 2,
  /** The read end of a NEWPIPE pipe (a vEVENTQ fd): only its close is reported. */
  EVENTQ: 3,
} as const;
export type FdKindValue = (typeof FdKind)[keyof typeof FdKind];

const NAME_OF = new Map<number, FrameTypeName>(
  Object.entries(FrameType).map(([name, code]) => [code, name as FrameTypeName]),
);
const KINDS = new Set<number>(Object.values(FdKind));

export interface Hello {
  readonly type: "HELLO";
  readonly version: number;
  readonly pid: number;
  /** -1 when the variable was not set. */
  readonly iommufdFd: number;
  readonly vfioFd: number;
  readonly guardPatched: boolean;
}
export interface IoctlCall {
  readonly type: "IOCTL";
  readonly fd: number;
  readonly kind: FdKindValue;
  /** The request number (the kernel takes it as unsigned int). */
  readonly request: number;
  /** The raw third argument: a pointer into QEMU for struct ioctls, else a value. */
  readonly arg: bigint;
}
export interface MmapCall {
  readonly type: "MMAP";
  readonly fd: number;
  readonly kind: FdKindValue;
  readonly addr: bigint;
  readonly length: bigint;
  readonly prot: number;
  readonly flags: number;
  readonly offset: bigint;
}
export interface MunmapCall {
  readonly type: "MUNMAP";
  readonly fd: number;
  readonly kind: FdKindValue;
  /** 0 when mapping the server's file failed in QEMU (the mapping never existed). */
  readonly addr: bigint;
  readonly length: bigint;
}
export interface PreadCall {
  readonly type: "PREAD";
  readonly fd: number;
  readonly kind: FdKindValue;
  readonly offset: bigint;
  readonly length: number;
}
export interface PwriteCall {
  readonly type: "PWRITE";
  readonly fd: number;
  readonly kind: FdKindValue;
  readonly offset: bigint;
  readonly data: Uint8Array;
}
export interface ReadCall {
  readonly type: "READ";
  readonly fd: number;
  readonly kind: FdKindValue;
  readonly length: number;
}
export interface WriteCall {
  readonly type: "WRITE";
  readonly fd: number;
  readonly kind: FdKindValue;
  readonly data: Uint8Array;
}
export interface CloseCall {
  readonly type: "CLOSE";
  readonly fd: number;
  readonly kind: FdKindValue;
}
export type Call =
  | Hello
  | IoctlCall
  | MmapCall
  | MunmapCall
  | PreadCall
  | PwriteCall
  | ReadCall
  | WriteCall
  | CloseCall;

export type Reply =
  | { readonly type: "DATA"; readonly data: Uint8Array }
  | { readonly type: "OK" }
  | { readonly type: "FAULT"; readonly errno: number }
  | { readonly type: "PIPE"; readonly readFd: number; readonly writeFd: number };

export type Request =
  | { readonly type: "PEEK"; readonly addr: bigint; readonly length: number }
  | { readonly type: "POKE"; readonly addr: bigint; readonly data: Uint8Array }
  | { readonly type: "NEWPIPE" }
  | { readonly type: "CLOSEFD"; readonly fd: number };

export type Final =
  /** ret < 0: the call fails with errno; else it returns ret. */
  | { readonly type: "RESULT"; readonly ret: number; readonly errno: number }
  /** A successful read: returns data.length, data copied to QEMU's buffer. */
  | { readonly type: "RESULT_DATA"; readonly data: Uint8Array }
  /** An accepted mmap: QEMU maps `path` at `offset` instead. */
  | { readonly type: "RESULT_MAP"; readonly offset: bigint; readonly path: string };

export type Message = Call | Reply | Request | Final;

/** A frame cut out of the stream, its payload not yet checked. */
export interface RawFrame {
  readonly type: number;
  readonly payload: Uint8Array;
}

export interface WireError {
  readonly reason: string;
}

// ---- encoding ----

class Writer {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private at = HEADER;

  constructor(type: number, payloadLength: number) {
    if (payloadLength > MAX_PAYLOAD) throw new RangeError(`payload of ${payloadLength} bytes`);
    this.bytes = new Uint8Array(HEADER + payloadLength);
    this.view = new DataView(this.bytes.buffer);
    this.view.setUint32(0, 4 + payloadLength, true);
    this.view.setUint32(4, type, true);
  }
  u32(v: number): this {
    this.view.setUint32(this.at, v >>> 0, true);
    this.at += 4;
    return this;
  }
  i32(v: number): this {
    this.view.setInt32(this.at, v | 0, true);
    this.at += 4;
    return this;
  }
  u64(v: bigint): this {
    this.view.setBigUint64(this.at, BigInt.asUintN(64, v), true);
    this.at += 8;
    return this;
  }
  i64(v: number): this {
    if (!Number.isSafeInteger(v)) throw new RangeError(`ret ${v} is not an integer`);
    this.view.setBigInt64(this.at, BigInt(v), true);
    this.at += 8;
    return this;
  }
  raw(data: Uint8Array): this {
    this.bytes.set(data, this.at);
    this.at += data.length;
    return this;
  }
  done(): Uint8Array {
    return this.bytes;
  }
}

const utf8 = new TextEncoder();

/** The frame for one message, header included. */
export function encode(m: Message): Uint8Array {
  const w = (size: number): Writer => new Writer(FrameType[m.type], size);
  switch (m.type) {
    case "HELLO":
      return w(20)
        .u32(m.version)
        .u32(m.pid)
        .i32(m.iommufdFd)
        .i32(m.vfioFd)
        .u32(m.guardPatched ? 1 : 0)
        .done();
    case "IOCTL":
      return w(24)
        .i32(m.fd)
        .u32(m.kind)
        .u64(BigInt(m.request >>> 0))
        .u64(m.arg)
        .done();
    case "MMAP":
      return w(40)
        .i32(m.fd)
        .u32(m.kind)
        .u64(m.addr)
        .u64(m.length)
        .u32(m.prot)
        .u32(m.flags)
        .u64(m.offset)
        .done();
    case "MUNMAP":
      return w(24).i32(m.fd).u32(m.kind).u64(m.addr).u64(m.length).done();
    case "PREAD":
      return w(24).i32(m.fd).u32(m.kind).u64(m.offset).u64(BigInt(m.length)).done();
    case "PWRITE":
      return w(16 + m.data.length)
        .i32(m.fd)
        .u32(m.kind)
        .u64(m.offset)
        .raw(m.data)
        .done();
    case "READ":
      return w(16).i32(m.fd).u32(m.kind).u64(BigInt(m.length)).done();
    case "WRITE":
      return w(8 + m.data.length)
        .i32(m.fd)
        .u32(m.kind)
        .raw(m.data)
        .done();
    case "CLOSE":
      return w(8).i32(m.fd).u32(m.kind).done();
    case "DATA":
    case "RESULT_DATA":
      return w(m.data.length).raw(m.data).done();
    case "OK":
    case "NEWPIPE":
      return w(0).done();
    case "FAULT":
      return w(4).i32(m.errno).done();
    case "PIPE":
      return w(8).i32(m.readFd).i32(m.writeFd).done();
    case "PEEK":
      return w(16).u64(m.addr).u64(BigInt(m.length)).done();
    case "POKE":
      return w(8 + m.data.length)
        .u64(m.addr)
        .raw(m.data)
        .done();
    case "CLOSEFD":
      return w(4).i32(m.fd).done();
    case "RESULT":
      return w(12).i64(m.ret).i32(m.errno).done();
    case "RESULT_MAP": {
      const path = utf8.encode(m.path);
      if (path.length === 0 || path.length > MAX_PATH_BYTES || path.includes(0)) {
        throw new RangeError(`mmap path ${JSON.stringify(m.path)}`);
      }
      return w(8 + path.length)
        .u64(m.offset)
        .raw(path)
        .done();
    }
  }
}

// ---- decoding ----

/**
 * Cuts a byte stream into frames. Lengths are checked before anything is allocated; after
 * a bad length the stream cannot be resynchronised, so the decoder stays failed.
 */
export class FrameDecoder {
  private readonly head = new Uint8Array(HEADER);
  private headFill = 0;
  private body: Uint8Array | null = null;
  private bodyFill = 0;
  private type = 0;
  private failure: WireError | null = null;

  /** Feeds a chunk; returns the frames it completed, or the (sticky) error. */
  push(chunk: Uint8Array): Result<RawFrame[], WireError> {
    if (this.failure) return err(this.failure);
    const frames: RawFrame[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.body === null) {
        const n = Math.min(HEADER - this.headFill, chunk.length - at);
        this.head.set(chunk.subarray(at, at + n), this.headFill);
        this.headFill += n;
        at += n;
        if (this.headFill < HEADER) break;
        const view = new DataView(this.head.buffer);
        const rest = view.getUint32(0, true);
        if (rest < 4 || rest - 4 > MAX_PAYLOAD) {
          this.failure = { reason: `frame length ${rest} out of range` };
          return err(this.failure);
        }
        this.type = view.getUint32(4, true);
        this.body = new Uint8Array(rest - 4);
        this.bodyFill = 0;
      }
      const n = Math.min(this.body.length - this.bodyFill, chunk.length - at);
      this.body.set(chunk.subarray(at, at + n), this.bodyFill);
      this.bodyFill += n;
      at += n;
      if (this.bodyFill === this.body.length) {
        frames.push({ type: this.type, payload: this.body });
        this.body = null;
        this.headFill = 0;
      }
    }
    return ok(frames);
  }

  /** Bytes of an unfinished frame are buffered (a peer that closes mid-frame). */
  get midFrame(): boolean {
    return this.headFill > 0;
  }
}

class Reader {
  private readonly view: DataView;
  private readonly p: Uint8Array;
  private at = 0;
  constructor(p: Uint8Array) {
    this.p = p;
    this.view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  }
  u32(): number {
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  i32(): number {
    const v = this.view.getInt32(this.at, true);
    this.at += 4;
    return v;
  }
  u64(): bigint {
    const v = this.view.getBigUint64(this.at, true);
    this.at += 8;
    return v;
  }
  i64(): bigint {
    const v = this.view.getBigInt64(this.at, true);
    this.at += 8;
    return v;
  }
  rest(): Uint8Array {
    const v = this.p.slice(this.at);
    this.at = this.p.length;
    return v;
  }
}

/** Payload sizes: exact for fixed layouts, a minimum where bytes follow. */
const LAYOUT: Readonly<Record<FrameTypeName, { readonly size: number; readonly tail: boolean }>> = {
  HELLO: { size: 20, tail: false },
  IOCTL: { size: 24, tail: false },
  MMAP: { size: 40, tail: false },
  MUNMAP: { size: 24, tail: false },
  PREAD: { size: 24, tail: false },
  PWRITE: { size: 16, tail: true },
  READ: { size: 16, tail: false },
  WRITE: { size: 8, tail: true },
  CLOSE: { size: 8, tail: false },
  DATA: { size: 0, tail: true },
  OK: { size: 0, tail: false },
  FAULT: { size: 4, tail: false },
  PIPE: { size: 8, tail: false },
  PEEK: { size: 16, tail: false },
  POKE: { size: 8, tail: true },
  NEWPIPE: { size: 0, tail: false },
  CLOSEFD: { size: 4, tail: false },
  RESULT: { size: 12, tail: false },
  RESULT_DATA: { size: 0, tail: true },
  RESULT_MAP: { size: 9, tail: true },
};

const utf8Strict = new TextDecoder("utf-8", { fatal: true });

function bad(reason: string): Result<Message, WireError> {
  return err({ reason });
}

/** A length field that must fit a frame (PEEK, PREAD, READ). */
function boundedLength(v: bigint): number | null {
  return v <= BigInt(MAX_PAYLOAD) ? Number(v) : null;
}

/** Checks a frame's type and payload and gives the message; never throws. */
export function decodeMessage(frame: RawFrame): Result<Message, WireError> {
  const name = NAME_OF.get(frame.type);
  if (name === undefined) return bad(`unknown frame type 0x${frame.type.toString(16)}`);
  const layout = LAYOUT[name];
  const n = frame.payload.length;
  if (layout.tail ? n < layout.size : n !== layout.size) {
    return bad(`${name} payload of ${n} bytes`);
  }
  const r = new Reader(frame.payload);
  const fdAndKind = (): { fd: number; kind: FdKindValue } | null => {
    const fd = r.i32();
    const kind = r.u32();
    return KINDS.has(kind) ? { fd, kind: kind as FdKindValue } : null;
  };
  switch (name) {
    case "HELLO":
      return ok({
        type: name,
        version: r.u32(),
        pid: r.u32(),
        iommufdFd: r.i32(),
        vfioFd: r.i32(),
        guardPatched: (r.u32() & 1) === 1,
      });
    case "IOCTL": {
      const fk = fdAndKind();
      if (!fk) return bad("IOCTL on an unknown fd kind");
      return ok({ type: name, ...fk, request: Number(r.u64() & 0xffff_ffffn), arg: r.u64() });
    }
    case "MMAP": {
      const fk = fdAndKind();
      if (!fk) return bad("MMAP on an unknown fd kind");
      return ok({
        type: name,
        ...fk,
        addr: r.u64(),
        length: r.u64(),
        prot: r.u32(),
        flags: r.u32(),
        offset: r.u64(),
      });
    }
    case "MUNMAP": {
      const fk = fdAndKind();
      if (!fk) return bad("MUNMAP of an unknown fd kind");
      return ok({ type: name, ...fk, addr: r.u64(), length: r.u64() });
    }
    case "PREAD": {
      const fk = fdAndKind();
      const offset = r.u64();
      const length = boundedLength(r.u64());
      if (!fk || length === null) return bad("malformed PREAD");
      return ok({ type: name, ...fk, offset, length });
    }
    case "PWRITE": {
      const fk = fdAndKind();
      if (!fk) return bad("PWRITE on an unknown fd kind");
      return ok({ type: name, ...fk, offset: r.u64(), data: r.rest() });
    }
    case "READ": {
      const fk = fdAndKind();
      const length = boundedLength(r.u64());
      if (!fk || length === null) return bad("malformed READ");
      return ok({ type: name, ...fk, length });
    }
    case "WRITE": {
      const fk = fdAndKind();
      if (!fk) return bad("WRITE on an unknown fd kind");
      return ok({ type: name, ...fk, data: r.rest() });
    }
    case "CLOSE": {
      const fk = fdAndKind();
      if (!fk) return bad("CLOSE of an unknown fd kind");
      return ok({ type: name, ...fk });
    }
    case "DATA":
    case "RESULT_DATA":
      return ok({ type: name, data: r.rest() });
    case "OK":
    case "NEWPIPE":
      return ok({ type: name });
    case "FAULT":
      return ok({ type: name, errno: r.i32() });
    case "PIPE":
      return ok({ type: name, readFd: r.i32(), writeFd: r.i32() });
    case "PEEK": {
      const addr = r.u64();
      const length = boundedLength(r.u64());
      if (length === null) return bad("PEEK longer than a frame");
      return ok({ type: name, addr, length });
    }
    case "POKE":
      return ok({ type: name, addr: r.u64(), data: r.rest() });
    case "CLOSEFD":
      return ok({ type: name, fd: r.i32() });
    case "RESULT": {
      const ret = r.i64();
      if (ret < BigInt(Number.MIN_SAFE_INTEGER) || ret > BigInt(Number.MAX_SAFE_INTEGER)) {
        return bad("RESULT out of range");
      }
      return ok({ type: name, ret: Number(ret), errno: r.i32() });
    }
    case "RESULT_MAP": {
      const offset = r.u64();
      const bytes = r.rest();
      if (bytes.length > MAX_PATH_BYTES || bytes.includes(0)) return bad("bad mmap path");
      try {
        return ok({ type: name, offset, path: utf8Strict.decode(bytes) });
      } catch {
        return bad("mmap path is not UTF-8");
      }
    }
  }
}

/** Linux errno values the plumbing itself uses (asm-generic/errno-base.h, errno.h). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  EMFILE: 24,
  ENOTTY: 25,
  EPROTO: 71,
  EOPNOTSUPP: 95,
} as const;
