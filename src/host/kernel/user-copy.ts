// The kernel's side of a system call whose caller lives in another address space (a real
// QEMU): copy_from_user and copy_to_user, and installing a new file descriptor, yielded as
// requests that whoever carries the call (the real-QEMU server) answers. The kernel code
// stays synchronous and deterministic; only the answers travel.

import type { VeventqFd } from "./veventq.js";

/** One request of the kernel to the calling process. */
export type UserRequest =
  /** copy_from_user: the bytes, or null when the range is not readable (EFAULT). */
  | { readonly op: "read"; readonly addr: bigint; readonly len: number }
  /** copy_to_user: true when written, false when not writable (EFAULT). */
  | { readonly op: "write"; readonly addr: bigint; readonly bytes: Uint8Array }
  /** fd_install of a new file (the vEVENTQ's): its number in the caller, or −errno. */
  | { readonly op: "install-fd"; readonly file: InstalledFile };

/** A file the kernel hands to user space; the carrier gives it a descriptor. */
export interface InstalledFile {
  readonly kind: "veventq";
  readonly id: number;
  /** The kernel's open file: the carrier reads events from it into the caller's descriptor. */
  readonly fd: VeventqFd;
}

export type UserAnswer = Uint8Array | boolean | number | null;

/** What the system call returns: 0 or a non-negative value, or −1 with errno. */
export interface SyscallReturn {
  readonly ret: number;
  readonly errno: number;
}

export const OK_RETURN: SyscallReturn = { ret: 0, errno: 0 };

export function failed(errno: number): SyscallReturn {
  return { ret: -1, errno };
}

/** A system call body: yields user-memory requests, returns the result. */
export type Syscall = Generator<UserRequest, SyscallReturn, UserAnswer>;

/** The most bytes one copy may move: bounds what a hostile caller can make us allocate. */
export const MAX_USER_COPY = 1 << 20;

/** Little-endian field access on a struct image. */
export class StructView {
  readonly bytes: Uint8Array;
  private readonly dv: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u8(off: number): number {
    return off + 1 <= this.bytes.length ? this.dv.getUint8(off) : 0;
  }
  u16(off: number): number {
    return off + 2 <= this.bytes.length ? this.dv.getUint16(off, true) : 0;
  }
  u32(off: number): number {
    return off + 4 <= this.bytes.length ? this.dv.getUint32(off, true) : 0;
  }
  s32(off: number): number {
    return off + 4 <= this.bytes.length ? this.dv.getInt32(off, true) : 0;
  }
  u64(off: number): bigint {
    return off + 8 <= this.bytes.length ? this.dv.getBigUint64(off, true) : 0n;
  }
  setU32(off: number, v: number): void {
    if (off + 4 <= this.bytes.length) this.dv.setUint32(off, v >>> 0, true);
  }
  setS32(off: number, v: number): void {
    if (off + 4 <= this.bytes.length) this.dv.setInt32(off, v, true);
  }
  setU8(off: number, v: number): void {
    if (off + 1 <= this.bytes.length) this.dv.setUint8(off, v);
  }
  setU64(off: number, v: bigint): void {
    if (off + 8 <= this.bytes.length) this.dv.setBigUint64(off, BigInt.asUintN(64, v), true);
  }
}

/** copy_from_user of `len` bytes, or null (EFAULT). */
export function* copyFromUser(
  addr: bigint,
  len: number,
): Generator<UserRequest, Uint8Array | null, UserAnswer> {
  if (len === 0) return new Uint8Array(0);
  const a = yield { op: "read", addr, len };
  return a instanceof Uint8Array && a.length === len ? a : null;
}

/** copy_to_user; false on EFAULT. */
export function* copyToUser(
  addr: bigint,
  bytes: Uint8Array,
): Generator<UserRequest, boolean, UserAnswer> {
  if (bytes.length === 0) return true;
  const a = yield { op: "write", addr, bytes };
  return a === true;
}
