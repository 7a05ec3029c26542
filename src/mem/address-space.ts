// The guest-physical address space as vCPUs (and qtest) see it: RAM regions translated to
// host memory, MMIO regions whose every access is a trap (a VM exit to the VMM), and
// overlays, which shadow what lies below them without a trap. An overlay is how the VMM
// maps a VINTF's page0 straight into the guest (a RAM-device region): once it is there,
// guest accesses reach the hardware directly and the VMM no longer sees them.
//
// Rules (after rust-vmm's vm-device bus, rust-vmm/vm-device src/bus/):
// - Registration rejects overlapping RAM/MMIO (DeviceOverlap) and empty regions, as values.
// - An access must fit entirely inside one region, else STRADDLE; nothing else decodes it.
// - RAM does not require natural alignment (neither does Arm normal memory); an MMIO or
//   overlay access is passed to the device as is, and the device decides (QEMU's
//   valid.unaligned is a per-device property). Only sizes other than 1/2/4 (8 on the
//   64-bit path) are rejected here, with BAD_ACCESS.
// - Values are masked to the access size before a device sees them.
// - A fault never throws; it returns MEM_FAULT or a status, is counted, and the last one
//   is kept (lastFault) so the caller can log it as a guest error.
//
// Hot path: the 1/2/4-byte accessors allocate nothing. Base regions are sorted arrays
// searched by bisection behind a one-entry cache; overlays are scanned (there are few)
// only while at least one is enabled.

import type { Result } from "../util/result.js";
import { err, OK_VOID } from "../util/result.js";
import type { GuestRam } from "./guest-ram.js";
import { loadLE, storeLE } from "./le.js";
import type { AccessCounters, MemStatus, MmioDevice, SmallSize } from "./types.js";
import { MAX_BULK_BYTES, MEM_FAULT, MEM_STATUS } from "./types.js";

export type RegionKind = "ram" | "mmio" | "overlay";

export const MAP_ERROR = {
  /** The range overlaps a region it may not overlap (vm-device's DeviceOverlap). */
  OVERLAP: "overlap",
  ZERO_SIZE: "zero-size",
  /** Negative, fractional or beyond 2^53. */
  BAD_RANGE: "bad-range",
  DUPLICATE_NAME: "duplicate-name",
} as const;
export type MapErrorCode = (typeof MAP_ERROR)[keyof typeof MAP_ERROR];

export interface MapError {
  readonly code: MapErrorCode;
  /** The region being registered. */
  readonly name: string;
  /** The region it collides with (OVERLAP, DUPLICATE_NAME). */
  readonly other?: string;
  readonly message: string;
}

export interface RegionInfo {
  readonly name: string;
  readonly kind: RegionKind;
  readonly base: number;
  readonly size: number;
  readonly priority?: number;
  readonly enabled?: boolean;
}

/** Why the last faulting access faulted (status is never OK once a fault happened). */
export interface FaultInfo {
  readonly addr: number;
  readonly size: number;
  readonly write: boolean;
  readonly status: MemStatus;
}

/** One region; a single shape for all kinds keeps the hot path monomorphic. */
interface Region {
  readonly name: string;
  readonly kind: RegionKind;
  readonly base: number;
  readonly end: number;
  readonly device: MmioDevice | null;
  readonly ram: GuestRam | null;
  readonly priority: number;
  enabled: boolean;
  reads: number;
  writes: number;
  // RAM only: a direct window onto host storage, valid while winGen equals the host's
  // generation (see openWindow). winLen is 0 for MMIO and overlays.
  readonly winLen: number;
  winGpa: number;
  winOff: number;
  winGen: number;
  winBytes: Uint8Array | null;
  /** The same storage as u32 words (null: never written, or a big-endian host). */
  winWords: Uint32Array | null;
}

const ADDR_LIMIT = 2 ** 53;

export class AddressSpace {
  // RAM and MMIO, sorted by base, never overlapping.
  private base: Region[] = [];
  // Overlays, sorted by priority, highest first.
  private overlays: Region[] = [];
  private enabledOverlays = 0;
  private last: Region | null = null;
  // Set by findOverlay when the access touches an overlay but is not inside it.
  private overlayStraddle = false;

