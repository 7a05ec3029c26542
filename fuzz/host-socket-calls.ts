// What the host-socket fuzzer asks the simulated host: QEMU's address space as the fuzzer
// plays it (the server PEEKs and POKEs it), and the ioctl structs QEMU builds there, from
// the uAPI headers' layouts. Most fields are what QEMU would put (ids the host handed out
// earlier, the right types, sizes and pointers); the rest are hostile (random words, a
// short or long `size`, a non-zero tail, a struct that runs off its mapping, pointers into
// nothing). Everything is drawn from one Prng, so an input is its seed.

import { ERRNO } from "../src/host/kernel/errno.js";
import { IOCTL, STRUCT_SIZE } from "../src/host/kernel/uapi.js";
import { VFIO_IOCTL } from "../src/host/vfio/vfio-cdev.js";
import { Errno, FdKind, type FdKindValue } from "../src/real-qemu/wire.js";
import type { Prng } from "../src/util/prng.js";

/** Where the fuzzer's "QEMU" has memory: structs, buffers, and a read-only page. */
export const STRUCT_BASE = 0x7f00_0000_0000n;
export const DATA_BASE = 0x7f00_1000_0000n;
export const RO_BASE = 0x7f00_2000_0000n;
export const REGION_SIZE = 0x1_0000;
/** The data buffer is larger: room for the largest copy the kernel makes (1 MiB). */
export const DATA_SIZE = 0x20_0000;
/** Where QEMU's guest RAM goes in the IOAS (the virt machine's RAM base). */
export const RAM_IOVA = 0x4000_0000n;

/** QEMU's memory: three mappings; every other address faults. */
export class FakeMemory {
  private readonly regions: { base: bigint; bytes: Uint8Array; writable: boolean }[] = [
    { base: STRUCT_BASE, bytes: new Uint8Array(REGION_SIZE), writable: true },
    { base: DATA_BASE, bytes: new Uint8Array(DATA_SIZE), writable: true },
    { base: RO_BASE, bytes: new Uint8Array(REGION_SIZE), writable: false },
  ];

  private find(addr: bigint, len: number) {
    for (const r of this.regions) {
      const off = addr - r.base;
      if (off >= 0n && off + BigInt(len) <= BigInt(r.bytes.length)) {
        return { r, off: Number(off) };
      }
    }
    return null;
  }

  /** process_vm_readv: the bytes, or null (EFAULT). */
  read(addr: bigint, len: number): Uint8Array | null {
    const at = this.find(addr, len);
    return at === null ? null : at.r.bytes.slice(at.off, at.off + len);
  }

  /** process_vm_writev: false (EFAULT) outside a writable mapping. */
  write(addr: bigint, data: Uint8Array): boolean {
    const at = this.find(addr, data.length);
    if (at === null || !at.r.writable) return false;
    at.r.bytes.set(data, at.off);
    return true;
  }

  /** The fuzzer's own stores (the read-only page too: QEMU fills it before protecting it). */
  fill(addr: bigint, data: Uint8Array): number {
    const at = this.find(addr, 0);
    if (at === null) return 0;
    const n = Math.min(data.length, at.r.bytes.length - at.off);
    at.r.bytes.set(data.subarray(0, n), at.off);
    return n;
  }
}

/** Ids and handles the host gave out so far, to aim later calls at real objects. */
export interface Knowledge {
  readonly ids: number[];
  devId: number | null;
  ioasId: number | null;
  nestHwpt: number | null;
  viommuId: number | null;
  vintf: { offset: bigint; length: bigint } | null;
  readonly eventFds: number[];
  /** HW queues the host allocated: their index and ring (IOVA, bytes). */
  readonly queues: { index: number; iova: bigint; length: bigint }[];
  /** QEMU's iommufd number in its HELLO (VFIO bind names it). */
  iommufdFd: number;
}

export function newKnowledge(): Knowledge {
  return {
    ids: [],
    devId: null,
    ioasId: null,
    nestHwpt: null,
    viommuId: null,
    vintf: null,
    eventFds: [],
    queues: [],
    iommufdFd: 100,
  };
}

