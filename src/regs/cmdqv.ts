// Tegra241 CMDQV register map: apertures, the Config page (global registers, CMDQ_ALLOC
// map, VINTF blocks), and VCMDQ page0/page1 slots. Offsets and fields: spec linux §1,
// qemu §2. Reset values are QEMU's emulated ones (linux §1.8, qemu §2.7): no public
// source gives the silicon's, so the hardware model takes them as its default too
// (an option there; see docs/hardware.md).

import {
  block,
  decode as decodeValue,
  field,
  fieldMask,
  fieldMask64,
  findReg as findIn,
  type RegBlock,
  type RegDef,
  reg,
  regArray,
  withField,
} from "./regdef.js";

/** The five kinds of 64 KiB page and the VINTF page stride. spec: linux §1.1. */
export const APERTURE = {
  CONFIG: 0x0_0000,
  VCMDQ_PAGE0: 0x1_0000,
  VCMDQ_PAGE1: 0x2_0000,
  /** VINTF i page0 is at VINTF_PAGE0 + VINTF_STRIDE·i. */
  VINTF_PAGE0: 0x3_0000,
  VINTF_PAGE1: 0x4_0000,
  VINTF_STRIDE: 0x2_0000,
  PAGE_SIZE: 0x1_0000,
  /** Per-VCMDQ (or LVCMDQ) slot stride inside a page0/page1. */
  VCMDQ_STRIDE: 0x80,
} as const;

/** Size of the host MMIO resource for `numVintfs` VINTFs. spec: linux §1.1 [inf]. */
export function apertureSize(numVintfs: number): number {
  return APERTURE.VINTF_PAGE0 + APERTURE.VINTF_STRIDE * numVintfs;
}

/** QEMU exposes exactly one VINTF: 0x50000 bytes. spec: qemu §1.6. */
export const TEGRA241_CMDQV_IO_LEN = 0x5_0000;

/** Config page register offsets. spec: linux §1.2, qemu §2.2. */
export const CFG = {
  CONFIG: 0x000,
  PARAM: 0x004,
  STATUS: 0x008,
  /** VINTF_ERR_MAP low/high (QEMU VI_ERR_MAP_0/1). */
  VI_ERR_MAP_0: 0x014,
  VI_ERR_MAP_1: 0x018,
  VI_INT_MASK_0: 0x01c,
  VI_INT_MASK_1: 0x020,
  /** CMDQ_ERR_MAP(m) at CMDQ_ERR_MAP_0 + 4·m, m = 0..3. */
  CMDQ_ERR_MAP_0: 0x024,
  /** CMDQ_ALLOC(q) at CMDQ_ALLOC_0 + 4·q. */
  CMDQ_ALLOC_0: 0x200,
  /** VINTF(v) block at VINTF_0 + VINTF_BLOCK_STRIDE·v. */
  VINTF_0: 0x1000,
  VINTF_BLOCK_STRIDE: 0x100,
} as const;

/** Offsets inside a VINTF block. spec: linux §1.3, qemu §2.2. */
export const VINTF = {
  CONFIG: 0x00,
  STATUS: 0x04,
  GLB_FILT_CFG: 0x0c,
  GLB_FILT_DATA: 0x10,
  /** SID_MATCH(s) at SID_MATCH_0 + 4·s. */
  SID_MATCH_0: 0x40,
  /** SID_REPLACE(s) at SID_REPLACE_0 + 4·s. */
  SID_REPLACE_0: 0x80,
  /** LVCMDQ_ERR_MAP: 128 bits as four u32 (Linux reads it as two u64). */
  LVCMDQ_ERR_MAP_0: 0xc0,
  /** At most 16 SID slots fit between 0x40 and 0x80. spec: linux §1.3 [inf]. */
  MAX_SIDS: 16,
} as const;

/** Offsets inside a VCMDQ page0 slot. spec: linux §1.4, qemu §2.3. */
export const VCMDQ0 = {
  CONS: 0x00,
  PROD: 0x04,
  CONFIG: 0x08,
  STATUS: 0x0c,
  GERROR: 0x10,
  GERRORN: 0x14,
} as const;

