// SMMUv3 register pages as QEMU's hw/arm/smmuv3.c decodes them (QEMU virt maps them at
// 0x0905_0000; offsets here are relative to that base). One declarative table, the source
// for trace decoding, docs and the viewer; the device keeps its own fast switch.
//
// facts: QEMU hw/arm/smmuv3-internal.h (offsets, FIELD positions, SMMU_CMDQS/EVENTQS,
//   SMMU_IDR1_SIDSIZE, SMMU_IDR5_OAS, SMMU_CR0_RESERVED, SMMU_GBPA_RESET_VAL,
//   SMMU_BASE_ADDR_MASK, the ID-register bytes of smmuv3_idreg()).
// facts: QEMU hw/arm/smmuv3.c smmu_read_mmio/smmu_write_mmio (page 1 is an exact alias of
//   page 0: the offset is masked with ~0x10000; the region is 0x20000 bytes).
// Where QEMU 7.2 and the accel-era QEMU (11.x) differ, see profile.ts.

import {
  block,
  decode as decodeValue,
  field,
  fieldMask,
  findReg,
  type RegBlock,
  type RegDef,
  reg,
} from "./regdef.js";

/** Size of the MMIO region QEMU registers ("arm-smmuv3", 0x20000). facts: smmuv3.c realize. */
export const SMMUV3_MMIO_SIZE = 0x2_0000;

/** QEMU treats page 1 as an exact alias of page 0: `offset &= ~0x10000`. facts: smmuv3.c. */
export const PAGE1_ALIAS_BIT = 0x1_0000;

/** The region name QEMU's memory core prints in "Invalid read/write" messages. */
export const SMMUV3_REGION_NAME = "arm-smmuv3";

/** Register offsets. facts: QEMU hw/arm/smmuv3-internal.h (REG32 / A_* defines). */
export const SMMU_REG = {
  IDR0: 0x00,
  IDR1: 0x04,
  IDR2: 0x08,
  IDR3: 0x0c,
  IDR4: 0x10,
  IDR5: 0x14,
  IIDR: 0x18,
  AIDR: 0x1c,
  CR0: 0x20,
  CR0ACK: 0x24,
  CR1: 0x28,
  CR2: 0x2c,
  STATUSR: 0x40,
  GBPA: 0x44,
  IRQ_CTRL: 0x50,
  IRQ_CTRLACK: 0x54,
  GERROR: 0x60,
  GERRORN: 0x64,
  /** 64-bit; QEMU also decodes its two 32-bit halves. */
  GERROR_IRQ_CFG0: 0x68,
  GERROR_IRQ_CFG1: 0x70,
  GERROR_IRQ_CFG2: 0x74,
  /** 64-bit. */
  STRTAB_BASE: 0x80,
  STRTAB_BASE_CFG: 0x88,
  /** 64-bit. */
  CMDQ_BASE: 0x90,
  CMDQ_PROD: 0x98,
  CMDQ_CONS: 0x9c,
  /** 64-bit. */
  EVENTQ_BASE: 0xa0,
  /** Page-0 decode of EVENTQ_PROD; the architecture puts it at 0x100a8 (page 1). */
  EVENTQ_PROD: 0xa8,
  EVENTQ_CONS: 0xac,
  /** 64-bit. */
  EVENTQ_IRQ_CFG0: 0xb0,
  EVENTQ_IRQ_CFG1: 0xb8,
  EVENTQ_IRQ_CFG2: 0xbc,
  /** First of the twelve Primecell/Corelink ID registers (PIDR4..CIDR3). */
  IDREGS: 0xfd0,
  /** Architectural page-1 locations of EVENTQ_PROD/CONS; QEMU reaches them by aliasing. */
  EVENTQ_PROD_PAGE1: 0x1_00a8,
  EVENTQ_CONS_PAGE1: 0x1_00ac,
} as const;

/** The ID register bytes at 0xfd0 + 4·i ("an ARM implementation of MMU600 p1"). facts: smmuv3-internal.h smmuv3_idreg. */
export const SMMU_IDREG_BYTES: readonly number[] = [
  0x04, 0, 0, 0, 0x84, 0xb4, 0xf0, 0x10, 0x0d, 0xf0, 0x05, 0xb1,
];