  private trapCount = 0;
  private directCount = 0;
  private faultCount = 0;
  private faultAddr = 0;
  private faultSize = 0;
  private faultWrite = false;
  private faultStatus: MemStatus = MEM_STATUS.OK;
  // readWords' fast window (openWordsWindow): [wordsLo, wordsHi) of guest-physical space
  // is RAM region wordsRegion, unshadowed, stored in wordsView from wordsBase on, valid
  // while the host's generation is wordsGen. Empty (lo > hi) until a read opens it.
  private wordsRegion: Region | null = null;
  private wordsView: Uint32Array | null = null;
  private wordsBase = 0;
  private wordsGen = -1;
  private wordsLo = 1;
  private wordsHi = 0;

  // ---- registration --------------------------------------------------------------------

  addRam(name: string, ram: GuestRam): Result<undefined, MapError> {
    return this.addBase(name, "ram", ram.gpaBase, ram.size, null, ram);
  }

  addMmio(
    name: string,
    base: number,
    size: number,
    device: MmioDevice,
  ): Result<undefined, MapError> {
    return this.addBase(name, "mmio", base, size, device, null);
  }

  /** Remove a RAM or MMIO region (device unplug). False when there is none by that name. */
  removeRegion(name: string): boolean {
    const i = this.base.findIndex((r) => r.name === name);
    if (i < 0) return false;
    this.base.splice(i, 1);
    this.last = null;
    this.closeWordsWindow();
    return true;
  }

  /**
   * Add an enabled overlay. It may overlap RAM, MMIO and other overlays (that is its
   * purpose), except another overlay of the same priority, where who wins is undefined.
   */
  addOverlay(
    name: string,
    base: number,
    size: number,
    device: MmioDevice,
    priority: number,
  ): Result<undefined, MapError> {
    const bad = this.checkNew(name, base, size);
    if (bad !== null) return bad;
    if (!Number.isFinite(priority)) {
      return err(mapErr(MAP_ERROR.BAD_RANGE, name, undefined, `priority ${priority}`));
    }
    const end = base + size;
    for (const o of this.overlays) {
      if (o.priority === priority && o.base < end && base < o.end) {
        return err(
          mapErr(
            MAP_ERROR.OVERLAP,
            name,
            o.name,
            `overlay ${name} ${range(base, end)} overlaps overlay ${o.name} ${range(o.base, o.end)} at the same priority ${priority}`,
          ),
        );
      }
    }
    const r = region(name, "overlay", base, end, device, null, priority);
    let i = 0;
    while (i < this.overlays.length && this.overlays[i]!.priority >= priority) i++;
    this.overlays.splice(i, 0, r);
    this.enabledOverlays++;
    this.closeWordsWindow();
    return OK_VOID;
  }

  removeOverlay(name: string): boolean {
    const i = this.overlays.findIndex((r) => r.name === name);
    if (i < 0) return false;
    if (this.overlays[i]!.enabled) this.enabledOverlays--;
    this.overlays.splice(i, 1);
    this.closeWordsWindow();
    return true;
  }

  /** Enable or disable an overlay; false when there is none by that name. */
  setOverlayEnabled(name: string, on: boolean): boolean {
    const o = this.overlays.find((r) => r.name === name);
    if (o === undefined) return false;
    if (o.enabled !== on) {
      o.enabled = on;
      this.enabledOverlays += on ? 1 : -1;
      this.closeWordsWindow();
    }
    return true;
  }

  /** Every region, sorted by base (overlays after what they shadow at the same base). */
  regions(): RegionInfo[] {
    const out: RegionInfo[] = [];
    for (const r of this.base)
      out.push({ name: r.name, kind: r.kind, base: r.base, size: r.end - r.base });
    for (const r of this.overlays) {
      out.push({
        name: r.name,
        kind: r.kind,
        base: r.base,
        size: r.end - r.base,
        priority: r.priority,
        enabled: r.enabled,
      });
    }
    const order = { ram: 0, mmio: 1, overlay: 2 } as const;
    return out.sort((a, b) => a.base - b.base || order[a.kind] - order[b.kind]);
  }

  // ---- 1/2/4-byte access (no allocation) -----------------------------------------------

