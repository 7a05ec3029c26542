// Real QEMU 11.1 on cmdqv's simulated host as a bench:qemu peer (arm-smmuv3,accel=on,
// cmdqv=on, driven in-process over the qtest relay), several rounds of each figure after a
// warm-up round:
//
//   qtest round trips: readl of the CMDQV's config register, 1 in flight and pipelined;
//   main-CMDQ commands/s with accel forwarding: a ring of 2^12 commands (63 TLBI_NH_ASID +
//     CMD_SYNC, or CMD_SYNC only) written once into QEMU's guest RAM, then doorbells that
//     each hand the whole ring over (PROD = CONS with the wrap bit flipped) over qtest;
//     QEMU consumes it and forwards each TLBI to our host (IOMMU_HWPT_INVALIDATE on the
//     vIOMMU), whose SMMU runs it; the time of the PROD write, whose reply follows the
//     consumption; the host must have run every TLBI of the ring;
//   VCMDQ commands/s: PROD moved through the guest page0 window, the ring consumed by the
//     CMDQV hardware from QEMU's guest RAM (as bench/real-qemu.ts), 10 batches of 2^12.
//
// Wall-clock time is read here (bench/ is outside the deterministic core).

import type { Buffer } from "node:buffer";
import { performance } from "node:perf_hooks";
import { cachedQemu } from "../src/real-qemu/fetch.js";
import { type QtestSession, startQtestSession } from "../src/real-qemu/in-process.js";
import { QEMU_MAP } from "../src/real-qemu/qtest-relay.js";
import { CR0_CMDQEN, cmdqBase, REG } from "../test-qemu/script.js";
import { ringCommands } from "./main-cmdq-ring.js";
import { type Spread, spread } from "./stats.js";
import { QEMU_CMDQV, QEMU_VCMDQ0_PAGE0, vcmdq0BringUpLines } from "./vcmdq-bring-up.js";

export interface Qemu111Figures {
  readonly rtt: Spread;
  readonly pipelined: Spread;
  readonly mainCmdq: Spread;
  readonly mainCmdqSync: Spread;
  readonly vcmdq: Spread;
}

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;
const LOG2 = 12;
const ENTRIES = 1 << LOG2;
const SMMU = QEMU_MAP.smmuv3.base;
const PAGE0 = QEMU_VCMDQ0_PAGE0;
const MAIN_RING = QEMU_MAP.ram.base + 0x100_0000;
const VCMDQ_RING = QEMU_MAP.ram.base + 0x20_0000;
const VCMDQ_BATCHES = 10;

/** `rounds` samples of `one` after a warm-up call. */
async function rounds(n: number, one: () => Promise<number>): Promise<Spread> {
  await one();
  const xs: number[] = [];
  for (let r = 0; r < n; r++) xs.push(await one());
  return spread(xs, Math.round);
}

async function ok(s: QtestSession, line: string): Promise<string> {
  const r = await s.send(line);
  if (!r.startsWith("OK")) throw new Error(`QEMU 11.1: ${line} → ${r}`);
  return r;
}

async function roundTrips(s: QtestSession, n: number, window: number): Promise<number> {
  const line = `readl ${hex(QEMU_CMDQV)}`;
  const t0 = performance.now();
  for (let done = 0; done < n; done += window) {
    const batch: Promise<string>[] = [];
    for (let i = 0; i < window; i++) batch.push(s.send(line));
    await Promise.all(batch);
  }
  return n / ((performance.now() - t0) / 1000);
}

async function mainCmdq(s: QtestSession, bytes: Buffer, forwarded: number): Promise<number> {
  const readCons = async () =>
    Number(BigInt((await ok(s, `readl ${hex(SMMU + REG.CMDQ_CONS)}`)).slice(3)));
  const prod = ((await readCons()) ^ ENTRIES) >>> 0;
  const before = s.rq.host.hw.effects.totals().mainCmdq;
  const t0 = performance.now();
  await ok(s, `writel ${hex(SMMU + REG.CMDQ_PROD)} ${hex(prod)}`);
  const dt = performance.now() - t0;
  const cons = await readCons();
  const ran = s.rq.host.hw.effects.totals().mainCmdq - before;
  // A figure for work that did not happen would be a lie.
  if (cons !== prod || ran !== forwarded)
    throw new Error(
      `QEMU 11.1: CONS ${hex(cons)} after PROD ${hex(prod)}, host ran ${ran} of ${forwarded} (${bytes.length / 16} in the ring)`,
    );
  return ENTRIES / (dt / 1000);
}

