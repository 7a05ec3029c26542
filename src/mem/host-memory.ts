// Host-physical memory: which address ranges exist (host RAM the kernel owns or pinned for
// a guest) and their contents, stored sparsely so a 64 GiB guest costs only the chunks it
// touched. The CMDQV hardware fetches commands through this, and guest RAM lands here
// after stage-2 translation (guest-ram.ts).
//
// Hot-path rule (design: "Hot paths allocate nothing per operation"): the 1/2/4-byte
// accessors create no objects; they hit a one-entry cache of the last backed range and of
// the last chunk. Only a first write to a chunk allocates its storage.

import { loadLE, storeLE } from "./le.js";
import type { MemStatus, PhysMemory, SmallSize } from "./types.js";
import { MAX_BULK_BYTES, MEM_FAULT, MEM_STATUS } from "./types.js";

/** Typed-array views use the host's byte order; guest memory is little-endian. */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Default storage granule: large enough that a ring or a page is one chunk, small enough
 * that scattered writes over a huge range stay cheap. */
export const DEFAULT_CHUNK_SIZE = 0x1_0000;

/** Addresses and sizes are exact JS integers only up to 2^53. */
const ADDR_LIMIT = 2 ** 53;

export interface HostMemoryOptions {
  /** Power of two between 16 and 2^30 bytes. */
  chunkSize?: number;
}

export interface BackedRange {
  readonly base: number;
  readonly size: number;
}

export interface HostMemoryState {
  readonly chunkSize: number;
  /** Sorted, merged (adjacent ranges joined), non-overlapping. */
  readonly backed: readonly BackedRange[];
  /** Sorted by index; chunks that are all zero are left out so equal contents snapshot
   * equal whatever was allocated on the way. */
  readonly chunks: readonly { readonly index: number; readonly bytes: Uint8Array }[];
}

function isSmallSize(size: number): boolean {
  return size === 1 || size === 2 || size === 4;
}

function isIntIn(x: number, lo: number, hi: number): boolean {
  return Math.floor(x) === x && x >= lo && x <= hi;
}

export class HostMemory implements PhysMemory {
  private readonly cs: number;
  private readonly chunks = new Map<number, Uint8Array>();
  // Backed ranges as parallel sorted arrays of merged intervals [starts[i], ends[i]).
  private starts: number[] = [];
  private ends: number[] = [];
  // One-entry cache of the last backed range found; start > end marks it invalid, so no
  // access (not even a zero-length one) can hit it.
  private hitStart = 1;
  private hitEnd = 0;
  // One-entry cache of the last present chunk (absent chunks are not cached, because a
  // write may allocate them later).
  private lastIdx = -1;
  private lastChunk: Uint8Array | undefined = undefined;
  /** Each written chunk's 32-bit view, made on first use (chunkWords, readWords). */
  private readonly wordViews = new Map<number, Uint32Array>();
  /**
   * readWords' fast window: [fastLo, fastHi) is backed and inside the chunk at fastBase,
   * whose 32-bit view is wordsView, so a read there needs no other check. Empty (lo > hi)
   * until a read opens it; closed whenever backing or storage goes away.
   */
  private wordsView: Uint32Array | undefined = undefined;
  private fastLo = 1;
  private fastHi = 0;
  private fastBase = 0;
  /** 1 / chunk size: exact for a power of two, and a multiply is cheaper than a divide. */
  private readonly invCs: number;
  // Bumped whenever a chunk appears or disappears or the backing changes: what a direct
  // window (chunkBytes) must re-check before each use.
  private gen = 0;

