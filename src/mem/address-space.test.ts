import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AddressSpace, MAP_ERROR } from "./address-space.js";
import { GuestRam } from "./guest-ram.js";
import { HostMemory } from "./host-memory.js";
import type { MmioDevice, SmallSize } from "./types.js";
import { MEM_FAULT, MEM_STATUS, PAGE_SIZES } from "./types.js";

const GiB = 2 ** 30;
const K4 = PAGE_SIZES["4K"];
const RAM_BASE = 0x4000_0000;
const MMIO_BASE = 0x1000_0000;
const MMIO_SIZE = 0x5_0000;

/** A device that records accesses and reads back offset-tagged values. */
class FakeDevice implements MmioDevice {
  readonly name: string;
  readonly log: string[] = [];
  constructor(name: string) {
    this.name = name;
  }
  read(offset: number, size: SmallSize): number {
    this.log.push(`r${size}@${offset.toString(16)}`);
    return (0xd000_0000 | offset) >>> 0;
  }
  write(offset: number, size: SmallSize, value: number): void {
    this.log.push(`w${size}@${offset.toString(16)}=${value.toString(16)}`);
  }
  read64(offset: number): bigint {
    this.log.push(`r8@${offset.toString(16)}`);
    return 0x1_0000_0000n + BigInt(offset);
  }
  write64(offset: number, value: bigint): void {
    this.log.push(`w8@${offset.toString(16)}=${value.toString(16)}`);
  }
}

function machine(opts?: { ramSize?: number }) {
  const host = new HostMemory();
  const ram = new GuestRam({
    gpaBase: RAM_BASE,
    size: opts?.ramSize ?? GiB,
    pageSize: K4,
    seed: 42,
    host,
    hostPoolBase: 0x100_0000_0000,
  });
  const as = new AddressSpace();
  assert.equal(as.addRam("ram", ram).ok, true);
  const dev = new FakeDevice("cmdqv");
  assert.equal(as.addMmio("cmdqv", MMIO_BASE, MMIO_SIZE, dev).ok, true);
  return { host, ram, as, dev };
}

