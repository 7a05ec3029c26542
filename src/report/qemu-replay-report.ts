// The run report of a replay on real QEMU 11.1 (`cmdqv run --replay X.json --vmm qemu
// --report FILE.html`): the same page as a replay on the model, drawn from what a path on
// real QEMU shows from outside QEMU.
//
// - The guest's lane: every qtest line the replay sent, with QEMU's reply (a readl's value,
//   a writel's value), at the host clock's time when it was sent (the relay steps the host
//   by as much as QEMU's clock moved, so the host's clock is QEMU's virtual time).
// - The VMM's lane: QEMU's own `-trace enable=tegra241_cmdqv*` lines, which it prints on
//   its console, parsed into the events the model's device emits under the same names;
//   the rest of QEMU's console is the VMM console.
// - The host kernel's and the CMDQV hardware's lanes: the simulated host QEMU runs on
//   emits the same trace events as under the model; host objects and the ioctl log come
//   from its ioctl log.
// - The rings: BASE as the guest programmed it, PROD and CONS as last seen before QEMU
//   exited (the guest's reads, the hardware's PROD/CONS samples), the commands between
//   them from the host's copy of guest RAM.
// What QEMU cannot give (its device model's register cache, a guest kernel's dmesg) the
// page says in words.
//
// API (for the CLI):
//
//   const observer = new QemuReportObserver();
//   const out = await replayOnQemu(f.steps, { ...opts, observer });
//   const data = qemuReplayReportData({ command, file: f, outcome: out, observer });

import type { Violation } from "../check/invariants.js";
import {
  formatStep,
  type QemuRunObserver,
  type QemuRunOutcome,
} from "../explore/qemu-orderings.js";
import { QEMU_GUEST_MAP } from "../explore/qemu-steps.js";
import type { OrderingsReplay } from "../explore/replay.js";
import type { Host } from "../host/host.js";
import { APERTURE, VCMDQ0, VCMDQ1 } from "../regs/cmdqv.js";
import { OPCODE } from "../smmu/commands.js";
import { CONSOLE_TRACE } from "../trace/events.js";
import type { TraceArgs, TraceEvent, TraceSink } from "../trace/trace.js";
import { ReportCollector } from "./report-collector.js";
import {
  type LogLine,
  type QueuesData,
  REPORT_DATA_VERSION,
  type RingData,
  type RunReportData,
  type StepData,
} from "./report-data.js";
import { hostObjects, ioctlLines, markVerdicts, ringData } from "./run-report.js";

/** QEMU 11.1's CMDQV has two VCMDQs (TEGRA241_CMDQV_MAX_CMDQ). */
const QEMU_VCMDQS = 2;
/** The guest RAM a real-QEMU session gives its virt machine (startQtestSession). */
const QEMU_RAM_SIZE = 0x4000_0000;
/** The lane of the qtest client, which plays the guest. */
export const QTEST_LANE = "guest.vcpu0";
/** What QEMU traces for the report: its CMDQV device's events. */
export const QEMU_REPORT_TRACE = ["tegra241_cmdqv*"] as const;

const hex = (v: number | bigint) => `0x${v.toString(16)}`;
const SIZE: Readonly<Record<string, number>> = { b: 1, w: 2, l: 4, q: 8 };

/** A guest access a qtest line made, as the model's guest access events carry it. */
export function qtestAccess(
  line: string,
  reply: string,
): { name: string; addr: number; size: number; value: string | null } | null {
  const m = /^(read|write)([bwlq]) (0x[0-9a-f]+)(?: (0x[0-9a-f]+))?$/i.exec(line.trim());
  if (m) {
    const size = SIZE[m[2]!]!;
    const write = m[1] === "write";
    const v = write ? m[4] : /^OK (0x[0-9a-f]+)/i.exec(reply)?.[1];
    const value = v === undefined ? null : hex(BigInt(v));
    const name = `${m[1]}${size === 8 ? "64" : ""}`;
    return { name, addr: Number.parseInt(m[3]!, 16), size, value };
  }
  const w = /^write (0x[0-9a-f]+) (\d+) (0x[0-9a-f]+)$/i.exec(line.trim());
  if (w)
    return { name: "write", addr: Number.parseInt(w[1]!, 16), size: Number(w[2]), value: w[3]! };
  return null;
}