/** Descriptors the fuzzer can name in a call (MAP_FILE's memfd, a PIPE reply). */
export interface FdRoles {
  /** A regular file whose size is a multiple of every host page: good guest RAM. */
  readonly ram: number;
  readonly ramSize: number;
  /** A regular file of an odd size. */
  readonly odd: number;
  /** A sparse file of a terabyte. */
  readonly huge: number;
  /** A FIFO open for reading and writing (a pipe the server may write vEVENTs into). */
  readonly fifo: number | null;
}

/** A number that names no descriptor (past any RLIMIT_NOFILE). */
export const CLOSED_FD = 1_000_000;

/** One ioctl as the fuzzer makes it. */
export interface IoctlPlan {
  readonly kind: FdKindValue;
  readonly request: number;
  readonly arg: bigint;
  readonly name: string;
  /** u32 offsets in the struct where the host writes ids back on success. */
  readonly outs: readonly number[];
  /**
   * The one errno a faithful kernel must give when QEMU answers every request correctly
   * (null: it depends on state the fuzzer does not model).
   */
  readonly expect: number | null;
}

const NAMES = new Map<number, string>([
  ...Object.entries(IOCTL).map(([n, v]) => [v, n] as [number, string]),
  ...Object.entries(VFIO_IOCTL).map(([n, v]) => [v, n] as [number, string]),
]);

export class Gen {
  readonly rng: Prng;
  /** Build what QEMU would, every field right (the realize sequence). */
  strict = false;
  constructor(rng: Prng) {
    this.rng = rng;
  }
  chance(p: number): boolean {
    return this.rng.float() < p;
  }
  /** Usually (always when strict): the branch that builds QEMU's value. */
  likely(p: number): boolean {
    return this.strict || this.chance(p);
  }
  /** One of `xs`, whose first is QEMU's value (always taken when strict). */
  opt<T>(xs: readonly T[]): T {
    return this.strict ? xs[0]! : this.pick(xs);
  }
  int(n: number): number {
    return this.rng.int(n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.rng.int(xs.length)]!;
  }
  u32(): number {
    return this.pick([0, 1, 2, 3, 0xffff_ffff, 0x8000_0000, 0x7fff_ffff, this.rng.next()]);
  }
  u64(): bigint {
    const hi = BigInt(this.rng.next());
    const lo = BigInt(this.rng.next());
    return this.pick([0n, 1n, (1n << 64n) - 1n, 1n << 63n, RAM_IOVA, (hi << 32n) | lo]);
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.rng.next();
      for (let j = 0; j < 4 && i + j < n; j++) b[i + j] = (v >>> (8 * j)) & 0xff;
    }
    return b;
  }
  /** An id: one the host gave out, a small number, or any word. */
  id(k: Knowledge, preferred: number | null = null): number {
    if (preferred !== null && (this.strict || this.chance(0.7))) return preferred;
    if (k.ids.length > 0 && this.chance(0.6)) return this.pick(k.ids);
    return this.chance(0.6) ? this.int(8) : this.u32();
  }
  /** A field that is usually what QEMU puts there. */
  sane(good: number, p = 0.85): number {
    return this.likely(p) ? good : this.u32();
  }
  /** A descriptor number for MAP_FILE or a PIPE reply. */
  fd(roles: FdRoles): number {
    if (this.likely(0.5)) return roles.ram;
    return this.pick([
      roles.ram,
      roles.odd,
      roles.huge,
      roles.fifo ?? CLOSED_FD,
      CLOSED_FD,
      -1,
      0x7fff_ffff,
    ]);
  }
  /** A user pointer: usually into a buffer, sometimes anywhere. */
  ptr(base: bigint, p = 0.85): bigint {
    if (p > 0 && this.likely(p)) return base;
    return this.pick([
      0n,
      0x10n,
      (1n << 64n) - 8n,
      RO_BASE,
      base + BigInt(REGION_SIZE - 4),
      0xdead_0000_0000n,
      this.u64(),
    ]);
  }
}

