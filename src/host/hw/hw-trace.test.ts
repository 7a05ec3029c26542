import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CS, OPCODE } from "../../smmu/commands.js";
import { HW_TRACE } from "../../trace/events.js";
import { RecordingTracer, type TraceEvent } from "../../trace/trace.js";
import type { VirtualClock } from "../../util/clock.js";
import { alloc, putCmd, RING, type Rig, rig, setupQueue, VCMDQ0, vp0 } from "./test-fixture.js";

const sync = { op: "CMD_SYNC", cs: CS.NONE, msh: 0, msiattr: 0, msidata: 0, msiaddr: 0n } as const;
const tlbi = (asid: number) => ({ op: "TLBI_NH_ASID", vmid: 0, asid }) as const;

/** A rig whose hardware records its trace events; `events` lists them. */
function traced(): Rig & { readonly events: TraceEvent[] } {
  let rec: RecordingTracer | null = null;
  const r = rig({}, {}, (clock: VirtualClock) => {
    rec = new RecordingTracer(clock);
    return rec;
  });
  return { ...r, events: (rec as RecordingTracer | null)!.events };
}

/** The events of track `actor` as [t, name, ph, dur, args]. */
const track = (events: readonly TraceEvent[], actor: string) =>
  events
    .filter((e) => e.actor === actor)
    .map((e) => [e.t, e.name, e.ph ?? "i", e.dur ?? null, e.args] as const);

describe("the hardware's trace", () => {
  test("a guest queue's life, its CMD_SYNC wait and PROD/CONS at the doorbell and after the batch", () => {
    const r = traced();
    const cmdNs = r.cfg.cmdNs;
    const mapped = r.clock.now();
    setupQueue(r, { v: 1, l: 0, q: 2, vmid: 5, hypOwn: 0 });
    for (let i = 0; i < 3; i++) putCmd(r.mem, RING, i, tlbi(i));
    putCmd(r.mem, RING, 3, sync);
    const rung = r.clock.now();
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 4);
    r.clock.advance(1000);
    const unmapped = r.clock.now();
    r.hw.write(alloc(2), 4, 0);
    assert.deepEqual(track(r.events, "hw.vcmdq2"), [
      [mapped, HW_TRACE.QUEUE, "B", null, { vintf: 1, lvcmdq: 0, hyp_own: false }],
      [rung, HW_TRACE.QUEUE_PTRS, "C", null, { prod: 4, cons: 0 }],
      // The CMD_SYNC is the 4th command: it completes 4·cmdNs after the doorbell.
      [rung, HW_TRACE.CMD_SYNC, "X", 4 * cmdNs, { cons: 3 }],
      [rung + 4 * cmdNs, HW_TRACE.QUEUE_PTRS, "C", null, { prod: 4, cons: 4 }],
      [unmapped, HW_TRACE.QUEUE, "E", null, {}],
    ]);
    assert.deepEqual(
      r.events.filter((e) => e.actor !== "hw.vcmdq2"),
      [],
      "no other queue has a track",
    );
  });

  test("a CMD_SYNC published while an earlier one waits starts when that one ends (slices on a track do not overlap)", () => {
    const r = traced();
    const cmdNs = r.cfg.cmdNs;
    setupQueue(r, { v: 1, l: 0, q: 2, hypOwn: 0 });
    for (let i = 0; i < 5; i++) putCmd(r.mem, RING, i, tlbi(i));
    putCmd(r.mem, RING, 5, sync);
    putCmd(r.mem, RING, 6, sync);
    const first = r.clock.now();
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 6);
    r.clock.advance(5);
    const second = r.clock.now();
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 7);
    r.clock.advance(1000);
    const waits = r.events.filter((e) => e.name === HW_TRACE.CMD_SYNC);
    assert.deepEqual(
      waits.map((e) => [e.t, e.dur, e.args]),
      [
        [first, 6 * cmdNs, { cons: 5 }],
        [first + 6 * cmdNs, cmdNs, { cons: 6, issued: second }],
      ],
    );
  });

  test("a command error is an instant with the CONS index, the CONS.ERR code and the opcode", () => {
    const r = traced();
    setupQueue(r, { v: 1, l: 0, q: 2, hypOwn: 0 });
    putCmd(r.mem, RING, 0, tlbi(1));
    putCmd(r.mem, RING, 1, { op: "CFGI_CD", sid: 3, ssid: 0, leaf: 1 });
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 2);
    r.clock.advance(1000);
    const errs = r.events.filter((e) => e.name === HW_TRACE.CMDQ_ERROR);
    assert.deepEqual(
      errs.map((e) => [e.actor, e.ph, e.args]),
      [
        [
          "hw.vcmdq2",
          undefined,
          { cons: 1, err: r.cfg.unknowns.guestFilterError, opcode: OPCODE.CFGI_CD },
        ],
      ],
    );
  });

  test("tracing changes nothing the hardware does", () => {
    const program = (r: Rig) => {
      setupQueue(r, { v: 1, l: 0, q: 2, hypOwn: 0 });
      setupQueue(r, { v: 1, l: 1, q: 3, hypOwn: 0, base: RING + 0x1000 });
      for (let i = 0; i < 15; i++) putCmd(r.mem, RING, i, i % 4 === 3 ? sync : tlbi(i));
      for (let i = 0; i < 7; i++) putCmd(r.mem, RING + 0x1000, i, i === 6 ? sync : tlbi(i));
      r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 15);
      r.clock.advance(37);
      r.hw.write(vp0(1, 1, VCMDQ0.PROD), 4, 7);
      r.clock.advance(1000);
      r.hw.write(alloc(3), 4, 0);
    };
    const plain = rig();
    const withTrace = traced();
    program(plain);
    program(withTrace);
    assert.deepEqual(withTrace.hw.state(), plain.hw.state());
    assert.equal(withTrace.events.filter((e) => e.name === HW_TRACE.CMD_SYNC).length, 4);
  });
});
