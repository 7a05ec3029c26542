// SMMUv3 queue index arithmetic with the wrap bit. spec: linux §5 "Queue indices".
//
// For a queue of 2^n entries (n = LOG2SIZE), a PROD or CONS register value holds the
// index in bits [n-1:0] and the wrap bit at bit n. Everything above bit n is not part of
// the position (CONS.ERR at [30:24], the driver's "owned" flag at PROD bit 31, other
// register fields): every function here ignores those bits, and the one that returns a
// register value (qAdvance) keeps them unchanged.
//
// All functions are pure, take and return plain numbers and allocate nothing, so the
// consumer engine and the guest driver can call them per command. They do not validate
// `log2` (0..QUEUE_LOG2SIZE_MAX) on this path; queueLayout() does.

import { mask } from "../bits/u32.js";
import { CMD_BYTES } from "./commands.js";

/**
 * Largest LOG2SIZE: VCMDQ index fields are 20 bits ([19:0] in QEMU), i.e. 19 index bits
 * plus the wrap bit. spec: linux §5 [inf].
 */
export const QUEUE_LOG2SIZE_MAX = 19;

/** log2 of the entry size (CMDQ_ENT_SZ_SHIFT). spec: linux §5. */
export const CMDQ_ENT_SZ_SHIFT = 4;

/** Index bits [log2-1:0] of a PROD/CONS value (Q_IDX). */
export function qIdx(v: number, log2: number): number {
  return (v & mask(log2)) >>> 0;
}

/** Wrap bit (bit log2) of a PROD/CONS value (Q_WRP), as 0 or 1. */
export function qWrap(v: number, log2: number): number {
  return (v >>> log2) & 1;
}

/** The combined {wrap, idx} position, bits [log2:0]. */
export function qPos(v: number, log2: number): number {
  return (v & mask(log2 + 1)) >>> 0;
}

/** Empty: idx(P) == idx(C) and wrap(P) == wrap(C). spec: linux §5. */
export function qIsEmpty(prod: number, cons: number, log2: number): boolean {
  return ((prod ^ cons) & mask(log2 + 1)) === 0;
}

/** Full: idx(P) == idx(C) and wrap(P) != wrap(C). spec: linux §5. */
export function qIsFull(prod: number, cons: number, log2: number): boolean {
  return ((prod ^ cons) & mask(log2 + 1)) >>> 0 === 2 ** log2;
}

/**
 * Free entries: 2^n − (idx(P) − idx(C)) when the wraps are equal, else idx(C) − idx(P).
 * spec: linux §5. The literal formula is kept so a state no correct producer can reach
 * (PROD behind CONS, or more than a full queue ahead) shows up as a result outside
 * [0, 2^n] instead of being silently folded into range.
 */
export function qFreeSpace(prod: number, cons: number, log2: number): number {
  const p = qIdx(prod, log2);
  const c = qIdx(cons, log2);
  return qWrap(prod, log2) === qWrap(cons, log2) ? 2 ** log2 - (p - c) : c - p;
}

/**
 * Entries produced but not yet consumed: 2^n − qFreeSpace, i.e. idx(P) − idx(C) when the
 * wraps are equal, else 2^n + idx(P) − idx(C). spec: linux §5 (complement of free space).
 */
export function qUsed(prod: number, cons: number, log2: number): number {
  const p = qIdx(prod, log2);
  const c = qIdx(cons, log2);
  return qWrap(prod, log2) === qWrap(cons, log2) ? p - c : 2 ** log2 + p - c;
}

/**
 * Advance a PROD/CONS value by `n` entries: add to the combined {wrap, idx} value modulo
 * 2^(log2+1) (spec: linux §5 "Advancing"); bits above the wrap bit are kept as they are.
 * `n` is any integer (negative steps back); the result is a u32.
 */
export function qAdvance(v: number, n: number, log2: number): number {
  const m = mask(log2 + 1);
  // `(pos + n) & m` is exact for any |n| < 2^53: ToInt32 reduces modulo 2^32, and
  // 2^(log2+1) divides 2^32.
  return ((v & ~m) | (((v & m) + n) & m)) >>> 0;
}

/**
 * True when CONS has moved past the entry at `syncProd` (the index a CMD_SYNC was
 * written at), which is how a CMDQV VCMDQ user waits for a CS=NONE sync (linux §2.4):
 * same wrap and idx(C) > idx(p), or different wrap and idx(C) <= idx(p). spec: linux §5.
 * Meaningful while CONS is within one queue length either side of the entry.
 */
export function qConsumedPast(cons: number, syncProd: number, log2: number): boolean {
  const c = qIdx(cons, log2);
  const p = qIdx(syncProd, log2);
  return qWrap(cons, log2) === qWrap(syncProd, log2) ? c > p : c <= p;
}

/**
 * Byte address of entry `idx`: base + 16·idx. `idx` may be a raw PROD/CONS value; only
 * its index bits are used. spec: linux §5 (16-byte entries).
 */
export function qEntryAddress(base: number, idx: number, log2: number): number {
  return base + qIdx(idx, log2) * CMD_BYTES;
}

/** Number of entries, 2^log2. */
export function qEntries(log2: number): number {
  return 2 ** log2;
}

/** Ring size in bytes, 16·2^log2. spec: linux §5 "Sizing". */
export function qSizeBytes(log2: number): number {
  return CMD_BYTES * 2 ** log2;
}

/** Where a queue's ring lives and how big it is. */
export interface QueueLayout {
  /** Byte address of entry 0. */
  readonly base: number;
  readonly log2size: number;
  /** 2^log2size. */
  readonly entries: number;
  /** 16·2^log2size. */
  readonly sizeBytes: number;
}

/**
 * Build a layout. Throws RangeError for a programming error: log2size outside
 * 0..QUEUE_LOG2SIZE_MAX, or a base that is not a non-negative safe integer. Alignment is
 * not required here (a guest may program a misaligned BASE); see qLayoutAligned.
 */
export function queueLayout(base: number, log2size: number): QueueLayout {
  if (!Number.isInteger(log2size) || log2size < 0 || log2size > QUEUE_LOG2SIZE_MAX)
    throw new RangeError(`log2size ${log2size} outside 0..${QUEUE_LOG2SIZE_MAX}`);
  if (!Number.isSafeInteger(base) || base < 0)
    throw new RangeError(`queue base ${base} is not a non-negative safe integer`);
  return { base, log2size, entries: qEntries(log2size), sizeBytes: qSizeBytes(log2size) };
}

/** The ring is aligned to its size, as the hardware requires. spec: linux §2.7, §5. */
export function qLayoutAligned(q: QueueLayout): boolean {
  return q.base % q.sizeBytes === 0;
}

/** Byte address of the entry a PROD/CONS value points at, for a layout. */
export function qLayoutEntry(q: QueueLayout, v: number): number {
  return qEntryAddress(q.base, v, q.log2size);
}
