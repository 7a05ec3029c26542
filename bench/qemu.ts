// `npm run bench:qemu`: QEMU 7.2 (Debian's qemu-system-aarch64) and cmdqv side by side,
// both driven over qtest on stdio by the same client with the same method, then cmdqv's
// in-process figures. `-- --json` prints one JSON object instead of the table.
//
//   qtest round trips: readl of SMMU IDR0, one request in flight (and, as an extra,
//     pipelined in windows of PIPELINE requests);
//   every qtest figure is the median of several rounds that alternate between the two
//     peers (both running), after a warm-up round: ping-pong latency on a small VM swings
//     with scheduling, and alternating makes a load change hit both alike;
//   main-CMDQ consumption: a ring of 2^19 commands written once into guest RAM with
//     `write`, then doorbells that each hand the whole ring over (PROD = CONS with the
//     wrap bit flipped: a full queue) until CONS reaches PROD; the time of the PROD write,
//     whose reply comes after the consumer has run, as both consume synchronously;
//   cmdqv only: the CMDQV hardware consumer (VCMDQ commands) and trapped MMIO accesses,
//     the `npm run bench` figures hw_consumer_cmds_per_s and vmm_trapped_mmio_per_s.
//
// Wall-clock time is read here (bench/ is outside the deterministic core).

import { Buffer } from "node:buffer";
import { performance } from "node:perf_hooks";
import { CS } from "../src/smmu/commands.js";
import {
  type Peer,
  type PeerName,
  qemuVersion,
  RAM_BASE,
  SMMU_BASE,
  withPeer,
} from "../test-qemu/peers.js";
import { CR0_CMDQEN, cmdqBase, commandBytes, REG } from "../test-qemu/script.js";
import { figures } from "./figures.js";
import { measure } from "./harness.js";
import { median as exactMedian } from "./stats.js";

const args = process.argv.slice(2);
const json = args.includes("--json");
const unknown = args.filter((a) => a !== "--json");
if (unknown.length > 0) {
  console.error(`bench:qemu: unknown argument ${JSON.stringify(unknown[0])} (accepted: --json)`);
  process.exit(2);
}

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;
const note = (s: string): void => {
  if (!json || process.stderr.isTTY) process.stderr.write(`${s}\n`);
};

/** The main CMDQ: 2^19 entries (QEMU's SMMU_CMDQS, the largest LOG2SIZE both accept). */
const LOG2 = 19;
const ENTRIES = 1 << LOG2;
const RING = RAM_BASE + 0x400_0000;
const CHUNK = 0x1_0000;
/** Time limit of one doorbell (a whole ring consumed). */
const DOORBELL_MS = 120_000;
const PIPELINE = 256;

async function ok(peer: Peer, line: string, ms?: number): Promise<string> {
  const r = await peer.send(line, ms);
  if (!r.startsWith("OK")) throw new Error(`${peer.name}: ${line} → ${r}`);
  return r;
}

async function readl(peer: Peer, off: number): Promise<number> {
  const r = await ok(peer, `readl ${hex(SMMU_BASE + off)}`);
  return Number(BigInt(r.slice(3)));
}

const median = (xs: readonly number[]): number => Math.round(exactMedian(xs));

/**
 * One timed run of `n` readl of IDR0: one request in flight, or windows of PIPELINE.
 * Returns round trips per second.
 */
async function roundTrips(peer: Peer, n: number, pipelined: boolean): Promise<number> {
  const line = `readl ${hex(SMMU_BASE + REG.IDR0)}`;
  const t0 = performance.now();
  if (pipelined) {
    for (let done = 0; done < n; done += PIPELINE) {
      const batch: Promise<string>[] = [];
      for (let i = 0; i < PIPELINE; i++) batch.push(peer.send(line));
      await Promise.all(batch);
    }
  } else {
    for (let i = 0; i < n; i++) await peer.send(line);
  }
  return n / ((performance.now() - t0) / 1000);
}

type Mix = "tlbi" | "sync";

