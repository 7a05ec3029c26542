// The run report (`cmdqv run … --report FILE.html`): what a run did, as one self-contained
// HTML page a kernel or QEMU developer can open from disk.
//
// API (for the CLI and anything else that runs the model):
//
//   const collector = reportCollectorFor(machineConfig);   // a TraceSink: give it the run's trace
//   … run the model with `collector` as (or teed into) its trace sink …
//   const queues = captureQueues(machine, "when the guest's work ended, before teardown");
//   const data = buildRunReport({ kind: "run", command, machine, collector, queues, violations });
//   const bytes = writeRunReport("out.html", data);        // or renderRunReportHtml(data): string
//
// `buildRunReport` assembles the embedded JSON document (report-data.ts); the page itself
// (sections, inline style and script) is run-report-html.ts, on the shell that the
// exploration report shares (page-shell.ts). docs/report.md says what each part shows.

import { writeFileSync } from "node:fs";
import { INVARIANT_NAMES, type Violation } from "../check/invariants.js";
import { IoctlLog, type IoctlLogEntry, type JsonValue } from "../host/kernel/ioctl-log.js";
import type { MachineConfig } from "../machine/config.js";
import type { Machine } from "../machine/machine.js";
import { BASE_ADDR_MASK, F } from "../regs/cmdqv.js";
import { fieldOf } from "../regs/regdef.js";
import { decodeWords, formatCommand, OPCODE } from "../smmu/commands.js";
import { cmdqErrorName, consErr } from "../smmu/errors.js";
import { qIdx, qUsed } from "../smmu/queue.js";
import { CHECK_LANE, type CollectorLimits, ReportCollector } from "./report-collector.js";
import {
  type CompareData,
  type HostObject,
  type LogLine,
  type QueuesData,
  REPORT_DATA_VERSION,
  type RingCommand,
  type RingData,
  type RunReportData,
  type StepData,
  type StepsData,
  type Verdict,
} from "./report-data.js";
import { renderRunReportHtml } from "./run-report-html.js";

/** Commands listed per ring between CONS and PROD, at most. */
export const RING_COMMANDS_SHOWN = 64;

/** A collector for a run on `machine` (the register tables follow its geometry). */
export function reportCollectorFor(
  machine: MachineConfig,
  limits: Partial<CollectorLimits> = {},
): ReportCollector {
  return new ReportCollector({
    cmdqvBase: machine.cmdqv === "off" ? null : machine.cmdqvBase,
    vcmdqs: machine.vcmdqs,
    ramBase: machine.ramBase,
    ramSize: machine.ramSize,
    limits,
  });
}

const hex = (v: number | bigint) => `0x${v.toString(16)}`;

/**
 * Each VCMDQ's ring as the guest sees it now: BASE as the guest programmed it (the VMM's
 * register cache), PROD and CONS as a guest read returns them (the hardware's registers
 * through the page0 map when the VCMDQ has a HW queue there, else the VMM's cache), and
 * the commands between CONS and PROD read from guest RAM and decoded. `when` says when
 * in the run this is (shown on the page). Once the VM was torn down (iommufd released)
 * the HW queues are gone: PROD and CONS are then the ones `observed` (the collector's
 * observedRings: as last seen before the teardown), where it saw any.
 */
export function captureQueues(
  m: Machine,
  when: string,
  observed: readonly ({ readonly prod: number; readonly cons: number } | null)[] = [],
): QueuesData {
  const dev = m.cmdqv;
  if (dev === null) return { when, rings: [] };
  const cache = dev.cache();
  const hwqs = dev.hwQueues();
  const info = m.host.iommufd.viommuInfo(m.viommuId);
  const rings: RingData[] = [];
  for (let i = 0; i < m.config.vcmdqs; i++) {
    const hwq = hwqs.find((q) => q.index === i) ?? null;
    const q = info && info.vintf >= 0 ? m.host.hw.vcmdqOf(info.vintf, i) : -1;
    const fromHw = hwq !== null && q >= 0 && dev.page0Mapped();
    const view = fromHw ? m.host.hw.vcmdq(q) : null;
    const seen = m.host.iommufd.isReleased ? (observed[i] ?? null) : null;
    const prod = view ? view.prod : seen ? seen.prod : (cache.prod[i] ?? 0);
    const cons = view ? view.cons : seen ? seen.cons : (cache.cons[i] ?? 0);
    const status = view ? view.status : (cache.vcmdqStatus[i] ?? 0);
    const source = fromHw
      ? "hardware, through the page0 map"
      : seen
        ? "as last seen before the teardown (the guest's accesses, the hardware's PROD/CONS samples)"
        : "the VMM's register cache";
    const regs = { baseLo: cache.baseLo[i] ?? 0, baseHi: cache.baseHi[i] ?? 0, prod, cons, status };
    rings.push(ringData(i, regs, source, hwq?.id ?? null, m.ram, m.host.mem));
  }
  return { when, rings };
}