class Struct {
  readonly b: Uint8Array;
  private readonly dv: DataView;
  constructor(n: number) {
    this.b = new Uint8Array(n);
    this.dv = new DataView(this.b.buffer);
  }
  u32(off: number, v: number): this {
    if (off + 4 <= this.b.length) this.dv.setUint32(off, v >>> 0, true);
    return this;
  }
  u64(off: number, v: bigint): this {
    if (off + 8 <= this.b.length) this.dv.setBigUint64(off, BigInt.asUintN(64, v), true);
    return this;
  }
}

type Sz = { readonly size: number; readonly min: number };
interface Built {
  readonly s: Struct;
  readonly sz: Sz;
  readonly outs: readonly number[];
}

/** The struct of one iommufd ioctl, fields mostly sane. Data buffers go to DATA_BASE. */
function iommufdStruct(
  g: Gen,
  k: Knowledge,
  roles: FdRoles,
  mem: FakeMemory,
  req: number,
): Built | null {
  const S = STRUCT_SIZE;
  switch (req) {
    case IOCTL.IOMMU_DESTROY:
      return { s: new Struct(8).u32(0, 8).u32(4, g.id(k)), sz: S.destroy, outs: [] };
    case IOCTL.IOMMU_IOAS_ALLOC:
      return { s: new Struct(12).u32(0, 12).u32(4, g.sane(0)), sz: S.ioas_alloc, outs: [8] };
    case IOCTL.IOMMU_IOAS_IOVA_RANGES:
      return {
        s: new Struct(32)
          .u32(0, 32)
          .u32(4, g.id(k, k.ioasId))
          .u32(8, g.opt([0, 1, 4, g.u32()]))
          .u32(12, g.sane(0))
          .u64(16, g.ptr(DATA_BASE)),
        sz: S.ioas_iova_ranges,
        outs: [],
      };
    case IOCTL.IOMMU_IOAS_MAP:
      return {
        s: new Struct(40)
          .u32(0, 40)
          .u32(4, g.sane(7))
          .u32(8, g.id(k, k.ioasId))
          .u32(12, g.sane(0))
          .u64(16, g.u64())
          .u64(24, g.likely(0.7) ? 0x1000n : g.u64())
          .u64(32, g.likely(0.7) ? 0x1_0000_0000n : g.u64()),
        sz: S.ioas_map,
        outs: [],
      };
    case IOCTL.IOMMU_IOAS_UNMAP:
      return {
        s: new Struct(24)
          .u32(0, 24)
          .u32(4, g.id(k, k.ioasId))
          .u64(8, g.likely(0.6) ? RAM_IOVA : g.u64())
          .u64(16, g.likely(0.6) ? BigInt(roles.ramSize) : g.u64()),
        sz: S.ioas_unmap,
        outs: [],
      };
    case IOCTL.IOMMU_HWPT_ALLOC: {
      const nested = k.viommuId !== null && (g.strict || g.chance(0.5));
      const dataLen = g.likely(0.8) ? (nested ? 16 : 0) : g.opt([8, 17, 1 << 20, g.u32()]);
      mem.fill(
        DATA_BASE,
        g.likely(0.8) ? new Struct(16).u64(0, g.opt([0x1n, 0x9n, 0xbn])).u64(8, 0n).b : g.bytes(16),
      );
      return {
        s: new Struct(48)
          .u32(0, 48)
          .u32(4, nested ? g.sane(0) : g.sane(1))
          .u32(8, g.id(k, k.devId))
          .u32(12, nested ? g.id(k, k.viommuId) : g.id(k, k.ioasId))
          .u32(20, g.sane(0))
          .u32(24, nested ? g.sane(2) : g.sane(0))
          .u32(28, dataLen)
          .u64(32, g.ptr(DATA_BASE))
          .u32(40, g.sane(0))
          .u32(44, g.sane(0)),
        sz: S.hwpt_alloc,
        outs: [16],
      };
    }
    case IOCTL.IOMMU_GET_HW_INFO:
      return {
        s: new Struct(40)
          .u32(0, 40)
          .u32(4, g.opt([0, 1, 1, g.u32()]))
          .u32(8, g.id(k, k.devId))
          .u32(12, g.opt([40, 8, 0, 1 << 20, (1 << 20) + 1, g.u32()]))
          .u64(16, g.ptr(DATA_BASE))
          .u32(24, g.opt([0, 2, 3, g.u32()])),
        sz: S.hw_info,
        outs: [],
      };
    case IOCTL.IOMMU_HWPT_INVALIDATE: {
      const entries = g.int(6);
      const cmds = new Struct(16 * 8);
      for (let i = 0; i < 8; i++) {
        // TLBI_NH_ASID (0x11), TLBI_NH_ALL (0x10), CFGI_CD (0x05), CMD_SYNC (0x46), or any
        cmds.u64(16 * i, BigInt(g.opt([0x11, 0x10, 0x05, 0x46, g.u32()])) | (BigInt(i) << 48n));
        cmds.u64(16 * i + 8, g.u64());
      }
      mem.fill(DATA_BASE, cmds.b);
      return {
        s: new Struct(32)
          .u32(0, 32)
          .u32(4, g.id(k, k.viommuId))
          .u64(8, g.ptr(DATA_BASE))
          .u32(16, g.sane(1))
          .u32(20, g.opt([16, 16, 8, 0, 1, 24, g.u32()]))
          .u32(24, g.opt([entries, entries, 0, 0xffff_ffff, 0x10_0000, g.u32()]))
          .u32(28, g.sane(0)),
        sz: S.hwpt_invalidate,
        outs: [],
      };
    }
    case IOCTL.IOMMU_IOAS_MAP_FILE:
      return {
        s: new Struct(40)
          .u32(0, 40)
          .u32(4, g.sane(7))
          .u32(8, g.id(k, k.ioasId))
          .u32(12, g.fd(roles))
          .u64(16, g.likely(0.8) ? 0n : g.u64())
          .u64(24, g.likely(0.8) ? BigInt(roles.ramSize) : g.u64())
          .u64(32, g.likely(0.8) ? RAM_IOVA : g.u64()),
        sz: S.ioas_map_file,
        outs: [],
      };
    case IOCTL.IOMMU_VIOMMU_ALLOC:
      mem.fill(DATA_BASE, new Uint8Array(16));
      return {
        s: new Struct(40)
          .u32(0, 40)
          .u32(4, g.sane(0))
          .u32(8, g.opt([2, 2, 1, 0, g.u32()]))
          .u32(12, g.id(k, k.devId))
          .u32(16, g.id(k, k.nestHwpt))
          .u32(24, g.opt([16, 16, 0, 8, 32, 1 << 20, g.u32()]))
          .u32(28, g.sane(0))
          .u64(32, g.ptr(DATA_BASE)),
        sz: S.viommu_alloc,
        outs: [20],
      };
    case IOCTL.IOMMU_VDEVICE_ALLOC:
      return {
        s: new Struct(24)
          .u32(0, 24)
          .u32(4, g.id(k, k.viommuId))
          .u32(8, g.id(k, k.devId))
          .u64(16, g.likely(0.7) ? BigInt(g.int(16)) : g.u64()),
        sz: S.vdevice_alloc,
        outs: [12],
      };
    case IOCTL.IOMMU_IOAS_CHANGE_PROCESS:
      return { s: new Struct(8).u32(0, 8).u32(4, g.sane(0)), sz: S.ioas_change_process, outs: [] };
    case IOCTL.IOMMU_VEVENTQ_ALLOC:
      return {
        s: new Struct(32)
          .u32(0, 32)
          .u32(4, g.sane(0))
          .u32(8, g.id(k, k.viommuId))
          .u32(12, g.sane(2))
          .u32(16, g.opt([524288, 1, 0, 0xffff_ffff, g.u32()]))
          .u32(28, g.sane(0)),
        sz: S.veventq_alloc,
        outs: [20],
      };
    case IOCTL.IOMMU_HW_QUEUE_ALLOC: {
      const index = g.strict ? 0 : g.chance(0.8) ? g.int(4) : g.u32();
      const log2 = g.likely(0.7) ? 16 : g.int(24);
      return {
        s: new Struct(40)
          .u32(0, 40)
          .u32(4, g.sane(0))
          .u32(8, g.id(k, k.viommuId))
          .u32(12, g.sane(1))
          .u32(16, index)
          .u64(24, g.likely(0.8) ? RAM_IOVA + BigInt(g.int(32)) * 0x1_0000n : g.u64())
          .u64(32, g.likely(0.8) ? 1n << BigInt(log2) : g.u64()),
        sz: S.hw_queue_alloc,
        outs: [20],
      };
    }
    default:
      return null;
  }
}

