// What a run did, as data and as the text `cmdqv run` prints: the guest's dmesg, the VMM
// console, the host ioctl log (condensed), the HW queues, where commands went (consumed by
// hardware vs trapped by the VMM), VM exits per 1 000 invalidations on each path, and the
// invariant results.

import { INVARIANT_NAMES, type InvariantName } from "../check/invariants.js";
import type { World } from "../sim/world.js";

/** Trapped-access counts per region, taken before a workload so the summary can diff. */
export interface ExitBaseline {
  readonly smmu: number;
  readonly cmdqv: number;
  readonly direct: number;
  readonly mainCommands: number;
  readonly vcmdqCommands: number;
}

export interface PathFigures {
  /** Invalidation commands the guest issued on this path (CMD_SYNCs not counted). */
  readonly invalidations: number;
  /** VM exits (trapped MMIO accesses) caused on this path. */
  readonly exits: number;
  readonly exitsPer1000: number;
}

export interface RunSummary {
  readonly profile: string;
  readonly machine: string;
  readonly bootResult: number | null;
  readonly dmesg: readonly string[];
  readonly vmmLog: readonly string[];
  readonly ioctls: readonly string[];
  readonly hwQueues: readonly { index: number; gpa: number; length: number; id: number }[];
  /** Commands the CMDQV hardware consumed from the VM's VCMDQs (no VM exit). */
  readonly hwConsumed: number;
  /** Commands the VMM consumed from the trapped main CMDQ. */
  readonly vmmTrapped: number;
  readonly mainPath: PathFigures;
  readonly vcmdqPath: PathFigures;
  readonly directAccesses: number;
  readonly invariants: readonly { name: InvariantName; ok: boolean; message?: string }[];
  readonly virtualNs: number;
}

function regionTraps(w: World, name: string): number {
  const c = w.machine.as.regionCounters(name);
  return c ? c.reads + c.writes : 0;
}

function guestCommands(w: World): { main: number; vcmdq: number } {
  const main = w.smmu.cmdq?.stats.commands ?? 0;
  let vcmdq = 0;
  for (const q of w.cmdqv?.vintf0()?.lvcmdqs ?? []) if (q) vcmdq += q.cmdq.stats.commands;
  return { main, vcmdq };
}

export function exitBaseline(w: World): ExitBaseline {
  const g = guestCommands(w);
  return {
    smmu: regionTraps(w, "smmuv3"),
    cmdqv: regionTraps(w, "tegra241-cmdqv"),
    direct: w.machine.as.directAccesses(),
    mainCommands: g.main,
    vcmdqCommands: g.vcmdq,
  };
}

function path(invalidations: number, exits: number): PathFigures {
  return {
    invalidations,
    exits,
    exitsPer1000: invalidations > 0 ? Math.round((exits * 1000 * 10) / invalidations) / 10 : 0,
  };
}

export function summarize(w: World, before: ExitBaseline): RunSummary {
  const m = w.machine;
  const after = exitBaseline(w);
  const info = m.host.iommufd.viommuInfo(m.viommuId);
  const stats = m.host.hw.stats();
  let hwConsumed = 0;
  if (info && info.vintf >= 0)
    for (let l = 0; l < m.config.vcmdqs; l++) {
      const q = m.host.hw.vcmdqOf(info.vintf, l);
      if (q >= 0) hwConsumed += stats.commandsPerQueue[q] ?? 0;
    }
  const c = m.config;
  return {
    profile: c.profile,
    machine: `RAM ${c.ramSize / 2 ** 20} MiB at 0x${c.ramBase.toString(16)} on ${c.ramPage} pages, SMMUv3 at 0x${c.smmuBase.toString(16)}, CMDQV at 0x${c.cmdqvBase.toString(16)} (cmdqv=${c.cmdqv}), ${c.vcmdqs} VCMDQs, ${c.vcpus} vCPUs, seed ${c.seed}`,
    bootResult: w.lastBootResult(),
    dmesg: w.dmesg.listing(),
    vmmLog: m.log.text(),
    ioctls: collapseRepeats(
      m.host.iommufd.log.condensed().filter((l) => !l.startsWith("read(veventq)")),
    ),
    hwQueues: m.cmdqv?.hwQueues() ?? [],
    hwConsumed,
    vmmTrapped: m.smmu.counters().consumed,
    mainPath: path(after.mainCommands - before.mainCommands, after.smmu - before.smmu),
    vcmdqPath: path(after.vcmdqCommands - before.vcmdqCommands, after.cmdqv - before.cmdqv),
    directAccesses: after.direct - before.direct,
    invariants: invariantResults(w),
    virtualNs: m.host.clock.now(),
  };
}