/** The ring's contents: 63 TLBI_NH_ASID then a CMD_SYNC (CS=NONE), or CMD_SYNCs only. */
function ringBytes(mix: Mix): Buffer {
  const tlbi = (asid: number) => commandBytes({ op: "TLBI_NH_ASID", vmid: 0, asid });
  const sync = commandBytes({
    op: "CMD_SYNC",
    cs: CS.NONE,
    msh: 3,
    msiattr: 0xf,
    msidata: 0,
    msiaddr: 0n,
  });
  const out = Buffer.alloc(16 * ENTRIES);
  for (let i = 0; i < ENTRIES; i++)
    (mix === "sync" || i % 64 === 63 ? sync : tlbi(i & 0xff)).copy(out, 16 * i);
  return out;
}

/** Lay the ring out in guest RAM with `write` and enable the queue, empty (PROD = CONS = 0). */
async function setUpRing(peer: Peer, ring: Buffer): Promise<void> {
  await ok(peer, `writel ${hex(SMMU_BASE + REG.CR0)} 0x0`);
  await ok(peer, `writeq ${hex(SMMU_BASE + REG.CMDQ_BASE)} ${hex(cmdqBase(RING, LOG2))}`);
  await ok(peer, `writel ${hex(SMMU_BASE + REG.CMDQ_PROD)} 0x0`);
  await ok(peer, `writel ${hex(SMMU_BASE + REG.CMDQ_CONS)} 0x0`);
  for (let off = 0; off < ring.length; off += CHUNK)
    await ok(
      peer,
      `write ${hex(RING + off)} ${hex(CHUNK)} 0x${ring.toString("hex", off, off + CHUNK)}`,
    );
  await ok(peer, `writel ${hex(SMMU_BASE + REG.CR0)} ${hex(CR0_CMDQEN)}`);
}

/**
 * One doorbell that hands the whole ring over (PROD = CONS with the wrap bit flipped),
 * timed until its reply (the consumer has run by then); CONS must equal PROD after it.
 * Returns commands consumed per second.
 */
async function doorbell(peer: Peer): Promise<number> {
  const prod = ((await readl(peer, REG.CMDQ_CONS)) ^ ENTRIES) >>> 0;
  const t0 = performance.now();
  await ok(peer, `writel ${hex(SMMU_BASE + REG.CMDQ_PROD)} ${hex(prod)}`, DOORBELL_MS);
  const dt = performance.now() - t0;
  const cons = await readl(peer, REG.CMDQ_CONS);
  if (cons !== prod)
    throw new Error(
      `${peer.name}: CONS ${hex(cons)} after PROD ${hex(prod)}: the figure would be wrong`,
    );
  return ENTRIES / (dt / 1000);
}

/**
 * `rounds` measurements of `measure` on each peer, alternating between the two so that a
 * change in machine load hits both alike; the first of each is a warm-up. Medians.
 */
async function interleaved(
  peers: readonly Peer[],
  rounds: number,
  measure: (p: Peer) => Promise<number>,
): Promise<number[]> {
  const got: number[][] = peers.map(() => []);
  for (let r = 0; r <= rounds; r++)
    for (const [i, p] of peers.entries()) {
      const v = await measure(p);
      if (r > 0) got[i]!.push(v);
    }
  return got.map(median);
}

interface PeerFigures {
  rtt: number;
  pipelined: number;
  mainCmdq: number;
  mainCmdqSync: number;
}

async function qtestFigures(): Promise<Record<PeerName, PeerFigures>> {
  return withPeer("qemu", (qemu) =>
    withPeer("cmdqv", async (cmdqv) => {
      const peers = [qemu, cmdqv];
      note("qtest round trips");
      const rtt = await interleaved(peers, 9, (p) => roundTrips(p, 4000, false));
      const pipelined = await interleaved(peers, 9, (p) => roundTrips(p, 40 * PIPELINE, true));
      note("main CMDQ: 63 TLBI_NH_ASID + CMD_SYNC");
      for (const p of peers) await setUpRing(p, ringBytes("tlbi"));
      const mainCmdq = await interleaved(peers, 5, doorbell);
      note("main CMDQ: CMD_SYNC only");
      for (const p of peers) await setUpRing(p, ringBytes("sync"));
      const mainCmdqSync = await interleaved(peers, 5, doorbell);
      const of = (i: number): PeerFigures => ({
        rtt: rtt[i]!,
        pipelined: pipelined[i]!,
        mainCmdq: mainCmdq[i]!,
        mainCmdqSync: mainCmdqSync[i]!,
      });
      return { qemu: of(0), cmdqv: of(1) };
    }),
  );
}