/** The struct of one VFIO device ioctl (argsz first), or null for RESET (no argument). */
function vfioStruct(g: Gen, k: Knowledge, req: number): Built | null {
  const argsz = (size: number, min: number) => ({ size, min });
  switch (req) {
    case VFIO_IOCTL.VFIO_DEVICE_BIND_IOMMUFD:
      return {
        s: new Struct(24)
          .u32(0, 24)
          .u32(4, g.sane(0))
          .u32(8, g.likely(0.85) ? k.iommufdFd : g.u32())
          .u64(16, g.likely(0.9) ? 0n : g.u64()),
        sz: argsz(24, 16),
        outs: [12],
      };
    case VFIO_IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT:
      return {
        s: new Struct(16)
          .u32(0, 16)
          .u32(4, g.sane(0))
          .u32(8, g.id(k, k.nestHwpt))
          .u32(12, g.sane(0)),
        sz: argsz(16, 12),
        outs: [],
      };
    case VFIO_IOCTL.VFIO_DEVICE_DETACH_IOMMUFD_PT:
      return { s: new Struct(12).u32(0, 12).u32(4, g.sane(0)), sz: argsz(12, 8), outs: [] };
    case VFIO_IOCTL.VFIO_DEVICE_GET_INFO:
      return { s: new Struct(24).u32(0, 24), sz: argsz(24, 16), outs: [] };
    case VFIO_IOCTL.VFIO_DEVICE_GET_REGION_INFO:
      return {
        s: new Struct(32).u32(0, 32).u32(8, g.likely(0.8) ? g.int(10) : g.u32()),
        sz: argsz(32, 32),
        outs: [],
      };
    case VFIO_IOCTL.VFIO_DEVICE_GET_IRQ_INFO:
      return {
        s: new Struct(16).u32(0, 16).u32(8, g.likely(0.8) ? g.int(6) : g.u32()),
        sz: argsz(16, 16),
        outs: [],
      };
    case VFIO_IOCTL.VFIO_DEVICE_SET_IRQS:
      return {
        s: new Struct(20).u32(0, 20).u32(4, g.u32()).u32(8, g.int(6)),
        sz: argsz(20, 20),
        outs: [],
      };
    case VFIO_IOCTL.VFIO_DEVICE_FEATURE:
      return {
        s: new Struct(16).u32(0, 16).u32(4, g.sane(0x10001)),
        sz: argsz(16, 12),
        outs: [],
      };
    default:
      return null;
  }
}

