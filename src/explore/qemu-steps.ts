// The orderings program's steps as qtest lines, for real QEMU: the same guest semantics as
// orderings.ts's steps on the model, written as generators that yield one qtest line at a
// time and receive QEMU's reply (a guest that polls decides its next line from what it
// read). Pure: no process, no clock; the driver (qemu-orderings.ts) sends the lines.
//
// - BASE_L/BASE_H: writel to the VCMDQ's global page1 (0x20000 + 0x80·i).
// - ALLOC: writel CMDQ_ALLOC_MAP(i) = VINTF0 / LVCMDQ i / ALLOCATED.
// - ENABLE: writel CONFIG.CMDQ_EN through VINTF0's page0 (0x30000 + 0x80·i), then
//   Linux's poll of STATUS.CMDQ_EN_OK: clock_step 1 µs, doubling, for 1 s, each followed
//   by a readl; what it saw is remembered (Linux's vcmdq->enabled).
// - CMDQV_EN: readl CONFIG, writel CONFIG | CMDQV_EN. VINTF_EN: writel VINTF0 CONFIG.
// - SYNC: for a queue the guest saw enabled, TLBI_NH_ASID + CMD_SYNC written to the ring
//   in guest RAM at PROD, PROD moved past them, then CONS polled as the enable is (with
//   GERROR): a CONS that reaches PROD is done, CONS.ERR or a GERROR change is an error the
//   guest sees, and a second of neither is a silent hang.
// - every step is followed by clock_step 10 µs (the model's settle).

import type { GuestView } from "../check/invariants.js";
import { DEFAULT_MACHINE, LAYOUTS } from "../machine/config.js";
import { APERTURE, BITS, CFG, VCMDQ0, VCMDQ1 } from "../regs/cmdqv.js";
import { CS, encode } from "../smmu/commands.js";

/** Where QEMU 11.1's virt machine puts the CMDQV and guest RAM (qtest addresses). */
export const QEMU_GUEST_MAP = {
  cmdqv: LAYOUTS["qemu-11.1"].cmdqvBase,
  ramBase: DEFAULT_MACHINE.ramBase,
} as const;

/** A guest program: yields qtest lines, receives each one's reply, returns its result. */
export type QtestProgram<T = void> = Generator<string, T, string>;

const RING_SLOT = 0x20_0000;
const SETTLE_NS = 10_000;
const ONE_SECOND = 1_000_000_000;
const BASE_ADDR_MASK = 0x0000_ffff_ffff_ffe0n;

const p0 = (i: number, reg: number) => APERTURE.VINTF_PAGE0 + APERTURE.VCMDQ_STRIDE * i + reg;
const p1 = (i: number, reg: number) => APERTURE.VCMDQ_PAGE1 + APERTURE.VCMDQ_STRIDE * i + reg;

const hex = (n: number | bigint) => `0x${n.toString(16)}`;

/** Ring slots as the model's orderings program places them (a re-programmed ring: +8 slots). */
export function qemuRingGpa(i: number, alt = false): number {
  return QEMU_GUEST_MAP.ramBase + RING_SLOT * (1 + i + (alt ? 8 : 0));
}

/** A qtest reply that is not `OK…`: the translation asked for something QEMU refused. */
export class QtestReplyError extends Error {
  override readonly name = "QtestReplyError";
}

/**
 * What the guest knows: the BASE it programmed per queue, what each enable poll saw, its
 * silent CMD_SYNC timeouts (for no-silent-hang) and QEMU's virtual time from clock_step.
 */
export class QemuGuest implements GuestView {
  readonly log2: number;
  readonly enabledSeen: boolean[] = [];
  readonly silent: { queue: string; t: number }[] = [];
  /** QEMU's virtual ns, as its last clock_step answered. */
  now = 0;
  private readonly baseLo: number[] = [];
  private readonly baseHi: number[] = [];

  constructor(log2 = 12) {
    this.log2 = log2;
  }

  silentTimeouts(): readonly { readonly queue: string; readonly t: number }[] {
    return this.silent;
  }

  /** The ring the guest believes queue i has: the BASE it last wrote (the default slot before). */
  ringOf(i: number): number {
    const b = (BigInt(this.baseHi[i] ?? 0) << 32n) | BigInt(this.baseLo[i] ?? 0);
    const gpa = Number(b & BASE_ADDR_MASK);
    return gpa !== 0 ? gpa : qemuRingGpa(i);
  }