/** Offsets inside a VCMDQ page1 slot. spec: linux §1.5, qemu §2.4. */
export const VCMDQ1 = {
  BASE_L: 0x00,
  BASE_H: 0x04,
  CONS_INDX_BASE_L: 0x08,
  CONS_INDX_BASE_H: 0x0c,
} as const;

/** Fields, by register. */
export const F = {
  CONFIG: {
    CMDQV_EN: field("CMDQV_EN", 0, 1),
    PER_CMD_OFFSET: field("CMDQV_PER_CMD_OFFSET", 1, 3),
    MAX_CLK_BATCH: field("CMDQ_MAX_CLK_BATCH", 4, 8),
    MAX_CMD_BATCH: field("CMDQ_MAX_CMD_BATCH", 12, 8),
    CONS_DRAM_EN: field("CONS_DRAM_EN", 20, 1),
  },
  PARAM: {
    VER: field("CMDQV_VER", 0, 4),
    NUM_VCMDQ_LOG2: field("NUM_CMDQ_LOG2", 4, 4),
    NUM_VINTF_LOG2: field("NUM_VI_LOG2", 8, 4),
    NUM_SID_PER_VINTF_LOG2: field("NUM_SID_PER_VI_LOG2", 12, 4),
  },
  STATUS: { CMDQV_ENABLED: field("CMDQV_ENABLED", 0, 1) },
  CMDQ_ALLOC: {
    ALLOC: field("ALLOC", 0, 1),
    LVCMDQ: field("LVCMDQ", 1, 7),
    VIRT_INTF_INDX: field("VIRT_INTF_INDX", 15, 6),
  },
  VINTF_CONFIG: {
    ENABLE: field("ENABLE", 0, 1),
    VMID: field("VMID", 1, 16),
    HYP_OWN: field("HYP_OWN", 17, 1),
  },
  VINTF_STATUS: {
    ENABLE_OK: field("ENABLE_OK", 0, 1),
    STATUS: field("STATUS", 1, 3),
    VI_NUM_LVCMDQ: field("VI_NUM_LVCMDQ", 16, 8),
  },
  SID_MATCH: { ENABLE: field("ENABLE", 0, 1), VIRT_SID: field("VIRT_SID", 1, 20) },
  SID_REPLACE: { PHYS_SID: field("PHYS_SID", 0, 20) },
  CONS: { RD: field("RD", 0, 20), ERR: field("ERR", 24, 7) },
  PROD: { WR: field("WR", 0, 20) },
  VCMDQ_CONFIG: { CMDQ_EN: field("CMDQ_EN", 0, 1) },
  VCMDQ_STATUS: { CMDQ_EN_OK: field("CMDQ_EN_OK", 0, 1) },
  GERROR: {
    CMDQ_ERR: field("CMDQ_ERR", 0, 1),
    CONS_DRAM_WR_ABT_ERR: field("CONS_DRAM_WR_ABT_ERR", 1, 1),
    CMDQ_INIT_ERR: field("CMDQ_INIT_ERR", 2, 1),
  },
  BASE: { LOG2SIZE: field("LOG2SIZE", 0, 5), ADDR: field("ADDR", 5, 43) },
  BASE_L: { LOG2SIZE: field("LOG2SIZE", 0, 5), ADDR: field("ADDR", 5, 27) },
  BASE_H: { ADDR: field("ADDR", 0, 16) },
  CONS_INDX_BASE: { ADDR: field("ADDR", 0, 48) },
} as const;

