// A real Linux guest on real QEMU on the simulated Grace host: QEMU boots the kernel
// under UEFI with TCG, Linux's own arm-smmu-v3 and tegra241-cmdqv drivers find the CMDQV
// through ACPI and bring up VINTF0 and its VCMDQs, and /init runs the workload
// (guest-linux/init.sh) and powers off. Nothing here plays the guest.
//
// What is watched, all from outside the guest: its serial console; the CMDQV and SMMUv3
// stores QEMU traps (QEMU's own trace events, which also feed hw-queues-match's account of
// what the guest programmed); the host's ioctl log and HW queues; and the simulated
// hardware's counters, which say how many commands the VCMDQs consumed with no VM exit,
// against the main-CMDQ commands QEMU trapped. Invariants are judged when the guest says
// it reached a point (a `cmdqv-guest:` line, after a settle so the trace has caught up)
// and, once QEMU has exited, on the kernel's release of its files.

import type { Violation } from "../check/invariants.js";
import { QEMU_MAP } from "../real-qemu/qtest-relay.js";
import { type HostAndQemu, type RealQemu, startRealQemu } from "../real-qemu/session.js";
import { judgeFromOutside, type StreamAccount } from "../real-qemu/stream-account.js";
import {
  GUEST_TRACE_EVENTS,
  type GuestMarker,
  parseGuestMarker,
  parseQemuLine,
  type TrappedWrite,
} from "./console-lines.js";
import type { FetchedGuest } from "./guest-fetch.js";

/** Lines of each console kept whole; past it, lines are counted, not kept. */
const KEEP_LINES = 20_000;

export interface GuestRunOptions extends HostAndQemu {
  readonly guest: FetchedGuest;
  /** Domain type switches of the device's IOMMU group (each: identity, then DMA). */
  readonly switches: number;
  /** Seconds of the kernel's DMA map benchmark on the device (0: none). */
  readonly benchSeconds: number;
  /** More QEMU trace patterns (--trace). */
  readonly trace?: readonly string[];
  /** Added to the kernel command line. */
  readonly append?: string;
  readonly onSerialLine?: (line: string) => void;
  readonly onQemuLine?: (line: string) => void;
  /** A short wall-clock wait (the CLI's timer), so QEMU's trace catches up with a marker. */
  readonly settle: () => Promise<void>;
  /** Settles when the run has taken too long (the CLI's timer). */
  readonly deadline: Promise<void>;
  readonly log: (line: string) => void;
}

export interface QueueSnapshot {
  readonly index: number;
  readonly gpa: number;
  readonly length: number;
}

export interface GuestRunResult {
  /** done: /init finished (status 0 or not); the others: it never said so. */
  readonly outcome: "done" | "timeout" | "qemu-exited";
  /** /init's `done status=N`, when it got there. */
  readonly guestStatus: number | null;
  readonly guestErrors: readonly string[];
  readonly markers: readonly GuestMarker[];
  readonly serial: readonly string[];
  readonly serialDropped: number;
  /** QEMU's console lines that are not the trace events parsed below. */
  readonly qemuConsole: readonly string[];
  /** Every CMDQV and SMMUv3 store QEMU trapped, in order (up to KEEP_LINES). */
  readonly trapped: readonly TrappedWrite[];
  /** Main-CMDQ commands QEMU trapped, by opcode name. */
  readonly mainCmdq: Readonly<Record<string, number>>;
  /** What the VCMDQs consumed on the simulated hardware (no VM exit). */
  readonly vcmdq: {
    readonly commands: number;
    readonly invalidations: number;
    readonly syncs: number;
    readonly errors: number;
    readonly perQueue: readonly number[];
  };
  /** The host's HW queues when userspace started. */
  readonly queuesAtUserspace: readonly QueueSnapshot[];
  /** IOMMU_HWPT_INVALIDATE calls QEMU made (main-CMDQ invalidations forwarded). */
  readonly forwardedInvalidations: number;
  readonly ioctls: readonly string[];
  /** Failed host calls: `IOMMU_HW_QUEUE_ALLOC → EIO`. */
  readonly failedCalls: readonly string[];
  readonly hostDmesg: readonly string[];
  readonly violations: readonly Violation[];
  /** Guest uptime (s) when /init started; and the benchmark's uptime window. */
  readonly userspaceAt: number | null;
  readonly bench: {
    readonly from: number;
    readonly to: number;
    readonly invalidations: number;
  } | null;
  readonly qemuExit: string | null;
}

/** The kernel command line: the serial console, ACPI, and the workload's parameters. */
export function kernelCommandLine(o: {
  switches: number;
  benchSeconds: number;
  append?: string;
}): string {
  return [
    "console=ttyAMA0",
    "acpi=force",
    "rdinit=/init",
    // The driver's bring-up lines are dev_dbg: on for its file only, and shown on the console.
    'dyndbg="file tegra241-cmdqv.c +p"',
    "loglevel=8",
    `cmdqv.switches=${o.switches}`,
    `cmdqv.bench_seconds=${o.benchSeconds}`,
    ...(o.append ? [o.append] : []),
  ].join(" ");
}