/** Largest queue log2 sizes QEMU accepts (BASE.LOG2SIZE is clamped to these). facts: smmuv3-internal.h. */
export const SMMU_CMDQS = 19;
export const SMMU_EVENTQS = 19;
/** IDR1.SIDSIZE QEMU advertises. facts: smmuv3-internal.h SMMU_IDR1_SIDSIZE. */
export const SMMU_IDR1_SIDSIZE = 16;
/** IDR5.OAS encodings: 4 = 44 bits (QEMU's default), 5 = 48 bits (accel `oas=48`). facts: smmuv3-internal.h, smmuv3-accel.c. */
export const SMMU_IDR5_OAS_44 = 4;
export const SMMU_IDR5_OAS_48 = 5;
/** CR0ACK = CR0 & ~SMMU_CR0_RESERVED. facts: smmuv3-internal.h SMMU_CR0_RESERVED 0xFFFFFC20. */
export const SMMU_CR0_RESERVED = 0xffff_fc20;
/** GBPA reset value: SHCFG = 1 ("use incoming"). facts: smmuv3-internal.h SMMU_GBPA_RESET_VAL. */
export const SMMU_GBPA_RESET = 0x1000;
/** GBPA.UPDATE: a write without it is ignored; QEMU stores the rest synchronously. */
export const GBPA_UPDATE = 0x8000_0000;
/** AIDR QEMU reports (SMMUv3.1). facts: smmuv3.c init regs `s->aidr = 0x1`. */
export const SMMU_AIDR = 0x1;

/**
 * Address bits QEMU takes from STRTAB_BASE/CMDQ_BASE/EVENTQ_BASE: [51:6]
 * (SMMU_BASE_ADDR_MASK 0xfffffffffffc0). Bit 5 (architecturally part of CMDQ_BASE.ADDR) is
 * dropped. facts: smmuv3-internal.h; confirmed on QEMU 7.2.22 over qtest (a CMDQ_BASE of
 * RAM+0x20 fetches from RAM+0; bits 47..51 are used, bit 52 is not).
 */
export const SMMU_BASE_ADDR_MASK_LO = 0xffff_ffc0;
export const SMMU_BASE_ADDR_MASK_HI = 0x000f_ffff;

