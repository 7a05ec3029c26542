import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VirtualClock } from "../util/clock.js";
import { fromJsonl, jsonlLine, toJsonl } from "./jsonl.js";
import { PerfettoEncoder, toPerfetto } from "./perfetto.js";
import { NULL_TRACER, RecordingTracer, StreamingTracer, type TraceEvent } from "./trace.js";

function sample(): RecordingTracer {
  const clock = new VirtualClock();
  const t = new RecordingTracer(clock);
  t.emit("guest.vcpu0", "mmio_write", { addr: "0xc030004", value: 2 });
  clock.advance(1500);
  t.emit("vmm.cmdqv", "tegra241_cmdqv_write_mmio", { offset: 4, path: "hw" });
  t.emit("guest.vcpu0", "cmd_sync_done", { ok: true });
  return t;
}

describe("traces", () => {
  it("records events with the virtual time at which they happened", () => {
    const t = sample();
    assert.deepEqual(
      t.events.map((e) => [e.t, e.actor, e.name]),
      [
        [0, "guest.vcpu0", "mmio_write"],
        [1500, "vmm.cmdqv", "tegra241_cmdqv_write_mmio"],
        [1500, "guest.vcpu0", "cmd_sync_done"],
      ],
    );
    assert.equal(NULL_TRACER.enabled, false);
  });

  it("round-trips through JSON Lines and reports bad lines by number", () => {
    const t = sample();
    const text = toJsonl(t.events);
    assert.equal(text.split("\n").length, 4);
    assert.deepEqual(fromJsonl(text).events, t.events);
    assert.deepEqual(fromJsonl('{"t":1}\nnot json\n').errors, [
      "line 1: not a trace event",
      "line 2: not JSON",
    ]);
  });

  it("exports a Perfetto trace with one named track per actor and microsecond timestamps", () => {
    const doc = JSON.parse(toPerfetto(sample().events)) as {
      traceEvents: {
        name: string;
        ph: string;
        tid: number;
        ts?: number;
        args: { name?: string };
      }[];
    };
    const names = doc.traceEvents.filter((e) => e.name === "thread_name").map((e) => e.args.name);
    assert.deepEqual(names, ["guest.vcpu0", "vmm.cmdqv"]);
    const instants = doc.traceEvents.filter((e) => e.ph === "i");
    assert.equal(instants.length, 3);
    assert.deepEqual(
      instants.map((e) => [e.tid, e.ts]),
      [
        [1, 0],
        [2, 1.5],
        [1, 1.5],
      ],
    );
  });

  it("hands each event to a sink as it happens and keeps none itself", () => {
    const clock = new VirtualClock();
    const got: TraceEvent[] = [];
    const t = new StreamingTracer(clock, { event: (e) => got.push(e) });
    assert.equal(t.enabled, true);
    t.emit("guest.vcpu0", "write", { addr: "0x1" });
    clock.advance(7);
    t.emit("host.hw", "consume", { n: 2 });
    assert.deepEqual(got, [
      { t: 0, actor: "guest.vcpu0", name: "write", args: { addr: "0x1" } },
      { t: 7, actor: "host.hw", name: "consume", args: { n: 2 } },
    ]);
    assert.equal(Object.keys(t).includes("events"), false);
  });

  it("writes JSON Lines and Perfetto event by event, the same text as the whole-trace export", () => {
    const events = sample().events;
    assert.equal(events.map(jsonlLine).join(""), toJsonl(events));
    const enc = new PerfettoEncoder();
    const text = enc.head() + events.map((e) => enc.event(e)).join("") + enc.tail();
    assert.equal(text, toPerfetto(events));
    const doc = JSON.parse(text) as {
      traceEvents: { name: string; ph: string; tid: number; args: Record<string, unknown> }[];
      displayTimeUnit: string;
    };
    assert.equal(doc.displayTimeUnit, "ns");
    // A track's names come before its first instant, so a reader can name it as it goes.
    const seen = new Set<number>([0]);
    for (const e of doc.traceEvents) {
      if (e.name === "thread_name") seen.add(e.tid);
      else assert.ok(seen.has(e.tid), `tid ${e.tid} used before it was named`);
    }
    assert.deepEqual(
      doc.traceEvents.filter((e) => e.ph === "i").map((e) => e.args),
      events.map((e) => e.args),
    );
  });

  it("carries slices and counters with their own times through JSON Lines and into Perfetto", () => {
    const clock = new VirtualClock();
    const t = new RecordingTracer(clock);
    clock.advance(5000);
    t.put({ t: 1000, actor: "hw.vcmdq2", name: "cmdqv_hw_queue", ph: "B", args: { vintf: 1 } });
    t.put({
      t: 2000,
      actor: "hw.vcmdq2",
      name: "cmdqv_hw_queue_ptrs",
      ph: "C",
      args: { prod: 4, cons: 0 },
    });
    t.put({
      t: 2000,
      actor: "hw.vcmdq2",
      name: "cmdqv_hw_cmd_sync",
      ph: "X",
      dur: 40,
      args: { cons: 3 },
    });
    t.emit("guest.vcpu0", "read", { addr: "0x1" });
    t.put({ t: 6000, actor: "hw.vcmdq2", name: "cmdqv_hw_queue", ph: "E", args: {} });
    const events = t.events;
    assert.deepEqual(
      events.map((e) => [e.t, e.ph ?? "i"]),
      [
        [1000, "B"],
        [2000, "C"],
        [2000, "X"],
        [5000, "i"],
        [6000, "E"],
      ],
    );
    assert.deepEqual(fromJsonl(toJsonl(events)), { events, errors: [] });
    assert.deepEqual(fromJsonl('{"t":1,"actor":"a","name":"n","ph":"Q","args":{}}\n').errors, [
      "line 1: not a trace event",
    ]);
    const doc = JSON.parse(toPerfetto(events)) as {
      traceEvents: {
        name: string;
        cat?: string;
        ph: string;
        ts: number;
        dur?: number;
        pid: number;
        tid: number;
        args: Record<string, unknown>;
      }[];
    };
    const hw = doc.traceEvents.find(
      (e) => e.name === "thread_name" && e.args.name === "hw.vcmdq2",
    )!;
    const on = doc.traceEvents.filter((e) => e.tid === hw.tid && e.ph !== "M");
    assert.deepEqual(
      on.map((e) => [e.ph, e.name, e.cat, e.ts, e.dur ?? null, e.args]),
      [
        ["B", "cmdqv_hw_queue", "hw", 1, null, { vintf: 1 }],
        // A counter is named after its actor: Perfetto makes "hw.vcmdq2 prod" and "… cons".
        ["C", "hw.vcmdq2", "cmdqv_hw_queue_ptrs", 2, null, { prod: 4, cons: 0 }],
        ["X", "cmdqv_hw_cmd_sync", "hw", 2, 0.04, { cons: 3 }],
        ["E", "cmdqv_hw_queue", "hw", 6, null, {}],
      ],
    );
    for (const e of doc.traceEvents)
      assert.ok(
        typeof e.ts === "number" && typeof e.pid === "number" && typeof e.tid === "number",
        JSON.stringify(e),
      );
  });
});