async function setUpMainRing(s: QtestSession, bytes: Buffer): Promise<void> {
  await ok(s, `writel ${hex(SMMU + REG.CR0)} 0x0`);
  await ok(s, `writeq ${hex(SMMU + REG.CMDQ_BASE)} ${hex(cmdqBase(MAIN_RING, LOG2))}`);
  await ok(s, `writel ${hex(SMMU + REG.CMDQ_PROD)} 0x0`);
  await ok(s, `writel ${hex(SMMU + REG.CMDQ_CONS)} 0x0`);
  await ok(s, `write ${hex(MAIN_RING)} ${hex(bytes.length)} 0x${bytes.toString("hex")}`);
  await ok(s, `writel ${hex(SMMU + REG.CR0)} ${hex(CR0_CMDQEN)}`);
}

/** VCMDQ0 of VINTF0 on a 2^12 ring of TLBI_NH_ASID (bench/vcmdq-bring-up.ts). */
async function setUpVcmdq(s: QtestSession): Promise<void> {
  for (const line of vcmdq0BringUpLines(VCMDQ_RING, LOG2)) await ok(s, line);
  const bytes = ringCommands(ENTRIES, "tlbi-only");
  await ok(s, `write ${hex(VCMDQ_RING)} ${hex(bytes.length)} 0x${bytes.toString("hex")}`);
}

let vcmdqProd = 0;
async function vcmdqBatches(s: QtestSession): Promise<number> {
  const before = s.rq.host.hw.effects.totals().vcmdq;
  const t0 = performance.now();
  for (let b = 0; b < VCMDQ_BATCHES; b++) {
    vcmdqProd ^= ENTRIES; // the wrap bit: the whole ring further each time
    await ok(s, `writel ${hex(PAGE0 + 4)} ${hex(vcmdqProd)}`);
    await ok(s, "clock_step 1000000");
  }
  const dt = performance.now() - t0;
  const consumed = s.rq.host.hw.effects.totals().vcmdq - before;
  if (consumed !== VCMDQ_BATCHES * ENTRIES)
    throw new Error(`QEMU 11.1: the hardware consumed ${consumed} of ${VCMDQ_BATCHES * ENTRIES}`);
  return consumed / (dt / 1000);
}

/** The figures, or why QEMU 11.1 was not run. `n` rounds of each after a warm-up. */
export async function qemu111Figures(n: number): Promise<Qemu111Figures | string> {
  if (cachedQemu() === null) return "QEMU 11.1 is not fetched (npx cmdqv qemu fetch)";
  const s = await startQtestSession({
    ticker: (ms, fn) => {
      const t = setInterval(fn, ms);
      return () => clearInterval(t);
    },
  });
  try {
    const rtt = await rounds(n, () => roundTrips(s, 2000, 1));
    const pipelined = await rounds(n, () => roundTrips(s, 40 * 256, 256));
    const tlbis = ringCommands(ENTRIES, "tlbi");
    await setUpMainRing(s, tlbis);
    const mainTlbi = await rounds(n, () => mainCmdq(s, tlbis, ENTRIES - ENTRIES / 64));
    const syncs = ringCommands(ENTRIES, "sync");
    await setUpMainRing(s, syncs);
    const mainSync = await rounds(n, () => mainCmdq(s, syncs, 0));
    await setUpVcmdq(s);
    const vcmdq = await rounds(n, () => vcmdqBatches(s));
    return { rtt, pipelined, mainCmdq: mainTlbi, mainCmdqSync: mainSync, vcmdq };
  } finally {
    await s.dispose();
  }
}