/**
 * VCMDQ `queue`'s ring from its registers (BASE as programmed, PROD, CONS, STATUS), with
 * the commands between CONS and PROD read from guest RAM (`ram`, backed by `mem`).
 */
export function ringData(
  queue: number,
  r: {
    readonly baseLo: number;
    readonly baseHi: number;
    readonly prod: number;
    readonly cons: number;
    readonly status: number;
  },
  source: string,
  hwQueue: number | null,
  ram: Pick<Machine["ram"], "contains" | "hpaOf">,
  mem: Pick<Machine["host"]["mem"], "read">,
): RingData {
  const base = (BigInt(r.baseHi >>> 0) << 32n) | BigInt(r.baseLo >>> 0);
  const log2 = fieldOf(r.baseLo, F.BASE_L.LOG2SIZE);
  const addr = base & BASE_ADDR_MASK;
  const err = consErr(r.cons);
  const pending = log2 > 0 ? Math.max(0, qUsed(r.prod, r.cons, log2)) : 0;
  return {
    queue,
    base: hex(base),
    addr: hex(addr),
    log2size: log2,
    prod: r.prod,
    cons: r.cons,
    source,
    err,
    errName: err === 0 ? null : cmdqErrorName(err),
    hwQueue,
    enabled: (r.status & 1) === 1,
    pending,
    commands: ringCommandsIn(ram, mem, Number(addr), log2, r.cons, pending),
  };
}

/**
 * The commands from CONS on (`n` of them, at most RING_COMMANDS_SHOWN), from guest RAM
 * (`ram`, backed by `mem`).
 */
export function ringCommandsIn(
  ram: Pick<Machine["ram"], "contains" | "hpaOf">,
  mem: Pick<Machine["host"]["mem"], "read">,
  addr: number,
  log2: number,
  cons: number,
  n: number,
): RingCommand[] {
  const out: RingCommand[] = [];
  for (let k = 0; k < Math.min(n, RING_COMMANDS_SHOWN); k++) {
    const index = qIdx(cons + k, log2);
    const gpa = addr + 16 * index;
    if (!ram.contains(gpa, 16)) break;
    const hpa = ram.hpaOf(gpa);
    const w = [0, 4, 8, 12].map((o) => mem.read(hpa + o, 4) >>> 0);
    out.push({
      index,
      words: w.map((x) => hex(x)),
      text: formatCommand(decodeWords(w[0]!, w[1]!, w[2]!, w[3]!)),
    });
  }
  return out;
}

/** Each invariant: ok, or its first violation with its time (and step, when `stepOf` knows). */
export function verdictsOf(
  violations: readonly Violation[],
  stepOf: (v: Violation) => number | null = () => null,
): Verdict[] {
  return INVARIANT_NAMES.map((name) => {
    const v = violations.find((x) => x.invariant === name);
    if (v === undefined) return { name, ok: true };
    const step = stepOf(v);
    return { name, ok: false, message: v.message, t: v.t, ...(step !== null ? { step } : {}) };
  });
}

/** The condensed ioctl log with times; consecutive equal lines folded into one with a count. */
export function ioctlLines(entries: readonly IoctlLogEntry[], dropped: number): LogLine[] {
  const out: LogLine[] = [];
  if (dropped > 0) out.push({ t: null, text: `… ${dropped} earlier calls not kept` });
  for (let i = 0; i < entries.length; ) {
    const e = entries[i]!;
    const text = IoctlLog.condense(e);
    let j = i + 1;
    while (j < entries.length && IoctlLog.condense(entries[j]!) === text) j++;
    const line = j - i > 1 ? `${text}   (×${j - i})` : text;
    out.push(e.errno !== undefined ? { t: e.t, text: line, error: true } : { t: e.t, text: line });
    i = j;
  }
  return out;
}