  read(addr: number, size: SmallSize): number {
    if (size !== 1 && size !== 2 && size !== 4)
      return this.fault(addr, size, false, MEM_STATUS.BAD_ACCESS);
    const r = this.decode(addr, size);
    if (r === null) return this.fault(addr, size, false, this.decodeStatus(addr, size));
    r.reads++;
    if (r.ram !== null) {
      const d = addr - r.winGpa;
      if (d >= 0 && d + size <= r.winLen && r.winGen === r.ram.host.generation) {
        const b = r.winBytes;
        return b === null ? 0 : loadLE(b, r.winOff + d, size);
      }
      return this.readRamSlow(r, addr, size);
    }
    this.countDeviceAccess(r);
    return r.device!.read(addr - r.base, size) >>> 0;
  }

  write(addr: number, size: SmallSize, value: number): MemStatus {
    if (size !== 1 && size !== 2 && size !== 4)
      return this.faultStatusOf(addr, size, MEM_STATUS.BAD_ACCESS);
    const r = this.decode(addr, size);
    if (r === null) return this.faultStatusOf(addr, size, this.decodeStatus(addr, size));
    r.writes++;
    const v = size === 4 ? value >>> 0 : value & (size === 1 ? 0xff : 0xffff);
    if (r.ram !== null) {
      const d = addr - r.winGpa;
      const b = r.winBytes;
      if (b !== null && d >= 0 && d + size <= r.winLen && r.winGen === r.ram.host.generation) {
        storeLE(b, r.winOff + d, size, v);
        return MEM_STATUS.OK;
      }
      return this.writeRamSlow(r, addr, size, v);
    }
    this.countDeviceAccess(r);
    r.device!.write(addr - r.base, size, v);
    return MEM_STATUS.OK;
  }

  /**
   * One read of `out.length` little-endian u32 words at `addr` into `out`: a device's DMA
   * burst, such as the SMMU's 16-byte command fetch (one access, counted once). RAM is
   * read through the direct window; anything that does not decode as one RAM region
   * (MMIO, an overlay, a straddle, a hole) is read word by word as 4-byte accesses, with
   * their faults. False on any fault; `out` is then unspecified. Allocates nothing.
   */
  readWords(addr: number, out: Uint32Array): boolean {
    const o = addr - this.wordsBase;
    const fw = o >>> 2;
    const r = this.wordsRegion;
    if (
      addr >= this.wordsLo &&
      addr + 4 * out.length <= this.wordsHi &&
      fw * 4 === o &&
      r !== null &&
      this.wordsGen === r.ram!.host.generation
    ) {
      // Inside the window a previous read decoded: RAM, no overlay, storage unchanged.
      r.reads++;
      const v = this.wordsView!;
      if (out.length === 4) {
        out[0] = v[fw]!;
        out[1] = v[fw + 1]!;
        out[2] = v[fw + 2]!;
        out[3] = v[fw + 3]!;
      } else for (let i = 0; i < out.length; i++) out[i] = v[fw + i]!;
      return true;
    }
    return this.readWordsDecoded(addr, out);
  }

  /** readWords outside its fast window: decode, read, and open the window on the way. */
  private readWordsDecoded(addr: number, out: Uint32Array): boolean {
    const n = out.length;
    const r = this.decode(addr, 4 * n);
    if (r === null || r.ram === null) {
      for (let i = 0; i < n; i++) {
        const v = this.read(addr + 4 * i, 4);
        if (v === MEM_FAULT) return false;
        out[i] = v;
      }
      return true;
    }
    const d = addr - r.winGpa;
    if (
      (d >= 0 && d + 4 * n <= r.winLen && r.winGen === r.ram.host.generation) ||
      this.openWindow(r, addr, 4 * n)
    ) {
      const o = r.winOff + (addr - r.winGpa);
      const v = r.winWords;
      if (v !== null && (o & 3) === 0) {
        // The fast window then holds this read (and counts it).
        this.openWordsWindow(r, v, addr, 4 * n);
        return this.readWords(addr, out);
      }
      r.reads++;
      const b = r.winBytes;
      for (let i = 0; i < n; i++) out[i] = b === null ? 0 : loadLE(b, o + 4 * i, 4);
      return true;
    }
    // Across a window or unbacked: word by word through the RAM's translation.
    r.reads++;
    for (let i = 0; i < n; i++) {
      const v = readRam(r.ram, addr + 4 * i, 4);
      if (v === MEM_FAULT) {
        this.fault(addr, 4 * n, false, MEM_STATUS.UNMAPPED);
        return false;
      }
      out[i] = v;
    }
    return true;
  }