/**
 * A line of QEMU's log trace backend for one of its tegra241_cmdqv events, as the event
 * the model's device emits (the arguments QEMU's format strings print, by the same names),
 * or null for any other console line. QEMU may prefix `PID@SECONDS:`.
 */
export function parseQemuTraceLine(line: string): { name: string; args: TraceArgs } | null {
  const m = /^(?:\d+@[\d.]+:)?(tegra241_cmdqv_\w+) (.*)$/.exec(line.trim());
  if (!m) return null;
  const name = m[1]!;
  const rest = m[2]!;
  const args: Record<string, string | number> = {};
  for (const [, k, v] of rest.matchAll(/(\w+): (0x[0-9a-fA-F]+)/g)) args[k!] = v!.toLowerCase();
  const q = /^vcmdq\[(\d+)\] (\w+)(?: \((\w+)\))?/.exec(rest);
  if (q) {
    args.index = Number(q[1]);
    args.aperture = q[2]!;
    if (q[3] !== undefined) args.source = q[3];
  }
  const maps = /maps: ([0-9A-F]{4}):([0-9A-F]{4}):([0-9A-F]{4}):([0-9A-F]{4})/.exec(rest);
  if (maps)
    [3, 2, 1, 0].forEach((k, i) => {
      args[`map${k}`] = Number.parseInt(maps[i + 1]!, 16);
    });
  if (Object.keys(args).length === 0) args.text = rest;
  return { name, args };
}

/**
 * Watches a path on real QEMU for its report: feeds a report collector, in the order
 * things happen, the qtest lines (a line's host events after the line itself), QEMU's
 * trace and console lines, and the host's trace.
 */
export class QemuReportObserver implements QemuRunObserver {
  readonly collector = new ReportCollector({
    cmdqvBase: QEMU_GUEST_MAP.cmdqv,
    vcmdqs: QEMU_VCMDQS,
    ramBase: QEMU_GUEST_MAP.ramBase,
    ramSize: QEMU_RAM_SIZE,
  });
  readonly qemuTrace: readonly string[] = QEMU_REPORT_TRACE;
  readonly hostTrace: TraceSink;
  /** The guest's last value of each CMDQV register (window offset), as it wrote or read it. */
  readonly guestRegs = new Map<number, number>();
  /** Guest RAM as the guest's qtest `write ADDR N 0xHEX` lines left it: bytes by address. */
  readonly ramWritten = new Map<number, number>();
  /** Each step's end: the host clock and the events the collector had by then. */
  readonly stepEnds: { readonly t: number; readonly seq: number }[] = [];
  /** QEMU's trace lines seen (on its console). */
  traceLines = 0;
  private hostOf: Host | null = null;
  private pending: { readonly line: string; readonly t: number } | null = null;
  private held: TraceEvent[] = [];

  constructor() {
    this.hostTrace = {
      event: (e) => {
        if (this.pending !== null) this.held.push(e);
        else this.collector.event(e);
      },
    };
  }

  /** The path's host (null before QEMU connected). */
  get host(): Host | null {
    return this.hostOf;
  }

  private now(): number {
    return this.hostOf?.clock.now() ?? 0;
  }

  started(host: Host): void {
    this.hostOf = host;
  }

  sent(line: string): void {
    this.pending = { line, t: this.now() };
  }

  replied(reply: string): void {
    const p = this.pending;
    if (p === null) return;
    this.pending = null;
    const a = qtestAccess(p.line, reply);
    const base = QEMU_GUEST_MAP.cmdqv;
    if (a !== null) {
      const off = a.addr - base;
      const inCmdqv = off >= 0 && off < APERTURE.VINTF_PAGE1 + 0x1_0000;
      // Through qtest every access is QEMU's; the VINTF page0 QEMU maps from the host is
      // the one the guest reaches without a VM exit under KVM.
      const page0 = off >= APERTURE.VINTF_PAGE0 && off < APERTURE.VINTF_PAGE1;
      this.collector.event({
        t: p.t,
        actor: QTEST_LANE,
        name: a.name,
        args: { addr: hex(a.addr), value: a.value, exit: inCmdqv && !page0, qtest: p.line },
      });
      if (!inCmdqv && a.value !== null && /^write \S+ \d+ /.test(p.line))
        for (let i = 0; i < a.size; i++)
          this.ramWritten.set(a.addr + i, Number.parseInt(a.value.slice(2 + 2 * i, 4 + 2 * i), 16));
      if (inCmdqv && a.value !== null && a.size >= 4) {
        const v = BigInt(a.value);
        this.guestRegs.set(off, Number(v & 0xffff_ffffn));
        if (a.size === 8) this.guestRegs.set(off + 4, Number(v >> 32n));
      }
    } else
      this.collector.event({
        t: p.t,
        actor: QTEST_LANE,
        name: "qtest",
        args: { line: p.line, reply },
      });
    const held = this.held;
    this.held = [];
    for (const e of held) this.collector.event(e);
  }

