// The qtest protocol fuzzer: one `cmdqv qtest --profile reference` process per run, fed a
// seeded stream of lines (valid register traffic at the CMDQV and the SMMUv3, commands in
// RAM, clock steps, memory transfers, extension lines, and garbage with numbers at their
// edges), pipelined. Checked after the run: every line got exactly one reply, each one
// line of OK/FAIL (IRQ lines aside); the process answers a last line and is alive; the
// invariants under `reference` hold (cmdqv_info); nothing on stderr but the VMM console's
// error_report lines (a refused HW queue allocation is the guest's doing, and QEMU says
// so); its RSS stayed under the bound.

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { QEMU_PREFIX } from "../src/vmm/console.js";
import { edgeNumber, Gen } from "./gen.js";

export interface QtestFuzzOptions {
  readonly seed: number;
  readonly lines: number;
}

export interface FuzzOutcome {
  readonly inputs: number;
  readonly peakRssMb: number;
  readonly failure: string | null;
}

/** The server's RSS may not pass this (its 1 GiB of guest RAM is sparse). */
export const QTEST_RSS_BOUND_MB = 768;

const CMDQV = 0x0c08_0000;
const SMMU = 0x0c00_0000;
const RAM = 0x4000_0000;
const GIC = "/machine/unattached/device[1]";
const SITES = ["hw_queue_alloc:obj_alloc", "viommu_alloc:obj_alloc", "mmap:vma_alloc", "nope", ""];

const hex = (n: number | bigint) => `0x${n.toString(16)}`;

function cmdqvOffset(g: Gen): number {
  return g.pick([
    () => g.pick([0x0, 0x4, 0x8, 0x14, 0x18, 0x1c, 0x20, 0x24, 0x200, 0x204]),
    () => 0x1000 + g.pick([0x0, 0x4, 0xc, 0x10, 0x40, 0x80, 0xc0]),
    () => g.pick([0x1_0000, 0x2_0000, 0x3_0000, 0x4_0000]) + 0x80 * g.int(3) + 4 * g.int(8),
    () => 4 * g.int(0x5_0000 / 4),
    () => g.int(0x5_0000),
  ])();
}

function value(g: Gen): number {
  return g.pick([
    () => 0,
    () => 1,
    () => 0xffff_ffff,
    () => 0x0002_0083,
    () => 0x0002_0082,
    () => 1 | (g.int(2) << 1),
    () => (RAM + 0x20_0000 + 0x1_0000 * g.int(4)) | g.pick([5, 12, 19, 31]),
    () => g.u32(),
  ])();
}

/** One line: mostly meaningful traffic, some garbage. */
export function qtestLine(g: Gen): string {
  const size = g.pick(["b", "w", "l", "q"]);
  switch (g.int(20)) {
    case 0:
    case 1:
    case 2:
    case 3:
      return `write${size} ${hex(CMDQV + cmdqvOffset(g))} ${hex(value(g))}`;
    case 4:
    case 5:
    case 6:
      return `read${size} ${hex(CMDQV + cmdqvOffset(g))}`;
    case 7:
      return `write${size} ${hex(SMMU + 4 * g.int(0x2_0000 / 4))} ${hex(value(g))}`;
    case 8:
      return `read${size} ${hex(SMMU + 4 * g.int(0x2_0000 / 4))}`;
    case 9: {
      // A command in a ring: 16 bytes of mostly-valid opcodes.
      const op = g.pick([0x11, 0x12, 0x46, 0x03, 0x05, 0x40, g.int(256)]);
      const bytes = [op, ...Array.from({ length: 15 }, () => (g.chance(70) ? 0 : g.int(256)))];
      const addr = RAM + 0x20_0000 + 0x1_0000 * g.int(4) + 16 * g.int(64);
      return `write ${hex(addr)} 16 0x${Buffer.from(bytes).toString("hex")}`;
    }
    case 10:
      return g.chance(50)
        ? `clock_step ${g.pick(["", "1000", "1000000", edgeNumber(g)])}`.trim()
        : `clock_set ${edgeNumber(g)}`;
    case 11: {
      const len = g.chance(90) ? g.int(4096) : g.int(1 << 20);
      const cmd = g.pick(["read", "b64read", "memset"]);
      const addr = g.chance(80) ? RAM + g.int(1 << 29) : g.u32();
      return cmd === "memset"
        ? `memset ${hex(addr)} ${len} ${hex(g.int(256))}`
        : `${cmd} ${hex(addr)} ${len}`;
    }
    case 12:
      return g.pick([
        "cmdqv_info",
        "cmdqv_dmesg",
        "system_reset",
        "cmdqv_reset",
        `cmdqv_fault ${g.pick(SITES)} ${edgeNumber(g)}`,
        `cmdqv_fault ${g.pick(SITES)}  ${g.int(5)}`,
      ]);
    case 13:
      return g.pick([
        `irq_intercept_in ${GIC}`,
        `irq_intercept_out ${GIC}`,
        "irq_intercept_in /nope",
        "endianness",
      ]);
    case 14:
      return `${g.pick(["read", "write", "out", "in", "memset", "clock_step", "b64write"])}${g.pick(["b", "w", "l", "q", ""])} ${edgeNumber(g)} ${edgeNumber(g)} ${edgeNumber(g)}`;
    case 15:
      return `write ${hex(RAM + g.int(1 << 20))} ${g.int(64)} 0x${g
        .garbage(40)
        .split("")
        .map((c) => (c.charCodeAt(0) & 0xf).toString(16))
        .join("")}`;
    case 16:
      return `b64write ${hex(RAM)} ${g.int(32)} ${Buffer.from(g.garbage(24), "latin1").toString("base64")}${g.chance(30) ? "!!" : ""}`;
    default:
      return g.garbage(g.chance(95) ? 80 : 5000);
  }
}