const version = qemuVersion();
if (version === null) {
  console.error("bench:qemu: qemu-system-aarch64 cannot be run (apt-get install qemu-system-arm)");
  process.exit(1);
}
const { qemu, cmdqv } = await qtestFigures();
note("cmdqv: in-process figures");
const inProcess = (name: string): number => {
  const fig = figures.find((f) => f.name === name);
  if (fig === undefined) throw new Error(`bench/figures.ts has no figure ${name}`);
  return measure(fig).median;
};
const vcmdq = inProcess("hw_consumer_cmds_per_s");
const mmio = inProcess("vmm_trapped_mmio_per_s");

const ratio = (a: number, b: number): number => Number((a / b).toFixed(2));
const out = {
  qemu_version: version,
  qemu_qtest_rtt_per_s: qemu.rtt,
  cmdqv_qtest_rtt_per_s: cmdqv.rtt,
  qemu_main_cmdq_cmds_per_s: qemu.mainCmdq,
  cmdqv_main_cmdq_cmds_per_s: cmdqv.mainCmdq,
  cmdqv_vcmdq_cmds_per_s: vcmdq,
  qemu_qtest_pipelined_per_s: qemu.pipelined,
  cmdqv_qtest_pipelined_per_s: cmdqv.pipelined,
  qemu_main_cmdq_sync_cmds_per_s: qemu.mainCmdqSync,
  cmdqv_main_cmdq_sync_cmds_per_s: cmdqv.mainCmdqSync,
  cmdqv_trapped_mmio_per_s: mmio,
  ratio_qtest_rtt: ratio(cmdqv.rtt, qemu.rtt),
  ratio_qtest_pipelined: ratio(cmdqv.pipelined, qemu.pipelined),
  ratio_main_cmdq: ratio(cmdqv.mainCmdq, qemu.mainCmdq),
  ratio_main_cmdq_sync: ratio(cmdqv.mainCmdqSync, qemu.mainCmdqSync),
  ratio_vcmdq_to_qemu_main_cmdq: ratio(vcmdq, qemu.mainCmdq),
};

if (json) console.log(JSON.stringify(out));
else {
  const n = (v: number): string => v.toLocaleString("en-US");
  const rows: [string, string, string, string][] = [
    ["figure", `qemu ${version}`, "cmdqv", "cmdqv/qemu"],
    [
      "qtest round trips/s (readl IDR0, 1 in flight)",
      n(qemu.rtt),
      n(cmdqv.rtt),
      `${out.ratio_qtest_rtt}×`,
    ],
    [
      `qtest round trips/s (${PIPELINE} in flight)`,
      n(qemu.pipelined),
      n(cmdqv.pipelined),
      `${out.ratio_qtest_pipelined}×`,
    ],
    [
      "main-CMDQ cmds/s (63 TLBI_NH_ASID + CMD_SYNC)",
      n(qemu.mainCmdq),
      n(cmdqv.mainCmdq),
      `${out.ratio_main_cmdq}×`,
    ],
    [
      "main-CMDQ cmds/s (CMD_SYNC CS=NONE only)",
      n(qemu.mainCmdqSync),
      n(cmdqv.mainCmdqSync),
      `${out.ratio_main_cmdq_sync}×`,
    ],
    [
      "VCMDQ cmds/s (CMDQV hardware model)",
      "-",
      n(vcmdq),
      `${out.ratio_vcmdq_to_qemu_main_cmdq}× qemu main-CMDQ`,
    ],
    ["trapped MMIO accesses/s (in process)", "-", n(mmio), ""],
  ];
  const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i as 0 | 1 | 2 | 3].length)));
  for (const r of rows)
    console.log(`${r[0].padEnd(w[0]!)}  ${r[1].padStart(w[1]!)}  ${r[2].padStart(w[2]!)}  ${r[3]}`);
}