/** Bit masks used on hot paths (u32), computed once from F. */
export const BITS = {
  CMDQV_EN: fieldMask(F.CONFIG.CMDQV_EN),
  VINTF_ENABLE: fieldMask(F.VINTF_CONFIG.ENABLE),
  VINTF_HYP_OWN: fieldMask(F.VINTF_CONFIG.HYP_OWN),
  ALLOC: fieldMask(F.CMDQ_ALLOC.ALLOC),
  CMDQ_EN: fieldMask(F.VCMDQ_CONFIG.CMDQ_EN),
  CMDQ_EN_OK: fieldMask(F.VCMDQ_STATUS.CMDQ_EN_OK),
  GERROR_CMDQ_ERR: fieldMask(F.GERROR.CMDQ_ERR),
  GERROR_CONS_DRAM_WR_ABT_ERR: fieldMask(F.GERROR.CONS_DRAM_WR_ABT_ERR),
  GERROR_CMDQ_INIT_ERR: fieldMask(F.GERROR.CMDQ_INIT_ERR),
  CONS_ERR_MASK: fieldMask(F.CONS.ERR),
  /** PROD.WR and CONS.RD: the 20-bit queue index with its wrap bit. */
  INDEX_MASK: fieldMask(F.PROD.WR),
} as const;

/** BASE.ADDR covers bits [47:5]. spec: linux §1.5. */
export const BASE_ADDR_MASK = fieldMask64(F.BASE.ADDR);
/** The largest LOG2SIZE Linux uses (VCMDQ_LOG2SIZE_MAX). spec: qemu §5.2. */
export const VCMDQ_LOG2SIZE_MAX = 19;

/** QEMU's reset CONFIG: EN=1, PER_CMD_OFFSET=1 (16B), CLK_BATCH=0x08, CMD_BATCH=0x20. */
export const V_CONFIG_RESET = 0x0002_0083;

/** PARAM from its fields. */
export function param(ver: number, vcmdqLog2: number, vintfLog2: number, sidLog2: number): number {
  const p = F.PARAM;
  let v = withField(0, p.VER, ver);
  v = withField(v, p.NUM_VCMDQ_LOG2, vcmdqLog2);
  v = withField(v, p.NUM_VINTF_LOG2, vintfLog2);
  return withField(v, p.NUM_SID_PER_VINTF_LOG2, sidLog2);
}

/** QEMU's emulated PARAM: VER 1, 2 VCMDQs, 1 VINTF, 16 SIDs = 0x4011. spec: qemu §2.2. */
export const V_PARAM_RESET = param(1, 1, 0, 4);

const S = "linux §1.2, qemu §2.2";

/** Global Config registers (without CMDQ_ALLOC and VINTF blocks). */
export function configRegs(paramReset: number): RegDef[] {
  const c = F.CONFIG;
  return [
    reg("CONFIG", CFG.CONFIG, {
      reset: V_CONFIG_RESET,
      fields: [c.CMDQV_EN, c.PER_CMD_OFFSET, c.MAX_CLK_BATCH, c.MAX_CMD_BATCH, c.CONS_DRAM_EN],
      spec: S,
    }),
    reg("PARAM", CFG.PARAM, {
      reset: paramReset,
      access: "ro",
      fields: Object.values(F.PARAM),
      spec: S,
    }),
    reg("STATUS", CFG.STATUS, {
      reset: 1,
      access: "ro",
      fields: [F.STATUS.CMDQV_ENABLED],
      spec: S,
    }),
    reg("VI_ERR_MAP_0", CFG.VI_ERR_MAP_0, { access: "ro", spec: S }),
    reg("VI_ERR_MAP_1", CFG.VI_ERR_MAP_1, { access: "ro", spec: S }),
    reg("VI_INT_MASK_0", CFG.VI_INT_MASK_0, { spec: S }),
    reg("VI_INT_MASK_1", CFG.VI_INT_MASK_1, { spec: S }),
    ...regArray(4, CFG.CMDQ_ERR_MAP_0, 4, (m, off) =>
      reg(`CMDQ_ERR_MAP_${m}`, off, { access: "ro", spec: S }),
    ),
  ];
}

export function allocRegs(numVcmdqs: number): RegDef[] {
  return regArray(numVcmdqs, CFG.CMDQ_ALLOC_0, 4, (q, off) =>
    reg(`CMDQ_ALLOC_MAP_${q}`, off, { fields: Object.values(F.CMDQ_ALLOC), spec: S }),
  );
}

