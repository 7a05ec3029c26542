import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { GuestRam } from "./guest-ram.js";
import { HostMemory } from "./host-memory.js";
import { SeededPermutation } from "./permutation.js";
import { PAGE_SIZES } from "./types.js";

const GiB = 2 ** 30;
const K4 = PAGE_SIZES["4K"];
const M2 = PAGE_SIZES["2M"];
const POOL = 0x80_0000_0000;

function ram(size: number, pageSize: number, seed: number, extra?: { fragmentation?: "none" }) {
  return new GuestRam({
    gpaBase: 0x4000_0000,
    size,
    pageSize,
    seed,
    host: new HostMemory(),
    hostPoolBase: POOL,
    ...extra,
  });
}

describe("SeededPermutation", () => {
  it("is a bijection on [0, n) whose inverse undoes it", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        (n, seed) => {
          const p = new SeededPermutation(n, seed);
          const seen = new Uint8Array(n);
          for (let i = 0; i < n; i++) {
            const j = p.apply(i);
            if (!(j >= 0 && j < n && Number.isInteger(j)) || seen[j] === 1) return false;
            seen[j] = 1;
            if (p.invert(j) !== i) return false;
          }
          return true;
        },
      ),
      { numRuns: 60 },
    );
  });

  it("handles the largest domain without leaving u32 arithmetic", () => {
    const p = new SeededPermutation(2 ** 32, 7);
    for (const i of [0, 1, 2 ** 31, 2 ** 32 - 1]) {
      const j = p.apply(i);
      assert.ok(j >= 0 && j < 2 ** 32);
      assert.equal(p.invert(j), i);
    }
  });
});

describe("GuestRam", () => {
  it("scatters 4K backing of 1 GiB so 16 pages are not host-contiguous", () => {
    const r = ram(GiB, K4, 1);
    assert.equal(r.isHostContiguous(r.gpaBase, 16 * K4), false);
    assert.equal(r.isHostContiguous(r.gpaBase + 0x123, 0x100), true, "within one page it is");
  });

  it("is not host-contiguous across 16 pages for any seed", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), fc.nat(GiB / K4 - 16), (seed, page) => {
        const r = ram(GiB, K4, seed);
        return !r.isHostContiguous(r.gpaBase + page * K4, 16 * K4);
      }),
      { numRuns: 100 },
    );
  });

  it("keeps a 64 KiB range inside one 2M page host-contiguous", () => {
    const r = ram(GiB, M2, 5);
    assert.equal(r.isHostContiguous(r.gpaBase + 3 * M2 + 0x1_0000, 0x1_0000), true);
    const hpa = r.hpaOf(r.gpaBase + 3 * M2 + 0x1_0000);
    assert.equal(r.hpaOf(r.gpaBase + 3 * M2 + 0x1_ffff), hpa + 0xffff);
  });

  it("backs RAM contiguously with fragmentation none", () => {
    const r = ram(GiB, K4, 9, { fragmentation: "none" });
    assert.equal(r.isHostContiguous(r.gpaBase, GiB), true);
    assert.equal(r.hpaOf(r.gpaBase + 0x12_3456), POOL + 0x12_3456);
  });

  it("maps distinct guest pages to distinct frames inside the pool", () => {
    const r = ram(64 * GiB, K4, 0xc0ffee);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.nat(r.numPages - 1), { minLength: 2, maxLength: 64 }),
        (pages) => {
          const frames = new Set<number>();
          for (const p of pages) {
            const hpa = r.hpaOf(r.gpaBase + p * K4);
            if (hpa < POOL || hpa + K4 > POOL + r.size || (hpa - POOL) % K4 !== 0) return false;
            frames.add(hpa);
          }
          return frames.size === pages.length;
        },
      ),
    );
  });

  it("lays out the same way for the same seed and differently for another", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        (s1, s2) => {
          fc.pre(s1 !== s2);
          const a = ram(GiB, K4, s1);
          const b = ram(GiB, K4, s1);
          const c = ram(GiB, K4, s2);
          let same = true;
          let differs = false;
          for (let p = 0; p < 64; p++) {
            const g = a.gpaBase + p * K4;
            if (a.hpaOf(g) !== b.hpaOf(g)) same = false;
            if (a.hpaOf(g) !== c.hpaOf(g)) differs = true;
          }
          return same && differs;
        },
      ),
      { numRuns: 50 },
    );
  });

  it("translates back from host-physical to guest-physical", () => {
    const r = ram(GiB, K4, 3);
    for (const g of [r.gpaBase, r.gpaBase + 0x1234, r.gpaBase + GiB - 1]) {
      assert.equal(r.gpaOf(r.hpaOf(g)), g);
    }
    assert.equal(r.gpaOf(POOL - 1), -1);
    assert.equal(r.gpaOf(POOL + GiB), -1);
  });

  it("answers -1 and false outside the region", () => {
    const r = ram(GiB, K4, 3);
    assert.equal(r.hpaOf(r.gpaBase - 1), -1);
    assert.equal(r.hpaOf(r.gpaBase + GiB), -1);
    assert.equal(r.hpaOf(Number.NaN), -1);
    assert.equal(r.contains(r.gpaBase + GiB - 4, 8), false);
    assert.equal(r.isHostContiguous(r.gpaBase + GiB - 4, 8), false);
  });

  it("registers its host pool as backed, and nothing more, without allocating", () => {
    const host = new HostMemory();
    const r = new GuestRam({
      gpaBase: 0,
      size: 64 * GiB,
      pageSize: K4,
      seed: 1,
      host,
      hostPoolBase: POOL,
    });
    assert.deepEqual(host.backedRanges(), [{ base: POOL, size: 64 * GiB }]);
    assert.equal(host.allocatedBytes(), 0);
    assert.equal(r.numPages, 2 ** 24);
  });

  it("rejects bad geometry", () => {
    const host = new HostMemory();
    const base = { gpaBase: 0, size: GiB, pageSize: K4, seed: 0, host, hostPoolBase: POOL };
    assert.throws(() => new GuestRam({ ...base, pageSize: 0x3000 }), RangeError);
    assert.throws(() => new GuestRam({ ...base, size: GiB + 1 }), RangeError);
    assert.throws(() => new GuestRam({ ...base, hostPoolBase: POOL + 0x800 }), RangeError);
    assert.throws(() => new GuestRam({ ...base, gpaBase: M2 + K4, pageSize: M2 }), RangeError);
  });
});