export async function runRealGuest(o: GuestRunOptions): Promise<GuestRunResult> {
  const serial: string[] = [];
  let serialDropped = 0;
  const qemuConsole: string[] = [];
  const trapped: TrappedWrite[] = [];
  const mainCmdq: Record<string, number> = {};
  const markers: GuestMarker[] = [];
  let account: StreamAccount | null = null;
  let sawMarker: (m: GuestMarker) => void = () => {};
  let saidDone = false;

  const onQemu = (line: string) => {
    const p = parseQemuLine(line);
    if (p.kind === "write") {
      if (trapped.length < KEEP_LINES) trapped.push(p.write);
      if (p.write.device === "cmdqv")
        account?.observeWrite(p.write.offset, p.write.value, p.write.size);
      return;
    }
    if (p.kind === "cmdq-opcode") {
      mainCmdq[p.opcode] = (mainCmdq[p.opcode] ?? 0) + 1;
      return;
    }
    if (qemuConsole.length < KEEP_LINES) qemuConsole.push(line);
    o.onQemuLine?.(line);
  };
  const onSerial = (line: string) => {
    if (serial.length < KEEP_LINES) serial.push(line);
    else serialDropped++;
    o.onSerialLine?.(line);
    const m = parseGuestMarker(line);
    if (m !== null && markers.length < KEEP_LINES) {
      markers.push(m);
      sawMarker(m);
    }
    // /init powers off right after it: QEMU's exit must not overtake the marker's judging.
    if (m?.key === "done") saidDone = true;
  };

  const rq: RealQemu = await startRealQemu({
    qemu: o.qemu,
    preload: o.preload,
    clock: o.clock,
    ticker: o.ticker,
    ramSize: o.ramSize,
    ramPage: o.ramPage,
    physSid: o.physSid,
    seed: o.seed,
    faultPlan: o.faultPlan,
    ...(o.hostHw !== undefined ? { hostHw: o.hostHw } : {}),
    qtest: "none" as const,
    boot: {
      firmware: o.guest.firmware,
      kernel: o.guest.kernel,
      initrd: o.guest.initrd,
      append: kernelCommandLine(o),
      onSerialLine: onSerial,
    },
    trace: [...GUEST_TRACE_EVENTS, ...(o.trace ?? [])],
    onConsoleLine: onQemu,
    log: o.log,
  });
  const host = rq.host;
  const judge = judgeFromOutside(host, QEMU_MAP["tegra241-cmdqv"].base);
  account = judge.account;
  const checker = judge.checker;
  let queuesAtUserspace: QueueSnapshot[] = [];
  let userspaceAt: number | null = null;
  let benchFrom: { t: number; inv: number } | null = null;
  let bench: GuestRunResult["bench"] = null;
  let guestStatus: number | null = null;
  const guestErrors: string[] = [];
  let finished: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  // Markers are judged in order, each after a settle; a chain keeps them so.
  let judged = Promise.resolve();
  sawMarker = (m) => {
    judged = judged.then(async () => {
      await o.settle();
      rq.grace()?.tick(0);
      checker.check();
      const inv = host.hw.stats().invalidations;
      const uptime = Number(m.fields["uptime"] ?? Number.NaN);
      if (m.key === "userspace") {
        userspaceAt = Number.isFinite(uptime) ? uptime : null;
        queuesAtUserspace = host.iommufd
          .hwQueues()
          .map((q) => ({ index: q.index, gpa: q.iova, length: q.length }));
      } else if (m.key === "bench" && m.text === "start") {
        benchFrom = { t: uptime, inv };
      } else if (m.key === "bench" && m.text === "end" && benchFrom !== null) {
        bench = { from: benchFrom.t, to: uptime, invalidations: inv - benchFrom.inv };
      } else if (m.key === "error") {
        guestErrors.push(m.text + fieldsText(m));
      } else if (m.key === "done") {
        guestStatus = Number(m.fields["status"] ?? Number.NaN);
        finished();
      }
    });
  };

  let outcome: GuestRunResult["outcome"];
  let qemuExit: string | null = null;
  try {
    const how = await Promise.race([
      done.then(() => "done" as const),
      // A QEMU that exits after /init said done is still "done" (its marker is judged first).
      // ("close" comes after QEMU's stdout has drained, so the marker has been read by then).
      rq.exited.then(() =>
        saidDone ? done.then(() => "done" as const) : ("qemu-exited" as const),
      ),
      o.deadline.then(() => "timeout" as const),
    ]);
    outcome = how;
    if (how === "done") {
      // /init powers off next: QEMU exits by itself; give it the deadline to do so.
      const end = await Promise.race([rq.exited, o.deadline.then(() => null)]);
      if (end !== null && end.code !== 0) qemuExit = end.message;
    }
  } finally {
    await rq.dispose();
  }
  await judged;
  if (outcome === "qemu-exited") {
    const e = await rq.exited;
    qemuExit = e.message;
  }
  // QEMU's exit closed its files: the kernel's release must have taken everything down.
  checker.checkTeardown([]);
  const s = host.hw.stats();
  const log = host.iommufd.log;
  const entries = log.entries();
  return {
    outcome,
    guestStatus,
    guestErrors,
    markers,
    serial,
    serialDropped,
    qemuConsole,
    trapped,
    mainCmdq,
    vcmdq: {
      commands: s.commands,
      invalidations: s.invalidations,
      syncs: s.syncs,
      errors: s.errors,
      perQueue: [...s.commandsPerQueue],
    },
    queuesAtUserspace,
    forwardedInvalidations: entries.filter((e) => e.call === "IOMMU_HWPT_INVALIDATE").length,
    ioctls: log.condensed(),
    failedCalls: entries.filter((e) => e.errno !== undefined).map((e) => `${e.call} → ${e.errno}`),
    hostDmesg: host.hostDmesg(),
    violations: checker.violations(),
    userspaceAt,
    bench,
    qemuExit,
  };
}

function fieldsText(m: GuestMarker): string {
  const kv = Object.entries(m.fields).map(([k, v]) => `${k}=${v}`);
  return kv.length > 0 ? ` ${kv.join(" ")}` : "";
}