describe("AddressSpace", () => {
  it("stays small for a 64 GiB RAM after a few writes", () => {
    const { as, host } = machine({ ramSize: 64 * GiB });
    as.write(RAM_BASE, 4, 1);
    as.write(RAM_BASE + 63 * GiB, 4, 2);
    as.write64(RAM_BASE + 64 * GiB - 8, 3n);
    assert.ok(host.allocatedBytes() <= 3 * host.chunkSize, `${host.allocatedBytes()} bytes`);
    assert.equal(as.read(RAM_BASE + 63 * GiB, 4), 2);
  });

  it("reads back RAM little-endian in every size", () => {
    const { as } = machine();
    const a = RAM_BASE + 0x100;
    assert.equal(as.write(a, 4, 0x4433_2211), MEM_STATUS.OK);
    assert.equal(as.read(a, 1), 0x11);
    assert.equal(as.read(a + 1, 2), 0x3322);
    assert.deepEqual(as.readBytes(a, 4), Uint8Array.of(0x11, 0x22, 0x33, 0x44));
    as.write64(a, 0x8877_6655_4433_2211n);
    assert.equal(as.read(a + 4, 4), 0x8877_6655);
    assert.equal(as.read64(a), 0x8877_6655_4433_2211n);
  });

  it("splits a RAM access that crosses a guest page across scattered host frames", () => {
    const { as, ram, host } = machine();
    const a = RAM_BASE + K4 - 2;
    assert.notEqual(ram.hpaOf(a + 2), ram.hpaOf(a) + 2, "the next page is elsewhere on the host");
    assert.equal(as.write(a, 4, 0xa1b2_c3d4), MEM_STATUS.OK);
    assert.equal(as.read(a, 4), 0xa1b2_c3d4);
    assert.equal(host.read(ram.hpaOf(a), 2), 0xc3d4);
    assert.equal(host.read(ram.hpaOf(a + 2), 2), 0xa1b2);
    as.write64(RAM_BASE + 2 * K4 - 4, 0x0102_0304_0506_0708n);
    assert.equal(as.read64(RAM_BASE + 2 * K4 - 4), 0x0102_0304_0506_0708n);
    const data = Uint8Array.from({ length: 3 * K4 }, (_, i) => i & 0xff);
    assert.equal(as.writeBytes(RAM_BASE + 0x800, data), MEM_STATUS.OK);
    assert.deepEqual(as.readBytes(RAM_BASE + 0x800, data.length), data);
  });

  it("sees writes by other bus masters to the host frames behind RAM", () => {
    const { as, ram, host } = machine();
    const g = RAM_BASE + 5 * K4 + 0x40;
    assert.equal(as.read(g, 4), 0, "never written: reads zero without allocating");
    assert.equal(host.allocatedBytes(), 0);
    host.write(ram.hpaOf(g), 4, 0x1234_5678);
    assert.equal(as.read(g, 4), 0x1234_5678);
    as.write(g, 2, 0xabcd);
    assert.equal(host.read(ram.hpaOf(g), 4), 0x1234_abcd);
  });

  it("faults on RAM whose host backing was withdrawn", () => {
    const { as, ram, host } = machine();
    const g = RAM_BASE + 0x10;
    as.write(g, 4, 1);
    assert.equal(as.read(g, 4), 1);
    host.removeBacked(ram.hpaOf(RAM_BASE), K4);
    assert.equal(as.read(g, 4), MEM_FAULT);
    assert.equal(as.write(g, 4, 2), MEM_STATUS.UNMAPPED);
    assert.equal(as.lastFault()?.status, MEM_STATUS.UNMAPPED);
    host.addBacked(ram.hpaOf(RAM_BASE), K4);
    assert.equal(as.read(g, 4), 0);
  });

  it("keeps RAM correct when a huge backing page spans many host chunks", () => {
    const host = new HostMemory({ chunkSize: 0x100 });
    const ram = new GuestRam({
      gpaBase: 0,
      size: 2 * PAGE_SIZES["2M"],
      pageSize: PAGE_SIZES["2M"],
      seed: 3,
      host,
      hostPoolBase: 0x4000_0000,
    });
    const as = new AddressSpace();
    as.addRam("ram", ram);
    for (const g of [0, 0xfe, 0x1fe, 0x20_0000 - 2, 0x20_00fe]) {
      assert.equal(as.write(g, 4, 0x0a0b_0c0d + g), MEM_STATUS.OK);
      assert.equal(as.read(g, 4), 0x0a0b_0c0d + g, `gpa 0x${g.toString(16)}`);
      assert.equal(host.read(ram.hpaOf(g), 1), (0x0a0b_0c0d + g) & 0xff);
    }
  });

  it("does not require natural alignment for RAM", () => {
    const { as } = machine();
    assert.equal(as.write(RAM_BASE + 3, 4, 0xdead_beef), MEM_STATUS.OK);
    assert.equal(as.read(RAM_BASE + 3, 4), 0xdead_beef);
    assert.equal(as.faults(), 0);
  });

  it("translates RAM to host-physical addresses and nothing else", () => {
    const { as, ram } = machine();
    assert.equal(as.translate(RAM_BASE + 0x1234), ram.hpaOf(RAM_BASE + 0x1234));
    assert.equal(as.translate(MMIO_BASE), -1);
    assert.equal(as.translate(0), -1);
    assert.equal(as.ramAt(RAM_BASE + 5), ram);
  });

  it("faults on unmapped addresses and counts them", () => {
    const { as } = machine();
    assert.equal(as.read(0x10, 4), MEM_FAULT);
    assert.equal(as.write(RAM_BASE + GiB, 4, 0), MEM_STATUS.UNMAPPED);
    assert.equal(as.read64(0), undefined);
    assert.equal(as.readBytes(0, 8), undefined);
    assert.equal(as.read(Number.NaN, 4), MEM_FAULT);
    assert.equal(as.read(RAM_BASE + 0.5, 1), MEM_FAULT);
    assert.equal(as.faults(), 6);
    assert.deepEqual(as.lastFault(), {
      addr: RAM_BASE + 0.5,
      size: 1,
      write: false,
      status: MEM_STATUS.UNMAPPED,
    });
  });

  it("rejects an access that straddles the end of a region", () => {
    const { as, dev } = machine();
    assert.equal(as.read(RAM_BASE + GiB - 2, 4), MEM_FAULT);
    assert.equal(as.lastFault()?.status, MEM_STATUS.STRADDLE);
    assert.equal(as.write(MMIO_BASE + MMIO_SIZE - 1, 2, 0), MEM_STATUS.STRADDLE);
    assert.equal(as.write64(MMIO_BASE + MMIO_SIZE - 4, 0n), MEM_STATUS.STRADDLE);
    assert.equal(as.writeBytes(RAM_BASE + GiB - 4, new Uint8Array(8)), MEM_STATUS.STRADDLE);
    assert.equal(as.read(MMIO_BASE - 2, 4), MEM_FAULT, "starts before the region");
    assert.deepEqual(dev.log, []);
    assert.equal(as.faults(), 5);
    assert.equal(as.traps(), 0);
  });

  it("reads a 16-byte entry of RAM as one access, equal to four 4-byte reads", () => {
    const { as, ram, host } = machine();
    const out = new Uint32Array(4);
    const g = RAM_BASE + 3 * K4 + 0x30;
    assert.equal(as.readWords(g, out), true, "never written: zeros");
    assert.deepEqual([...out], [0, 0, 0, 0]);
    for (let i = 0; i < 4; i++) as.write(g + 4 * i, 4, 0x1111_1111 * (i + 1));
    host.write(ram.hpaOf(g + 12), 4, 0xfeed_beef);
    as.resetCounters();
    assert.equal(as.readWords(g, out), true);
    assert.deepEqual([...out], [0x1111_1111, 0x2222_2222, 0x3333_3333, 0xfeed_beef]);
    assert.deepEqual(as.regionCounters("ram"), { reads: 1, writes: 0 });
    // Across a guest page (scattered host frames), and unaligned: the same as word reads.
    const x = RAM_BASE + 4 * K4 - 6;
    for (let i = 0; i < 4; i++) as.write(x + 4 * i, 4, 0xa0b0_c0d0 + i);
    assert.equal(as.readWords(x, out), true);
    assert.deepEqual(
      [...out],
      [0, 1, 2, 3].map((i) => as.read(x + 4 * i, 4)),
    );
  });

  it("faults a 16-byte read of a hole or withdrawn RAM, and reads MMIO word by word", () => {
    const { as, ram, host, dev } = machine();
    const out = new Uint32Array(4);
    assert.equal(as.readWords(0x10, out), false);
    assert.equal(as.readWords(RAM_BASE + GiB - 8, out), false, "straddles the end of RAM");
    const g = RAM_BASE + 0x40;
    as.write(g, 4, 7);
    assert.equal(as.readWords(g, out), true);
    host.removeBacked(ram.hpaOf(RAM_BASE), K4);
    assert.equal(as.readWords(g, out), false, "the window must not outlive the backing");
    assert.equal(as.lastFault()?.status, MEM_STATUS.UNMAPPED);
    assert.equal(as.readWords(MMIO_BASE + 0x100, out), true);
    assert.deepEqual([...out], [0xd000_0100, 0xd000_0104, 0xd000_0108, 0xd000_010c]);
    assert.deepEqual(dev.log, ["r4@100", "r4@104", "r4@108", "r4@10c"]);
    assert.equal(as.traps(), 4);
  });

  it("rejects sizes other than 1, 2 and 4 on the small path", () => {
    const { as } = machine();
    assert.equal(as.read(RAM_BASE, 3 as SmallSize), MEM_FAULT);
    assert.equal(as.lastFault()?.status, MEM_STATUS.BAD_ACCESS);
    assert.equal(as.write(MMIO_BASE, 8 as SmallSize, 0), MEM_STATUS.BAD_ACCESS);
  });

  it("traps every MMIO access, passes offsets and masks values to the size", () => {
    const { as, dev } = machine();
    assert.equal(as.read(MMIO_BASE + 0x10, 4), 0xd000_0010);
    as.write(MMIO_BASE + 0x13, 1, 0x1ff);
    as.write(MMIO_BASE + 0x20, 2, 0xf_1234);
    assert.equal(as.read64(MMIO_BASE + 0x30), 0x1_0000_0030n);
    as.write64(MMIO_BASE + 0x38, 0x1_2345_6789n);
    assert.deepEqual(dev.log, ["r4@10", "w1@13=ff", "w2@20=1234", "r8@30", "w8@38=123456789"]);
    assert.equal(as.traps(), 5);
    assert.deepEqual(as.regionCounters("cmdqv"), { reads: 2, writes: 3 });
  });

  it("counts traps per region and resets them", () => {
    const { as } = machine();
    const other = new FakeDevice("smmu");
    assert.equal(as.addMmio("smmu", 0x900_0000, 0x2_0000, other).ok, true);
    as.read(0x900_0000, 4);
    as.read(0x900_0004, 4);
    as.write(MMIO_BASE, 4, 1);
    as.read(RAM_BASE, 4);
    assert.equal(as.traps(), 3);
    assert.deepEqual(as.regionCounters("smmu"), { reads: 2, writes: 0 });
    assert.deepEqual(as.regionCounters("cmdqv"), { reads: 0, writes: 1 });
    assert.deepEqual(as.regionCounters("ram"), { reads: 1, writes: 0 });
    assert.equal(as.regionCounters("nope"), undefined);
    as.read(0, 4);
    as.resetCounters();
    assert.equal(as.traps(), 0);
    assert.equal(as.faults(), 0);
    assert.equal(as.lastFault(), undefined);
    assert.deepEqual(as.regionCounters("smmu"), { reads: 0, writes: 0 });
  });

  it("rejects an MMIO region that overlaps RAM or MMIO, sweeping the edges on both sides", () => {
    const { as } = machine();
    const len = 0x1000;
    for (const [name, base, end] of [
      ["ram", RAM_BASE, RAM_BASE + GiB],
      ["cmdqv", MMIO_BASE, MMIO_BASE + MMIO_SIZE],
    ] as const) {
      // Every start around both edges, from fully outside to fully inside, and the middle.
      const starts = [(base + end) / 2];
      for (let s = base - len - 2; s <= base + 2; s++) starts.push(s);
      for (let s = end - len - 2; s <= end + 2; s++) starts.push(s);
      for (const start of starts) {
        const r = as.addMmio("probe", start, len, new FakeDevice("probe"));
        const overlaps = start < end && base < start + len;
        assert.equal(r.ok, !overlaps, `start 0x${start.toString(16)}`);
        if (!r.ok) {
          assert.equal(r.error.code, MAP_ERROR.OVERLAP);
          assert.equal(r.error.other, name);
          assert.match(r.error.message, new RegExp(name));
        } else {
          assert.equal(as.removeRegion("probe"), true);
        }
      }
    }
  });

  it("rejects RAM that overlaps MMIO, empty regions and duplicate names", () => {
    const { as } = machine();
    const host = new HostMemory();
    const clash = new GuestRam({
      gpaBase: MMIO_BASE,
      size: K4,
      pageSize: K4,
      seed: 1,
      host,
      hostPoolBase: 0,
    });
    const r1 = as.addRam("ram2", clash);
    assert.equal(r1.ok ? "" : r1.error.other, "cmdqv");
    const r2 = as.addMmio("empty", 0x2000_0000, 0, new FakeDevice("e"));
    assert.equal(r2.ok ? "" : r2.error.code, MAP_ERROR.ZERO_SIZE);
    const r3 = as.addMmio("cmdqv", 0x2000_0000, 0x1000, new FakeDevice("c"));
    assert.equal(r3.ok ? "" : r3.error.code, MAP_ERROR.DUPLICATE_NAME);
    const r4 = as.addMmio("neg", -0x1000, 0x1000, new FakeDevice("n"));
    assert.equal(r4.ok ? "" : r4.error.code, MAP_ERROR.BAD_RANGE);
  });

  it("lets an overlay shadow MMIO and counts direct accesses instead of traps", () => {
    const { as, dev } = machine();
    const page0 = new FakeDevice("vintf0-page0");
    assert.equal(as.addOverlay("page0", MMIO_BASE + 0x3_0000, 0x1_0000, page0, 1).ok, true);
    assert.equal(as.read(MMIO_BASE + 0x3_0004, 4), 0xd000_0004);
    as.write(MMIO_BASE + 0x3_0000, 4, 7);
    assert.equal(as.read64(MMIO_BASE + 0x3_0008), 0x1_0000_0008n);
    assert.deepEqual(page0.log, ["r4@4", "w4@0=7", "r8@8"]);
    assert.deepEqual(dev.log, []);
    assert.equal(as.traps(), 0);
    assert.equal(as.directAccesses(), 3);
    assert.deepEqual(as.regionCounters("page0"), { reads: 2, writes: 1 });
    // Outside the overlay the MMIO region still traps.
    as.read(MMIO_BASE + 0x2_fffc, 4);
    assert.equal(as.traps(), 1);
    assert.deepEqual(dev.log, ["r4@2fffc"]);
  });

  it("gives a 16-byte read of RAM to an overlay enabled over it, before or after the read", () => {
    const { as } = machine();
    const out = new Uint32Array(4);
    const below = RAM_BASE + 0x1f0;
    const over = RAM_BASE + 0x200;
    const above = RAM_BASE + 0x400;
    for (const g of [below, over, above]) as.write(g, 4, g);
    const ov = new FakeDevice("ov");
    assert.equal(as.addOverlay("ov", over, 0x100, ov, 1).ok, true);
    // Reads on both sides of the overlay open the fast path; the overlay keeps its part.
    for (const g of [below, above, below, over, above, over]) {
      assert.equal(as.readWords(g, out), true);
      assert.equal(out[0], g === over ? 0xd000_0000 : g, `0x${g.toString(16)}`);
    }
    assert.equal(ov.log.length, 8, "two 16-byte reads of the overlay, word by word");
    assert.equal(as.setOverlayEnabled("ov", false), true);
    assert.equal(as.readWords(over, out), true);
    assert.equal(out[0], over, "disabled: RAM again");
    assert.equal(as.setOverlayEnabled("ov", true), true);
    assert.equal(as.readWords(over, out), true);
    assert.equal(out[0], 0xd000_0000, "enabled after the RAM read: the overlay again");
    assert.equal(ov.log.length, 12);
  });

  it("restores trapping when the overlay is disabled or removed", () => {
    const { as, dev } = machine();
    const page0 = new FakeDevice("vintf0-page0");
    as.addOverlay("page0", MMIO_BASE + 0x3_0000, 0x1_0000, page0, 1);
    as.setOverlayEnabled("page0", false);
    as.read(MMIO_BASE + 0x3_0000, 4);
    assert.equal(as.traps(), 1);
    assert.deepEqual(dev.log, ["r4@30000"]);
    as.setOverlayEnabled("page0", true);
    as.read(MMIO_BASE + 0x3_0000, 4);
    assert.equal(as.traps(), 1);
    assert.equal(as.directAccesses(), 1);
    assert.equal(as.removeOverlay("page0"), true);
    as.read(MMIO_BASE + 0x3_0000, 4);
    assert.equal(as.traps(), 2);
    assert.equal(as.removeOverlay("page0"), false);
    assert.equal(as.setOverlayEnabled("page0", true), false);
  });

  it("rejects an access that straddles the edge of an overlay", () => {
    const { as, dev } = machine();
    const page0 = new FakeDevice("p");
    as.addOverlay("page0", MMIO_BASE + 0x1000, 0x1000, page0, 1);
    assert.equal(as.read(MMIO_BASE + 0xffe, 4), MEM_FAULT);
    assert.equal(as.lastFault()?.status, MEM_STATUS.STRADDLE);
    assert.equal(as.write(MMIO_BASE + 0x1ffe, 4, 0), MEM_STATUS.STRADDLE);
    assert.deepEqual(dev.log, []);
    assert.deepEqual(page0.log, []);
  });

  it("gives the highest-priority overlay the access and rejects same-priority overlap", () => {
    const { as } = machine();
    const low = new FakeDevice("low");
    const high = new FakeDevice("high");
    assert.equal(as.addOverlay("low", RAM_BASE, 0x1_0000, low, 1).ok, true);
    assert.equal(as.addOverlay("high", RAM_BASE + 0x1000, 0x1000, high, 2).ok, true);
    as.read(RAM_BASE + 0x1000, 4);
    as.read(RAM_BASE + 0x2000, 4);
    assert.deepEqual(high.log, ["r4@0"]);
    assert.deepEqual(low.log, ["r4@2000"]);
    const clash = as.addOverlay("clash", RAM_BASE + 0xfff0, 0x100, new FakeDevice("c"), 1);
    assert.equal(clash.ok ? "" : clash.error.other, "low");
    assert.equal(as.addOverlay("fine", RAM_BASE + 0xfff0, 0x100, new FakeDevice("f"), 3).ok, true);
    // RAM shadowed by an overlay is out of the guest's reach, so it does not translate.
    assert.equal(as.translate(RAM_BASE + 0x10), -1);
    assert.equal(as.readBytes(RAM_BASE, 8), undefined);
    assert.equal(as.lastFault()?.status, MEM_STATUS.BAD_ACCESS);
  });

  it("lists its regions for reports", () => {
    const { as } = machine();
    as.addOverlay("page0", MMIO_BASE + 0x3_0000, 0x1_0000, new FakeDevice("p"), 1);
    as.setOverlayEnabled("page0", false);
    assert.deepEqual(as.regions(), [
      { name: "cmdqv", kind: "mmio", base: MMIO_BASE, size: MMIO_SIZE },
      {
        name: "page0",
        kind: "overlay",
        base: MMIO_BASE + 0x3_0000,
        size: 0x1_0000,
        priority: 1,
        enabled: false,
      },
      { name: "ram", kind: "ram", base: RAM_BASE, size: GiB },
    ]);
  });

  it("rejects bulk access to MMIO", () => {
    const { as, dev } = machine();
    assert.equal(as.readBytes(MMIO_BASE, 8), undefined);
    assert.equal(as.writeBytes(MMIO_BASE, new Uint8Array(8)), MEM_STATUS.BAD_ACCESS);
    assert.equal(as.readBytes(RAM_BASE, 2 ** 40), undefined);
    assert.deepEqual(dev.log, []);
  });
});