  constructor(opts?: HostMemoryOptions) {
    const cs = opts?.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!isIntIn(cs, 16, 2 ** 30) || (cs & (cs - 1)) !== 0) {
      throw new RangeError(`HostMemory: chunkSize ${cs} must be a power of two in [16, 2^30]`);
    }
    this.cs = cs;
    this.invCs = 1 / cs;
  }

  get chunkSize(): number {
    return this.cs;
  }

  // ---- backing -------------------------------------------------------------------------

  /** Declare [base, base+size) as existing host RAM. Overlapping existing backing is a bug
   * in whoever lays out the host, so it throws. */
  addBacked(base: number, size: number): void {
    checkRange("addBacked", base, size);
    const end = base + size;
    const i = this.firstEndingAfter(base);
    const s = this.starts[i];
    if (s !== undefined && s < end) {
      throw new Error(
        `HostMemory.addBacked: [0x${base.toString(16)}, 0x${end.toString(16)}) overlaps ` +
          `backed [0x${s.toString(16)}, 0x${this.ends[i]!.toString(16)})`,
      );
    }
    // Merge with the neighbours it touches so an access across two adjacent grants works,
    // as it does on contiguous physical RAM.
    const joinLeft = i > 0 && this.ends[i - 1] === base;
    const joinRight = s === end;
    if (joinLeft && joinRight) {
      this.ends[i - 1] = this.ends[i]!;
      this.starts.splice(i, 1);
      this.ends.splice(i, 1);
    } else if (joinLeft) {
      this.ends[i - 1] = end;
    } else if (joinRight) {
      this.starts[i] = base;
    } else {
      this.starts.splice(i, 0, base);
      this.ends.splice(i, 0, end);
    }
    this.invalidateHit();
  }

  /** Withdraw [base, base+size), which must be entirely backed (else a bug: throws). The
   * bytes are forgotten, so memory backed again later reads as zero, deterministically. */
  removeBacked(base: number, size: number): void {
    checkRange("removeBacked", base, size);
    const end = base + size;
    const i = this.firstEndingAfter(base);
    const s = this.starts[i];
    const e = this.ends[i];
    if (s === undefined || e === undefined || s > base || e < end) {
      throw new Error(
        `HostMemory.removeBacked: [0x${base.toString(16)}, 0x${end.toString(16)}) is not entirely backed`,
      );
    }
    if (s === base && e === end) {
      this.starts.splice(i, 1);
      this.ends.splice(i, 1);
    } else if (s === base) {
      this.starts[i] = end;
    } else if (e === end) {
      this.ends[i] = base;
    } else {
      this.ends[i] = base;
      this.starts.splice(i + 1, 0, end);
      this.ends.splice(i + 1, 0, e);
    }
    this.invalidateHit();
    this.forget(base, end);
  }

  /** Backed ranges, sorted and merged. */
  backedRanges(): BackedRange[] {
    const out: BackedRange[] = [];
    for (let i = 0; i < this.starts.length; i++) {
      out.push({ base: this.starts[i]!, size: this.ends[i]! - this.starts[i]! });
    }
    return out;
  }

  isBacked(addr: number, len: number): boolean {
    if (!(len >= 0) || Math.floor(len) !== len) return false;
    return this.covers(addr, len);
  }

  /**
   * Changes whenever storage is allocated or dropped or backing is added or removed. A
   * caller holding a chunkBytes() window may use it only while this is unchanged.
   */
  get generation(): number {
    return this.gen;
  }

  /**
   * The storage of the chunk holding hpa, or null when it was never written (it reads as
   * zero). A direct window onto host memory, like QEMU's memory_region_get_ram_ptr: the
   * caller must have checked backing with isBacked and must re-check `generation` before
   * every use. Never allocates. The chunk starts at hpa - hpa % chunkSize.
   */
  chunkBytes(hpa: number): Uint8Array | null {
    return this.chunkAt(Math.floor(hpa / this.cs)) ?? null;
  }

  /**
   * chunkBytes as little-endian u32 words: the chunk's 32-bit view (made once per chunk),
   * or null when the chunk was never written or the host is big-endian (use chunkBytes).
   * Same rules as chunkBytes.
   */
  chunkWords(hpa: number): Uint32Array | null {
    return LITTLE_ENDIAN_HOST ? (this.wordsOf(Math.floor(hpa / this.cs)) ?? null) : null;
  }

  /** Bytes of storage actually allocated (what the model costs, not what it pretends). */
  allocatedBytes(): number {
    return this.chunks.size * this.cs;
  }

  // ---- 1/2/4-byte path (no allocation) -------------------------------------------------

  read(addr: number, size: SmallSize): number {
    if (!isSmallSize(size) || !this.covers(addr, size)) return MEM_FAULT;
    const idx = Math.floor(addr / this.cs);
    const off = addr - idx * this.cs;
    if (off + size > this.cs) return this.readAcross(addr, size);
    const b = this.chunkAt(idx);
    return b === undefined ? 0 : loadLE(b, off, size);
  }

  write(addr: number, size: SmallSize, value: number): MemStatus {
    if (!isSmallSize(size)) return MEM_STATUS.BAD_ACCESS;
    if (!this.covers(addr, size)) return MEM_STATUS.UNMAPPED;
    const idx = Math.floor(addr / this.cs);
    const off = addr - idx * this.cs;
    if (off + size > this.cs) {
      for (let i = 0; i < size; i++) this.storeByte(addr + i, value >>> (8 * i));
      return MEM_STATUS.OK;
    }
    storeLE(this.chunkForWrite(idx), off, size, value);
    return MEM_STATUS.OK;
  }

  readWords(addr: number, out: Uint32Array): boolean {
    const len = out.length * 4;
    const o = addr - this.fastBase;
    const fw = o >>> 2;
    if (addr >= this.fastLo && addr + len <= this.fastHi && fw * 4 === o) {
      // Inside the window a previous read checked: whole words, nothing else to test.
      const view = this.wordsView!;
      if (len === 16) {
        // A 16-byte command, the consumers' fetch: unrolled.
        out[0] = view[fw]!;
        out[1] = view[fw + 1]!;
        out[2] = view[fw + 2]!;
        out[3] = view[fw + 3]!;
      } else {
        for (let i = 0; i < out.length; i++) out[i] = view[fw + i]!;
      }
      return true;
    }
    return this.readWordsChecked(addr, out);
  }

  /** readWords outside the fast window: every check, then the window opened on the way. */
  private readWordsChecked(addr: number, out: Uint32Array): boolean {
    const len = out.length * 4;
    if (!this.covers(addr, len)) return false;
    const idx = Math.floor(addr * this.invCs);
    const off = addr - idx * this.cs;
    if (off + len > this.cs || (off & 3) !== 0) {
      for (let i = 0; i < out.length; i++) out[i] = this.read(addr + 4 * i, 4);
      return true;
    }
    if (LITTLE_ENDIAN_HOST) {
      // A bus master's burst: whole words from a 32-bit view of the chunk (the memory is
      // little-endian, and so is the host, checked at load time).
      const view = this.wordsOf(idx);
      if (view === undefined) {
        out.fill(0);
        return true;
      }
      // Open the fast window on what this read just checked: the backed range found (the
      // covers() cache) within this chunk. It holds this read, which it then serves.
      const cBase = idx * this.cs;
      this.wordsView = view;
      this.fastBase = cBase;
      this.fastLo = Math.max(this.hitStart, cBase);
      this.fastHi = Math.min(this.hitEnd, cBase + this.cs);
      return this.readWords(addr, out);
    }
    const b = this.chunkAt(idx);
    if (b === undefined) out.fill(0);
    else for (let i = 0; i < out.length; i++) out[i] = loadLE(b, off + 4 * i, 4);
    return true;
  }

  // ---- 8-byte path (bigint, colder) ----------------------------------------------------

  read64(addr: number): bigint | undefined {
    if (!this.covers(addr, 8)) return undefined;
    // Two 4-byte halves; read() handles a chunk boundary inside either half.
    const lo = this.read(addr, 4);
    const hi = this.read(addr + 4, 4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  write64(addr: number, value: bigint): MemStatus {
    if (!this.covers(addr, 8)) return MEM_STATUS.UNMAPPED;
    const v = BigInt.asUintN(64, value);
    this.write(addr, 4, Number(v & 0xffff_ffffn));
    this.write(addr + 4, 4, Number(v >> 32n));
    return MEM_STATUS.OK;
  }

  // ---- bulk ----------------------------------------------------------------------------

  /** Undefined when any byte is not backed or len exceeds MAX_BULK_BYTES. */
  readBytes(addr: number, len: number): Uint8Array | undefined {
    if (len > MAX_BULK_BYTES || !this.isBacked(addr, len)) return undefined;
    const out = new Uint8Array(len);
    this.copyOut(addr, out);
    return out;
  }

  /** Fill `dst` from [addr, addr+dst.length); nothing is copied unless all of it is backed. */
  readInto(addr: number, dst: Uint8Array): MemStatus {
    if (!this.covers(addr, dst.length)) return MEM_STATUS.UNMAPPED;
    this.copyOut(addr, dst);
    return MEM_STATUS.OK;
  }

  writeBytes(addr: number, data: Uint8Array): MemStatus {
    if (!this.covers(addr, data.length)) return MEM_STATUS.UNMAPPED;
    let done = 0;
    while (done < data.length) {
      const a = addr + done;
      const idx = Math.floor(a / this.cs);
      const off = a - idx * this.cs;
      const n = Math.min(this.cs - off, data.length - done);
      this.chunkForWrite(idx).set(data.subarray(done, done + n), off);
      done += n;
    }
    return MEM_STATUS.OK;
  }

  // ---- snapshot ------------------------------------------------------------------------

  state(): HostMemoryState {
    const chunks: { index: number; bytes: Uint8Array }[] = [];
    const keys = [...this.chunks.keys()].sort((a, b) => a - b);
    for (const index of keys) {
      const bytes = this.chunks.get(index)!;
      if (bytes.some((x) => x !== 0)) chunks.push({ index, bytes: bytes.slice() });
    }
    return { chunkSize: this.cs, backed: this.backedRanges(), chunks };
  }

  // ---- internals -----------------------------------------------------------------------

  /** True when [addr, addr+len) is an integer range inside one merged backed range. */
  private covers(addr: number, len: number): boolean {
    if (Math.floor(addr) !== addr) return false; // NaN, ±Infinity, fractions
    if (addr >= this.hitStart && addr + len <= this.hitEnd) return true;
    const i = this.firstEndingAfter(addr);
    const s = this.starts[i];
    if (s === undefined || s > addr) return false;
    const e = this.ends[i]!;
    this.hitStart = s;
    this.hitEnd = e;
    return addr + len <= e;
  }

  /** Index of the first range whose end is > addr (binary search; starts.length if none). */
  private firstEndingAfter(addr: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid]! <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private invalidateHit(): void {
    this.gen++;
    this.hitStart = 1;
    this.hitEnd = 0;
    this.fastLo = 1;
    this.fastHi = 0;
  }

  private chunkAt(idx: number): Uint8Array | undefined {
    if (idx === this.lastIdx) return this.lastChunk;
    const c = this.chunks.get(idx);
    if (c !== undefined) {
      this.lastIdx = idx;
      this.lastChunk = c;
    }
    return c;
  }

  /** Chunk idx's 32-bit view, made on first use; undefined when it was never written. */
  private wordsOf(idx: number): Uint32Array | undefined {
    let v = this.wordViews.get(idx);
    if (v === undefined) {
      const b = this.chunkAt(idx);
      if (b === undefined) return undefined;
      v = new Uint32Array(b.buffer, b.byteOffset, b.byteLength >>> 2);
      this.wordViews.set(idx, v);
    }
    return v;
  }

  private chunkForWrite(idx: number): Uint8Array {
    let c = this.chunkAt(idx);
    if (c === undefined) {
      c = new Uint8Array(this.cs);
      this.chunks.set(idx, c);
      this.gen++;
      this.lastIdx = idx;
      this.lastChunk = c;
    }
    return c;
  }

  private loadByte(addr: number): number {
    const idx = Math.floor(addr / this.cs);
    const c = this.chunkAt(idx);
    return c === undefined ? 0 : c[addr - idx * this.cs]!;
  }

  private storeByte(addr: number, value: number): void {
    const idx = Math.floor(addr / this.cs);
    this.chunkForWrite(idx)[addr - idx * this.cs] = value;
  }

  private readAcross(addr: number, size: number): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.loadByte(addr + i) << (8 * i);
    return v >>> 0;
  }

  private copyOut(addr: number, dst: Uint8Array): void {
    let done = 0;
    while (done < dst.length) {
      const a = addr + done;
      const idx = Math.floor(a / this.cs);
      const off = a - idx * this.cs;
      const n = Math.min(this.cs - off, dst.length - done);
      const c = this.chunkAt(idx);
      if (c === undefined) dst.fill(0, done, done + n);
      else dst.set(c.subarray(off, off + n), done);
      done += n;
    }
  }

  /** Drop or zero the stored bytes of [base, end), which is no longer backed. */
  private forget(base: number, end: number): void {
    const first = Math.floor(base / this.cs);
    const last = Math.floor((end - 1) / this.cs);
    const visit = (idx: number): void => {
      const c = this.chunks.get(idx);
      if (c === undefined) return;
      const cBase = idx * this.cs;
      if (!this.intersectsBacked(cBase, cBase + this.cs)) {
        this.chunks.delete(idx);
        this.wordViews.delete(idx);
      } else {
        const from = Math.max(base, cBase) - cBase;
        const to = Math.min(end, cBase + this.cs) - cBase;
        c.fill(0, from, to);
      }
    };
    // Walk whichever is smaller: the chunk indices of the range or the allocated chunks.
    if (last - first + 1 <= this.chunks.size) {
      for (let idx = first; idx <= last; idx++) visit(idx);
    } else {
      for (const idx of [...this.chunks.keys()]) if (idx >= first && idx <= last) visit(idx);
    }
    this.lastIdx = -1;
    this.wordsView = undefined;
    this.fastLo = 1;
    this.fastHi = 0;
    this.lastChunk = undefined;
    this.gen++;
  }

  private intersectsBacked(lo: number, hi: number): boolean {
    const i = this.firstEndingAfter(lo);
    const s = this.starts[i];
    return s !== undefined && s < hi;
  }
}

function checkRange(what: string, base: number, size: number): void {
  if (!isIntIn(base, 0, ADDR_LIMIT) || !isIntIn(size, 1, ADDR_LIMIT) || base + size > ADDR_LIMIT) {
    throw new RangeError(`HostMemory.${what}: bad range base=${base} size=${size}`);
  }
}