  /**
   * Point readWords' fast window at r's direct window (storage `v`), narrowed to the part
   * around the access [addr, addr+len) that no enabled overlay shadows (decode found none
   * over the access itself): the window then needs no decode. Any change to the regions
   * closes it (closeWordsWindow); a change of host storage fails its generation test.
   */
  private openWordsWindow(r: Region, v: Uint32Array, addr: number, len: number): void {
    let lo = r.winGpa;
    let hi = r.winGpa + r.winLen;
    for (const ov of this.overlays) {
      if (!ov.enabled || ov.end <= lo || ov.base >= hi) continue;
      if (ov.end <= addr) lo = Math.max(lo, ov.end);
      else hi = Math.min(hi, Math.max(ov.base, addr + len));
    }
    this.wordsRegion = r;
    this.wordsView = v;
    this.wordsBase = r.winGpa - r.winOff;
    this.wordsGen = r.winGen;
    this.wordsLo = lo;
    this.wordsHi = hi;
  }

  private closeWordsWindow(): void {
    this.wordsRegion = null;
    this.wordsView = null;
    this.wordsLo = 1;
    this.wordsHi = 0;
  }

  // ---- 8-byte access -------------------------------------------------------------------

  read64(addr: number): bigint | undefined {
    const r = this.decode(addr, 8);
    if (r === null) {
      this.fault(addr, 8, false, this.decodeStatus(addr, 8));
      return undefined;
    }
    r.reads++;
    if (r.ram !== null) {
      const lo = readRam(r.ram, addr, 4);
      const hi = readRam(r.ram, addr + 4, 4);
      if (lo === MEM_FAULT || hi === MEM_FAULT) {
        this.fault(addr, 8, false, MEM_STATUS.UNMAPPED);
        return undefined;
      }
      return (BigInt(hi) << 32n) | BigInt(lo);
    }
    this.countDeviceAccess(r);
    return BigInt.asUintN(64, r.device!.read64(addr - r.base));
  }

  write64(addr: number, value: bigint): MemStatus {
    const r = this.decode(addr, 8);
    if (r === null) return this.faultStatusOf(addr, 8, this.decodeStatus(addr, 8));
    r.writes++;
    const v = BigInt.asUintN(64, value);
    if (r.ram !== null) {
      let st = writeRam(r.ram, addr, 4, Number(v & 0xffff_ffffn));
      if (st === MEM_STATUS.OK) st = writeRam(r.ram, addr + 4, 4, Number(v >> 32n));
      return st === MEM_STATUS.OK ? st : this.faultStatusOf(addr, 8, st);
    }
    this.countDeviceAccess(r);
    r.device!.write64(addr - r.base, v);
    return MEM_STATUS.OK;
  }

  // ---- bulk (RAM only) -----------------------------------------------------------------

  /** Copy `len` bytes of RAM out; undefined on any fault (see lastFault for why). A length
   * above MAX_BULK_BYTES is BAD_ACCESS rather than an attempt at a huge buffer. */
  readBytes(addr: number, len: number): Uint8Array | undefined {
    if (!(len >= 0) || Math.floor(len) !== len || len > MAX_BULK_BYTES) {
      this.fault(addr, len, false, MEM_STATUS.BAD_ACCESS);
      return undefined;
    }
    if (len === 0) return new Uint8Array(0);
    // Decode before allocating, so a bad address costs no buffer.
    const r = this.bulkRegion(addr, len, false);
    if (r === null) return undefined;
    const out = new Uint8Array(len);
    return this.copyRam(r, addr, out, false) === MEM_STATUS.OK ? out : undefined;
  }

