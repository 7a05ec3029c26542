import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runOrderings } from "../explore/orderings.js";
import type { ReplayFile } from "../explore/replay.js";
import { loadReplayFile } from "../explore/replay-load.js";
import { DEFAULT_MACHINE } from "../machine/config.js";
import { APERTURE, F, VCMDQ0, VCMDQ1 } from "../regs/cmdqv.js";
import { fieldOf } from "../regs/regdef.js";
import { ReplayChoice } from "../sim/choice.js";
import { World } from "../sim/world.js";
import type { TraceEvent } from "../trace/trace.js";
import { embedJson } from "./page-shell.js";
import { replaySteps } from "./replay-report.js";
import type { CollectorLimits } from "./report-collector.js";
import { EV, type RunReportData, undelta } from "./report-data.js";
import { buildRunReport, captureQueues, hostObjects, reportCollectorFor } from "./run-report.js";
import { renderRunReportHtml } from "./run-report-html.js";

const MIX = { TLBI_NH_VA: 6, TLBI_NH_ASID: 2, ATC_INV: 1, CFGI_CD: 1 } as const;

/** A default-like run with the report's collector, counting every event independently. */
function reportedRun(
  invalidations: number,
  limits: Partial<CollectorLimits> = {},
  cmdqMaxSzShift?: number,
) {
  const machine = DEFAULT_MACHINE;
  const collector = reportCollectorFor(machine, limits);
  const counts = new Map<string, number>();
  const events: TraceEvent[] = [];
  const w = World.create({
    machine,
    ...(cmdqMaxSzShift !== undefined ? { cmdqMaxSzShift } : {}),
    trace: {
      event(e) {
        const k = `${e.actor}\u0000${e.name}`;
        counts.set(k, (counts.get(k) ?? 0) + 1);
        events.push(e);
        collector.event(e);
      },
    },
  });
  assert.ok(w.ok);
  const world = w.value;
  world.boot();
  world.apply({ kind: "workload", invalidations, vcpus: 2, weights: MIX });
  const queues = captureQueues(world.machine, "when the work ended");
  return { world, collector, counts, events, queues };
}

/** A replay file of docs/findings, run as `cmdqv run --replay` runs it, with its report. */
function replayed(path: string) {
  const r = loadReplayFile(path);
  assert.ok(r.ok, r.ok ? "" : r.error);
  const f = r.value as Extract<ReplayFile, { mode: "orderings" }>;
  assert.equal(f.mode, "orderings");
  const collector = reportCollectorFor(f.machine);
  const machine = f.faultPlan ? { ...f.machine, faultPlan: f.faultPlan } : f.machine;
  const out = runOrderings(
    { machine, queues: f.queues, extras: f.extras, faults: f.faults },
    new ReplayChoice(f.choices),
    null,
    collector,
  );
  const m = out.machine!;
  const violations = out.checker.violations();
  const steps = out.steps.map((s) => s.step);
  const { steps: stepData, stepOf } = replaySteps(f, {
    steps,
    violations,
    endNs: m.host.clock.now(),
    events: collector.total(),
    reproduced: violations.some((v) => v.invariant === f.invariant),
  });
  const data = buildRunReport({
    kind: "replay",
    command: `cmdqv run --replay ${path}`,
    machine: m,
    collector,
    queues: captureQueues(m, "when the replay ended"),
    violations,
    stepOf,
    steps: stepData,
  });
  return { f, out, m, data, violations, steps };
}

const CASE2 = "docs/findings/one-queue-faults/qemu-v5-no-silent-hang.json";
const REFUSED = "docs/findings/two-queues/qemu-v5-no-refused-destroy.json";
const LEAK = "docs/findings/two-queues/qemu-v5-no-leak.json";