  /** Remember a BASE write (4 or 8 bytes) to queue i's page1. */
  noteBase(i: number, reg: number, v: bigint, bytes: 4 | 8): void {
    if (reg === VCMDQ1.BASE_L) this.baseLo[i] = Number(v & 0xffff_ffffn);
    if (reg === VCMDQ1.BASE_H || bytes === 8)
      this.baseHi[i] = Number((bytes === 8 ? v >> 32n : v) & 0xffff_ffffn);
  }
}

function ok(line: string, reply: string): string {
  if (!reply.startsWith("OK")) throw new QtestReplyError(`"${line}" → "${reply}"`);
  return reply;
}

function* writel(off: number, v: number): QtestProgram {
  const line = `writel ${hex(QEMU_GUEST_MAP.cmdqv + off)} ${hex(v >>> 0)}`;
  ok(line, yield line);
}

function* writeq(off: number, v: bigint): QtestProgram {
  const line = `writeq ${hex(QEMU_GUEST_MAP.cmdqv + off)} ${hex(v)}`;
  ok(line, yield line);
}

function* readl(off: number): QtestProgram<number> {
  const line = `readl ${hex(QEMU_GUEST_MAP.cmdqv + off)}`;
  const r = ok(line, yield line);
  const v = Number.parseInt(r.slice(3), 16);
  if (!Number.isFinite(v)) throw new QtestReplyError(`"${line}" → "${r}"`);
  return v >>> 0;
}

/** clock_step: QEMU answers with its new virtual time, which the guest keeps. */
function* advance(g: QemuGuest, ns: number): QtestProgram {
  const line = `clock_step ${ns}`;
  const r = ok(line, yield line);
  const now = Number(r.slice(3));
  if (Number.isFinite(now)) g.now = now;
}

/** 16 bytes of a command, as qtest's `write ADDR 16 0xHEX` wants them (little endian). */
export function commandBytes(words: readonly [bigint, bigint]): string {
  let s = "0x";
  for (const w of words)
    for (let b = 0; b < 8; b++)
      s += Number((w >> BigInt(8 * b)) & 0xffn)
        .toString(16)
        .padStart(2, "0");
  return s;
}

/** Linux's poll: read until `done`, 1 µs then doubling back-off, 1 s timeout. */
function* pollFor(
  g: QemuGuest,
  read: () => QtestProgram<number>,
  done: (v: number) => boolean,
): QtestProgram<boolean> {
  for (let waited = 0, step = 1000; waited <= ONE_SECOND; waited += step, step *= 2) {
    yield* advance(g, step);
    if (done(yield* read())) return true;
  }
  return false;
}

/** The step names the driver may be given (those of orderings.ts). */
export function isQemuStep(name: string): boolean {
  return /^(BASE_L|BASE_H|ALLOC|ENABLE|REPROGRAM|ALLOC_TOGGLE|SYNC)\d+$|^(CMDQV_EN|VINTF_EN|CMDQV_REENABLE|VINTF_REENABLE|CONFIG_REWRITE|RESET)$/.test(
    name,
  );
}

/**
 * One named step of the orderings program as a qtest program, followed by the settle.
 * Throws on a name the translation does not know. RESET is `system_reset`, which the
 * relay runs through QEMU's monitor (the session must have one).
 */