  /** Fill `dst` from RAM at addr. Bulk access to MMIO or an overlay is BAD_ACCESS: device
   * registers are read one access at a time. */
  readInto(addr: number, dst: Uint8Array): MemStatus {
    if (dst.length === 0) return MEM_STATUS.OK;
    const r = this.bulkRegion(addr, dst.length, false);
    return r === null ? this.faultStatus : this.copyRam(r, addr, dst, false);
  }

  writeBytes(addr: number, data: Uint8Array): MemStatus {
    if (data.length === 0) return MEM_STATUS.OK;
    const r = this.bulkRegion(addr, data.length, true);
    return r === null ? this.faultStatus : this.copyRam(r, addr, data, true);
  }

  // ---- translation ---------------------------------------------------------------------

  /** Stage-2 translation GPA -> HPA for RAM; -1 for MMIO, unmapped, or RAM shadowed by an
   * enabled overlay (the guest cannot reach that RAM, so neither can a pin of it). */
  translate(gpa: number): number {
    const r = this.decode(gpa, 1);
    return r === null || r.ram === null ? -1 : r.ram.hpaOf(gpa);
  }

  /** The RAM region that decodes gpa (ignoring overlays), if any. */
  ramAt(gpa: number): GuestRam | undefined {
    const r = this.findBase(gpa);
    return r?.ram ?? undefined;
  }

  // ---- counters ------------------------------------------------------------------------

  /** Trapped accesses (VM exits) to MMIO regions. */
  traps(): number {
    return this.trapCount;
  }

  /** Accesses that went through an overlay, with no VM exit. */
  directAccesses(): number {
    return this.directCount;
  }

  /** Accesses that faulted: unmapped, straddling, bad size, or missing host backing. */
  faults(): number {
    return this.faultCount;
  }

  lastFault(): FaultInfo | undefined {
    if (this.faultCount === 0) return undefined;
    return {
      addr: this.faultAddr,
      size: this.faultSize,
      write: this.faultWrite,
      status: this.faultStatus,
    };
  }

  /** Reads and writes of one region (a copy); undefined for an unknown name. */
  regionCounters(name: string): AccessCounters | undefined {
    const r = this.base.find((x) => x.name === name) ?? this.overlays.find((x) => x.name === name);
    return r === undefined ? undefined : { reads: r.reads, writes: r.writes };
  }

  resetCounters(): void {
    for (const r of this.base) r.reads = r.writes = 0;
    for (const r of this.overlays) r.reads = r.writes = 0;
    this.trapCount = 0;
    this.directCount = 0;
    this.faultCount = 0;
    this.faultStatus = MEM_STATUS.OK;
  }

  // ---- internals -----------------------------------------------------------------------

  private addBase(
    name: string,
    kind: RegionKind,
    base: number,
    size: number,
    device: MmioDevice | null,
    ram: GuestRam | null,
  ): Result<undefined, MapError> {
    const bad = this.checkNew(name, base, size);
    if (bad !== null) return bad;
    const end = base + size;
    for (const o of this.base) {
      if (o.base < end && base < o.end) {
        return err(
          mapErr(
            MAP_ERROR.OVERLAP,
            name,
            o.name,
            `${kind} ${name} ${range(base, end)} overlaps ${o.kind} ${o.name} ${range(o.base, o.end)}`,
          ),
        );
      }
    }
    let i = 0;
    while (i < this.base.length && this.base[i]!.base < base) i++;
    this.base.splice(i, 0, region(name, kind, base, end, device, ram, 0));
    this.last = null;
    this.closeWordsWindow();
    return OK_VOID;
  }

  private checkNew(name: string, base: number, size: number): Result<undefined, MapError> | null {
    if (this.base.some((r) => r.name === name) || this.overlays.some((r) => r.name === name)) {
      return err(mapErr(MAP_ERROR.DUPLICATE_NAME, name, name, `a region named ${name} exists`));
    }
    if (size === 0) return err(mapErr(MAP_ERROR.ZERO_SIZE, name, undefined, `${name} has size 0`));
    if (
      !Number.isSafeInteger(base) ||
      !Number.isSafeInteger(size) ||
      base < 0 ||
      size < 0 ||
      base + size > ADDR_LIMIT
    ) {
      return err(
        mapErr(MAP_ERROR.BAD_RANGE, name, undefined, `${name}: base=${base} size=${size}`),
      );
    }
    return null;
  }