/** Fields, by register. facts: QEMU hw/arm/smmuv3-internal.h FIELD(). */
export const SMMU_F = {
  IDR0: {
    S2P: field("S2P", 0, 1),
    S1P: field("S1P", 1, 1),
    TTF: field("TTF", 2, 2),
    COHACC: field("COHACC", 4, 1),
    BTM: field("BTM", 5, 1),
    HTTU: field("HTTU", 6, 2),
    DORMHINT: field("DORMHINT", 8, 1),
    HYP: field("HYP", 9, 1),
    ATS: field("ATS", 10, 1),
    NS1ATS: field("NS1ATS", 11, 1),
    ASID16: field("ASID16", 12, 1),
    MSI: field("MSI", 13, 1),
    SEV: field("SEV", 14, 1),
    ATOS: field("ATOS", 15, 1),
    PRI: field("PRI", 16, 1),
    VMW: field("VMW", 17, 1),
    VMID16: field("VMID16", 18, 1),
    CD2L: field("CD2L", 19, 1),
    VATOS: field("VATOS", 20, 1),
    TTENDIAN: field("TTENDIAN", 21, 2),
    ATSRECERR: field("ATSRECERR", 23, 1),
    STALL_MODEL: field("STALL_MODEL", 24, 2),
    TERM_MODEL: field("TERM_MODEL", 26, 1),
    STLEVEL: field("STLEVEL", 27, 2),
    RME_IMPL: field("RME_IMPL", 30, 1),
  },
  IDR1: {
    SIDSIZE: field("SIDSIZE", 0, 6),
    SSIDSIZE: field("SSIDSIZE", 6, 5),
    PRIQS: field("PRIQS", 11, 5),
    EVENTQS: field("EVENTQS", 16, 5),
    CMDQS: field("CMDQS", 21, 5),
    ATTR_PERMS_OVR: field("ATTR_PERMS_OVR", 26, 1),
    ATTR_TYPES_OVR: field("ATTR_TYPES_OVR", 27, 1),
    REL: field("REL", 28, 1),
    QUEUES_PRESET: field("QUEUES_PRESET", 29, 1),
    TABLES_PRESET: field("TABLES_PRESET", 30, 1),
    ECMDQ: field("ECMDQ", 31, 1),
  },
  IDR2: { BA_VATOS: field("BA_VATOS", 0, 10) },
  IDR3: {
    HAD: field("HAD", 2, 1),
    PBHA: field("PBHA", 3, 1),
    XNX: field("XNX", 4, 1),
    PPS: field("PPS", 5, 1),
    MPAM: field("MPAM", 7, 1),
    FWB: field("FWB", 8, 1),
    STT: field("STT", 9, 1),
    RIL: field("RIL", 10, 1),
    BBML: field("BBML", 11, 2),
    E0PD: field("E0PD", 13, 1),
    PTWNNC: field("PTWNNC", 14, 1),
    DPT: field("DPT", 15, 1),
  },
  IDR5: {
    OAS: field("OAS", 0, 3),
    GRAN4K: field("GRAN4K", 4, 1),
    GRAN16K: field("GRAN16K", 5, 1),
    GRAN64K: field("GRAN64K", 6, 1),
    VAX: field("VAX", 10, 2),
    STALL_MAX: field("STALL_MAX", 16, 16),
  },
  CR0: {
    SMMUEN: field("SMMUEN", 0, 1),
    EVENTQEN: field("EVENTQEN", 2, 1),
    CMDQEN: field("CMDQEN", 3, 1),
  },
  GBPA: { ABORT: field("ABORT", 20, 1), UPDATE: field("UPDATE", 31, 1) },
  IRQ_CTRL: {
    GERROR_IRQEN: field("GERROR_IRQEN", 0, 1),
    PRI_IRQEN: field("PRI_IRQEN", 1, 1),
    EVENTQ_IRQEN: field("EVENTQ_IRQEN", 2, 1),
  },
  GERROR: {
    CMDQ_ERR: field("CMDQ_ERR", 0, 1),
    EVENTQ_ABT_ERR: field("EVENTQ_ABT_ERR", 2, 1),
    PRIQ_ABT_ERR: field("PRIQ_ABT_ERR", 3, 1),
    MSI_CMDQ_ABT_ERR: field("MSI_CMDQ_ABT_ERR", 4, 1),
    MSI_EVENTQ_ABT_ERR: field("MSI_EVENTQ_ABT_ERR", 5, 1),
    MSI_PRIQ_ABT_ERR: field("MSI_PRIQ_ABT_ERR", 6, 1),
    MSI_GERROR_ABT_ERR: field("MSI_GERROR_ABT_ERR", 7, 1),
    MSI_SFM_ERR: field("MSI_SFM_ERR", 8, 1),
  },
  STRTAB_BASE_CFG: {
    LOG2SIZE: field("LOG2SIZE", 0, 6),
    SPLIT: field("SPLIT", 6, 5),
    FMT: field("FMT", 16, 2),
  },
  /** Queue BASE: LOG2SIZE [4:0]; ADDR as QEMU uses it, [51:6] (see SMMU_BASE_ADDR_MASK_*). */
  QBASE: { LOG2SIZE: field("LOG2SIZE", 0, 5), ADDR: field("ADDR", 6, 46) },
  /** STRTAB_BASE: ADDR [51:6] as QEMU masks it. */
  STRTAB_BASE: { ADDR: field("ADDR", 6, 46) },
  CMDQ_CONS: { ERR: field("ERR", 24, 7) },
} as const;

/** Hot-path bit masks (u32), computed once from SMMU_F. */
export const SMMU_BITS = {
  CR0_SMMUEN: fieldMask(SMMU_F.CR0.SMMUEN),
  CR0_EVENTQEN: fieldMask(SMMU_F.CR0.EVENTQEN),
  CR0_CMDQEN: fieldMask(SMMU_F.CR0.CMDQEN),
  IRQ_CTRL_GERROR_IRQEN: fieldMask(SMMU_F.IRQ_CTRL.GERROR_IRQEN),
  IRQ_CTRL_EVENTQ_IRQEN: fieldMask(SMMU_F.IRQ_CTRL.EVENTQ_IRQEN),
  GERROR_CMDQ_ERR: fieldMask(SMMU_F.GERROR.CMDQ_ERR),
  IDR0_S2P: fieldMask(SMMU_F.IDR0.S2P),
  IDR0_S1P: fieldMask(SMMU_F.IDR0.S1P),
} as const;

