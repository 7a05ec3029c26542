import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { FrameAllocator } from "./frame-allocator.js";
import { HostMemory } from "./host-memory.js";
import { MEM_FAULT, MEM_STATUS } from "./types.js";

const GiB = 2 ** 30;

describe("HostMemory", () => {
  it("reads zero from backed memory that was never written", () => {
    const m = new HostMemory();
    m.addBacked(0x1000, 0x1000);
    assert.equal(m.read(0x1000, 4), 0);
    assert.equal(m.read64(0x1ff8), 0n);
    assert.deepEqual(m.readBytes(0x1800, 4), new Uint8Array(4));
    assert.equal(m.allocatedBytes(), 0);
  });

  it("stays small for a 64 GiB range after a few writes", () => {
    const m = new HostMemory();
    m.addBacked(0x10_0000_0000, 64 * GiB);
    m.write(0x10_0000_0000, 4, 1);
    m.write(0x10_0000_0000 + 32 * GiB, 4, 2);
    m.write64(0x10_0000_0000 + 64 * GiB - 8, 3n);
    assert.equal(m.allocatedBytes(), 3 * m.chunkSize);
    assert.equal(m.read(0x10_0000_0000 + 32 * GiB, 4), 2);
    assert.equal(m.read64(0x10_0000_0000 + 64 * GiB - 8), 3n);
  });

  it("stores every size little-endian", () => {
    const m = new HostMemory();
    m.addBacked(0, 0x100);
    m.write(0x10, 4, 0x4433_2211);
    assert.deepEqual(m.readBytes(0x10, 4), Uint8Array.of(0x11, 0x22, 0x33, 0x44));
    assert.equal(m.read(0x10, 1), 0x11);
    assert.equal(m.read(0x10, 2), 0x2211);
    assert.equal(m.read(0x11, 2), 0x3322);
    m.write(0x20, 2, 0xbbaa);
    assert.deepEqual(m.readBytes(0x20, 2), Uint8Array.of(0xaa, 0xbb));
    m.write(0x30, 1, 0x1ff);
    assert.equal(m.read(0x30, 1), 0xff);
    assert.equal(m.read(0x31, 1), 0);
    m.write64(0x40, 0x8877_6655_4433_2211n);
    assert.deepEqual(
      m.readBytes(0x40, 8),
      Uint8Array.of(0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88),
    );
    assert.equal(m.read(0x44, 4), 0x8877_6655);
    m.writeBytes(0x50, Uint8Array.of(0xef, 0xbe, 0xad, 0xde));
    assert.equal(m.read(0x50, 4), 0xdead_beef);
  });

  it("returns unsigned values for high bits", () => {
    const m = new HostMemory();
    m.addBacked(0, 0x100);
    m.write(0, 4, 0xffff_ffff);
    assert.equal(m.read(0, 4), 0xffff_ffff);
    m.write64(8, -1n);
    assert.equal(m.read64(8), 0xffff_ffff_ffff_ffffn);
  });

  it("handles accesses that cross a chunk boundary", () => {
    const m = new HostMemory({ chunkSize: 16 });
    m.addBacked(0, 64);
    for (const off of [-3, -2, -1]) {
      m.write(16 + off, 4, 0xa1b2_c3d4);
      assert.equal(m.read(16 + off, 4), 0xa1b2_c3d4, `offset ${off}`);
    }
    m.write(31, 2, 0xbeef);
    assert.equal(m.read(31, 2), 0xbeef);
    m.write64(16 - 4, 0x0102_0304_0506_0708n);
    assert.equal(m.read64(16 - 4), 0x0102_0304_0506_0708n);
    assert.equal(m.read(16, 4), 0x0102_0304);
    const data = Uint8Array.from({ length: 40 }, (_, i) => i + 1);
    assert.equal(m.writeBytes(5, data), MEM_STATUS.OK);
    assert.deepEqual(m.readBytes(5, 40), data);
  });

  it("reads a half-written chunk pair across the boundary", () => {
    const m = new HostMemory({ chunkSize: 16 });
    m.addBacked(0, 32);
    m.write(14, 2, 0xffff);
    assert.equal(m.read(14, 4), 0xffff);
    assert.equal(m.read64(12), 0xffff_0000n);
  });

  it("faults on unbacked addresses, partly backed accesses and bad addresses", () => {
    const m = new HostMemory();
    m.addBacked(0x1000, 0x1000);
    assert.equal(m.read(0xfff, 1), MEM_FAULT);
    assert.equal(m.read(0x2000, 1), MEM_FAULT);
    assert.equal(m.read(0x1ffe, 4), MEM_FAULT);
    assert.equal(m.read64(0x1ffc), undefined);
    assert.equal(m.write(0x1fff, 2, 0), MEM_STATUS.UNMAPPED);
    assert.equal(m.write64(0x2000, 0n), MEM_STATUS.UNMAPPED);
    assert.equal(m.readBytes(0xff0, 0x20), undefined);
    assert.equal(m.writeBytes(0x1ff0, new Uint8Array(0x20)), MEM_STATUS.UNMAPPED);
    for (const a of [Number.NaN, -1, 4096.5, Number.POSITIVE_INFINITY, 2 ** 60]) {
      assert.equal(m.read(a, 4), MEM_FAULT, `addr ${a}`);
      assert.equal(m.write(a, 4, 1), MEM_STATUS.UNMAPPED, `addr ${a}`);
    }
    assert.equal(m.read(0x1000, 3 as 4), MEM_FAULT);
    assert.equal(m.write(0x1000, 8 as 4, 0), MEM_STATUS.BAD_ACCESS);
    assert.equal(m.allocatedBytes(), 0);
  });

  it("treats adjacent backed ranges as one and rejects overlapping backing", () => {
    const m = new HostMemory();
    m.addBacked(0x1000, 0x1000);
    m.addBacked(0x3000, 0x1000);
    m.addBacked(0x2000, 0x1000);
    assert.deepEqual(m.backedRanges(), [{ base: 0x1000, size: 0x3000 }]);
    assert.equal(m.isBacked(0x1ffc, 8), true);
    assert.equal(m.write(0x2ffe, 4, 0x1234_5678), MEM_STATUS.OK);
    assert.throws(() => m.addBacked(0x3fff, 2), /overlaps/);
    assert.throws(() => m.addBacked(0, 0x1001), /overlaps/);
    assert.throws(() => m.addBacked(0x1800, 0x10), /overlaps/);
    m.addBacked(0, 0x1000);
    assert.throws(() => m.addBacked(-1, 1), RangeError);
    assert.throws(() => m.addBacked(0x10_0000, 0), RangeError);
  });

  it("forgets the bytes of removed backing and faults on them", () => {
    const m = new HostMemory({ chunkSize: 0x1000 });
    m.addBacked(0, 0x4000);
    m.write(0x1800, 4, 7);
    m.write(0x2800, 4, 9);
    m.removeBacked(0x1000, 0x1000);
    assert.equal(m.read(0x1800, 4), MEM_FAULT);
    assert.equal(m.read(0x2800, 4), 9);
    assert.deepEqual(m.backedRanges(), [
      { base: 0, size: 0x1000 },
      { base: 0x2000, size: 0x2000 },
    ]);
    assert.equal(m.allocatedBytes(), 0x1000);
    m.addBacked(0x1000, 0x1000);
    assert.equal(m.read(0x1800, 4), 0);
    assert.throws(() => m.removeBacked(0x8000, 0x10), /not entirely backed/);
  });

  it("snapshots only the chunks that hold data, without sharing storage", () => {
    const m = new HostMemory({ chunkSize: 0x100 });
    m.addBacked(0x1000, 0x1000);
    m.write(0x10f0, 4, 0xcafe_f00d);
    m.write(0x1200, 4, 0); // allocated but all zero: left out of the snapshot
    const s = m.state();
    assert.equal(s.chunks.length, 1);
    m.write(0x10f0, 4, 1);
    assert.deepEqual(
      [...(s.chunks[0]?.bytes.subarray(0xf0, 0xf4) ?? [])],
      [0x0d, 0xf0, 0xfe, 0xca],
    );
  });

  it("rejects a chunk size that is not a power of two", () => {
    assert.throws(() => new HostMemory({ chunkSize: 1000 }), RangeError);
    assert.throws(() => new HostMemory({ chunkSize: 8 }), RangeError);
  });
});

