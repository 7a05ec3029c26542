import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { IOCTL } from "../host/kernel/uapi.js";
import { machineConfig } from "../machine/config.js";
import { World } from "../sim/world.js";
import {
  HW_TRACE,
  TRACE_EVENT_NAMES,
  TRACE_EVENTS,
  type TraceEventKind,
  traceEventSpec,
} from "../trace/events.js";
import type { TraceEvent, TracePhase } from "../trace/trace.js";
import { formatScenarioError, loadScenarioFile } from "./load.js";
import { runScenario } from "./run.js";

const doc = readFileSync(new URL("../../docs/trace.md", import.meta.url), "utf8");
const scenarios = fileURLToPath(new URL("../../scenarios/", import.meta.url));

/** The event names docs/trace.md's catalogue table gives, one row each. */
function documentedNames(): string[] {
  const at = doc.indexOf("\n## Catalogue\n");
  assert.ok(at >= 0, "docs/trace.md has a Catalogue section");
  return doc
    .slice(at)
    .split("\n")
    .map((l) => /^\| `([^`]+)` \|/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
}

const KIND_OF: Record<"i" | TracePhase, TraceEventKind> = {
  i: "instant",
  X: "slice",
  B: "slice",
  E: "slice",
  C: "counter",
};

/** Events that break the catalogue: unknown names, undeclared arguments, the wrong kind. */
function offCatalogue(events: readonly TraceEvent[]): string[] {
  const bad = new Set<string>();
  for (const e of events) {
    const spec = traceEventSpec(e.name);
    if (spec === undefined) {
      bad.add(`${e.name} (${e.actor}): not in the catalogue`);
      continue;
    }
    for (const a of Object.keys(e.args))
      if (!spec.args.includes(a)) bad.add(`${e.name}: argument ${a} not in the catalogue`);
    if (KIND_OF[e.ph ?? "i"] !== spec.kind)
      bad.add(`${e.name}: ${e.ph ?? "i"} is not a ${spec.kind}`);
  }
  return [...bad];
}

/** A scenario file with its workloads cut to `cap` invalidations (the events are the same kinds). */
function scenarioEvents(file: string, cap: number): readonly TraceEvent[] {
  const r = loadScenarioFile(`${scenarios}${file}`);
  assert.ok(r.ok, r.ok ? "" : r.error.map(formatScenarioError).join("\n"));
  const sc = {
    ...r.value,
    guest: r.value.guest.map((s) =>
      s.kind === "workload" ? { ...s, invalidations: Math.min(s.invalidations, cap) } : s,
    ),
  };
  const out = runScenario(sc, true);
  assert.ok(out.world !== null, out.setupError);
  return out.world.machine.traceEvents;
}

describe("the trace event catalogue", () => {
  it("is what docs/trace.md documents, name for name, each once", () => {
    assert.equal(new Set(TRACE_EVENT_NAMES).size, TRACE_EVENT_NAMES.length, "no name twice");
    assert.deepEqual(documentedNames(), [...TRACE_EVENT_NAMES]);
    for (const e of TRACE_EVENTS) assert.ok(e.upstream !== "" && e.when !== "", e.name);
  });

  it("names every ioctl the kernel has", () => {
    for (const n of Object.keys(IOCTL)) assert.ok(TRACE_EVENT_NAMES.includes(n), n);
  });

  it("holds every event a default-like run emits, with its arguments and kind", () => {
    const w = World.create({ machine: machineConfig({}), trace: true });
    assert.ok(w.ok, w.ok ? "" : w.error);
    w.value.boot();
    w.value.apply({
      kind: "workload",
      invalidations: 300,
      vcpus: 2,
      weights: { TLBI_NH_VA: 6, TLBI_NH_ASID: 2, ATC_INV: 1, CFGI_CD: 1 },
    });
    w.value.teardown();
    const events = w.value.machine.traceEvents;
    assert.deepEqual(offCatalogue(events), []);
    const names = new Set(events.map((e) => e.name));
    for (const n of Object.values(HW_TRACE).filter((n) => n !== HW_TRACE.CMDQ_ERROR))
      assert.ok(names.has(n), `the run emits ${n}`);
  });

  // The example scenarios that run in well under a second (the review's Case 1 files and
  // Case 2 under v7 spend seconds in the guest's enable and CMD_SYNC polls, and emit no
  // event kind these do not).
  const quick = ["default.yaml", "registers.yaml", "review-case2.yaml"];
  it("runs example scenarios that exist", () => {
    const present = readdirSync(scenarios);
    for (const f of quick) assert.ok(present.includes(f), f);
  });
  for (const file of quick)
    it(`holds every event scenarios/${file} emits`, () => {
      const events = scenarioEvents(file, 100);
      assert.ok(events.length > 0);
      assert.deepEqual(offCatalogue(events), []);
    });
});
