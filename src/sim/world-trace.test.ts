import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { machineConfig } from "../machine/config.js";
import { CONSOLE_TRACE, HW_TRACE, KVM_MMIO } from "../trace/events.js";
import { toPerfetto } from "../trace/perfetto.js";
import type { TraceEvent } from "../trace/trace.js";
import type { ProfileName } from "../vmm/tegra241-cmdqv/profile.js";
import { World } from "./world.js";

/** `cmdqv run`'s default mix, on a shorter run. */
const MIX = { TLBI_NH_VA: 6, TLBI_NH_ASID: 2, ATC_INV: 1, CFGI_CD: 1 } as const;

function tracedRun(
  profile: ProfileName = "qemu-11.1",
  extra: Partial<Parameters<typeof World.create>[0]> = {},
  invalidations = 300,
): World {
  const w = World.create({ machine: machineConfig({ profile }), trace: true, ...extra });
  assert.ok(w.ok, w.ok ? "" : w.error);
  const world = w.value;
  world.boot();
  if (invalidations > 0) world.apply({ kind: "workload", invalidations, vcpus: 2, weights: MIX });
  world.teardown();
  return world;
}

/**
 * Slices per track, as Perfetto needs them: B/E pairs match and every slice (B/E or X)
 * either contains or stays clear of each other slice on its track. Returns the problems.
 */
function nestingProblems(events: readonly TraceEvent[]): string[] {
  const problems: string[] = [];
  const spans = new Map<string, { start: number; end: number; what: string }[]>();
  const open = new Map<string, TraceEvent[]>();
  const add = (actor: string, start: number, end: number, what: string) => {
    const l = spans.get(actor) ?? [];
    l.push({ start, end, what });
    spans.set(actor, l);
  };
  for (const e of events) {
    if (e.ph === "X") add(e.actor, e.t, e.t + (e.dur ?? 0), `${e.name}@${e.t}`);
    else if (e.ph === "B") open.set(e.actor, [...(open.get(e.actor) ?? []), e]);
    else if (e.ph === "E") {
      const b = open.get(e.actor)?.pop();
      if (b === undefined || b.name !== e.name)
        problems.push(`${e.actor}: E ${e.name}@${e.t} unmatched`);
      else add(e.actor, b.t, e.t, `${b.name}@${b.t}`);
    }
  }
  for (const [actor, bs] of open) for (const b of bs) add(actor, b.t, Infinity, `${b.name}@${b.t}`);
  for (const [actor, l] of spans) {
    l.sort((a, b) => a.start - b.start || b.end - a.end);
    const stack: { start: number; end: number; what: string }[] = [];
    for (const s of l) {
      while (stack.length > 0 && stack.at(-1)!.end <= s.start) stack.pop();
      const top = stack.at(-1);
      if (top !== undefined && s.end > top.end)
        problems.push(`${actor}: ${s.what} overlaps ${top.what}`);
      stack.push(s);
    }
  }
  return problems;
}

interface ChromeEvent {
  readonly name: string;
  readonly cat?: string;
  readonly ph: string;
  readonly ts: number;
  readonly dur?: number;
  readonly pid: number;
  readonly tid: number;
  readonly args: Record<string, unknown>;
}