const IOMMUFD_REQUESTS = Object.values(IOCTL) as number[];
const VFIO_REQUESTS = Object.values(VFIO_IOCTL) as number[];

/**
 * Builds one ioctl: writes its struct into `mem` (at a pointer that is sometimes bad) and
 * says what a faithful kernel must answer when that is knowable from the bytes alone.
 */
export function planIoctl(
  g: Gen,
  k: Knowledge,
  roles: FdRoles,
  mem: FakeMemory,
  only?: { readonly kind: FdKindValue; readonly request: number },
): IoctlPlan {
  let kind: FdKindValue;
  let request: number;
  if (only !== undefined) {
    kind = only.kind;
    request = only.request;
  } else {
    const roll = g.int(100);
    kind = roll < 70 ? FdKind.IOMMUFD : roll < 97 ? FdKind.VFIO : FdKind.EVENTQ;
    const r2 = g.int(100);
    if (r2 < 88) request = g.pick(kind === FdKind.VFIO ? VFIO_REQUESTS : IOMMUFD_REQUESTS);
    else if (r2 < 95) request = 0x3b00 | g.int(0x100);
    else request = g.rng.next();
  }
  const built =
    kind === FdKind.VFIO ? vfioStruct(g, k, request) : iommufdStruct(g, k, roles, mem, request);
  const name = NAMES.get(request) ?? `0x${request.toString(16)}`;
  if (built === null) {
    // No struct (RESET, an unknown number): the argument is whatever QEMU passes.
    const arg = g.chance(0.5) ? 0n : g.ptr(STRUCT_BASE);
    const known =
      kind === FdKind.IOMMUFD
        ? IOMMUFD_REQUESTS.includes(request)
        : VFIO_REQUESTS.includes(request);
    const expect =
      kind === FdKind.EVENTQ || (kind === FdKind.IOMMUFD && !known) ? Errno.ENOTTY : null;
    return { kind, request, arg, name, outs: [], expect };
  }
  const { s, sz, outs } = built;
  // The size field: usually right; else too short, zero, longer with a zero or non-zero
  // tail, or absurd.
  let size = sz.size;
  let tail: Uint8Array = new Uint8Array(0);
  if (only === undefined && g.chance(0.2)) {
    const choice = g.int(8);
    if (choice === 0) size = 0;
    else if (choice === 1) size = Math.max(0, sz.min - 1 - g.int(4));
    else if (choice === 2) size = sz.min;
    else if (choice === 3) {
      size = sz.size + 8 + g.int(64);
      tail = new Uint8Array(size - sz.size);
    } else if (choice === 4) {
      size = sz.size + 1 + g.int(64);
      tail = g.bytes(size - sz.size);
      tail[0] = 0xff;
    } else if (choice === 5) size = 0xffff_ffff;
    else if (choice === 6) size = sz.size + 0x10_0000;
    else size = g.rng.next();
  }
  s.u32(0, size);
  // Where the struct lives: its buffer, the end of a mapping (it runs off), read-only
  // memory (the copy back faults), or no memory at all.
  const where = only !== undefined ? 0 : g.int(100);
  let arg: bigint;
  if (where < 85) arg = STRUCT_BASE + BigInt(0x100 + 8 * g.int(64));
  else if (where < 90) arg = STRUCT_BASE + BigInt(REGION_SIZE - 1 - g.int(s.b.length + 8));
  else if (where < 95) arg = RO_BASE;
  else arg = g.ptr(STRUCT_BASE, 0);
  // The bytes past the struct are what the kernel's copy_struct_from_user checks.
  const image = new Uint8Array(s.b.length + Math.min(tail.length, 256));
  image.set(s.b);
  image.set(tail.subarray(0, image.length - s.b.length), s.b.length);
  if (arg !== 0n) mem.fill(arg, image.length > 0 ? image : s.b);
  // Clear what follows a short image so stale bytes of an earlier call are no tail.
  mem.fill(arg + BigInt(image.length), new Uint8Array(256));
  return {
    kind,
    request,
    arg,
    name,
    outs,
    expect:
      kind === FdKind.EVENTQ
        ? Errno.ENOTTY
        : kind === FdKind.IOMMUFD
          ? iommufdExpectation(mem, arg, size, sz)
          : null,
  };
}

/** fops.ts's order of checks, from the bytes: EFAULT, EINVAL, E2BIG, or null (the op decides). */
function iommufdExpectation(mem: FakeMemory, arg: bigint, size: number, sz: Sz): number | null {
  if (mem.read(arg, 4) === null) return Errno.EFAULT;
  if (size < sz.min) return Errno.EINVAL;
  if (mem.read(arg, Math.min(size, sz.size)) === null) return Errno.EFAULT;
  if (size > sz.size) {
    const tail = mem.read(arg + BigInt(sz.size), Math.min(size - sz.size, 1 << 20));
    if (tail === null) return Errno.EFAULT;
    if (tail.some((b) => b !== 0)) return ERRNO.E2BIG;
  }
  return null;
}
