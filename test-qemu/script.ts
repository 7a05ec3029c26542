// Differential qtest scripts as data: a script is a list of steps, each one qtest line that
// both peers are sent verbatim. What a peer answers to a step is its transcript entry: the
// `IRQ raise|lower N` lines the command caused (they arrive before its reply), then the
// reply. Entries are compared line by line; a step may also pin what both must answer
// (`expect`), and a step whose answers differ for a documented reason names that reason
// and pins each side's answer (`differs`). Every other difference is a failure.

import { Buffer } from "node:buffer";
import { hex64 } from "../src/bits/u64.js";
import { SMMU_REG } from "../src/regs/smmuv3.js";
import { type Command, encode } from "../src/smmu/commands.js";
import type { Peer, PeerName } from "./peers.js";
import { GIC_PATH, RAM_BASE, SMMU_BASE } from "./peers.js";

/** Why QEMU 7.2 and cmdqv (the accel-era SMMUv3 front) may answer a step differently. */
export const DIFFERENCES = {
  "idr0-vmid16-ats":
    "the accel-era SMMUv3 sets IDR0.VMID16 (smmuv3_init_id_regs; profile QEMU_ACCEL) and its ats=auto takes IDR0.ATS from the host SMMU at the device attach (1 on the simulated Grace host; smmuv3_accel_auto_finalise); QEMU 7.2 has neither",
  "idr1-cmdqs-ssidsize":
    "the CMDQV clamps IDR1.CMDQS to the 2 MiB RAM page (2 MiB / 16 B = 2^17 entries; spec: qemu §2.9) and the accel SMMU's ssidsize=auto takes the host's IDR1.SSIDSIZE (20); QEMU 7.2 has no CMDQV or accel and advertises CMDQS 19, SSIDSIZE 0",
  "idr5-oas-auto":
    "the accel SMMU's oas=auto takes the host SMMU's IDR5.OAS at the device attach (48 bits on the simulated Grace host; seen on QEMU 11.1.3); QEMU 7.2 advertises 44 bits",
  gbpa: "GBPA exists from QEMU 8.0 (reset 0x1000, UPDATE completes at once); in 7.2 offset 0x44 is RAZ/WI",
  "stage2-check":
    "the accel-era QEMU refuses stage-2 invalidations (TLBI_S12_VMALL, TLBI_S2_IPA) with CERROR_ILL when IDR0.S2P=0; QEMU 7.2 accepts them",
  "accel-forward":
    "accel mode forwards invalidations (TLBI_NH_*, TLBI_NSNH_ALL, CFGI_CD*, ATC_INV) to the host with IOMMU_HWPT_INVALIDATE, and a host failure stops the queue with CERROR_ILL; QEMU 7.2 invalidates locally",
  "cmdqv-extension":
    "cmdqv_* commands are cmdqv qtest's own extensions (here: inject a host fault); QEMU answers FAIL Unknown command",
} as const;
export type DifferenceName = keyof typeof DIFFERENCES;

/** One qtest line, sent as is to both peers. */
export interface Step {
  readonly send: string;
  /** What both peers must answer: IRQ lines first, then the reply. */
  readonly expect?: readonly string[];
  /** The answers differ for a documented reason: each side's answer, pinned. */
  readonly differs?: {
    readonly because: DifferenceName;
    readonly qemu: readonly string[];
    readonly cmdqv: readonly string[];
  };
}

export interface Script {
  readonly name: string;
  readonly steps: readonly Step[];
}

export type Transcript = readonly (readonly string[])[];

// ------------------------------------------------------------------ building ----

/**
 * SMMUv3 register offsets, from the model's own table (facts: QEMU smmuv3-internal.h),
 * with the event queue's indices at their architectural page-1 places and the two ID
 * registers the scripts read (PIDR0, CIDR0: the 5th and 9th of the twelve from 0xfd0).
 */
export const REG = {
  ...SMMU_REG,
  EVENTQ_PROD: SMMU_REG.EVENTQ_PROD_PAGE1,
  EVENTQ_CONS: SMMU_REG.EVENTQ_CONS_PAGE1,
  PIDR0: SMMU_REG.IDREGS + 0x10,
  CIDR0: SMMU_REG.IDREGS + 0x20,
} as const;

export const CR0_CMDQEN = 1 << 3;
export const IRQ_CTRL_GERROR_IRQEN = 1 << 0;
export const GERROR_CMDQ_ERR = 1 << 0;
/** CONS.ERR codes in bits [30:24]: CERROR_ILL 1, CERROR_ABT 2. */
export const CONS_ERR_ILL = 1 << 24;
export const CONS_ERR_ABT = 2 << 24;
/** GIC inputs of QEMU virt's SMMUv3 wired interrupts. */
export const IRQ_CMD_SYNC = 76;
export const IRQ_GERROR = 77;

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;
export const okValue = (v: number | bigint): string =>
  `OK ${hex64(typeof v === "number" ? v >>> 0 : v)}`;
/** The two lines one pulse of GIC input `line` gives. */
export const pulse = (line: number): string[] => [`IRQ raise ${line}`, `IRQ lower ${line}`];

type Expect = number | bigint | readonly string[] | undefined;

function expectOf(e: Expect): readonly string[] | undefined {
  if (e === undefined || Array.isArray(e)) return e as readonly string[] | undefined;
  return [okValue(e as number | bigint)];
}

function step(send: string, expect: Expect): Step {
  const x = expectOf(expect);
  return x === undefined ? { send } : { send, expect: x };
}

/** readl of an SMMUv3 register; `expect` is the value (or the full answer). */
export function readl(off: number, expect?: Expect): Step {
  return step(`readl ${hex(SMMU_BASE + off)}`, expect);
}

