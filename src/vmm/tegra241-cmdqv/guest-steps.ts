// Register-level guest steps for device-model tests, named after what the Linux guest
// driver does (spec linux §4.4). Offsets are from the CMDQV window base.

import { APERTURE, BITS, CFG, VCMDQ0, VCMDQ1, VINTF } from "../../regs/cmdqv.js";

export interface GuestPort {
  w32(off: number, v: number): void;
  r32(off: number): number;
  w64(off: number, v: bigint): void;
}

export const OFF = {
  CONFIG: CFG.CONFIG,
  STATUS: CFG.STATUS,
  VI_ERR_MAP_0: CFG.VI_ERR_MAP_0,
  VI_INT_MASK_0: CFG.VI_INT_MASK_0,
  CMDQ_ERR_MAP_0: CFG.CMDQ_ERR_MAP_0,
  VINTF0_CONFIG: CFG.VINTF_0 + VINTF.CONFIG,
  VINTF0_STATUS: CFG.VINTF_0 + VINTF.STATUS,
  VINTF0_LVCMDQ_ERR_MAP_0: CFG.VINTF_0 + VINTF.LVCMDQ_ERR_MAP_0,
  alloc: (i: number) => CFG.CMDQ_ALLOC_0 + 4 * i,
  /** Page0 register of VCMDQ i in the direct (0x10000) or VINTF (0x30000) aperture. */
  page0: (i: number, reg: number, vi = true) =>
    (vi ? APERTURE.VINTF_PAGE0 : APERTURE.VCMDQ_PAGE0) + APERTURE.VCMDQ_STRIDE * i + reg,
  page1: (i: number, reg: number, vi = true) =>
    (vi ? APERTURE.VINTF_PAGE1 : APERTURE.VCMDQ_PAGE1) + APERTURE.VCMDQ_STRIDE * i + reg,
} as const;

/** BASE as the driver builds it: ADDR [47:5] | LOG2SIZE. */
export function qBase(gpa: number, log2size: number): bigint {
  return BigInt(gpa) | BigInt(log2size);
}

/** Map VCMDQ i to VINTF0 LVCMDQ i with ALLOCATED set (Linux's map_lvcmdq). */
export function allocMapValue(i: number, allocated: boolean): number {
  return ((i << 1) | (allocated ? BITS.ALLOC : 0)) >>> 0;
}

/** The five configuration writes that gate allocation of VCMDQ i. spec: qemu §3.1. */
export function gateWrites(g: GuestPort, i: number, gpa: number, log2size: number) {
  const base = qBase(gpa, log2size);
  return {
    BASE_L: () => g.w32(OFF.page1(i, VCMDQ1.BASE_L), Number(base & 0xffff_ffffn)),
    BASE_H: () => g.w32(OFF.page1(i, VCMDQ1.BASE_H), Number(base >> 32n)),
    ALLOC: () => g.w32(OFF.alloc(i), allocMapValue(i, true)),
    CMDQV_EN: () => g.w32(OFF.CONFIG, g.r32(OFF.CONFIG) | BITS.CMDQV_EN),
    VINTF_EN: () => g.w32(OFF.VINTF0_CONFIG, BITS.VINTF_HYP_OWN | BITS.VINTF_ENABLE),
  } as const;
}

/**
 * The Linux guest's bring-up of VINTF0 and its LVCMDQs in the driver's register order
 * (spec linux §4.4 R1–R4, V1–V5, M/D/I), without the polls: a test advances time itself.
 */
export function linuxBringUp(
  g: GuestPort,
  queues: readonly { gpa: number; log2size: number }[],
  opts: { enableQueues?: boolean } = {},
): void {
  const n = queues.length;
  const cfg = g.r32(OFF.CONFIG);
  g.w32(OFF.CONFIG, cfg & ~BITS.CMDQV_EN);
  g.w32(OFF.CONFIG, cfg | BITS.CMDQV_EN);
  for (let q = 0; q < n; q++) g.w32(OFF.alloc(q), allocMapValue(q, false));
  for (let q = n - 1; q >= 0; q--) lvcmdqDeinit(g, q);
  g.w32(OFF.VINTF0_CONFIG, 0);
  g.w32(OFF.VINTF0_CONFIG, BITS.VINTF_HYP_OWN);
  g.w32(OFF.VINTF0_CONFIG, BITS.VINTF_HYP_OWN | BITS.VINTF_ENABLE);
  for (let q = 0; q < n; q++) {
    g.w32(OFF.alloc(q), g.r32(OFF.alloc(q)) | BITS.ALLOC);
    lvcmdqDeinit(g, q);
    const { gpa, log2size } = queues[q]!;
    g.w64(OFF.page1(q, VCMDQ1.BASE_L), qBase(gpa, log2size));
    if (opts.enableQueues !== false) g.w32(OFF.page0(q, VCMDQ0.CONFIG), BITS.CMDQ_EN);
  }
}

/** vcmdq_hw_deinit D1, D3–D5 (D2 is a main-CMDQ sync). spec: linux §4.4. */
export function lvcmdqDeinit(g: GuestPort, q: number): void {
  g.w32(OFF.page0(q, VCMDQ0.CONFIG), 0);
  g.w32(OFF.page0(q, VCMDQ0.PROD), 0);
  g.w32(OFF.page0(q, VCMDQ0.CONS), 0);
  g.w64(OFF.page1(q, VCMDQ1.BASE_L), 0n);
  g.w64(OFF.page1(q, VCMDQ1.CONS_INDX_BASE_L), 0n);
  const gerror = g.r32(OFF.page0(q, VCMDQ0.GERROR));
  if (g.r32(OFF.page0(q, VCMDQ0.GERRORN)) !== gerror) g.w32(OFF.page0(q, VCMDQ0.GERRORN), gerror);
}