  console(line: string): void {
    const t = this.now();
    const ev = parseQemuTraceLine(line);
    if (ev !== null) {
      this.traceLines++;
      this.collector.event({ t, actor: "vmm.cmdqv", name: ev.name, args: ev.args });
      return;
    }
    const kind = /error|failed/i.test(line) ? "error" : "info";
    this.collector.event({
      t,
      actor: "vmm.console",
      name: CONSOLE_TRACE.VMM,
      args: { kind, text: line },
    });
  }

  stepEnded(): void {
    this.stepEnds.push({ t: this.now(), seq: this.collector.total() });
  }
}

export interface QemuReplayReportInput {
  /** The command line, for the header. */
  readonly command: string;
  readonly file: OrderingsReplay;
  readonly outcome: QemuRunOutcome;
  readonly observer: QemuReportObserver;
  readonly notes?: readonly string[];
}

/** The guest's last value of a VCMDQ register, by its page1 or VINTF page1 (page: which). */
function guestReg(
  regs: ReadonlyMap<number, number>,
  pages: readonly number[],
  q: number,
  reg: number,
) {
  for (const page of pages) {
    const v = regs.get(page + APERTURE.VCMDQ_STRIDE * q + reg);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** The last HW queue the host allocated for guest VCMDQ `i` (its ioctl log), or null. */
function lastHwQueue(host: Host | null, i: number): number | null {
  let id: number | null = null;
  for (const e of host?.iommufd.log.entries() ?? []) {
    if (e.call !== "IOMMU_HW_QUEUE_ALLOC" || e.errno !== undefined) continue;
    const a = e.args as { index?: unknown } | null;
    const r = e.result as { hwQueueId?: unknown } | null;
    if (a?.index === i && typeof r?.hwQueueId === "number") id = r.hwQueueId;
  }
  return id;
}

/** Each VCMDQ's ring as the guest programmed it, PROD/CONS as last seen before QEMU exited. */
function qemuRings(o: QemuReportObserver): QueuesData {
  const seen = o.collector.observedRings();
  // The ring's commands as the guest wrote them (QEMU's RAM is gone with QEMU).
  const bytes = o.ramWritten;
  const written = {
    contains: (gpa: number, len: number) => bytes.has(gpa) && bytes.has(gpa + len - 1),
    hpaOf: (gpa: number) => gpa,
    read: (a: number, _len: number) =>
      ((bytes.get(a) ?? 0) |
        ((bytes.get(a + 1) ?? 0) << 8) |
        ((bytes.get(a + 2) ?? 0) << 16) |
        ((bytes.get(a + 3) ?? 0) << 24)) >>>
      0,
  };
  const rings: RingData[] = [];
  for (let i = 0; i < QEMU_VCMDQS; i++) {
    const p1 = [APERTURE.VCMDQ_PAGE1, APERTURE.VINTF_PAGE1];
    const p0 = [APERTURE.VINTF_PAGE0, APERTURE.VCMDQ_PAGE0];
    const ring = seen[i] ?? null;
    const regs = {
      baseLo: guestReg(o.guestRegs, p1, i, VCMDQ1.BASE_L) ?? 0,
      baseHi: guestReg(o.guestRegs, p1, i, VCMDQ1.BASE_H) ?? 0,
      prod: ring?.prod ?? 0,
      cons: ring?.cons ?? 0,
      status: guestReg(o.guestRegs, p0, i, VCMDQ0.STATUS) ?? 0,
    };
    const source =
      ring === null
        ? "nothing seen of it: the guest never read PROD or CONS and no hardware queue backed it"
        : "as last seen before QEMU exited (the guest's qtest reads, the hardware's PROD/CONS samples); QEMU's own register cache is not visible from outside it";
    rings.push(ringData(i, regs, source, lastHwQueue(o.host, i), written, written));
  }
  return { when: "when the replay ended: PROD and CONS as last seen before QEMU exited", rings };
}

/** The step a violation was found after: the first step that ended at or after it, else the last. */
function stepOfViolation(ends: readonly { t: number }[], steps: number) {
  return (v: Violation): number | null => {
    const k = ends.findIndex((e) => e.t >= v.t);
    if (k >= 0) return k;
    return steps > 0 ? steps - 1 : null;
  };
}

/** "real QEMU 11.1.3" for the fetched build ("QEMU 1:11.1.3+ds-2~bpo13+1 (Debian)"), else the binary. */
export function qemuName(resolved: string): string {
  const v = /^QEMU (?:\d+:)?(\d+\.\d+\.\d+)/.exec(resolved)?.[1];
  return v !== undefined ? `real QEMU ${v}` : `real QEMU (${resolved})`;
}

/** The run report's data of a replay on real QEMU. */
export function qemuReplayReportData(input: QemuReplayReportInput): RunReportData {
  const { outcome: out, observer: o, file: f } = input;
  const c = o.collector;
  const host = o.host;
  const texts = out.steps.map(formatStep);
  const list: StepData[] = texts.map((text, i) => {
    const end = o.stepEnds[i];
    return end !== undefined ? { text, t: end.t, seq: end.seq } : { text };
  });
  const stepOf = stepOfViolation(o.stepEnds, texts.length);
  const violations = [...out.violations].sort((a, b) => a.t - b.t);
  const own = violations.find((v) => v.invariant === f.invariant);
  const verdicts = markVerdicts(c, violations, stepOf, list);
  const entries = host?.iommufd.log.entries() ?? [];
  const logs = c.logs();
  const opcodes: Record<string, string> = {};
  for (const [name, op] of Object.entries(OPCODE)) opcodes[String(op)] = name;
  const noTrace =
    o.traceLines === 0
      ? [
          "QEMU printed no tegra241_cmdqv trace line: its device model's lane is empty (a QEMU built without the log trace backend, or without those events)",
        ]
      : [];
  const dmesg: LogLine[] = [
    {
      t: null,
      text: "no guest kernel: under qtest the guest is the replay's qtest lines (on the guest vCPU 0 lane), so there is no guest dmesg",
    },
  ];
  return {
    version: REPORT_DATA_VERSION,
    kind: "replay",
    title: `${input.command}: ${f.invariant} on ${out.qemu}`,
    header: {
      command: input.command,
      machine: `QEMU virt with arm-smmuv3,accel=on,cmdqv=on: RAM ${QEMU_RAM_SIZE / 2 ** 20} MiB at ${hex(QEMU_GUEST_MAP.ramBase)} on 2M pages, CMDQV at ${hex(QEMU_GUEST_MAP.cmdqv)}, ${QEMU_VCMDQS} VCMDQs, on the simulated host`,
      profile: "",
      vmm: qemuName(out.qemu),
      seed: 1,
      cmdqvBase: QEMU_GUEST_MAP.cmdqv,
      virtualNs: host?.clock.now() ?? 0,
      notes: [
        `orderings replay on real QEMU, ${f.vmm === "qemu" ? "found on real QEMU" : `found on profile ${f.machine.profile}`}`,
        "real QEMU is seen from outside: the guest's qtest lines and QEMU's replies, QEMU's -trace tegra241_cmdqv* lines and console, and the simulated host's trace and ioctl log; QEMU's register cache and internals are not visible",
        ...noTrace,
        ...(input.notes ?? []),
      ],
    },
    verdicts,
    timeline: c.timeline(),
    registers: c.registerData(),
    queues: qemuRings(o),
    objects: hostObjects(entries, out.leakedObjects),
    logs: {
      ioctl:
        host !== null
          ? ioctlLines(entries, host.iommufd.log.dropped())
          : [{ t: null, text: "QEMU never connected to the host: no ioctl was made" }],
      dmesg,
      console: logs.console,
    },
    steps: {
      list,
      violating: own !== undefined ? stepOf(own) : null,
      invariant: f.invariant,
      message: own?.message ?? f.message,
      reproduced: own !== undefined,
    },
    compare: null,
    opcodes,
  };
}
