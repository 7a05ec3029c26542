import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  APERTURE,
  apertureSize,
  BASE_ADDR_MASK,
  BITS,
  CFG,
  cmdqvTables,
  configPage,
  decodeAperture,
  F,
  pageOf,
  param,
  TEGRA241_CMDQV_IO_LEN,
  V_CONFIG_RESET,
  V_PARAM_RESET,
  VCMDQ0,
  VINTF,
  vcmdqPage0Slot,
} from "./cmdqv.js";
import { decode, fieldMask, findReg } from "./regdef.js";

const qemuGeom = {
  numVcmdqs: 2,
  numVintfs: 1,
  numSids: 16,
  param: V_PARAM_RESET,
  lvcmdqsPerVintf: 2,
};

describe("CMDQV register tables", () => {
  it("computes QEMU's emulated PARAM as 0x4011 (VER 1, 2 VCMDQs, 1 VINTF, 16 SIDs)", () => {
    assert.equal(V_PARAM_RESET, 0x4011);
    assert.equal(param(1, 7, 6, 4), 0x4671);
  });

  it("decodes QEMU's reset CONFIG 0x00020083 field by field", () => {
    const cfg = findReg(configPage(2, 1, 16, V_PARAM_RESET), CFG.CONFIG);
    assert.ok(cfg);
    assert.equal(cfg.reset, BigInt(V_CONFIG_RESET));
    assert.equal(
      decode(cfg, V_CONFIG_RESET),
      "CMDQV_EN=1 CMDQV_PER_CMD_OFFSET=0x1 CMDQ_MAX_CLK_BATCH=0x8 CMDQ_MAX_CMD_BATCH=0x20 CONS_DRAM_EN=0",
    );
  });

  it("places VINTF0 registers at 0x1000 with SID_MATCH at 0x1040 and LVCMDQ_ERR_MAP at 0x10C0", () => {
    const page = configPage(2, 1, 16, V_PARAM_RESET);
    assert.equal(findReg(page, 0x1000)?.name, "VINTF0_CONFIG");
    assert.equal(findReg(page, 0x1004)?.name, "VINTF0_STATUS");
    assert.equal(findReg(page, 0x1040)?.name, "VINTF0_SID_MATCH_0");
    assert.equal(findReg(page, 0x107c)?.name, "VINTF0_SID_MATCH_15");
    assert.equal(findReg(page, 0x1080)?.name, "VINTF0_SID_REPLACE_0");
    assert.equal(findReg(page, 0x10c0)?.name, "VINTF0_LVCMDQ_ERR_MAP_0");
    assert.equal(findReg(page, 0x10cc)?.name, "VINTF0_LVCMDQ_ERR_MAP_3");
    assert.equal(findReg(page, 0x204)?.name, "CMDQ_ALLOC_MAP_1");
    assert.equal(findReg(page, 0x208), undefined);
  });

  it("builds the full hardware config page for 128 VCMDQs and 64 VINTFs without overlaps", () => {
    const page = configPage(128, 64, 16, param(1, 7, 6, 4));
    assert.equal(findReg(page, CFG.CMDQ_ALLOC_0 + 4 * 127)?.name, "CMDQ_ALLOC_MAP_127");
    assert.equal(findReg(page, CFG.VINTF_0 + 0x100 * 63 + VINTF.CONFIG)?.name, "VINTF63_CONFIG");
  });

  it("decodes VINTF CONFIG with VMID in bits 16:1 and HYP_OWN in bit 17", () => {
    const value = (1 << 17) | (0x1234 << 1) | 1;
    assert.equal(
      decodeAperture(cmdqvTables(qemuGeom), 0x1000, value),
      "VINTF0_CONFIG: ENABLE=1 VMID=0x1234 HYP_OWN=1",
    );
  });

  it("shows bits outside every field as RSVD so nothing written is hidden", () => {
    const status = vcmdqPage0Slot().find((r) => r.name === "STATUS");
    assert.ok(status);
    assert.equal(decode(status, 0x8000_0001), "CMDQ_EN_OK=1 RSVD=0x80000000");
  });

  it("decodes CONS with the error code in bits 30:24", () => {
    const t = cmdqvTables(qemuGeom);
    assert.equal(
      decodeAperture(t, APERTURE.VCMDQ_PAGE0 + 0x80 + VCMDQ0.CONS, (1 << 24) | 5),
      "VCMDQ1_CONS_INDX: RD=0x5 ERR=0x1",
    );
  });

  it("decodes the VINTF aperture per LVCMDQ and BASE_L with LOG2SIZE and ADDR", () => {
    const t = cmdqvTables(qemuGeom);
    assert.equal(decodeAperture(t, 0x30084, 3), "VINTF0 LVCMDQ1_PROD_INDX: WR=0x3");
    assert.equal(
      decodeAperture(t, 0x40000, 0x4000_0000 | 12),
      "VINTF0 LVCMDQ0_BASE_L: LOG2SIZE=0xc ADDR=0x2000000",
    );
  });

  it("names an unknown offset instead of failing", () => {
    const t = cmdqvTables(qemuGeom);
    assert.equal(decodeAperture(t, 0x10018, 7), "vcmdq_page0+0x18 (unknown) = 0x7");
  });

  it("maps aperture offsets to their page, VINTF and page offset", () => {
    assert.deepEqual(pageOf(0x1004), { page: "config", vintf: 0, offset: 0x1004 });
    assert.deepEqual(pageOf(0x10094), { page: "vcmdq0", vintf: 0, offset: 0x94 });
    assert.deepEqual(pageOf(0x20008), { page: "vcmdq1", vintf: 0, offset: 0x8 });
    assert.deepEqual(pageOf(0x30000 + 0x20000 * 3 + 0x84), {
      page: "vintf0",
      vintf: 3,
      offset: 0x84,
    });
    assert.deepEqual(pageOf(0x40000 + 0x20000 * 3 + 0x8), {
      page: "vintf1",
      vintf: 3,
      offset: 0x8,
    });
    assert.equal(pageOf(-1), undefined);
  });

  it("sizes the aperture as 0x30000 + 0x20000 per VINTF, 0x50000 for QEMU's single VINTF", () => {
    assert.equal(apertureSize(1), TEGRA241_CMDQV_IO_LEN);
    assert.equal(apertureSize(64), 0x30000 + 0x20000 * 64);
  });

  it("keeps the field tables consistent with the hot-path bit masks", () => {
    assert.equal(F.VINTF_CONFIG.HYP_OWN.shift, 17);
    assert.equal(F.CMDQ_ALLOC.VIRT_INTF_INDX.shift, 15);
    assert.equal(F.CMDQ_ALLOC.VIRT_INTF_INDX.width, 6);
    assert.equal(F.CONS.ERR.shift, 24);
    assert.equal(F.GERROR.CMDQ_INIT_ERR.shift, 2);
  });

  it("derives the hot-path masks from the field tables with the spec's values", () => {
    assert.equal(BITS.VINTF_HYP_OWN, 1 << 17);
    assert.equal(BITS.GERROR_CMDQ_INIT_ERR, 1 << 2);
    assert.equal(BITS.CONS_ERR_MASK, 0x7f00_0000);
    assert.equal(BITS.INDEX_MASK, 0xf_ffff);
    assert.equal(BASE_ADDR_MASK, 0x0000_ffff_ffff_ffe0n);
    assert.equal(fieldMask({ name: "TOP", shift: 31, width: 1 }), 0x8000_0000);
    assert.throws(() => fieldMask(F.BASE.ADDR), RangeError);
  });
});
