// What a run really did, taken from outside the report: the `cmdqv run` command's own
// output (its invariant table, a replay's step list) and a JSON Lines trace of the same
// run, never the report's embedded data. The browser tests hold the report to these.

import { readFileSync } from "node:fs";
import { APERTURE } from "../src/regs/cmdqv.js";

/** The trace patterns ringsFromTrace reads (`cmdqv run --trace PATTERN`). */
export const RING_TRACE_PATTERNS = [
  "read",
  "write",
  "write64",
  "cmdqv_hw_queue",
  "cmdqv_hw_queue_ptrs",
  "tegra241_cmdqv_read_vcmdq_page0",
  "tegra241_cmdqv_write_vcmdq_page0",
  "tegra241_cmdqv_write_vcmdq_page1",
  "close(veventq)",
  "close(vfio-device)",
] as const;

/** A VCMDQ as the guest saw it when its program ended (before the VM's teardown). */
export interface RingTruth {
  readonly queue: number;
  /** PROD and CONS with the wrap bit (CONS without its ERR field). */
  readonly prod: number;
  readonly cons: number;
  /** BASE's address field and LOG2SIZE, as the guest last wrote them (null: never). */
  readonly base: number | null;
  readonly log2size: number | null;
}

interface TraceEvent {
  readonly t: number;
  readonly actor: string;
  readonly name: string;
  readonly ph?: string;
  readonly args?: Record<string, unknown>;
}

/** Offsets within a VCMDQ's page0/page1 slot (VMM trace `offset0`, after the page base). */
const CONS = 0x0;
const PROD = 0x4;
const BASE_L = 0x0;
const BASE_H = 0x4;
/** One VCMDQ's slot in a page0/page1. */
const SLOT = 0x80;
/** BASE: ADDR is [47:5], LOG2SIZE [4:0]. */
const LOG2SIZE_MASK = 0x1f;

function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "string") return Number(v);
  return Number.NaN;
}

/**
 * Each of the guest's `vcmdqs` VCMDQs at the end of its program, from a trace of the run
 * written with RING_TRACE_PATTERNS. The last observation of a register wins: the guest's
 * own accesses through VINTF0's page0/page1 (`read`, `write`, `write64`), the VMM's
 * cache-served accesses (`tegra241_cmdqv_*_vcmdq_page*`), and the hardware's PROD/CONS
 * counter of the HW queue backing it (the guest-owned VINTF's LVCMDQ N), whose indices
 * lose the wrap bit: it is put back by counting the times an index went down. Events from
 * the VM's teardown on (the VMM closing its vEVENTQ or the device) do not count: the
 * teardown resets the queues, and the ring shows the queue as the run left it.
 */
