import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { machineConfig } from "../machine/config.js";
import { toPerfetto } from "../trace/perfetto.js";
import type { TraceEvent } from "../trace/trace.js";
import { PROFILE_NAMES, type ProfileName } from "../vmm/tegra241-cmdqv/profile.js";
import { WORLD_MAX_STEPS, World } from "./world.js";

function world(
  profile: ProfileName,
  extra: Partial<Parameters<typeof World.create>[0]> = {},
): World {
  const w = World.create({ machine: machineConfig({ profile }), ...extra });
  assert.ok(w.ok, w.ok ? "" : w.error);
  return w.value;
}

describe("the review's Case 2 through the Linux-like guest", () => {
  // 64 KiB rings, VCMDQ0's ring 4 KiB past alignment: the kernel answers EINVAL (-22).
  const case2 = { vcmdqRingOffsets: [0x1000, 0], cmdqMaxSzShift: 12 } as const;

  it("under qemu-v5 ends in repeated CMD_SYNC timeouts and violates no-silent-hang", () => {
    const w = world("qemu-v5", case2);
    assert.equal(w.boot(), 0, "the probe succeeds: the cache said the queues were enabled");
    w.apply({ kind: "workload", invalidations: 2, vcpus: 2 });
    const lines = w.dmesg.lines().filter((l) => l.includes("CMD_SYNC timeout"));
    assert.ok(
      lines.some((l) =>
        l.endsWith(
          "arm-smmu-v3 arm-smmu-v3.0.auto: CMD_SYNC timeout at 0x00000002 [hwprod 0x00000002, hwcons 0x00000000]",
        ),
      ),
      lines.join("\n"),
    );
    assert.ok(w.machine.log.text().includes("IOMMU_HW_QUEUE_ALLOC failed: error -22"));
    assert.deepEqual(w.checker.violated(), ["no-silent-hang"]);
  });

  it("under qemu-v7 fails loudly instead: the guest sees the VCMDQ fail to enable and the SMMU probe fails", () => {
    const w = world("qemu-v7", case2);
    assert.notEqual(w.boot(), 0);
    const text = w.dmesg.lines().join("\n");
    assert.match(
      text,
      /tegra241_cmdqv: VINTF0: VCMDQ0\/LVCMDQ0: failed to enable, STATUS=0x00000000/,
    );
    assert.match(text, /failed to reset impl/);
    assert.deepEqual(w.checker.violations(), []);
  });
});

describe("snapshot and restore", () => {
  function fingerprint(w: World) {
    return {
      t: w.machine.host.clock.now(),
      issued: w.invalidationsIssued(),
      consumed: w.machine.host.hw.stats().commandsPerQueue.slice(0, 4),
      trapped: w.machine.smmu.counters().consumed,
      steps: w.sched.steps(),
    };
  }

  it("restores a world by replay to the same state, which then continues identically", () => {
    const a = world("qemu-latest");
    a.boot();
    a.apply({
      kind: "workload",
      invalidations: 500,
      vcpus: 2,
      weights: { TLBI_NH_ASID: 3, CFGI_CD: 1 },
    });
    const snap = a.snapshot();
    const atSnap = fingerprint(a);
    a.apply({ kind: "workload", invalidations: 300, vcpus: 2 });
    const r = World.restore(snap);
    assert.ok(r.ok);
    const b = r.value;
    assert.deepEqual(fingerprint(b), atSnap);
    b.apply({ kind: "workload", invalidations: 300, vcpus: 2 });
    assert.deepEqual(fingerprint(b), fingerprint(a));
  });

  it("restores a world driven by a replayed choice list from the list alone", () => {
    const a = world("reference");
    a.boot();
    a.apply({ kind: "workload", invalidations: 100, vcpus: 3 });
    const { randomSeed: _seed, ...snap } = a.snapshot();
    const r = World.restore(snap);
    assert.ok(r.ok);
    assert.deepEqual(fingerprint(r.value), fingerprint(a));
  });
});

