// Guest RAM and its stage-2 translation (GPA -> HPA), backed by host pages of one size.
//
// Why the backing is scattered: the kernel's IOMMU_HW_QUEUE_ALLOC pins the guest pages of
// a VCMDQ ring and fails with EFAULT unless they are physically contiguous, because the
// CMDQV hardware fetches the ring by host-physical address with no translation
// (spec: linux §3.5 "pinned pages not physically contiguous → EFAULT", §2.7; qemu §2.9,
// where IDR1.CMDQS is clamped to the backend page size for exactly this reason). Real
// 4 KiB backing from the host allocator is not contiguous across pages, so a model that
// backed guest RAM with one flat host range would hide that failure. Guest page i lives
// at a seeded host frame; within one backing page (a 2 MiB or 1 GiB huge page) memory is
// contiguous, as it is on a real host.

import type { HostMemory } from "./host-memory.js";
import { SeededPermutation } from "./permutation.js";
import { PAGE_SIZES } from "./types.js";

export type Fragmentation = "seeded" | "none";

export interface GuestRamOptions {
  gpaBase: number;
  size: number;
  /** One of PAGE_SIZES' values. */
  pageSize: number;
  seed: number;
  host: HostMemory;
  /** Host-physical base of the frame pool, aligned to pageSize; [base, base+size) is
   * registered as backed in `host`. */
  hostPoolBase: number;
  /** "seeded" (default) scatters pages over the pool; "none" backs RAM contiguously. */
  fragmentation?: Fragmentation;
}

/** Plain-data description of a GuestRam (its contents live in HostMemory). */
export interface GuestRamConfig {
  readonly gpaBase: number;
  readonly size: number;
  readonly pageSize: number;
  readonly seed: number;
  readonly hostPoolBase: number;
  readonly fragmentation: Fragmentation;
}

const PAGE_SIZE_VALUES: readonly number[] = Object.values(PAGE_SIZES);
const ADDR_LIMIT = 2 ** 53;

export class GuestRam {
  readonly host: HostMemory;
  private readonly base: number;
  private readonly bytes: number;
  private readonly page: number;
  private readonly seedValue: number;
  private readonly pool: number;
  private readonly frag: Fragmentation;
  private readonly perm: SeededPermutation | null;
  // Two-entry translation cache: accesses cluster within a page, and an access that
  // crosses a page boundary alternates between two.
  private lastPage = -1;
  private lastFrameHpa = 0;
  private prevPage = -1;
  private prevFrameHpa = 0;

  constructor(opts: GuestRamOptions) {
    const { gpaBase, size, pageSize, seed, host, hostPoolBase } = opts;
    const frag = opts.fragmentation ?? "seeded";
    if (!PAGE_SIZE_VALUES.includes(pageSize)) {
      throw new RangeError(
        `GuestRam: page size 0x${pageSize.toString(16)} is not one of PAGE_SIZES`,
      );
    }
    if (!Number.isSafeInteger(size) || size <= 0 || size % pageSize !== 0) {
      throw new RangeError(`GuestRam: size ${size} must be a positive multiple of the page size`);
    }
    for (const [what, a] of [
      ["gpaBase", gpaBase],
      ["hostPoolBase", hostPoolBase],
    ] as const) {
      if (!Number.isSafeInteger(a) || a < 0 || a % pageSize !== 0 || a + size > ADDR_LIMIT) {
        throw new RangeError(`GuestRam: ${what} 0x${a.toString(16)} must be page-aligned`);
      }
    }
    if (frag !== "seeded" && frag !== "none") {
      throw new RangeError(`GuestRam: unknown fragmentation ${String(frag)}`);
    }
    this.host = host;
    this.base = gpaBase;
    this.bytes = size;
    this.page = pageSize;
    this.seedValue = seed >>> 0;
    this.pool = hostPoolBase;
    this.frag = frag;
    this.perm = frag === "seeded" ? new SeededPermutation(size / pageSize, this.seedValue) : null;
    host.addBacked(hostPoolBase, size);
  }

  get gpaBase(): number {
    return this.base;
  }
  get size(): number {
    return this.bytes;
  }
  get pageSize(): number {
    return this.page;
  }
  get seed(): number {
    return this.seedValue;
  }
  get hostPoolBase(): number {
    return this.pool;
  }
  get fragmentation(): Fragmentation {
    return this.frag;
  }
  get numPages(): number {
    return this.bytes / this.page;
  }

  config(): GuestRamConfig {
    return {
      gpaBase: this.base,
      size: this.bytes,
      pageSize: this.page,
      seed: this.seedValue,
      hostPoolBase: this.pool,
      fragmentation: this.frag,
    };
  }

  /** True when [gpa, gpa+len) lies inside this RAM. */
  contains(gpa: number, len: number): boolean {
    return (
      Math.floor(gpa) === gpa &&
      Math.floor(len) === len &&
      len >= 0 &&
      gpa >= this.base &&
      gpa + len <= this.base + this.bytes
    );
  }

  /** Stage-2 translation: the host-physical address of gpa, or -1 outside this RAM. */
  hpaOf(gpa: number): number {
    if (!this.contains(gpa, 1)) return -1;
    const off = gpa - this.base;
    const page = Math.floor(off / this.page);
    return this.frameHpa(page) + (off - page * this.page);
  }

  /** Reverse translation (HPA -> GPA), or -1 when hpa is not in this RAM's pool. */
  gpaOf(hpa: number): number {
    if (Math.floor(hpa) !== hpa || hpa < this.pool || hpa >= this.pool + this.bytes) return -1;
    const off = hpa - this.pool;
    const frame = Math.floor(off / this.page);
    const page = this.perm === null ? frame : this.perm.invert(frame);
    return this.base + page * this.page + (off - frame * this.page);
  }

  /** Host-physical address of guest page `page` (0 ≤ page < numPages). */
  frameHpa(page: number): number {
    if (page === this.lastPage) return this.lastFrameHpa;
    let hpa: number;
    if (page === this.prevPage) {
      hpa = this.prevFrameHpa;
    } else {
      const frame = this.perm === null ? page : this.perm.apply(page);
      hpa = this.pool + frame * this.page;
    }
    this.prevPage = this.lastPage;
    this.prevFrameHpa = this.lastFrameHpa;
    this.lastPage = page;
    this.lastFrameHpa = hpa;
    return hpa;
  }

  /**
   * True when [gpa, gpa+len) is inside this RAM and its host backing is one contiguous
   * host-physical range (what HW_QUEUE_ALLOC demands of a queue's pinned pages).
   */
  isHostContiguous(gpa: number, len: number): boolean {
    if (!this.contains(gpa, len)) return false;
    if (len <= 1) return true;
    const first = Math.floor((gpa - this.base) / this.page);
    const last = Math.floor((gpa + len - 1 - this.base) / this.page);
    let expect = this.frameHpa(first);
    for (let p = first + 1; p <= last; p++) {
      expect += this.page;
      if (this.frameHpa(p) !== expect) return false;
    }
    return true;
  }
}