describe("FrameAllocator", () => {
  it("hands out aligned, backed, non-overlapping blocks", () => {
    const m = new HostMemory();
    const fa = new FrameAllocator(m, 0x10_0000, 0x10_0000);
    const a = fa.alloc(0x100, 0x100)!;
    const b = fa.alloc(0x1000, 0x1000)!;
    assert.equal(a, 0x10_0000);
    assert.equal(b, 0x10_1000);
    // The only 1 MiB-aligned address in the pool is taken by a.
    assert.equal(fa.alloc(0x20, 0x10_0000), undefined);
    assert.equal(m.isBacked(a, 0x100), true);
    assert.equal(m.isBacked(b, 0x1000), true);
    assert.equal(m.isBacked(a + 0x100, 1), false, "the alignment gap stays unbacked");
    assert.equal(fa.allocatedBytes(), 0x1100);
  });

  it("returns undefined when no hole is large enough", () => {
    const m = new HostMemory();
    const fa = new FrameAllocator(m, 0, 0x4000);
    assert.equal(fa.alloc(0x8000, 0x1000), undefined);
    assert.notEqual(fa.alloc(0x2000, 0x1000), undefined);
    assert.equal(fa.alloc(0x1000, 0x4000), undefined);
    assert.equal(fa.alloc(0x2000, 0x2000), 0x2000);
    assert.equal(fa.alloc(1, 1), undefined);
  });

  it("reuses freed memory first-fit and coalesces neighbours", () => {
    const m = new HostMemory();
    const fa = new FrameAllocator(m, 0, 0x3000);
    const a = fa.alloc(0x1000, 0x1000)!;
    const b = fa.alloc(0x1000, 0x1000)!;
    const c = fa.alloc(0x1000, 0x1000)!;
    m.write(b, 4, 0x55);
    fa.free(b);
    assert.equal(m.read(b, 4), MEM_FAULT, "freed memory is no longer backed");
    assert.equal(fa.alloc(0x1000, 0x1000), b);
    assert.equal(m.read(b, 4), 0, "reallocated memory starts zeroed");
    fa.free(a);
    fa.free(b);
    assert.equal(fa.alloc(0x2000, 0x1000), 0, "a and b coalesced");
    fa.free(0);
    fa.free(c);
    assert.equal(fa.alloc(0x3000, 0x1000), 0);
  });

  it("throws on a double free and on a bad alignment", () => {
    const m = new HostMemory();
    const fa = new FrameAllocator(m, 0, 0x1000);
    const a = fa.alloc(0x10, 0x10)!;
    fa.free(a);
    assert.throws(() => fa.free(a), /not allocated/);
    assert.throws(() => fa.alloc(0x10, 3), RangeError);
    assert.throws(() => fa.alloc(0, 1), RangeError);
  });

  it("aligns to large powers of two beyond 32 bits", () => {
    const m = new HostMemory();
    const fa = new FrameAllocator(m, 0x1_0000_1000, 0x2_0000_0000);
    assert.equal(fa.alloc(0x1000, 0x1_0000_0000), 0x2_0000_0000);
  });
});

