// The CMDQV device model's MMIO access rules on the production machine (spec qemu §2.1):
// access sizes, unknown and read-only offsets, 8-byte accesses, and a guest that can
// produce any offset, size or value.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VCMDQ0, VCMDQ1 } from "../regs/cmdqv.js";
import { OFF } from "../vmm/tegra241-cmdqv/guest-steps.js";
import { CMDQV_BASE, createTestbed } from "./testbed.js";

describe("MMIO access rules (spec qemu §2.1)", () => {
  it("refuses 1- and 2-byte and unaligned accesses in the memory core, with QEMU 11.1's LOG_INVALID_MEM lines", () => {
    const tb = createTestbed({ profile: "qemu-v7" });
    tb.as.write(CMDQV_BASE + OFF.VINTF0_CONFIG, 2, 1);
    assert.equal(tb.r32(OFF.VINTF0_CONFIG), 0, "the write was dropped");
    assert.equal(tb.as.read(CMDQV_BASE + OFF.CONFIG + 4, 1), 0);
    // A 4-byte access at 0x2 is cut at its alignment into two 2-byte pieces, both refused.
    assert.equal(tb.as.read(CMDQV_BASE + 0x2, 4), 0);
    // Lines as `-d invalid_mem` shows them for writew/readb/readl over qtest.
    assert.deepEqual(tb.log.text("invalid_mem"), [
      "Invalid write at addr 0x1000, size 2, region 'tegra241-cmdqv', reason: invalid size (min:4 max:8)",
      "Invalid read at addr 0x4, size 1, region 'tegra241-cmdqv', reason: invalid size (min:4 max:8)",
      "Invalid read at addr 0x2, size 2, region 'tegra241-cmdqv', reason: invalid size (min:4 max:8)",
      "Invalid read at addr 0x4, size 2, region 'tegra241-cmdqv', reason: invalid size (min:4 max:8)",
    ]);
    assert.equal(tb.log.count("guest_error"), 0, "QEMU 11.1 does not log these as guest errors");
  });

  it("reads unknown offsets as 0 and ignores writes to them and to read-only registers, with upstream's LOG_UNIMP lines", () => {
    const tb = createTestbed({ profile: "qemu-v7" });
    tb.w32(0x0c, 0xffff_ffff);
    assert.equal(tb.r32(0x0c), 0);
    tb.w32(0x004, 0); // PARAM is read-only
    assert.equal(tb.r32(0x004), 0x4011);
    tb.w32(OFF.page0(0, VCMDQ0.GERROR, false), 4);
    assert.equal(tb.r32(OFF.page0(0, VCMDQ0.GERROR, false)), 0);
    assert.equal(tb.r32(OFF.page0(0, 0x18, false)), 0);
    tb.w32(OFF.VINTF0_STATUS, 1);
    assert.equal(tb.r32(0x100c), 0); // GLB_FILT_CFG: not emulated
    assert.equal(tb.r32(OFF.page1(0, 0x10, false)), 0);
    assert.equal(tb.r32(OFF.page1(1, 0x10, false)), 0); // past the last CONS_INDX_BASE_DRAM_H
    tb.w32(OFF.page1(0, 0x10, false), 1);
    assert.deepEqual(tb.log.text("unimp"), [
      "tegra241_cmdqv_writel_mmio unhandled write access at 0xc",
      "tegra241_cmdqv_read_mmio unhandled read access at 0xc",
      "tegra241_cmdqv_writel_mmio unhandled write access at 0x4",
      "tegra241_cmdqv_write_vcmdq_page0 unhandled write access at 0x10010",
      "tegra241_cmdqv_read_vcmdq_page0 unhandled read access at 0x10018",
      "tegra241_cmdqv_config_vintf_write unhandled write access at 0x1004",
      "tegra241_cmdqv_config_vintf_read unhandled read access at 0x100c",
      "tegra241_cmdqv_read_vcmdq_page1 unhandled read access at 0x20010",
      "tegra241_cmdqv_read_mmio unhandled read access at 0x20090",
      "tegra241_cmdqv_write_vcmdq_page1 unhandled write access at 0x20010",
    ]);
  });

  it("takes an 8-byte write whole only when 8-aligned, and then only at page1 BASE_L and CONS_INDX_BASE_DRAM_L", () => {
    const tb = createTestbed({ profile: "qemu-v7" });
    tb.w64(OFF.page1(1, VCMDQ1.CONS_INDX_BASE_L, false), 0x1_2345_6780n);
    assert.equal(tb.r64(OFF.page1(1, VCMDQ1.CONS_INDX_BASE_L, false)), 0x1_2345_6780n);
    // 4-aligned: the memory core cuts it into two 4-byte writes, PROD then CONFIG.
    tb.w64(OFF.page0(1, VCMDQ0.PROD, false), 0x7_0000_0005n);
    assert.equal(tb.r32(OFF.page0(1, VCMDQ0.PROD, false)), 5);
    assert.equal(tb.r32(OFF.page0(1, VCMDQ0.CONFIG, false)), 7);
    // 8-aligned but not a page1 64-bit register: write-ignored.
    tb.w64(OFF.page0(0, VCMDQ0.CONFIG, false), 1n);
    assert.equal(tb.r32(OFF.page0(0, VCMDQ0.CONFIG, false)), 0);
    tb.w64(OFF.page1(0, 0x10, false), 1n);
    assert.deepEqual(tb.log.text("unimp"), [
      "tegra241_cmdqv_writell_mmio unhandled 64-bit write at 0x10008 (WI)",
      "tegra241_cmdqv_write_vcmdq_page1_64 unhandled 64-bit write at 0x20010",
    ]);
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