describe("the trace of a default-like run", () => {
  const w = tracedRun();
  const events = w.machine.traceEvents;
  // The tracks of the queues the guest got (IOMMU_HW_QUEUE_ALLOC maps them to its VINTF).
  const guestQueues = events
    .filter((e) => e.name === HW_TRACE.QUEUE && e.ph === "B" && e.args.hyp_own === false)
    .map((e) => e.actor);

  it("has the hardware: each guest HW queue's life, one CMD_SYNC wait per CMD_SYNC consumed, PROD/CONS samples", () => {
    assert.equal(guestQueues.length, 2, "both vCPUs' queues");
    for (const q of guestQueues) {
      const life = events.filter((e) => e.actor === q && e.name === HW_TRACE.QUEUE);
      assert.deepEqual(
        life.map((e) => [e.ph, e.args.vintf ?? null]),
        [
          ["B", 1],
          ["E", null],
        ],
        `${q}: allocated at boot, destroyed at QEMU's exit`,
      );
      const ptrs = events.filter((e) => e.actor === q && e.name === HW_TRACE.QUEUE_PTRS);
      assert.ok(ptrs.length > 10, `${q}: ${ptrs.length} PROD/CONS samples`);
      assert.ok(
        ptrs.every(
          (e) => e.ph === "C" && typeof e.args.prod === "number" && typeof e.args.cons === "number",
        ),
      );
    }
    const waits = events.filter((e) => e.name === HW_TRACE.CMD_SYNC);
    assert.equal(waits.length, w.machine.host.hw.stats().syncs);
    assert.ok(waits.length > 0);
    assert.deepEqual(nestingProblems(events), []);
  });

  it("has a kvm_mmio slice for each trapped access, lasting the VM exit", () => {
    const trapped = events.filter((e) => e.args.exit === true);
    const slices = events.filter((e) => e.name === KVM_MMIO);
    assert.ok(trapped.length > 0);
    assert.deepEqual(
      slices.map((e) => [e.actor, e.t + (e.dur ?? 0), e.args.gpa]),
      trapped.map((e) => [e.actor, e.t, e.args.addr]),
    );
    assert.ok(slices.every((e) => e.ph === "X" && e.dur === w.machine.config.timing.trapNs));
  });

  it("has each guest dmesg line as a console instant, in order", () => {
    const lines = events.filter((e) => e.name === CONSOLE_TRACE.GUEST);
    assert.ok(lines.length > 0);
    assert.deepEqual(
      lines.map((e) => e.args.msg),
      w.dmesg.messages(),
    );
    assert.ok(lines.every((e) => e.actor === "guest.dmesg" && e.ph === undefined));
  });

  it("exports to Perfetto as valid trace events: slices, counters per queue and instants", () => {
    const doc = JSON.parse(toPerfetto(events)) as { traceEvents: ChromeEvent[] };
    const all = doc.traceEvents;
    for (const e of all) {
      assert.ok(["i", "M", "X", "B", "E", "C"].includes(e.ph), JSON.stringify(e));
      assert.equal(typeof e.ts, "number", JSON.stringify(e));
      assert.equal(typeof e.pid, "number", JSON.stringify(e));
      assert.equal(typeof e.tid, "number", JSON.stringify(e));
      if (e.ph === "X") assert.ok(typeof e.dur === "number" && e.dur >= 0, JSON.stringify(e));
    }
    const tidOf = new Map(
      all.filter((e) => e.name === "thread_name").map((e) => [e.args.name as string, e.tid]),
    );
    for (const q of guestQueues) {
      const tid = tidOf.get(q);
      assert.ok(tid !== undefined, q);
      const on = all.filter((e) => e.tid === tid);
      assert.deepEqual(
        on.filter((e) => e.name === HW_TRACE.QUEUE).map((e) => e.ph),
        ["B", "E"],
      );
      assert.ok(
        on.some((e) => e.ph === "X" && e.name === HW_TRACE.CMD_SYNC),
        `${q}: CMD_SYNC waits`,
      );
      const counters = on.filter((e) => e.ph === "C");
      assert.ok(counters.length > 0, `${q}: counters`);
      for (const c of counters) {
        assert.equal(
          c.name,
          q,
          "a counter is named after its queue: one track per queue and series",
        );
        assert.deepEqual(Object.keys(c.args).sort(), ["cons", "prod"]);
      }
    }
    const dmesg = all.filter((e) => e.ph === "i" && e.name === CONSOLE_TRACE.GUEST);
    assert.deepEqual(
      dmesg.map((e) => e.args.msg),
      w.dmesg.messages(),
    );
    assert.ok(all.some((e) => e.ph === "X" && e.name === KVM_MMIO));
  });
});

describe("the trace of a run whose VMM prints", () => {
  it("has each VMM console line as an instant with its text, in order", () => {
    // The review's Case 2 (boot only): the kernel refuses VCMDQ0's misaligned ring (EINVAL),
    // then VCMDQ1 (EIO), and the VMM reports both.
    const w = tracedRun("qemu-v5", { vcmdqRingOffsets: [0x1000, 0], cmdqMaxSzShift: 12 }, 0);
    const lines = w.machine.traceEvents.filter((e) => e.name === CONSOLE_TRACE.VMM);
    assert.ok(
      lines.some((e) => String(e.args.text).includes("IOMMU_HW_QUEUE_ALLOC failed: error -22")),
    );
    assert.deepEqual(
      lines.map((e) => [e.args.kind, e.args.text]),
      w.machine.log.all().map((l) => [l.kind, l.text]),
    );
    assert.ok(lines.every((e) => e.actor === "vmm.console"));
    const doc = JSON.parse(toPerfetto(w.machine.traceEvents)) as { traceEvents: ChromeEvent[] };
    assert.equal(
      doc.traceEvents.filter((e) => e.ph === "i" && e.name === CONSOLE_TRACE.VMM).length,
      lines.length,
    );
  });
});
