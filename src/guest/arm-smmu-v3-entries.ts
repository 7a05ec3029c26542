// Stream table entries and context descriptors as the arm-smmu-v3 driver builds them for a
// device's default DMA domain, and its entry writer: the "hitless" update that changes a
// live 64-byte entry qword by qword, syncing the SMMU after every step that changed
// something (arm_smmu_write_entry), so the SMMU never sees a torn entry it uses.
//
// facts (no kernel code copied): Linux drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h
//   (STRTAB_STE_*, CTXDESC_CD_*, STRTAB_L1_DESC_*), arm-smmu-v3.c
//   (arm_smmu_make_abort_ste, arm_smmu_make_cdtable_ste, arm_smmu_make_s1_cd,
//   arm_smmu_get_ste_used, arm_smmu_get_cd_used, arm_smmu_entry_qword_diff,
//   arm_smmu_write_entry, entry_set); io-pgtable-arm.c (the stage-1 TCR and MAIR).

import type { ActorBody } from "./actor.js";

/** An STE or a CD: eight little-endian u64 qwords. */
export const ENTRY_QWORDS = 8;
export type Entry = bigint[];

const F = (v: bigint, shift: bigint) => v << shift;
const genmask = (hi: bigint, lo: bigint) => ((1n << (hi - lo + 1n)) - 1n) << lo;

/** STE word 0. */
const STE0_V = 1n;
const STE0_CFG = genmask(3n, 1n);
export const STE_CFG = { ABORT: 0n, BYPASS: 4n, S1_TRANS: 5n } as const;
const STE0_S1FMT = genmask(5n, 4n);
const STE0_S1CTXPTR = genmask(51n, 6n);
const STE0_S1CDMAX = genmask(63n, 59n);
/** STE word 1. */
const STE1_S1DSS = genmask(1n, 0n);
const STE1_S1DSS_SSID0 = 2n;
const STE1_S1DSS_BYPASS = 1n;
const STE1_S1CIR = genmask(3n, 2n);
const STE1_S1COR = genmask(5n, 4n);
const STE1_S1CSH = genmask(7n, 6n);
const STE1_S1STALLD = 1n << 27n;
const STE1_EATS = genmask(29n, 28n);
const STE1_STRW = genmask(31n, 30n);
const STE1_SHCFG = genmask(45n, 44n);
/** STE word 2. */
const STE2_S2VMID = genmask(15n, 0n);
/** Cacheability WBRA and shareability ISH of the stage-1 table walks. */
const CACHE_WBRA = 1n;
const SH_ISH = 3n;

/** CD word 0. */
const CD0_T0SZ_SHIFT = 0n;
const CD0_TG0_SHIFT = 6n;
const CD0_IRGN0_SHIFT = 8n;
const CD0_ORGN0_SHIFT = 10n;
const CD0_SH0_SHIFT = 12n;
const CD0_EPD0 = 1n << 14n;
const CD0_EPD1 = 1n << 30n;
const CD0_V = 1n << 31n;
const CD0_IPS_SHIFT = 32n;
const CD0_AA64 = 1n << 41n;
const CD0_R = 1n << 45n;
const CD0_A = 1n << 46n;
const CD0_ASET = 1n << 47n;
const CD0_ASID_SHIFT = 48n;
/** CD word 1: TTB0 [51:4]. */
const CD1_TTB0 = genmask(51n, 4n);
/** The TCR fields EPD0 makes unused. */
const CD0_TTB0_FIELDS = genmask(13n, 0n);

/** L1 stream table descriptor: SPAN [4:0], L2Ptr [51:6]. */
const L1_DESC_L2PTR = genmask(51n, 6n);

/**
 * io-pgtable-arm's MAIR for stage 1: NC (0x44), WBRWA (0xff), DEVICE (0x04), INC_OWBRWA
 * (0xf4) at indices 0..3.
 */
const S1_MAIR = 0xf404_ff44n;

function zero(): Entry {
  return new Array<bigint>(ENTRY_QWORDS).fill(0n);
}

/** arm_smmu_make_abort_ste: V with Config = abort (the driver's disable_bypass default). */
export function abortSte(): Entry {
  const e = zero();
  e[0] = STE0_V | F(STE_CFG.ABORT, 1n);
  return e;
}

/**
 * arm_smmu_make_cdtable_ste for a linear CD table of one CD (S1CDMax 0), substream 0 as
 * the default (S1DSS=SSID0), no ATS, the NS-EL1 stream world and no stall.
 */
export function cdtableSte(cdTable: number): Entry {
  const e = zero();
  e[0] =
    STE0_V | F(STE_CFG.S1_TRANS, 1n) | F(0n, 4n) | (BigInt(cdTable) & STE0_S1CTXPTR) | F(0n, 59n);
  e[1] = STE1_S1DSS_SSID0 | F(CACHE_WBRA, 2n) | F(CACHE_WBRA, 4n) | F(SH_ISH, 6n);
  return e;
}

/**
 * arm_smmu_make_s1_cd for a DMA domain: 48-bit input (T0SZ 16), 4 KiB granule, write-back
 * inner-shareable walks, TTB1 disabled, output size from IDR5.OAS (IPS), AArch64, faults
 * recorded (R), access flag faults (A), ASID set, the domain's ASID and page table.
 */
