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
});