/** Each invariant with its first violation, if any (call again after teardown). */
export function invariantResults(w: World): RunSummary["invariants"] {
  const violations = w.checker.violations();
  return INVARIANT_NAMES.map((name) => {
    const v = violations.find((x) => x.invariant === name);
    return v ? { name, ok: false, message: v.message } : { name, ok: true };
  });
}

/** Consecutive identical lines become one line with a count. */
export function collapseRepeats(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < lines.length; ) {
    let j = i + 1;
    while (j < lines.length && lines[j] === lines[i]) j++;
    out.push(j - i > 1 ? `${lines[i]}   (×${j - i})` : lines[i]!);
    i = j;
  }
  return out;
}

function section(title: string, lines: readonly string[], max = 60): string[] {
  const out = ["", `${title}:`];
  const shown =
    lines.length > max
      ? [
          ...lines.slice(0, max / 2),
          `… ${lines.length - max} more lines …`,
          ...lines.slice(-max / 2),
        ]
      : lines;
  for (const l of shown) out.push(`  ${l}`);
  if (lines.length === 0) out.push("  (none)");
  return out;
}

/** A machine field a command-line flag set over the one a file (scenario, replay) gave. */
export interface MachineOverride {
  /** The flag, e.g. "--seed". */
  readonly flag: string;
  /** The value the run uses and the file's, spelt as the flag takes them ("7", "1"). */
  readonly value: string;
  readonly was: string;
}

/** What a run's text says besides its summary. */
export interface SummaryNotes {
  /** Machine fields the command line changed; the header names each with the file's value. */
  readonly overrides?: readonly MachineOverride[];
  /** Invariants the scenario declared it violates: shown as VIOLATED (expected). */
  readonly expected?: ReadonlySet<InvariantName>;
}

/**
 * The header's words for overrides: the profile's own (" (overrides the file's qemu-v5)",
 * "" when the profile is the file's) and a line listing the others (null when none).
 */
export function overrideText(overrides: readonly MachineOverride[] = []): {
  readonly profile: string;
  readonly others: string | null;
} {
  const p = overrides.find((o) => o.flag === "--profile");
  const rest = overrides.filter((o) => o !== p);
  return {
    profile: p ? ` (overrides the file's ${p.was})` : "",
    others:
      rest.length > 0
        ? `flags over the file's machine: ${rest.map((o) => `${o.flag} ${o.value} (the file's ${o.was})`).join(", ")}`
        : null,
  };
}

/** An invariant's result as `cmdqv run` prints it: ok, VIOLATED or VIOLATED (expected). */
export function invariantCell(ok: boolean, expected: boolean): string {
  return ok ? "ok" : expected ? "VIOLATED (expected)" : "VIOLATED";
}

export function formatSummary(s: RunSummary, notes: SummaryNotes = {}): string {
  const over = overrideText(notes.overrides);
  const out: string[] = [`cmdqv run: profile ${s.profile}${over.profile}`, `  ${s.machine}`];
  if (over.others !== null) out.push(`  ${over.others}`);
  out.push(
    `  guest boot: ${s.bootResult === null ? "not run" : s.bootResult === 0 ? "ok" : `failed (${s.bootResult})`}; virtual time ${(s.virtualNs / 1e6).toFixed(3)} ms`,
  );
  out.push(...section("guest dmesg", s.dmesg));
  out.push(...section("VMM console", s.vmmLog));
  out.push(...section("host ioctl log (condensed)", s.ioctls));
  out.push(
    ...section(
      "host HW queues",
      s.hwQueues.map(
        (q) =>
          `VCMDQ${q.index}: hw_queue ${q.id} at GPA 0x${q.gpa.toString(16)}, ${q.length} bytes`,
      ),
    ),
  );
  out.push("", "where commands went:");
  out.push(`  consumed by CMDQV hardware (no VM exit)   ${s.hwConsumed}`);
  out.push(`  consumed by the VMM (trapped main CMDQ)   ${s.vmmTrapped}`);
  out.push(`  direct page0 accesses (no VM exit)        ${s.directAccesses}`);
  out.push("", "VM exits per 1 000 invalidations:");
  out.push(
    `  VCMDQ path      ${String(s.vcmdqPath.exitsPer1000).padStart(8)}   (${s.vcmdqPath.exits} exits, ${s.vcmdqPath.invalidations} invalidations)`,
  );
  out.push(
    `  main CMDQ path  ${String(s.mainPath.exitsPer1000).padStart(8)}   (${s.mainPath.exits} exits, ${s.mainPath.invalidations} invalidations)`,
  );
  out.push("", "invariants:");
  for (const i of s.invariants) {
    const cell = invariantCell(i.ok, notes.expected?.has(i.name) === true);
    out.push(`  ${i.name.padEnd(20)} ${i.ok ? cell : `${cell}: ${i.message}`}`);
  }
  return out.join("\n");
}