/** Names of the Primecell/Corelink ID registers at 0xfd0.. (architectural order). */
const ID_REG_NAMES: readonly string[] = [
  "PIDR4",
  "PIDR5",
  "PIDR6",
  "PIDR7",
  "PIDR0",
  "PIDR1",
  "PIDR2",
  "PIDR3",
  "CIDR0",
  "CIDR1",
  "CIDR2",
  "CIDR3",
];

const S = "QEMU hw/arm/smmuv3-internal.h";

/** The tables made so far, by their `idr` and `gbpa`. */
const blocks = new Map<string, RegBlock>();

/**
 * The register table for one SMMUv3 instance: `idr` (six values) and `gbpa` (whether the
 * version has GBPA: QEMU 8.0+) decide resets and presence. Made once per (idr, gbpa) and
 * frozen, table, registers and fields: every machine built with them shares it (building
 * it was a fifth of building a machine).
 */
export function smmuv3Block(opts: { idr: readonly number[]; gbpa: boolean }): RegBlock {
  const key = `${opts.idr.join()}/${opts.gbpa}`;
  let b = blocks.get(key);
  if (b === undefined) {
    b = frozenBlock(makeSmmuv3Block(opts));
    blocks.set(key, b);
  }
  return b;
}

function frozenBlock(b: RegBlock): RegBlock {
  for (const r of b.regs) {
    for (const fd of r.fields) Object.freeze(fd);
    Object.freeze(r.fields);
    Object.freeze(r);
  }
  Object.freeze(b.regs);
  return Object.freeze(b);
}