/** Run `lines` seeded lines through one server; the first broken check is the failure. */
export async function fuzzQtest(o: QtestFuzzOptions): Promise<FuzzOutcome> {
  const g = new Gen(o.seed);
  const vcmdqs = g.pick(["2", "4", "16"]);
  const page = g.pick(["4K", "2M", "1G"]);
  const child = spawn(
    process.execPath,
    ["bin/cmdqv.js", "qtest", "--profile", "reference", "--vcmdqs", vcmdqs, "--ram-page", page],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    if (stderr.length < 10_000) stderr += d;
  });
  let peak = 0;
  const sample = () => {
    try {
      const kb = Number(
        /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0,
      );
      peak = Math.max(peak, kb / 1024);
    } catch {
      // gone
    }
  };
  const sampler = setInterval(sample, 50);
  const replies: string[] = [];
  let bad: string | null = null;
  let partial = "";
  child.stdout!.setEncoding("latin1").on("data", (d: string) => {
    const parts = (partial + d).split("\n");
    partial = parts.pop() ?? "";
    for (const r of parts) {
      if (r.startsWith("IRQ ")) continue;
      if (!/^(OK|FAIL|ERR)( |$)/.test(r) && bad === null)
        bad = `a reply that is not OK/FAIL/ERR: ${JSON.stringify(r.slice(0, 200))}`;
      replies.push(r.length > 300 ? `${r.slice(0, 300)}…` : r);
    }
  });
  const closed = new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  const sent: string[] = [];
  try {
    for (let i = 0; i < o.lines; i++) {
      const line = qtestLine(g);
      sent.push(line);
      if (!child.stdin!.write(`${line}\n`, "latin1"))
        await new Promise((r) => child.stdin!.once("drain", r));
    }
    child.stdin!.write("cmdqv_info\n");
    child.stdin!.end();
    const code = await closed;
    sample();
    const info = replies.at(-1) ?? "";
    const failure =
      bad ??
      (code !== 0 ? `exit status ${code}` : null) ??
      (replies.length !== sent.length + 1
        ? `${replies.length} replies to ${sent.length + 1} lines`
        : null) ??
      (!info.startsWith("OK {") ? `cmdqv_info answered ${info.slice(0, 200)}` : null) ??
      (/"violations":\[[^\]]/.test(info)
        ? `reference violated: ${/"violations":(\[.*?\])/.exec(info)?.[1]}`
        : null) ??
      (strayStderr(stderr) !== null ? `stderr: ${strayStderr(stderr)}` : null) ??
      (peak > QTEST_RSS_BOUND_MB
        ? `RSS ${peak.toFixed(0)} MB over ${QTEST_RSS_BOUND_MB} MB`
        : null);
    return { inputs: sent.length, peakRssMb: peak, failure };
  } finally {
    clearInterval(sampler);
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

/**
 * The first stderr line that is not a VMM console error_report line (`qemu-system-aarch64:
 * …`, printed always, as QEMU does), or null. Without --log nothing else may appear.
 */
export function strayStderr(stderr: string): string | null {
  const stray = stderr.split("\n").find((l) => l !== "" && !l.startsWith(QEMU_PREFIX));
  return stray === undefined ? null : stray.slice(0, 500);
}
