// The CMDQV device model's MMIO access rules on the production machine (spec qemu §2.1):
// access sizes, unknown and read-only offsets, 8-byte accesses, and a guest that can
// produce any offset, size or value.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VCMDQ0, VCMDQ1 } from "../regs/cmdqv.js";
import { OFF } from "../vmm/tegra241-cmdqv/guest-steps.js";
import { CMDQV_BASE, createTestbed } from "./testbed.js";

describe("MMIO access rules (spec qemu §2.1)", () => {
  it("logs 1- and 2-byte accesses as guest errors: reads give 0, writes are ignored", () => {
    const tb = createTestbed({ profile: "qemu-v7" });
    tb.as.write(CMDQV_BASE + OFF.VINTF0_CONFIG, 2, 1);
    assert.equal(tb.r32(OFF.VINTF0_CONFIG), 0);
    assert.equal(tb.as.read(CMDQV_BASE + OFF.CONFIG, 1), 0);
    assert.equal(tb.log.count("guest_error"), 2);
  });

  it("reads unknown offsets as 0 and ignores writes to them and to read-only registers, logging LOG_UNIMP", () => {
    const tb = createTestbed({ profile: "qemu-v7" });
    tb.w32(0x0c, 0xffff_ffff);
    assert.equal(tb.r32(0x0c), 0);
    tb.w32(0x004, 0); // PARAM is read-only
    assert.equal(tb.r32(0x004), 0x4011);
    tb.w32(OFF.page0(0, VCMDQ0.GERROR, false), 4);
    assert.equal(tb.r32(OFF.page0(0, VCMDQ0.GERROR, false)), 0);
    assert.equal(tb.r32(OFF.page0(0, 0x18, false)), 0);
    assert.ok(tb.log.count("unimp") >= 4);
  });

  it("accepts 8-byte writes only at page1 BASE_L and CONS_INDX_BASE_L", () => {
    const tb = createTestbed({ profile: "qemu-v7" });
    tb.w64(OFF.page1(1, VCMDQ1.CONS_INDX_BASE_L, false), 0x1_2345_6780n);
    assert.equal(tb.r64(OFF.page1(1, VCMDQ1.CONS_INDX_BASE_L, false)), 0x1_2345_6780n);
    tb.w64(OFF.page0(1, VCMDQ0.PROD, false), 5n);
    assert.equal(tb.r32(OFF.page0(1, VCMDQ0.PROD, false)), 0);
    assert.ok(tb.log.text("unimp").some((l) => l.endsWith("(WI)")));
  });

  it("reads BASE_H as BASE >> 32 and a readq of a page0 register zero-extended", () => {
    const tb = createTestbed({ profile: "qemu-v7" });
    tb.w32(OFF.page1(0, VCMDQ1.BASE_H, false), 0x12);
    tb.w32(OFF.page1(0, VCMDQ1.BASE_L, false), 0x40_0000 | 12);
    assert.equal(tb.r32(OFF.page1(0, VCMDQ1.BASE_H, false)), 0x12);
    assert.equal(tb.r64(OFF.page1(0, VCMDQ1.BASE_L, false)), 0x12_0040_000cn);
    tb.w32(OFF.page0(0, VCMDQ0.PROD, false), 3);
    assert.equal(tb.r64(OFF.page0(0, VCMDQ0.PROD, false)), 3n);
  });

  it("never throws for any offset, size or value a guest can produce", () => {
    const tb = createTestbed({ profile: "reference" });
    for (const off of [-4, 0x4_fffc, 0x5_0000, 0x30_0000, 0x10_0003, 2 ** 40]) {
      for (const size of [1, 2, 4] as const) {
        tb.dev.write(off, size, 0xffff_ffff);
        tb.dev.read(off, size);
      }
      tb.dev.write64(off, -1n);
      tb.dev.read64(off);
    }
  });
});