/** The registers of one VINTF block, at offsets relative to the block. spec: linux §1.3. */
export function vintfRegs(numSids: number): RegDef[] {
  const spec = "linux §1.3, qemu §2.2";
  return [
    reg("CONFIG", VINTF.CONFIG, { fields: Object.values(F.VINTF_CONFIG), spec }),
    reg("STATUS", VINTF.STATUS, { access: "ro", fields: Object.values(F.VINTF_STATUS), spec }),
    reg("GLB_FILT_CFG", VINTF.GLB_FILT_CFG, { spec }),
    reg("GLB_FILT_DATA", VINTF.GLB_FILT_DATA, { spec }),
    ...regArray(numSids, VINTF.SID_MATCH_0, 4, (s, off) =>
      reg(`SID_MATCH_${s}`, off, { fields: Object.values(F.SID_MATCH), spec }),
    ),
    ...regArray(numSids, VINTF.SID_REPLACE_0, 4, (s, off) =>
      reg(`SID_REPLACE_${s}`, off, { fields: Object.values(F.SID_REPLACE), spec }),
    ),
    ...regArray(4, VINTF.LVCMDQ_ERR_MAP_0, 4, (m, off) =>
      reg(`LVCMDQ_ERR_MAP_${m}`, off, { access: "ro", spec }),
    ),
  ];
}

/** The Config page with `numVcmdqs` ALLOC entries and `numVintfs` VINTF blocks. */
export function configPage(
  numVcmdqs: number,
  numVintfs: number,
  numSids: number,
  paramReset: number,
): RegBlock {
  const regs: RegDef[] = [...configRegs(paramReset), ...allocRegs(numVcmdqs)];
  for (let v = 0; v < numVintfs; v++) {
    for (const r of vintfRegs(numSids)) {
      regs.push({
        ...r,
        name: `VINTF${v}_${r.name}`,
        offset: CFG.VINTF_0 + CFG.VINTF_BLOCK_STRIDE * v + r.offset,
      });
    }
  }
  return block("config", APERTURE.PAGE_SIZE, regs);
}

/** One VCMDQ page0 slot, relative offsets. spec: linux §1.4, qemu §2.3. */
export function vcmdqPage0Slot(): RegDef[] {
  const spec = "linux §1.4, qemu §2.3";
  const g = Object.values(F.GERROR);
  return [
    reg("CONS_INDX", VCMDQ0.CONS, { fields: [F.CONS.RD, F.CONS.ERR], spec }),
    reg("PROD_INDX", VCMDQ0.PROD, { fields: [F.PROD.WR], spec }),
    reg("CONFIG", VCMDQ0.CONFIG, { fields: [F.VCMDQ_CONFIG.CMDQ_EN], spec }),
    reg("STATUS", VCMDQ0.STATUS, { access: "ro", fields: [F.VCMDQ_STATUS.CMDQ_EN_OK], spec }),
    reg("GERROR", VCMDQ0.GERROR, { access: "ro", fields: g, spec }),
    reg("GERRORN", VCMDQ0.GERRORN, { fields: g, spec }),
  ];
}

/** One VCMDQ page1 slot as QEMU splits it into 32-bit halves. spec: linux §1.5, qemu §2.4. */
export function vcmdqPage1Slot(): RegDef[] {
  const spec = "linux §1.5, qemu §2.4";
  return [
    reg("BASE_L", VCMDQ1.BASE_L, { fields: Object.values(F.BASE_L), spec }),
    reg("BASE_H", VCMDQ1.BASE_H, { fields: Object.values(F.BASE_H), spec }),
    reg("CONS_INDX_BASE_DRAM_L", VCMDQ1.CONS_INDX_BASE_L, { spec }),
    reg("CONS_INDX_BASE_DRAM_H", VCMDQ1.CONS_INDX_BASE_H, { spec }),
  ];
}