export function* stepProgram(name: string, g: QemuGuest): QtestProgram {
  const m = /^([A-Z_]+?)(\d+)?$/.exec(name);
  const what = m?.[1] ?? name;
  const i = m?.[2] !== undefined ? Number(m[2]) : -1;
  const log2 = g.log2;
  switch (what) {
    case "BASE_L": {
      const base = BigInt(qemuRingGpa(i)) | BigInt(log2);
      g.noteBase(i, VCMDQ1.BASE_L, base, 4);
      yield* writel(p1(i, VCMDQ1.BASE_L), Number(base & 0xffff_ffffn));
      break;
    }
    case "BASE_H": {
      const base = BigInt(qemuRingGpa(i)) | BigInt(log2);
      g.noteBase(i, VCMDQ1.BASE_H, base >> 32n, 4);
      yield* writel(p1(i, VCMDQ1.BASE_H), Number(base >> 32n));
      break;
    }
    case "ALLOC":
      yield* writel(CFG.CMDQ_ALLOC_0 + 4 * i, (i << 1) | BITS.ALLOC);
      break;
    case "ENABLE":
      yield* writel(p0(i, VCMDQ0.CONFIG), BITS.CMDQ_EN);
      g.enabledSeen[i] = yield* pollFor(
        g,
        () => readl(p0(i, VCMDQ0.STATUS)),
        (v) => (v & BITS.CMDQ_EN_OK) !== 0,
      );
      break;
    case "CMDQV_EN": {
      const c = yield* readl(CFG.CONFIG);
      yield* writel(CFG.CONFIG, c | BITS.CMDQV_EN);
      break;
    }
    case "VINTF_EN":
      yield* writel(CFG.VINTF_0, BITS.VINTF_HYP_OWN | BITS.VINTF_ENABLE);
      break;
    case "CMDQV_REENABLE": {
      const c = yield* readl(CFG.CONFIG);
      yield* writel(CFG.CONFIG, c & ~BITS.CMDQV_EN);
      yield* writel(CFG.CONFIG, c | BITS.CMDQV_EN);
      break;
    }
    case "VINTF_REENABLE":
      yield* writel(CFG.VINTF_0, 0);
      yield* writel(CFG.VINTF_0, BITS.VINTF_ENABLE);
      break;
    case "CONFIG_REWRITE":
      yield* writel(CFG.CONFIG, yield* readl(CFG.CONFIG));
      break;
    case "REPROGRAM": {
      const alt = BigInt(qemuRingGpa(i, true)) | BigInt(log2);
      g.noteBase(i, VCMDQ1.BASE_L, alt, 8);
      yield* writeq(p1(i, VCMDQ1.BASE_L), alt);
      break;
    }
    case "ALLOC_TOGGLE":
      yield* writel(CFG.CMDQ_ALLOC_0 + 4 * i, i << 1);
      yield* writel(CFG.CMDQ_ALLOC_0 + 4 * i, (i << 1) | BITS.ALLOC);
      break;
    case "RESET": {
      // The model's RESET resets the machine and nothing of the guest; QEMU's monitor runs it.
      const r = yield "system_reset";
      if (!r.startsWith("OK")) throw new Error(`"system_reset" → "${r}"`);
      break;
    }
    case "SYNC":
      yield* syncQueue(g, i);
      return; // the model checks right after the sync, with no settle
    default:
      throw new Error(`no qtest translation for the step "${name}"`);
  }
  if (i >= 0 && !Number.isInteger(i)) throw new Error(`bad queue index in "${name}"`);
  yield* advance(g, SETTLE_NS);
}

/**
 * The guest's TLBI_NH_ASID + CMD_SYNC on queue i, if it saw the queue enabled: commands
 * at PROD in the ring it programmed, PROD moved, CONS polled for 1 s.
 */
function* syncQueue(g: QemuGuest, i: number): QtestProgram {
  if (!g.enabledSeen[i]) return;
  const log2 = g.log2;
  const gerror0 = yield* readl(p0(i, VCMDQ0.GERROR));
  const prod = (yield* readl(p0(i, VCMDQ0.PROD))) & BITS.INDEX_MASK;
  const mask = (1 << log2) - 1;
  const ring = g.ringOf(i);
  const put = function* (idx: number, words: readonly [bigint, bigint]): QtestProgram {
    const line = `write ${hex(ring + 16 * (idx & mask))} 16 ${commandBytes(words)}`;
    ok(line, yield line);
  };
  yield* put(prod, encode({ op: "TLBI_NH_ASID", vmid: 0, asid: 1 }));
  yield* put(
    prod + 1,
    encode({ op: "CMD_SYNC", cs: CS.NONE, msh: 0, msiattr: 0, msidata: 0, msiaddr: 0n }),
  );
  const wrap = (2 << log2) - 1;
  const target = (prod + 2) & wrap;
  yield* writel(p0(i, VCMDQ0.PROD), target);
  for (let waited = 0, step = 1000; waited <= ONE_SECOND; waited += step, step *= 2) {
    yield* advance(g, step);
    const cons = yield* readl(p0(i, VCMDQ0.CONS));
    if ((cons & wrap) === target) return;
    // CONS.ERR or a GERROR change: the error is visible to the guest, not a silent hang.
    if (cons >>> 24 !== 0 || (yield* readl(p0(i, VCMDQ0.GERROR))) !== gerror0) return;
  }
  g.silent.push({ queue: `VCMDQ${i}`, t: g.now });
}

/**
 * Run a program against a synchronous responder (tests, and scripts worked out ahead):
 * every yielded line is answered by `reply`. Returns the lines in order.
 */
export function runProgram<T>(
  p: QtestProgram<T>,
  reply: (line: string) => string,
): {
  lines: string[];
  result: T;
} {
  const lines: string[] = [];
  let r = p.next();
  while (!r.done) {
    lines.push(r.value);
    r = p.next(reply(r.value));
  }
  return { lines, result: r.value };
}
