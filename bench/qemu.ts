// `npm run bench:qemu`: one table, a column per peer: QEMU 7.2 (Debian's
// qemu-system-aarch64), real QEMU 11.1 on cmdqv's simulated host (bench/qemu-11-peer.ts),
// and cmdqv, with cmdqv's ratio to each QEMU (bench/peers-table.ts); each cell the median
// of several rounds with min–max. QEMU 7.2 and cmdqv are driven over qtest on stdio by the
// same client with the same method, then cmdqv's in-process figures and the VCMDQ
// consumer's physical limit (bench/ring-read.ts). A peer that cannot be run keeps its
// column, which says why. `-- --json` prints one JSON object instead of the table.
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

import type { Buffer } from "node:buffer";
import { performance } from "node:perf_hooks";
import {
  type Peer,
  type PeerName,
  qemuVersion,
  RAM_BASE,
  SMMU_BASE,
  withPeer,
} from "../test-qemu/peers.js";
import { CR0_CMDQEN, cmdqBase, REG } from "../test-qemu/script.js";
import { CONSUMER_VS_LIMIT, figures } from "./figures.js";
import { measure } from "./harness.js";
import { ringCommands } from "./main-cmdq-ring.js";
import { formatPeerTable, type PeerColumns, type PeerRow, peerTableJson } from "./peers-table.js";
import { qemu111Figures } from "./qemu-11-peer.js";
import { type Spread, spread } from "./stats.js";

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
const ringBytes = (mix: Mix): Buffer => ringCommands(ENTRIES, mix);

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
 * change in machine load hits both alike; the first of each is a warm-up. Median, min, max.
 */
async function interleaved(
  peers: readonly Peer[],
  rounds: number,
  measure: (p: Peer) => Promise<number>,
): Promise<Spread[]> {
  const got: number[][] = peers.map(() => []);
  for (let r = 0; r <= rounds; r++)
    for (const [i, p] of peers.entries()) {
      const v = await measure(p);
      if (r > 0) got[i]!.push(v);
    }
  return got.map((xs) => spread(xs, Math.round));
}

interface PeerFigures {
  rtt: Spread;
  pipelined: Spread;
  mainCmdq: Spread;
  mainCmdqSync: Spread;
}

/** Both peers' qtest figures, or cmdqv's alone when QEMU 7.2 cannot be run. */
async function qtestFigures(withQemu: boolean): Promise<Partial<Record<PeerName, PeerFigures>>> {
  const run = async (peers: Peer[]): Promise<Partial<Record<PeerName, PeerFigures>>> => {
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
    return Object.fromEntries(peers.map((p, i) => [p.name, of(i)]));
  };
  return withQemu
    ? withPeer("qemu", (qemu) => withPeer("cmdqv", (cmdqv) => run([qemu, cmdqv])))
    : withPeer("cmdqv", (cmdqv) => run([cmdqv]));
}

const version = qemuVersion();
const { qemu, cmdqv } = await qtestFigures(version !== null);
note("QEMU 11.1 on cmdqv's host");
const q11 = await qemu111Figures(5).catch((e: unknown) =>
  e instanceof Error ? e.message : String(e),
);
note("cmdqv: in-process figures");
const inProcess = (name: string): Spread => {
  const fig = figures.find((f) => f.name === name);
  if (fig === undefined) throw new Error(`bench/figures.ts has no figure ${name}`);
  return measure(fig);
};
const vcmdq = inProcess(CONSUMER_VS_LIMIT.consumer);
const limit = inProcess(CONSUMER_VS_LIMIT.limit);
const mmio = inProcess("vmm_trapped_mmio_per_s");
const n11 = typeof q11 === "string" ? null : q11;

const columns: PeerColumns = {
  qemu72: {
    title: version === null ? "QEMU 7.2" : `QEMU ${version}`,
    short: "7.2",
    missing:
      version === null
        ? "qemu-system-aarch64 cannot be run (apt-get install qemu-system-arm)"
        : null,
  },
  qemu111: {
    title: "QEMU 11.1 on cmdqv's host",
    short: "11.1",
    missing: typeof q11 === "string" ? q11 : null,
  },
  cmdqv: { title: "cmdqv", short: "cmdqv", missing: null },
};
/** A row of the qtest figures every peer has (QEMU 11.1's include them). */
const row = (
  key: string,
  figure: string,
  pick: (f: PeerFigures) => Spread,
  remark?: string,
): PeerRow => ({
  key,
  figure,
  values: {
    ...(qemu ? { qemu72: pick(qemu) } : {}),
    ...(n11 ? { qemu111: pick(n11) } : {}),
    ...(cmdqv ? { cmdqv: pick(cmdqv) } : {}),
  },
  ...(remark !== undefined ? { note: remark } : {}),
});
const rows: PeerRow[] = [
  row("qtest_rtt_per_s", "qtest round trips/s (readl, 1 in flight)", (f) => f.rtt),
  row("qtest_pipelined_per_s", `qtest round trips/s (${PIPELINE} in flight)`, (f) => f.pipelined),
  row(
    "main_cmdq_cmds_per_s",
    "main-CMDQ cmds/s (63 TLBI_NH_ASID + CMD_SYNC)",
    (f) => f.mainCmdq,
    "11.1: accel, each TLBI forwarded to the host",
  ),
  row(
    "main_cmdq_sync_cmds_per_s",
    "main-CMDQ cmds/s (CMD_SYNC CS=NONE only)",
    (f) => f.mainCmdqSync,
  ),
  {
    key: "vcmdq_cmds_per_s",
    figure: "VCMDQ cmds/s (CMDQV hardware consumer)",
    values: { ...(n11 ? { qemu111: n11.vcmdq } : {}), cmdqv: vcmdq },
    note: `cmdqv at ${(vcmdq.median / limit.median).toFixed(2)}× limit`,
  },
  {
    key: "ring_read_limit_cmds_per_s",
    figure: "limit: VCMDQ ring read only (bench/ring-read.ts)",
    values: { cmdqv: limit },
    note: "the consumer's physical bound",
  },
  {
    key: "trapped_mmio_per_s",
    figure: "trapped MMIO accesses/s (in process)",
    values: { cmdqv: mmio },
  },
];

if (json) console.log(JSON.stringify({ qemu72_version: version, ...peerTableJson(columns, rows) }));
else for (const l of formatPeerTable(columns, rows)) console.log(l);
