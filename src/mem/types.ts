// Contracts of the memory layer (after rust-vmm vm-memory / vm-device): every access is
// bounds-checked and fallible, nothing throws for a guest address, nothing allocates on
// the 1/2/4-byte path. Addresses are JS numbers (exact up to 2^53; physical addresses
// here are ≤ 52 bits). 8-byte values are bigint and live on a separate, colder path.

import { parseSize } from "../util/parse.js";
import { err, ok, type Result } from "../util/result.js";

export type AccessSize = 1 | 2 | 4 | 8;
export type SmallSize = 1 | 2 | 4;

/** Returned by a 1/2/4-byte read that faulted (values are u32, so never negative). */
export const MEM_FAULT = -1;

/** Outcome of a write or a bulk access. */
export const MEM_STATUS = {
  OK: 0,
  /** No RAM, MMIO region or overlay decodes the address. */
  UNMAPPED: 1,
  /** The access straddles the end of a region (vm-device's check_access). */
  STRADDLE: 2,
  /** Misaligned or unsupported size. */
  BAD_ACCESS: 3,
} as const;
export type MemStatus = (typeof MEM_STATUS)[keyof typeof MEM_STATUS];

/**
 * A device behind an MMIO region or an overlay. Offsets are relative to the region base.
 * A device never throws for guest input: bad sizes and unknown offsets are its own
 * guest errors (log, read 0, ignore the write), as QEMU does.
 */
export interface MmioDevice {
  readonly name: string;
  read(offset: number, size: SmallSize): number;
  write(offset: number, size: SmallSize, value: number): void;
  read64(offset: number): bigint;
  write64(offset: number, value: bigint): void;
}

/** Per-region access counters. `trapped` counts VM exits (MMIO); overlays count `direct`. */
export interface AccessCounters {
  reads: number;
  writes: number;
}

/** Host-physical backing sizes a RAM region can use. */
export const PAGE_SIZES = {
  "4K": 0x1000,
  "64K": 0x1_0000,
  "2M": 0x20_0000,
  "1G": 0x4000_0000,
} as const;
export type PageSizeName = keyof typeof PAGE_SIZES;
export const PAGE_SIZE_NAMES = Object.keys(PAGE_SIZES) as PageSizeName[];

/** The name of a page size written as any size (`2M`, `2MiB`, `0x200000`), if it is one. */
export function pageSizeName(v: unknown): Result<PageSizeName, string> {
  const s = parseSize(v);
  const name = s.ok ? PAGE_SIZE_NAMES.find((p) => PAGE_SIZES[p] === s.value) : undefined;
  return name ? ok(name) : err(`expected one of ${PAGE_SIZE_NAMES.join(", ")}`);
}

/**
 * Physical memory as a bus master sees it (the CMDQV hardware fetching commands, the
 * kernel pinning pages). Host-physical addresses. Same conventions as MmioDevice, plus
 * bulk copies and a presence check: an access to an address with no backing is a fault
 * (MEM_FAULT / a non-OK status), which the hardware reports as an abort.
 */
export interface PhysMemory {
  read(addr: number, size: SmallSize): number;
  write(addr: number, size: SmallSize, value: number): MemStatus;
  read64(addr: number): bigint | undefined;
  write64(addr: number, value: bigint): MemStatus;
  /** Copy `len` bytes out; undefined when any byte is not backed. */
  readBytes(addr: number, len: number): Uint8Array | undefined;
  writeBytes(addr: number, data: Uint8Array): MemStatus;
  /** True when every byte of [addr, addr+len) is backed. */
  isBacked(addr: number, len: number): boolean;
  /**
   * Read `out.length` little-endian u32 words at `addr` into `out` with one bounds check
   * (a bus master's burst, e.g. a 16-byte command fetch). False when any byte is not
   * backed; `out` is then unspecified. Allocates nothing.
   */
  readWords(addr: number, out: Uint32Array): boolean;
}

/**
 * Largest bulk copy (readBytes) a memory accepts, so a guest- or qtest-chosen length is
 * answered with a fault instead of an attempt at a giant buffer.
 */
export const MAX_BULK_BYTES = 0x1000_0000;