describe("the run report's rings", () => {
  it("hold PROD, CONS and BASE as a guest read of each VCMDQ's registers returns them when the work ends", () => {
    const { world, queues } = reportedRun(2000);
    const m = world.machine;
    assert.equal(queues.rings.length, m.config.vcmdqs);
    for (const r of queues.rings) {
      const p0 = m.config.cmdqvBase + APERTURE.VINTF_PAGE0 + APERTURE.VCMDQ_STRIDE * r.queue;
      const p1 = m.config.cmdqvBase + APERTURE.VINTF_PAGE1 + APERTURE.VCMDQ_STRIDE * r.queue;
      assert.equal(r.prod, m.as.read(p0 + VCMDQ0.PROD, 4), `VCMDQ${r.queue} PROD`);
      assert.equal(r.cons, m.as.read(p0 + VCMDQ0.CONS, 4), `VCMDQ${r.queue} CONS`);
      assert.equal(BigInt(r.base), m.as.read64(p1 + VCMDQ1.BASE_L), `VCMDQ${r.queue} BASE`);
      assert.ok(r.prod > 0, "the workload went through the queue");
      assert.equal(r.pending, 0, "the workload waited for its CMD_SYNCs");
    }
  });

  it("after the VM's teardown, hold PROD and CONS as last seen before it (the HW queues are gone)", () => {
    // 256-entry rings: 2 000 invalidations wrap them several times, and end with the wrap
    // bit set, which the hardware's PROD/CONS samples lose and the report puts back.
    const { world, collector, queues } = reportedRun(2000, {}, 8);
    assert.ok(
      queues.rings.every((r) => r.log2size === 8),
      "small rings",
    );
    assert.ok(
      queues.rings.some((r) => (r.prod & 0x100) !== 0),
      "a wrap bit to keep",
    );
    world.teardown();
    assert.ok(world.machine.host.iommufd.isReleased);
    const after = captureQueues(world.machine, "after", collector.observedRings());
    assert.deepEqual(
      after.rings.map((r) => [r.prod, r.cons]),
      queues.rings.map((r) => [r.prod, r.cons]),
    );
    // Without what the collector saw, the machine alone no longer knows them.
    const bare = captureQueues(world.machine, "after");
    assert.notDeepEqual(
      bare.rings.map((r) => [r.prod, r.cons]),
      queues.rings.map((r) => [r.prod, r.cons]),
    );
  });

  it("decode the commands the guest left between CONS and PROD (Case 2's TLBI and CMD_SYNC)", () => {
    const { data } = replayed(CASE2);
    const ring = data.queues.rings[0]!;
    // SYNC0 writes a TLBI_NH_ASID and a CMD_SYNC and rings PROD: nothing consumes them.
    assert.equal(fieldOf(ring.prod, F.PROD.WR), 2);
    assert.equal(fieldOf(ring.cons, F.CONS.RD), 0);
    assert.deepEqual(
      ring.commands.map((c) => c.text.split(" ")[0]),
      ["TLBI_NH_ASID", "CMD_SYNC"],
    );
    assert.equal(ring.hwQueue, null, "the allocation failed");
  });
});

describe("the run report's verdicts and steps", () => {
  it("give each violation of a replay its step, where the invariant first shows", () => {
    for (const path of [CASE2, REFUSED, LEAK]) {
      const { f, data, steps } = replayed(path);
      const own = data.verdicts.find((v) => v.name === f.invariant)!;
      assert.equal(own.ok, false, path);
      assert.equal(own.step, data.steps!.violating, path);
      const k = own.step!;
      assert.ok(k >= 0 && k < steps.length, `${path}: step ${k}`);
      // An explored step: the run stopped after it shows the violation, stopped before it not.
      const explored = data.steps!.list.filter((s) => s.seq !== undefined).length - 1;
      if (k < explored) {
        const upTo = (n: number) =>
          n === 0
            ? false
            : runOrderings(
                {
                  machine: f.faultPlan ? { ...f.machine, faultPlan: f.faultPlan } : f.machine,
                  queues: f.queues,
                  extras: f.extras,
                  faults: f.faults,
                },
                new ReplayChoice(f.choices),
                null,
                false,
                { stopAfter: n },
              )
                .checker.violations()
                .some((v) => v.invariant === f.invariant);
        assert.equal(upTo(k + 1), true, `${path}: violated after ${steps[k]}`);
        assert.equal(upTo(k), false, `${path}: not yet violated before ${steps[k]}`);
      } else assert.match(steps[k]!, /^SYNC/, path);
      // The violation is an event of the timeline too, at its time.
      const tl = data.timeline;
      const s = tl.streams.find((x) => tl.strings[x.name] === `violation: ${f.invariant}`);
      assert.ok(s, `${path}: no violation mark`);
      assert.equal(undelta(s.t)[0], own.t);
    }
  });

  it("place Case 2's violation on SYNC0, and each step's end after the one before", () => {
    const { data } = replayed(CASE2);
    const list = data.steps!.list;
    assert.equal(list[data.steps!.violating!]!.text, "SYNC0");
    for (let k = 1; k < list.length; k++) {
      assert.ok(list[k]!.t! > list[k - 1]!.t!, `step ${k} ends after step ${k - 1}`);
      assert.ok(list[k]!.seq! >= list[k - 1]!.seq!, `step ${k}'s events`);
    }
  });
});