const ALLOC_RESULT: Readonly<Record<string, [key: string, type: string]>> = {
  VFIO_DEVICE_BIND_IOMMUFD: ["devId", "device (VFIO)"],
  IOMMU_IOAS_ALLOC: ["ioasId", "IOAS"],
  IOMMU_HWPT_ALLOC: ["hwptId", "HWPT"],
  IOMMU_VIOMMU_ALLOC: ["viommuId", "vIOMMU"],
  IOMMU_VDEVICE_ALLOC: ["vdeviceId", "vDEVICE"],
  IOMMU_VEVENTQ_ALLOC: ["veventqId", "vEVENTQ"],
  IOMMU_HW_QUEUE_ALLOC: ["hwQueueId", "HW queue"],
};

const field = (x: JsonValue | undefined, k: string): JsonValue | undefined =>
  x !== null && typeof x === "object" && !Array.isArray(x)
    ? (x as Record<string, JsonValue>)[k]
    : undefined;

/**
 * The host's objects over the run, from the ioctl log: created by an *_ALLOC (or the VFIO
 * bind), destroyed by IOMMU_DESTROY or by the kernel's release when iommufd closed;
 * refused destroys with their errno; leaked when the release found one still referenced
 * or the VMM forgot one after a refused destroy (`vmmLeaked`).
 */
export function hostObjects(
  entries: readonly IoctlLogEntry[],
  vmmLeaked: readonly number[] = [],
): HostObject[] {
  const objs = new Map<
    number,
    {
      id: number;
      type: string;
      created: HostObject["created"];
      destroyed: HostObject["destroyed"];
      refused: { t: number; errno: string }[];
      leaked: boolean;
      note?: string;
      /** The device a vDEVICE was made for. */
      devId?: JsonValue;
    }
  >();
  const get = (id: number, type: string) => {
    let o = objs.get(id);
    if (o === undefined) {
      o = { id, type, created: null, destroyed: null, refused: [], leaked: false };
      objs.set(id, o);
    }
    return o;
  };
  for (const e of entries) {
    const alloc = ALLOC_RESULT[e.call];
    if (alloc !== undefined && e.errno === undefined) {
      const id = field(e.result, alloc[0]);
      if (typeof id === "number") {
        const o = get(id, alloc[1]);
        o.created = { t: e.t, line: IoctlLog.condense(e) };
        o.destroyed = null;
        o.devId = field(e.args, "devId") ?? null;
      }
    } else if (e.call === "IOMMU_DESTROY") {
      const id = field(e.args, "id");
      if (typeof id !== "number") continue;
      const o = get(id, "object");
      if (e.errno !== undefined) o.refused.push({ t: e.t, errno: e.errno });
      else o.destroyed = { t: e.t, how: "IOMMU_DESTROY" };
    } else if (e.call === "close(vfio-device)" && e.errno === undefined) {
      // Unbinding the device destroys it and its vDEVICE (iommufd_device_unbind).
      const dev = field(e.args, "devId");
      for (const o of objs.values())
        if (o.destroyed === null && (o.id === dev || (o.type === "vDEVICE" && o.devId === dev)))
          o.destroyed = { t: e.t, how: "close(vfio-device) (the device unbound)" };
    } else if (e.call === "release" && e.errno === undefined) {
      const destroyed = field(e.result, "destroyed");
      if (Array.isArray(destroyed))
        for (const d of destroyed) {
          const id = field(d, "id");
          if (typeof id === "number" && objs.has(id))
            get(id, "object").destroyed = { t: e.t, how: "release (iommufd closed)" };
        }
      const leaked = field(e.result, "leaked");
      if (Array.isArray(leaked))
        for (const d of leaked) {
          const id = field(d, "id");
          if (typeof id !== "number") continue;
          const o = get(id, String(field(d, "kind") ?? "object"));
          o.leaked = true;
          o.note = "still referenced when iommufd was released";
        }
    }
  }
  for (const id of vmmLeaked) {
    const o = get(id, "object");
    o.leaked = true;
    o.note = "the VMM forgot it after a refused destroy; the host still holds it";
  }
  return [...objs.values()].sort((a, b) => a.id - b.id).map(({ devId: _, ...o }) => o);
}