describe("traces", () => {
  it("exports a Perfetto file that parses, with one named track per actor", () => {
    const w = world("qemu-latest", { trace: true });
    w.boot();
    w.apply({
      kind: "workload",
      invalidations: 200,
      vcpus: 2,
      weights: { TLBI_NH_ASID: 1, CFGI_CD: 1 },
    });
    const doc = JSON.parse(toPerfetto(w.machine.traceEvents)) as {
      traceEvents: { name: string; ph: string; tid: number; args: { name?: string } }[];
    };
    const tracks = doc.traceEvents.filter((e) => e.name === "thread_name").map((e) => e.args.name);
    assert.equal(new Set(tracks).size, tracks.length, "one track per actor");
    for (const actor of ["guest.vcpu0", "guest.vcpu1", "vmm.cmdqv", "vmm.iommufd", "host.kernel"])
      assert.ok(tracks.includes(actor), actor);
    const tids = new Set(doc.traceEvents.filter((e) => e.ph !== "M").map((e) => e.tid));
    assert.equal(tids.size, tracks.length);
  });
});

describe("traces to a sink", () => {
  it("streams every event to the sink as it happens and keeps none in the machine", () => {
    const kept = world("qemu-latest", { trace: true });
    const got: TraceEvent[] = [];
    const streamed = world("qemu-latest", { trace: { event: (e) => got.push(e) } });
    for (const w of [kept, streamed]) {
      w.boot();
      w.apply({ kind: "workload", invalidations: 200, vcpus: 2 });
    }
    assert.equal(streamed.machine.traceEvents.length, 0);
    assert.ok(got.length > 100, `${got.length} events`);
    assert.deepEqual(got, kept.machine.traceEvents);
  });
});

describe("the step cap", () => {
  it("records a program step the cap cut short, with how much of the workload was issued", () => {
    const w = world("reference", { maxSteps: 1000 });
    assert.equal(w.boot(), 0);
    assert.deepEqual(w.cutShort(), []);
    w.apply({ kind: "workload", invalidations: 10_000, vcpus: 2 });
    const cuts = w.cutShort();
    assert.equal(cuts.length, 1);
    assert.equal(cuts[0]?.step, "workload");
    assert.equal(cuts[0]?.maxSteps, 1000);
    assert.match(
      cuts[0]?.message ?? "",
      /^the workload was cut with \d+ of 10000 invalidations issued: it hit the scheduler's cap of 1000 steps per program step \(at \d+ ns\)$/,
    );
    assert.ok(w.invalidationsIssued() < 10_000);
  });

  it("is 50 000 000 steps per program step unless the world is given another", () => {
    assert.equal(WORLD_MAX_STEPS, 50_000_000);
  });
});

describe("a guest booted twice", () => {
  // The second probe re-programs the live queues; on QEMU's profiles that leaves a stale
  // HW queue whose errors interrupt the guest without end (a new interrupt-handler actor
  // each time), so the workload never completes and the step cap (small here) ends it.
  for (const profile of PROFILE_NAMES)
    it(`runs a workload after the second boot under ${profile} with at most one interrupt handler live at a time`, () => {
      const w = world(profile, { maxSteps: 200_000 });
      let most = 0;
      w.onProgress = (x) => {
        most = Math.max(most, x.sched.liveActors());
      };
      w.boot();
      w.boot();
      w.apply({ kind: "workload", invalidations: 100, vcpus: 2 });
      assert.ok(most <= 3, `${most} live actors: two vCPUs and one interrupt handler at most`);
      const cuts = w.cutShort();
      assert.ok(
        cuts.every((c) => c.step === "workload"),
        JSON.stringify(cuts),
      );
      if (cuts.length === 0) assert.equal(w.sched.liveActors(), 0);
      if (profile === "reference") {
        assert.deepEqual(cuts, []);
        assert.deepEqual(w.checker.violated(), []);
      }
    });
});
