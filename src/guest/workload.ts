// A guest workload: one actor per vCPU issuing invalidations the way the arm-smmu-v3
// driver does for a stage-1 domain of a passed-through device: TLBI_NH_VA over a few
// pages (arm_smmu_tlb_inv_range_asid, one command per 4 KiB page), TLBI_NH_ASID
// (arm_smmu_tlb_inv_asid) and ATC_INV for the device's vSID (arm_smmu_atc_inv_master),
// each kind as one batch closed by a CMD_SYNC. Choices come from a Prng seeded from the
// options and the CPU number: the same inputs give the same commands.

import { ATC_INV_SIZE_ALL, type Command } from "../smmu/commands.js";
import { Prng } from "../util/prng.js";
import { type ActorBody, delay } from "./actor.js";
import type { ArmSmmuV3 } from "./arm-smmu-v3.js";

/**
 * What a batch invalidates. The first three are what a guest-owned VCMDQ accepts; CFGI_CD
 * and TLBI_NH_ALL always go to the (trapped) main CMDQ. spec: linux §4.5.
 */
export const WORKLOAD_KINDS = [
  "TLBI_NH_VA",
  "TLBI_NH_ASID",
  "ATC_INV",
  "CFGI_CD",
  "TLBI_NH_ALL",
] as const;
/** The kinds a VCMDQ accepts: the default mix. */
export const VCMDQ_KINDS = ["TLBI_NH_VA", "TLBI_NH_ASID", "ATC_INV"] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/**
 * The most invalidations one workload may issue (a scenario's `workload` step, and the
 * scenario's program in all; `cmdqv run --invalidations`). A batch of one command costs
 * 3 scheduler steps per invalidation (a TLBI_NH_VA batch of 1–4 pages about 1.2), so this
 * stays far below the world's 50 000 000-step bound whatever the mix. Measured on a 2-core
 * machine: the default mix runs 1 M in ~8 s at ~190 MB; the costliest mix (CFGI_CD only:
 * every batch trapped and forwarded to the host) in ~17 s at ~550 MB. A run whose guest
 * wedges hits the step bound anyway: the world records the cut (World.cutShort) and
 * `cmdqv run` says so and exits 3.
 */
export const MAX_WORKLOAD_INVALIDATIONS = 1_000_000;

export interface WorkloadOptions {
  readonly seed: number;
  /** Batches (each closed by one CMD_SYNC) this vCPU issues. */
  readonly batches: number;
  /** The device's vSID for ATC_INV. */
  readonly vsid: number;
  /** ASID of the domain (default 1). */
  readonly asid?: number;
  /** Pages a TLBI_NH_VA batch covers: 1..maxPages (default 4). */
  readonly maxPages?: number;
  /** First IOVA of the pages (default 0x10_0000). */
  readonly iovaBase?: bigint;
  /** Kinds to choose from (default all three). */
  readonly kinds?: readonly WorkloadKind[];
  /** Up to this much virtual time between batches (default 0: back to back). */
  readonly maxThinkNs?: number;
  /** Relative weights of the kinds (overrides `kinds`); a kind with weight 0 is not issued. */
  readonly weights?: Readonly<Partial<Record<WorkloadKind, number>>>;
  /**
   * A budget of invalidation commands shared by every vCPU of the run: a batch is issued
   * only while some remain, so N vCPUs together issue (about) the total.
   */
  readonly budget?: { remaining: number };
}

export interface WorkloadStats {
  readonly cpu: number;
  batches: number;
  /** Invalidation commands issued (CMD_SYNCs not counted). */
  invalidations: number;
  readonly byKind: Record<WorkloadKind, number>;
  /** Batches whose CMD_SYNC timed out. */
  timeouts: number;
}

const PAGE = 0x1000n;
/** TG for a 4 KiB granule, TTL 3 (last level), as the range form with RIL encodes it. */
const TG_4K = 1;
const TTL_L3 = 3;

function seedFor(seed: number, cpu: number): number {
  return (seed ^ Math.imul(cpu + 1, 0x9e37_79b9)) >>> 0;
}

/** The commands of one batch of `kind`. */
function batchCommands(kind: WorkloadKind, o: WorkloadOptions, prng: Prng): Command[] {
  const asid = o.asid ?? 1;
  switch (kind) {
    case "TLBI_NH_ASID":
      return [{ op: "TLBI_NH_ASID", vmid: 0, asid }];
    case "TLBI_NH_ALL":
      return [{ op: "TLBI_NH_ALL", vmid: 0 }];
    case "CFGI_CD":
      return [{ op: "CFGI_CD", sid: o.vsid, ssid: 0, leaf: 1 }];
    case "ATC_INV":
      return [
        {
          op: "ATC_INV",
          sid: o.vsid,
          ssv: 0,
          ssid: 0,
          global: 0,
          addr: 0n,
          size: ATC_INV_SIZE_ALL,
        },
      ];
    case "TLBI_NH_VA": {
      const pages = 1 + prng.int(o.maxPages ?? 4);
      const first = BigInt(prng.int(16));
      const base = o.iovaBase ?? 0x10_0000n;
      const cmds: Command[] = [];
      for (let i = 0n; i < BigInt(pages); i++)
        cmds.push({
          op: "TLBI_NH_VA",
          vmid: 0,
          asid,
          addr: base + (first + i) * PAGE,
          num: 0,
          scale: 0,
          leaf: 1,
          ttl: TTL_L3,
          tg: TG_4K,
        });
      return cmds;
    }
  }
}

/** The kinds to draw from, each repeated by its weight. */
function weightedKinds(o: WorkloadOptions): WorkloadKind[] {
  if (!o.weights) return [...(o.kinds ?? VCMDQ_KINDS)];
  const out: WorkloadKind[] = [];
  for (const k of WORKLOAD_KINDS)
    for (let i = 0; i < Math.max(0, Math.floor(o.weights[k] ?? 0)); i++) out.push(k);
  return out.length > 0 ? out : [...VCMDQ_KINDS];
}

/** One vCPU's workload. Returns its counts. */
export function* workload(
  smmu: ArmSmmuV3,
  cpu: number,
  opts: WorkloadOptions,
): ActorBody<WorkloadStats> {
  const prng = new Prng(seedFor(opts.seed, cpu));
  const kinds = weightedKinds(opts);
  const stats: WorkloadStats = {
    cpu,
    batches: 0,
    invalidations: 0,
    byKind: { TLBI_NH_VA: 0, TLBI_NH_ASID: 0, ATC_INV: 0, CFGI_CD: 0, TLBI_NH_ALL: 0 },
    timeouts: 0,
  };
  for (let b = 0; b < opts.batches; b++) {
    if (opts.budget && opts.budget.remaining <= 0) break;
    if ((opts.maxThinkNs ?? 0) > 0) yield delay(prng.int((opts.maxThinkNs ?? 0) + 1));
    const kind = kinds[prng.int(kinds.length)] ?? "TLBI_NH_ASID";
    const cmds = batchCommands(kind, opts, prng);
    if (opts.budget) {
      if (cmds.length > opts.budget.remaining) cmds.length = Math.max(1, opts.budget.remaining);
      opts.budget.remaining -= cmds.length;
    }
    const first = cmds[0];
    if (first === undefined) continue;
    const batch = smmu.batchInit(cpu, first);
    for (const c of cmds) yield* smmu.batchAdd(batch, c);
    yield* smmu.batchSubmit(batch);
    stats.batches++;
    stats.invalidations += cmds.length;
    stats.byKind[kind] += cmds.length;
    if (batch.errors > 0) stats.timeouts++;
  }
  return stats;
}