function makeSmmuv3Block(opts: { idr: readonly number[]; gbpa: boolean }): RegBlock {
  const f = SMMU_F;
  const idr = (i: number): number => opts.idr[i] ?? 0;
  const ro = { access: "ro" as const, spec: S };
  const regs: RegDef[] = [
    reg("IDR0", SMMU_REG.IDR0, { ...ro, reset: idr(0), fields: Object.values(f.IDR0) }),
    reg("IDR1", SMMU_REG.IDR1, { ...ro, reset: idr(1), fields: Object.values(f.IDR1) }),
    reg("IDR2", SMMU_REG.IDR2, { ...ro, reset: idr(2), fields: Object.values(f.IDR2) }),
    reg("IDR3", SMMU_REG.IDR3, { ...ro, reset: idr(3), fields: Object.values(f.IDR3) }),
    reg("IDR4", SMMU_REG.IDR4, { ...ro, reset: idr(4) }),
    reg("IDR5", SMMU_REG.IDR5, { ...ro, reset: idr(5), fields: Object.values(f.IDR5) }),
    reg("IIDR", SMMU_REG.IIDR, { ...ro }),
    reg("AIDR", SMMU_REG.AIDR, { ...ro, reset: SMMU_AIDR }),
    reg("CR0", SMMU_REG.CR0, { fields: Object.values(f.CR0), spec: S }),
    reg("CR0ACK", SMMU_REG.CR0ACK, { ...ro, fields: Object.values(f.CR0) }),
    reg("CR1", SMMU_REG.CR1, { spec: S }),
    reg("CR2", SMMU_REG.CR2, { spec: S }),
    reg("STATUSR", SMMU_REG.STATUSR, { ...ro }),
    reg("IRQ_CTRL", SMMU_REG.IRQ_CTRL, { fields: Object.values(f.IRQ_CTRL), spec: S }),
    reg("IRQ_CTRLACK", SMMU_REG.IRQ_CTRLACK, { ...ro, fields: Object.values(f.IRQ_CTRL) }),
    reg("GERROR", SMMU_REG.GERROR, { ...ro, fields: Object.values(f.GERROR) }),
    reg("GERRORN", SMMU_REG.GERRORN, { fields: Object.values(f.GERROR), spec: S }),
    reg("GERROR_IRQ_CFG0", SMMU_REG.GERROR_IRQ_CFG0, { bits: 64, spec: S }),
    reg("GERROR_IRQ_CFG1", SMMU_REG.GERROR_IRQ_CFG1, { spec: S }),
    reg("GERROR_IRQ_CFG2", SMMU_REG.GERROR_IRQ_CFG2, { spec: S }),
    reg("STRTAB_BASE", SMMU_REG.STRTAB_BASE, {
      bits: 64,
      fields: Object.values(f.STRTAB_BASE),
      spec: S,
    }),
    reg("STRTAB_BASE_CFG", SMMU_REG.STRTAB_BASE_CFG, {
      fields: Object.values(f.STRTAB_BASE_CFG),
      spec: S,
    }),
    reg("CMDQ_BASE", SMMU_REG.CMDQ_BASE, {
      bits: 64,
      reset: SMMU_CMDQS,
      fields: Object.values(f.QBASE),
      spec: S,
    }),
    reg("CMDQ_PROD", SMMU_REG.CMDQ_PROD, { spec: S }),
    reg("CMDQ_CONS", SMMU_REG.CMDQ_CONS, { fields: [f.CMDQ_CONS.ERR], spec: S }),
    reg("EVENTQ_BASE", SMMU_REG.EVENTQ_BASE, {
      bits: 64,
      reset: SMMU_EVENTQS,
      fields: Object.values(f.QBASE),
      spec: S,
    }),
    reg("EVENTQ_PROD", SMMU_REG.EVENTQ_PROD, { spec: S }),
    reg("EVENTQ_CONS", SMMU_REG.EVENTQ_CONS, { spec: S }),
    reg("EVENTQ_IRQ_CFG0", SMMU_REG.EVENTQ_IRQ_CFG0, { bits: 64, spec: S }),
    reg("EVENTQ_IRQ_CFG1", SMMU_REG.EVENTQ_IRQ_CFG1, { spec: S }),
    reg("EVENTQ_IRQ_CFG2", SMMU_REG.EVENTQ_IRQ_CFG2, { spec: S }),
    ...SMMU_IDREG_BYTES.map((b, i) =>
      reg(ID_REG_NAMES[i] ?? `IDREG${i}`, SMMU_REG.IDREGS + 4 * i, { ...ro, reset: b }),
    ),
    reg("EVENTQ_PROD(page1)", SMMU_REG.EVENTQ_PROD_PAGE1, { spec: S }),
    reg("EVENTQ_CONS(page1)", SMMU_REG.EVENTQ_CONS_PAGE1, { spec: S }),
  ];
  if (opts.gbpa)
    regs.push(
      reg("GBPA", SMMU_REG.GBPA, {
        reset: SMMU_GBPA_RESET,
        fields: Object.values(f.GBPA),
        spec: S,
      }),
    );
  return block("smmuv3", SMMUV3_MMIO_SIZE, regs);
}

/**
 * Trace text for an access at `offset`: the register at the offset itself, else at its
 * page-0 alias (QEMU's decode), else the high half of a 64-bit register, else unknown.
 * E.g. `CR0: SMMUEN=1 EVENTQEN=0 CMDQEN=1`, `CMDQ_BASE[63:32] = 0x0`.
 */
export function decodeSmmuAccess(b: RegBlock, offset: number, value: bigint | number): string {
  let r = findReg(b, offset);
  let suffix = "";
  if (!r && offset & PAGE1_ALIAS_BIT) {
    r = findReg(b, offset & ~PAGE1_ALIAS_BIT);
    suffix = " (page1 alias)";
  }
  if (r) return `${r.name}${suffix}: ${decodeValue(r, value)}`;
  const low = findReg(b, (offset & ~PAGE1_ALIAS_BIT) - 4);
  if (low && low.bits === 64)
    return `${low.name}[63:32]${suffix} = 0x${BigInt(value).toString(16)}`;
  return `smmuv3+0x${offset.toString(16)} (unknown) = 0x${BigInt(value).toString(16)}`;
}