/** A page of `count` slots named `<prefix><i>_<REG>`. */
export function slotPage(
  name: string,
  prefix: string,
  count: number,
  slot: readonly RegDef[],
): RegBlock {
  const regs: RegDef[] = [];
  for (let i = 0; i < count; i++) {
    for (const r of slot)
      regs.push({
        ...r,
        name: `${prefix}${i}_${r.name}`,
        offset: APERTURE.VCMDQ_STRIDE * i + r.offset,
      });
  }
  return block(name, APERTURE.PAGE_SIZE, regs);
}

/** Register offset of VCMDQ/LVCMDQ `i`'s slot in a page. */
export function slot(i: number): number {
  return APERTURE.VCMDQ_STRIDE * i;
}

/** Which aperture page an offset falls in, and the offset inside it. */
export interface PageRef {
  readonly page: "config" | "vcmdq0" | "vcmdq1" | "vintf0" | "vintf1";
  /** The VINTF index for vintf pages, else 0. */
  readonly vintf: number;
  readonly offset: number;
}

export function pageOf(offset: number): PageRef | undefined {
  if (offset < 0) return undefined;
  if (offset < APERTURE.VCMDQ_PAGE0) return { page: "config", vintf: 0, offset };
  if (offset < APERTURE.VCMDQ_PAGE1)
    return { page: "vcmdq0", vintf: 0, offset: offset - APERTURE.VCMDQ_PAGE0 };
  if (offset < APERTURE.VINTF_PAGE0)
    return { page: "vcmdq1", vintf: 0, offset: offset - APERTURE.VCMDQ_PAGE1 };
  const rel = offset - APERTURE.VINTF_PAGE0;
  const vintf = Math.floor(rel / APERTURE.VINTF_STRIDE);
  const inPair = rel - vintf * APERTURE.VINTF_STRIDE;
  return inPair < APERTURE.PAGE_SIZE
    ? { page: "vintf0", vintf, offset: inPair }
    : { page: "vintf1", vintf, offset: inPair - APERTURE.PAGE_SIZE };
}

/** Tables for a given geometry, for decoding whole-aperture offsets. */
export interface CmdqvTables {
  readonly config: RegBlock;
  readonly page0: RegBlock;
  readonly page1: RegBlock;
  readonly vintfPage0: RegBlock;
  readonly vintfPage1: RegBlock;
}

export function cmdqvTables(geom: {
  numVcmdqs: number;
  numVintfs: number;
  numSids: number;
  param: number;
  lvcmdqsPerVintf: number;
}): CmdqvTables {
  return {
    config: configPage(geom.numVcmdqs, geom.numVintfs, geom.numSids, geom.param),
    page0: slotPage("vcmdq_page0", "VCMDQ", geom.numVcmdqs, vcmdqPage0Slot()),
    page1: slotPage("vcmdq_page1", "VCMDQ", geom.numVcmdqs, vcmdqPage1Slot()),
    vintfPage0: slotPage("vintf_page0", "LVCMDQ", geom.lvcmdqsPerVintf, vcmdqPage0Slot()),
    vintfPage1: slotPage("vintf_page1", "LVCMDQ", geom.lvcmdqsPerVintf, vcmdqPage1Slot()),
  };
}

/** Decode an access at a whole-aperture offset: `VINTF1 LVCMDQ0_PROD_INDX: WR=0x3`. */
export function decodeAperture(t: CmdqvTables, offset: number, value: bigint | number): string {
  const p = pageOf(offset);
  if (!p) return `?+0x${offset.toString(16)}`;
  const blockOf = {
    config: t.config,
    vcmdq0: t.page0,
    vcmdq1: t.page1,
    vintf0: t.vintfPage0,
    vintf1: t.vintfPage1,
  }[p.page];
  const prefix = p.page.startsWith("vintf") ? `VINTF${p.vintf} ` : "";
  const r = findIn(blockOf, p.offset);
  if (!r)
    return `${prefix}${blockOf.name}+0x${p.offset.toString(16)} (unknown) = 0x${BigInt(value).toString(16)}`;
  return `${prefix}${r.name}: ${decodeValue(r, value)}`;
}