describe("the run report's timeline", () => {
  it("lists every event of the run in its stream, and each stream counts what the trace emitted", () => {
    const { collector, counts, events } = reportedRun(3000);
    const tl = collector.timeline();
    assert.equal(tl.total, events.length);
    const got = new Map<string, number>();
    let listed = 0;
    for (const s of tl.streams) {
      const k = `${tl.lanes[s.lane]!.id}\u0000${tl.strings[s.name]}`;
      got.set(k, (got.get(k) ?? 0) + s.total);
      listed += s.t.length;
      if (tl.lanes[s.lane]!.id !== "cmdqv.regs") assert.equal(s.t.length, s.total, k);
    }
    for (const [k, n] of counts) assert.equal(got.get(k), n, k);
    assert.equal(listed, tl.listed);
  });

  it("keeps the arguments of the first events and of samples only, within its limits", () => {
    const limits = { fullPerKey: 30, samplesPerKey: 20 };
    const { collector, events } = reportedRun(3000, limits);
    const tl = collector.timeline();
    let sampledSomewhere = false;
    for (const s of tl.streams) {
      const name = tl.strings[s.name]!;
      const dense = s.args.length < s.total;
      if (dense) sampledSomewhere = true;
      if (dense)
        assert.ok(
          s.args.length <= limits.fullPerKey + limits.samplesPerKey,
          `${s.label}: ${s.args.length} with arguments`,
        );
      // The arguments kept are an event's own, at its time.
      const lane = tl.lanes[s.lane]!.id;
      if (lane === "cmdqv.regs") continue;
      const times = undelta(s.t);
      undelta(s.argAt).forEach((pos, m) => {
        const args = tl.strings[s.args[m]!];
        assert.ok(
          events.some(
            (e) =>
              e.actor === lane &&
              e.name === name &&
              e.t === times[pos] &&
              JSON.stringify(e.args) === args,
          ),
          `${s.label}: ${args} at ${times[pos]}`,
        );
      });
    }
    assert.ok(sampledSomewhere, "some stream was sampled");
    assert.notEqual(tl.samplingNote, null);
  });

  it("thins the biggest stream past its budget, keeping the events with arguments and the counts", () => {
    const { collector, counts } = reportedRun(3000, {
      timesBudget: 4000,
      fullPerKey: 10,
      samplesPerKey: 10,
    });
    const tl = collector.timeline();
    let listed = 0;
    let total = 0;
    for (const s of tl.streams) {
      listed += s.t.length;
      total += s.total;
      assert.ok(s.args.length <= s.t.length, s.label);
    }
    assert.equal(listed, tl.listed);
    assert.ok(listed <= 4000 + tl.withArgs, `${listed} listed`);
    assert.ok(listed < total, "something was thinned");
    assert.equal(
      total -
        tl.streams
          .filter((s) => tl.lanes[s.lane]!.id === "cmdqv.regs")
          .reduce((n, s) => n + s.total, 0),
      [...counts.values()].reduce((a, b) => a + b, 0),
    );
    assert.match(tl.samplingNote ?? "", /thinned/);
  });

  it("counts every PROD/CONS sample in its bucket, each kept value within its bucket's band", () => {
    const { collector } = reportedRun(3000, { fullPerKey: 50, samplesPerKey: 50 });
    const tl = collector.timeline();
    const counters = tl.streams.filter((s) => (s.flags & EV.COUNTER) !== 0);
    assert.ok(counters.length > 0);
    for (const s of counters) {
      const a = tl.aggregates.find((x) => x.lane === s.lane && x.name === s.name)!;
      assert.equal(
        a.count.reduce((x, y) => x + y, 0),
        s.total,
        s.label,
      );
      const buckets = undelta(a.bucket);
      const times = undelta(s.t);
      undelta(s.argAt).forEach((pos, m) => {
        const args = JSON.parse(tl.strings[s.args[m]!]!) as Record<string, number>;
        const k = buckets.indexOf(Math.floor(times[pos]! / tl.bucketNs));
        assert.ok(k >= 0, `${s.label}: a bucket for ${times[pos]}`);
        for (const [series, v] of Object.entries(args)) {
          const r = a.ranges[series]!;
          assert.ok(r.min[k]! <= v && v <= r.max[k]!, `${series} ${v} in ${r.min[k]}..${r.max[k]}`);
        }
      });
    }
  });
});