  /** The region that takes [addr, addr+size) whole, or null (see decodeStatus). */
  private decode(addr: number, size: number): Region | null {
    if (Math.floor(addr) !== addr) return null; // NaN, ±Infinity, fractions
    if (this.enabledOverlays > 0) {
      const o = this.findOverlay(addr, size);
      if (o !== null) return o;
      if (this.overlayStraddle) return null;
    }
    const r = this.findBase(addr);
    return r !== null && addr + size <= r.end ? r : null;
  }

  /** Why decode(addr, size) returned null; called only on that slow path. */
  private decodeStatus(addr: number, size: number): MemStatus {
    if (Math.floor(addr) !== addr) return MEM_STATUS.UNMAPPED;
    if (this.enabledOverlays > 0) {
      this.findOverlay(addr, size);
      if (this.overlayStraddle) return MEM_STATUS.STRADDLE;
    }
    return this.findBase(addr) === null ? MEM_STATUS.UNMAPPED : MEM_STATUS.STRADDLE;
  }

  /** Highest-priority enabled overlay touching the access. It wins if it holds the whole
   * access; if it holds only part, the access spans two regions (overlayStraddle). */
  private findOverlay(addr: number, size: number): Region | null {
    this.overlayStraddle = false;
    const end = addr + size;
    for (let i = 0; i < this.overlays.length; i++) {
      const o = this.overlays[i]!;
      if (!o.enabled || o.base >= end || addr >= o.end) continue;
      if (addr >= o.base && end <= o.end) return o;
      this.overlayStraddle = true;
      return null;
    }
    return null;
  }

  /** The base region containing addr, through the one-entry cache and bisection. */
  private findBase(addr: number): Region | null {
    const c = this.last;
    if (c !== null && addr >= c.base && addr < c.end) return c;
    if (Math.floor(addr) !== addr) return null; // NaN, ±Infinity, fractions
    let lo = 0;
    let hi = this.base.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.base[mid]!.base <= addr) lo = mid + 1;
      else hi = mid;
    }
    const r = lo > 0 ? this.base[lo - 1]! : null;
    if (r === null || addr >= r.end) return null;
    this.last = r;
    return r;
  }

  /**
   * Point r's direct window at the window holding [addr, addr+size), if the access fits in
   * one window whose host frame is backed. A window is min(page, chunk) bytes: contiguous
   * on the host (inside one backing page) and inside one HostMemory chunk, so the fast
   * path reads the chunk's bytes with no translation and no call.
   */
  private openWindow(r: Region, addr: number, size: number): boolean {
    const ram = r.ram!;
    const w = r.winLen;
    const start = ram.gpaBase + Math.floor((addr - ram.gpaBase) / w) * w;
    if (addr + size > start + w) return false;
    const host = ram.host;
    const hpa = ram.hpaOf(start);
    if (!host.isBacked(hpa, w)) {
      r.winGen = -1;
      return false;
    }
    r.winGpa = start;
    r.winGen = host.generation;
    r.winBytes = host.chunkBytes(hpa);
    r.winWords = host.chunkWords(hpa);
    r.winOff = hpa - Math.floor(hpa / host.chunkSize) * host.chunkSize;
    return true;
  }

  private readRamSlow(r: Region, addr: number, size: number): number {
    if (this.openWindow(r, addr, size)) {
      const b = r.winBytes;
      return b === null ? 0 : loadLE(b, r.winOff + (addr - r.winGpa), size);
    }
    const v = readRam(r.ram!, addr, size);
    return v === MEM_FAULT ? this.fault(addr, size, false, MEM_STATUS.UNMAPPED) : v;
  }

  private writeRamSlow(r: Region, addr: number, size: number, v: number): MemStatus {
    if (this.openWindow(r, addr, size) && r.winBytes !== null) {
      storeLE(r.winBytes, r.winOff + (addr - r.winGpa), size, v);
      return MEM_STATUS.OK;
    }
    // Crossing a window, unbacked, or a first write that allocates host storage (which
    // moves the host's generation, so the next access reopens the window).
    const st = writeRam(r.ram!, addr, size, v);
    return st === MEM_STATUS.OK ? st : this.faultStatusOf(addr, size, st);
  }

  private countDeviceAccess(r: Region): void {
    if (r.kind === "mmio") this.trapCount++;
    else this.directCount++;
  }

  private fault(addr: number, size: number, write: boolean, status: MemStatus): number {
    this.faultCount++;
    this.faultAddr = addr;
    this.faultSize = size;
    this.faultWrite = write;
    this.faultStatus = status;
    return MEM_FAULT;
  }

  private faultStatusOf(addr: number, size: number, status: MemStatus): MemStatus {
    this.fault(addr, size, true, status);
    return status;
  }

  /** The RAM region holding all of a bulk access, or null with the fault recorded. */
  private bulkRegion(addr: number, len: number, write: boolean): Region | null {
    const r = this.decode(addr, len);
    if (r === null) this.fault(addr, len, write, this.decodeStatus(addr, len));
    else if (r.ram === null) this.fault(addr, len, write, MEM_STATUS.BAD_ACCESS);
    else return r;
    return null;
  }

  /** Copy between RAM and buf, one guest page at a time: host frames are not contiguous. */
  private copyRam(r: Region, addr: number, buf: Uint8Array, write: boolean): MemStatus {
    const ram = r.ram!;
    if (write) r.writes++;
    else r.reads++;
    const len = buf.length;
    let done = 0;
    while (done < len) {
      const gpa = addr + done;
      const inPage = (gpa - ram.gpaBase) % ram.pageSize;
      const n = Math.min(ram.pageSize - inPage, len - done);
      const hpa = ram.hpaOf(gpa);
      const part = buf.subarray(done, done + n);
      const st = write ? ram.host.writeBytes(hpa, part) : ram.host.readInto(hpa, part);
      if (st !== MEM_STATUS.OK) {
        this.fault(addr, len, write, st);
        return st;
      }
      done += n;
    }
    return MEM_STATUS.OK;
  }
}