describe("HostMemory.readWords", () => {
  it("reads little-endian words in one burst and never serves storage that was dropped", () => {
    const m = new HostMemory();
    m.addBacked(0x8000_0000, 0x1_0000);
    m.write(0x8000_0010, 4, 0x1122_3344);
    m.write(0x8000_0014, 4, 0x5566_7788);
    const out = new Uint32Array(2);
    assert.equal(m.readWords(0x8000_0010, out), true);
    assert.deepEqual([...out], [0x1122_3344, 0x5566_7788]);
    m.removeBacked(0x8000_0000, 0x1_0000);
    assert.equal(m.readWords(0x8000_0010, out), false, "unbacked: a fetch abort");
    m.addBacked(0x8000_0000, 0x1_0000);
    assert.equal(m.readWords(0x8000_0010, out), true);
    assert.deepEqual([...out], [0, 0], "re-backed memory reads zero, not the old bytes");
  });

  it("falls back to per-word reads for an unaligned or chunk-crossing burst", () => {
    const m = new HostMemory({ chunkSize: 0x100 });
    m.addBacked(0x1000, 0x400);
    m.write(0x10fe, 4, 0xaabb_ccdd);
    const out = new Uint32Array(1);
    assert.equal(m.readWords(0x10fe, out), true);
    assert.equal(out[0], 0xaabb_ccdd);
  });
});

describe("HostMemory.readWords against word-by-word reads", () => {
  it("agrees with read() through any sequence of writes, backing changes and bursts", () => {
    // Small chunks, so bursts open, reuse and leave the fast window often.
    const base = 0x1_0000;
    const op = fc.oneof(
      fc.record({ k: fc.constant("w" as const), off: fc.nat(0x3fc), v: fc.nat(0xffff_ffff) }),
      fc.record({
        k: fc.constant("r" as const),
        off: fc.nat(0x3f0),
        n: fc.integer({ min: 1, max: 4 }),
      }),
      fc.record({ k: fc.constant("drop" as const), page: fc.nat(3) }),
      fc.record({ k: fc.constant("add" as const), page: fc.nat(3) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const m = new HostMemory({ chunkSize: 0x100 });
        const backed = [true, true, true, true];
        m.addBacked(base, 0x400);
        for (const o of ops) {
          if (o.k === "w") m.write(base + o.off, 4, o.v);
          else if (o.k === "drop" && backed[o.page]) {
            m.removeBacked(base + 0x100 * o.page, 0x100);
            backed[o.page] = false;
          } else if (o.k === "add" && !backed[o.page]) {
            m.addBacked(base + 0x100 * o.page, 0x100);
            backed[o.page] = true;
          } else if (o.k === "r") {
            const a = base + (o.off & ~3);
            const out = new Uint32Array(o.n);
            const want = m.isBacked(a, 4 * o.n);
            assert.equal(m.readWords(a, out), want, `readWords(0x${a.toString(16)}, ${o.n})`);
            if (want)
              for (let i = 0; i < o.n; i++) assert.equal(out[i], m.read(a + 4 * i, 4), `word ${i}`);
          }
        }
      }),
    );
  });

  it("gives a written chunk's storage as words, the same bytes chunkBytes gives", () => {
    const m = new HostMemory();
    m.addBacked(0x8000_0000, 0x2_0000);
    assert.equal(m.chunkWords(0x8000_0000), null, "never written: no storage");
    m.write(0x8000_0008, 4, 0xcafe_f00d);
    const w = m.chunkWords(0x8000_0000)!;
    assert.equal(w[2], 0xcafe_f00d);
    assert.equal(w.buffer, m.chunkBytes(0x8000_0000)!.buffer);
    assert.equal(m.chunkWords(0x8000_0004), w, "one view per chunk, made once");
  });
});