export function readq(off: number, expect?: Expect): Step {
  return step(`readq ${hex(SMMU_BASE + off)}`, expect);
}

/** writel of an SMMUv3 register; by default both must answer a bare OK (no IRQ). */
export function writel(off: number, value: number, irqs: readonly string[] = []): Step {
  return step(`writel ${hex(SMMU_BASE + off)} ${hex(value >>> 0)}`, [...irqs, "OK"]);
}

export function writeq(off: number, value: bigint): Step {
  return step(`writeq ${hex(SMMU_BASE + off)} ${hex(value)}`, ["OK"]);
}

/** A step whose answers differ for `because`: each side's value (or full answer). */
export function differs(s: Step, because: DifferenceName, qemu: Expect, cmdqv: Expect): Step {
  const q = expectOf(qemu);
  const c = expectOf(cmdqv);
  if (q === undefined || c === undefined) throw new Error("differs: pin both answers");
  return { send: s.send, differs: { because, qemu: q, cmdqv: c } };
}

/** The 16 bytes of a command as they sit in guest memory (two little-endian dwords). */
export function commandBytes(c: Command): Buffer {
  const [d0, d1] = encode(c);
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(d0, 0);
  b.writeBigUInt64LE(d1, 8);
  return b;
}

/** A raw command: any dword0 (its low byte is the opcode) and dword1. */
export function rawCommand(dw0: bigint, dw1 = 0n): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(dw0, 0);
  b.writeBigUInt64LE(dw1, 8);
  return b;
}

/** `write` of guest RAM: the commands at entries `index…` of the ring at `ring`. */
export function writeCommands(ring: number, index: number, cmds: readonly Buffer[]): Step {
  const data = Buffer.concat(cmds);
  return step(`write ${hex(ring + 16 * index)} ${hex(data.length)} 0x${data.toString("hex")}`, [
    "OK",
  ]);
}

export function memset(addr: number, len: number, byte: number): Step {
  return step(`memset ${hex(addr)} ${hex(len)} ${hex(byte)}`, ["OK"]);
}

/** `read` of guest RAM; `expect` is every byte's value. */
export function readRam(addr: number, len: number, fill: number): Step {
  return step(`read ${hex(addr)} ${hex(len)}`, [
    `OK 0x${fill.toString(16).padStart(2, "0").repeat(len)}`,
  ]);
}

/** CMDQ_BASE for a ring at `gpa` with 2^log2 entries. */
export const cmdqBase = (gpa: number, log2: number): bigint => BigInt(gpa) | BigInt(log2);

/** Every script starts by intercepting the GIC's inputs (the SMMUv3's wired IRQs). */
export function script(name: string, steps: readonly Step[]): Script {
  return { name, steps: [{ send: `irq_intercept_in ${GIC_PATH}`, expect: ["OK"] }, ...steps] };
}

export const RAM = RAM_BASE;

// ------------------------------------------------------------------- running ----

/** Play `s` on `peer`: one transcript entry per step (the IRQ lines, then the reply). */
export async function play(peer: Peer, s: Script): Promise<Transcript> {
  const out: string[][] = [];
  for (const st of s.steps) {
    peer.client.clearIrqEvents();
    const reply = await peer.send(st.send);
    const irqs = peer.client.irqEvents().map((e) => `IRQ ${e.level ? "raise" : "lower"} ${e.line}`);
    out.push([...irqs, reply]);
  }
  const noise = peer.client.noise();
  if (noise.length > 0) out.push([`noise: ${noise.join(" | ")}`]);
  return out;
}

const same = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

const show = (a: readonly string[] | undefined): string =>
  a === undefined ? "(nothing)" : a.join(" / ");

/**
 * Every problem with the two transcripts of `s`: a difference no step allows, an allowed
 * difference that did not happen as pinned, an answer other than the expected one.
 */
export function compare(s: Script, qemu: Transcript, cmdqv: Transcript): string[] {
  const problems: string[] = [];
  const n = Math.max(s.steps.length, qemu.length, cmdqv.length);
  for (let i = 0; i < n; i++) {
    const st = s.steps[i];
    const q = qemu[i];
    const c = cmdqv[i];
    const where = `step ${i} (${st?.send.slice(0, 60) ?? "after the script"})`;
    if (st === undefined || q === undefined || c === undefined) {
      problems.push(`${where}: qemu ${show(q)}; cmdqv ${show(c)}`);
      continue;
    }
    if (st.differs !== undefined) {
      const d = st.differs;
      if (same(q, c))
        problems.push(`${where}: expected to differ (${d.because}) but both answered ${show(q)}`);
      if (!same(q, d.qemu))
        problems.push(`${where}: qemu answered ${show(q)}, pinned ${show(d.qemu)}`);
      if (!same(c, d.cmdqv))
        problems.push(`${where}: cmdqv answered ${show(c)}, pinned ${show(d.cmdqv)}`);
      continue;
    }
    if (!same(q, c)) {
      problems.push(`${where}: qemu ${show(q)}; cmdqv ${show(c)} (no documented reason)`);
      continue;
    }
    if (st.expect !== undefined && !same(q, st.expect))
      problems.push(`${where}: both answered ${show(q)}, expected ${show(st.expect)}`);
  }
  return problems;
}

/** The transcripts side by side, for a failure message or `--dump`. */
export function sideBySide(s: Script, t: Readonly<Record<PeerName, Transcript>>): string {
  return s.steps
    .map((st, i) => {
      const q = show(t.qemu[i]);
      const c = show(t.cmdqv[i]);
      return `${String(i).padStart(3)} ${st.send.slice(0, 70)}\n      qemu:  ${q}${q === c ? "" : `\n      cmdqv: ${c}`}`;
    })
    .join("\n");
}