// ---- RAM helpers (no allocation) -----------------------------------------------------

/** Read 1/2/4 bytes of RAM; an access that crosses a guest page is split per byte, since
 * the next guest page is usually at an unrelated host frame. */
function readRam(ram: GuestRam, addr: number, size: number): number {
  const inPage = (addr - ram.gpaBase) % ram.pageSize;
  if (inPage + size <= ram.pageSize) return ram.host.read(ram.hpaOf(addr), size as SmallSize);
  let v = 0;
  for (let i = 0; i < size; i++) {
    const b = ram.host.read(ram.hpaOf(addr + i), 1);
    if (b === MEM_FAULT) return MEM_FAULT;
    v |= b << (8 * i);
  }
  return v >>> 0;
}

function writeRam(ram: GuestRam, addr: number, size: number, value: number): MemStatus {
  const inPage = (addr - ram.gpaBase) % ram.pageSize;
  if (inPage + size <= ram.pageSize)
    return ram.host.write(ram.hpaOf(addr), size as SmallSize, value);
  for (let i = 0; i < size; i++) {
    const st = ram.host.write(ram.hpaOf(addr + i), 1, (value >>> (8 * i)) & 0xff);
    if (st !== MEM_STATUS.OK) return st;
  }
  return MEM_STATUS.OK;
}

function region(
  name: string,
  kind: RegionKind,
  base: number,
  end: number,
  device: MmioDevice | null,
  ram: GuestRam | null,
  priority: number,
): Region {
  return {
    name,
    kind,
    base,
    end,
    device,
    ram,
    priority,
    enabled: true,
    reads: 0,
    writes: 0,
    winLen: ram === null ? 0 : Math.min(ram.pageSize, ram.host.chunkSize),
    winGpa: 0,
    winOff: 0,
    winGen: -1,
    winBytes: null,
    winWords: null,
  };
}

function mapErr(
  code: MapErrorCode,
  name: string,
  other: string | undefined,
  message: string,
): MapError {
  return other === undefined ? { code, name, message } : { code, name, other, message };
}

function range(base: number, end: number): string {
  return `[0x${base.toString(16)}, 0x${end.toString(16)})`;
}