describe("the run report's registers", () => {
  it("end at the values the VMM's register cache holds for the registers the guest programs", () => {
    const { world, collector } = reportedRun(500, { regFull: 50 });
    const regs = collector.registerData();
    const last = (name: string) => {
      const i = regs.regs.findIndex((r) => r.name === name);
      assert.ok(i >= 0, `${name} seen`);
      const h = regs.history.find((x) => x.reg === i)!;
      return h.v.at(-1);
    };
    const c = world.machine.cmdqv!.cache();
    assert.equal(last("CONFIG"), c.config);
    assert.equal(last("VINTF0_CONFIG"), c.vintfConfig);
    for (let q = 0; q < 2; q++) {
      assert.equal(last(`CMDQ_ALLOC_MAP_${q}`), c.allocMap[q]);
      assert.equal(last(`VINTF0 LVCMDQ${q}_BASE_L`), c.baseLo[q]);
      // PROD changes every doorbell: past regFull only a value per bucket is kept, the last one too.
      const hw = world.machine.host.hw;
      const info = world.machine.host.iommufd.viommuInfo(world.machine.viommuId)!;
      assert.equal(last(`VINTF0 LVCMDQ${q}_PROD_INDX`), hw.vcmdq(hw.vcmdqOf(info.vintf, q)).prod);
    }
  });

  it("mark EN_OK changes as events, as the guest saw them", () => {
    const { collector } = reportedRun(10);
    const tl = collector.timeline();
    const names = tl.streams
      .filter((s) => tl.lanes[s.lane]!.id === "cmdqv.regs")
      .map((s) => tl.strings[s.name]);
    assert.ok(names.includes("CMDQ_EN_OK ?→1") || names.includes("CMDQ_EN_OK 0→1"), names.join());
    assert.ok(
      names.some((n) => n?.startsWith("ENABLE_OK")),
      names.join(),
    );
  });
});

describe("the run report's host objects", () => {
  it("have a row for every object the ioctl log created, with its destruction", () => {
    const { world } = reportedRun(10);
    world.teardown();
    const log = world.machine.host.iommufd.log.entries();
    const objs = hostObjects(log);
    const created = log.filter(
      (e) => e.errno === undefined && /_ALLOC$|BIND_IOMMUFD$/.test(e.call),
    );
    for (const e of created) {
      const id = Object.values(e.result as Record<string, number>)[0];
      const o = objs.find((x) => x.id === id);
      assert.ok(o, `${e.call} → ${id}`);
      assert.notEqual(o.destroyed, null, `${o.type} ${id} outlived the teardown`);
      assert.equal(o.leaked, false);
    }
  });

  it("mark the destroys the kernel refused and the objects the VMM forgot", () => {
    const refused = replayed(REFUSED);
    const kernelRefused = refused.m.host.iommufd.log.refusedDestroys();
    assert.ok(kernelRefused.length > 0);
    for (const r of kernelRefused) {
      const o = refused.data.objects.find((x) => x.id === r.id)!;
      assert.ok(
        o.refused.some((x) => x.errno === r.errno),
        `object ${r.id}`,
      );
    }
    const leak = replayed(LEAK);
    const forgot = leak.m.cmdqv!.leakedObjects();
    assert.ok(forgot.length > 0);
    for (const id of forgot) assert.equal(leak.data.objects.find((x) => x.id === id)?.leaked, true);
  });
});

describe("the run report's page", () => {
  it("carries the contract's sections and attributes, and its data round-trips", () => {
    const { data } = replayed(CASE2);
    const html = renderRunReportHtml(data);
    assert.match(html, /<body data-report="run">/);
    for (const id of [
      "summary",
      "timeline",
      "details",
      "registers",
      "queues",
      "host-objects",
      "logs",
      "steps",
    ])
      assert.match(html, new RegExp(`<section id="${id}"><h2>`), id);
    assert.match(html, /<table id="verdicts">/);
    assert.match(html, /<p class="sampling-note">|<input id="log-filter"/);
    const v = data.verdicts.find((x) => !x.ok)!;
    assert.match(
      html,
      new RegExp(`<tr data-invariant="${v.name}" data-ok="false" data-step="${v.step}">`),
    );
    assert.match(html, /<li class="step violating" data-step="6"/);
    assert.match(html, /<div class="ring" data-queue="0" data-prod="2" data-cons="0"/);
    const json = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(
      html,
    )?.[1];
    assert.ok(json !== undefined);
    assert.deepEqual(JSON.parse(json) as RunReportData, JSON.parse(JSON.stringify(data)));
  });

  it("embeds text that holds </script> without ending the data early", () => {
    const nasty = { text: "</script><script>alert(1)</script>\u2028<!--" };
    const s = embedJson(nasty);
    assert.doesNotMatch(s, /<\/script|<!--/i);
    assert.deepEqual(JSON.parse(s), nasty);
  });
});