export interface RunReportInput {
  readonly kind: "run" | "replay";
  /** The command line, for the header: "cmdqv run", "cmdqv run --replay X.json". */
  readonly command: string;
  /** The machine after the run. */
  readonly machine: Machine;
  readonly collector: ReportCollector;
  readonly queues: QueuesData;
  readonly violations: readonly Violation[];
  /** The step a violation was found after (replays), when known. */
  readonly stepOf?: (v: Violation) => number | null;
  readonly steps?: StepsData | null;
  readonly compare?: CompareData | null;
  /** Lines for the header (machine flags over a file's machine, a replay's verdict). */
  readonly notes?: readonly string[];
  /** The machine in words (RunSummary.machine); built from the config when absent. */
  readonly machineText?: string;
}

function machineWords(c: MachineConfig): string {
  return `RAM ${c.ramSize / 2 ** 20} MiB at 0x${c.ramBase.toString(16)} on ${c.ramPage} pages, SMMUv3 at 0x${c.smmuBase.toString(16)}, CMDQV at 0x${c.cmdqvBase.toString(16)} (cmdqv=${c.cmdqv}), ${c.vcmdqs} VCMDQs, ${c.vcpus} vCPUs, seed ${c.seed}`;
}

/**
 * The verdicts of `violations`, each violation also put on the checker's lane as an event
 * of its own, and each step's end marked on the timeline.
 */
export function markVerdicts(
  c: ReportCollector,
  violations: readonly Violation[],
  stepOf: ((v: Violation) => number | null) | undefined,
  steps: readonly StepData[],
): Verdict[] {
  const verdicts = verdictsOf(violations, stepOf);
  for (const v of verdicts)
    if (!v.ok && v.t !== undefined)
      c.addSynthetic({
        t: v.t,
        actor: CHECK_LANE,
        name: `violation: ${v.name}`,
        args: {
          invariant: v.name,
          message: v.message ?? "",
          ...(v.step !== undefined ? { step: v.step } : {}),
        },
      });
  for (const [k, s] of steps.entries()) if (s.t !== undefined) c.markStep(k, s.t);
  return verdicts;
}

/** The report's data: everything the page shows, as one JSON document. */
export function buildRunReport(input: RunReportInput): RunReportData {
  const m = input.machine;
  const c = input.collector;
  const verdicts = markVerdicts(c, input.violations, input.stepOf, input.steps?.list ?? []);
  const entries = m.host.iommufd.log.entries();
  const logs = c.logs();
  const opcodes: Record<string, string> = {};
  for (const [name, op] of Object.entries(OPCODE)) opcodes[String(op)] = name;
  const title =
    input.kind === "replay"
      ? `${input.command}: ${input.steps?.invariant ?? "replay"}`
      : `${input.command}: ${m.config.profile}`;
  return {
    version: REPORT_DATA_VERSION,
    kind: input.kind,
    title,
    header: {
      command: input.command,
      machine: input.machineText ?? machineWords(m.config),
      profile: m.config.profile,
      vmm: "model",
      seed: m.config.seed,
      cmdqvBase: m.config.cmdqv === "off" ? null : m.config.cmdqvBase,
      virtualNs: m.host.clock.now(),
      notes: input.notes ?? [],
    },
    verdicts,
    timeline: c.timeline(),
    registers: c.registerData(),
    queues: input.queues,
    objects: hostObjects(entries, m.cmdqv?.leakedObjects() ?? []),
    logs: {
      ioctl: ioctlLines(entries, m.host.iommufd.log.dropped()),
      dmesg: logs.dmesg,
      console: logs.console,
    },
    steps: input.steps ?? null,
    compare: input.compare ?? null,
    opcodes,
  };
}

/** Write the page; the number of bytes written. */
export function writeRunReport(path: string, data: RunReportData): number {
  const html = renderRunReportHtml(data);
  writeFileSync(path, html);
  return Buffer.byteLength(html);
}