export function ringsFromTrace(jsonl: string, cmdqvBase: number, vcmdqs: number): RingTruth[] {
  const prod = new Array<number>(vcmdqs).fill(0);
  const cons = new Array<number>(vcmdqs).fill(0);
  const baseLo = new Array<number | null>(vcmdqs).fill(null);
  const baseHi = new Array<number>(vcmdqs).fill(0);
  // The guest's VCMDQ each hardware queue backs, and that queue's wrap bookkeeping.
  const backs = new Map<
    string,
    { queue: number; prod: number; cons: number; pw: number; cw: number }
  >();
  const page0 = cmdqvBase + APERTURE.VINTF_PAGE0;
  const page1 = cmdqvBase + APERTURE.VINTF_PAGE1;
  const wrapMask = (q: number) => {
    const lg = baseLo[q] === null ? 19 : baseLo[q]! & LOG2SIZE_MASK;
    return 2 ** (lg + 1) - 1;
  };
  const inSlot = (addr: number, page: number): { q: number; off: number } | null => {
    const rel = addr - page;
    if (rel < 0 || rel >= SLOT * vcmdqs) return null;
    return { q: Math.floor(rel / SLOT), off: rel % SLOT };
  };
  for (const line of jsonl.split("\n")) {
    if (line === "") continue;
    const e = JSON.parse(line) as TraceEvent;
    const a = e.args ?? {};
    if (e.actor === "host.kernel") {
      if (e.name === "close(veventq)" || e.name === "close(vfio-device)") break;
      continue;
    }
    if (e.actor.startsWith("guest.")) {
      const addr = num(a["addr"]);
      const value = num(a["value"]);
      const p0 = inSlot(addr, page0);
      if (p0 && e.name === "write" && p0.off === PROD) prod[p0.q] = value;
      if (p0 && e.name === "read" && p0.off === CONS) cons[p0.q] = value & wrapMask(p0.q);
      const p1 = inSlot(addr, page1);
      if (p1 && e.name === "write64" && p1.off === BASE_L) {
        const v = BigInt(String(a["value"]));
        baseLo[p1.q] = Number(v & 0xffff_ffffn);
        baseHi[p1.q] = Number(v >> 32n);
      } else if (p1 && e.name === "write" && p1.off === BASE_L) baseLo[p1.q] = value;
      else if (p1 && e.name === "write" && p1.off === BASE_H) baseHi[p1.q] = value;
      continue;
    }
    if (e.actor === "vmm.cmdqv") {
      const q = num(a["index"]);
      // Through VINTF0's aperture (vi) or the direct one: QEMU's one VINTF maps its
      // LVCMDQ N onto VCMDQ N, so the index names the guest's queue either way.
      if (!(q >= 0 && q < vcmdqs)) continue;
      const off = num(a["offset0"]);
      const val = num(a["val"]);
      const page0 = e.name.endsWith("_vcmdq_page0");
      if (page0 && off === APERTURE.VCMDQ_PAGE0 + PROD) prod[q] = val;
      else if (page0 && off === APERTURE.VCMDQ_PAGE0 + CONS && e.name.includes("_read_"))
        cons[q] = val & wrapMask(q);
      else if (e.name === "tegra241_cmdqv_write_vcmdq_page1") {
        if (off === APERTURE.VCMDQ_PAGE1 + BASE_L) baseLo[q] = val;
        else if (off === APERTURE.VCMDQ_PAGE1 + BASE_H) baseHi[q] = val;
      }
      continue;
    }
    if (e.actor.startsWith("hw.vcmdq")) {
      if (e.name === "cmdqv_hw_queue" && e.ph === "B") {
        if (a["hyp_own"] === false && num(a["lvcmdq"]) < vcmdqs)
          backs.set(e.actor, { queue: num(a["lvcmdq"]), prod: 0, cons: 0, pw: 0, cw: 0 });
        else backs.delete(e.actor);
      } else if (e.name === "cmdqv_hw_queue" && e.ph === "E") backs.delete(e.actor);
      else if (e.name === "cmdqv_hw_queue_ptrs") {
        const b = backs.get(e.actor);
        if (!b) continue;
        const p = num(a["prod"]);
        const c = num(a["cons"]);
        if (p < b.prod) b.pw ^= 1;
        if (c < b.cons) b.cw ^= 1;
        b.prod = p;
        b.cons = c;
        const size = 2 ** ((baseLo[b.queue] ?? 0) & LOG2SIZE_MASK);
        prod[b.queue] = p + b.pw * size;
        cons[b.queue] = c + b.cw * size;
      }
    }
  }
  return prod.map((p, q) => {
    const lo = baseLo[q] ?? null;
    return {
      queue: q,
      prod: p,
      cons: cons[q]!,
      base: lo === null ? null : baseHi[q]! * 2 ** 32 + (lo & ~LOG2SIZE_MASK),
      log2size: lo === null ? null : lo & LOG2SIZE_MASK,
    };
  });
}

/** Read a trace file and take its rings. */
export function ringsFromTraceFile(path: string, cmdqvBase: number, vcmdqs: number): RingTruth[] {
  return ringsFromTrace(readFileSync(path, "utf8"), cmdqvBase, vcmdqs);
}

/** An invariant's verdict as `cmdqv run` prints it in its summary. */
export interface VerdictTruth {
  readonly name: string;
  readonly ok: boolean;
  /** The violation's text, for a violated invariant. */
  readonly message?: string;
}

/**
 * The invariants table `cmdqv run` prints last ("invariants:" then one row each:
 * `  NAME   ok` or `  NAME   VIOLATED[ (expected)]: message`).
 */
export function verdictsFromOutput(stdout: string): VerdictTruth[] {
  const lines = stdout.split("\n");
  const at = lines.lastIndexOf("invariants:");
  if (at < 0) throw new Error(`no invariants table in the output:\n${stdout}`);
  const out: VerdictTruth[] = [];
  for (const l of lines.slice(at + 1)) {
    const m = /^ {2}(\S+)\s+(ok|VIOLATED(?: \(expected\))?)(?::\s+(.*))?$/.exec(l);
    if (!m) break;
    out.push(
      m[2] === "ok" ? { name: m[1]!, ok: true } : { name: m[1]!, ok: false, message: m[3] ?? "" },
    );
  }
  return out;
}

/** The steps a replay lists ("steps:" then one indented line each), as `cmdqv run` prints them. */
export function stepsFromOutput(stdout: string): string[] {
  const lines = stdout.split("\n");
  const at = lines.indexOf("steps:");
  if (at < 0) throw new Error(`no step list in the output:\n${stdout}`);
  const out: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (!l.startsWith("  ")) break;
    out.push(l.trim());
  }
  return out;
}

/** "CMDQV at 0x…" in the machine line `cmdqv run` prints. */
export function cmdqvBaseFromOutput(stdout: string): number {
  const m = /CMDQV at (0x[0-9a-f]+)/.exec(stdout);
  if (!m) throw new Error(`no "CMDQV at" in the output:\n${stdout}`);
  return Number(m[1]);
}