export function s1Cd(asid: number, ttb0: number, ips: number): Entry {
  const e = zero();
  e[0] =
    F(16n, CD0_T0SZ_SHIFT) |
    F(0n, CD0_TG0_SHIFT) |
    F(1n, CD0_IRGN0_SHIFT) |
    F(1n, CD0_ORGN0_SHIFT) |
    F(SH_ISH, CD0_SH0_SHIFT) |
    CD0_EPD1 |
    CD0_V |
    F(BigInt(ips & 7), CD0_IPS_SHIFT) |
    CD0_AA64 |
    CD0_R |
    CD0_A |
    CD0_ASET |
    F(BigInt(asid & 0xffff), CD0_ASID_SHIFT);
  e[1] = BigInt(ttb0) & CD1_TTB0;
  e[3] = S1_MAIR;
  return e;
}

/** arm_smmu_write_strtab_l1_desc: SPAN (log2 of the L2 table's STEs, plus one) and L2Ptr. */
export function l1Desc(span: number, l2Table: number): bigint {
  return BigInt(span & 0x1f) | (BigInt(l2Table) & L1_DESC_L2PTR);
}

/** arm_smmu_get_ste_used: the bits the SMMU reads from `e` as it stands. */
export function steUsed(e: readonly bigint[]): Entry {
  const u = zero();
  u[0] = STE0_V;
  if ((e[0]! & STE0_V) === 0n) return u;
  u[0] = u[0]! | STE0_CFG;
  const cfg = (e[0]! & STE0_CFG) >> 1n;
  if (cfg === STE_CFG.BYPASS) u[1] = STE1_SHCFG;
  else if (cfg === STE_CFG.S1_TRANS) {
    u[0] = u[0]! | STE0_S1FMT | STE0_S1CTXPTR | STE0_S1CDMAX;
    u[1] =
      STE1_S1DSS | STE1_S1CIR | STE1_S1COR | STE1_S1CSH | STE1_S1STALLD | STE1_STRW | STE1_EATS;
    u[2] = STE2_S2VMID;
    if ((e[1]! & STE1_S1DSS) === STE1_S1DSS_BYPASS) u[1] = u[1]! | STE1_SHCFG;
  }
  return u;
}

/** arm_smmu_get_cd_used: only V of an invalid CD; everything of a valid one (EPD0 aside). */
export function cdUsed(e: readonly bigint[]): Entry {
  const u = zero();
  u[0] = CD0_V;
  if ((e[0]! & CD0_V) === 0n) return u;
  u.fill((1n << 64n) - 1n);
  if ((e[0]! & CD0_EPD0) !== 0n) {
    u[0] = u[0]! & ~CD0_TTB0_FIELDS;
    u[1] = u[1]! & ~CD1_TTB0;
  }
  return u;
}

/** Reads and writes the entry's qwords in guest memory, and syncs the SMMU. */
export interface EntryWriter {
  readonly addr: number;
  used(e: readonly bigint[]): Entry;
  /** The V bit of qword 0. */
  readonly vBit: bigint;
  read(gpa: number): bigint;
  write(gpa: number, v: bigint): void;
  /** The sync after a changing step (a CFGI + CMD_SYNC on the command queue). */
  sync(): ActorBody<number>;
}

/** entry_set: copy qwords [start, start+len) of `target`, then sync if any changed. */
function* entrySet(
  w: EntryWriter,
  cur: Entry,
  target: readonly bigint[],
  start: number,
  len: number,
): ActorBody<void> {
  let changed = false;
  for (let i = start; i < start + len; i++) {
    if (cur[i] === target[i]) continue;
    cur[i] = target[i]!;
    w.write(w.addr + 8 * i, target[i]!);
    changed = true;
  }
  if (changed) yield* w.sync();
}

/**
 * arm_smmu_write_entry: when only one qword's used bits change, first every bit the SMMU
 * does not use now, then that qword, then the rest (hitless); when several do, V=0 first,
 * then qwords 1..7, then qword 0; when none, the unused bits in one step.
 */
export function* writeEntry(w: EntryWriter, target: readonly bigint[]): ActorBody<void> {
  const cur: Entry = zero();
  for (let i = 0; i < ENTRY_QWORDS; i++) cur[i] = w.read(w.addr + 8 * i);
  const curUsed = w.used(cur);
  const targetUsed = w.used(target);
  const unused: Entry = zero();
  let diff = 0;
  for (let i = 0; i < ENTRY_QWORDS; i++) {
    unused[i] = (cur[i]! & curUsed[i]!) | (target[i]! & ~curUsed[i]!);
    if ((unused[i]! & targetUsed[i]!) !== target[i]) diff |= 1 << i;
  }
  const critical = diff === 0 ? 0 : (diff & (diff - 1)) === 0 ? 1 : 2;
  if (critical === 1) {
    const q = 31 - Math.clz32(diff);
    unused[q] = cur[q]!;
    yield* entrySet(w, cur, unused, 0, ENTRY_QWORDS);
    yield* entrySet(w, cur, target, q, 1);
    yield* entrySet(w, cur, target, 0, ENTRY_QWORDS);
  } else if (critical === 2) {
    unused[0] = cur[0]! & ~w.vBit;
    yield* entrySet(w, cur, unused, 0, 1);
    yield* entrySet(w, cur, target, 1, ENTRY_QWORDS - 1);
    yield* entrySet(w, cur, target, 0, 1);
  } else {
    yield* entrySet(w, cur, target, 0, ENTRY_QWORDS);
  }
}

export const STE_V_BIT = STE0_V;
export const CD_V_BIT = CD0_V;
