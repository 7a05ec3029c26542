import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { INVARIANT_NAMES } from "../check/invariants.js";
import { ExploreSampler } from "../explore/explore-samples.js";
import { type ExploreOptions, type ExploreResult, explore } from "../explore/explorer.js";
import { runInterleavings } from "../explore/interleavings.js";
import type { InterleavingsReplay } from "../explore/replay.js";
import { machineConfig } from "../machine/config.js";
import { ReplayChoice } from "../sim/choice.js";
import { buildExploreReport, exploreSamples, replayReportData } from "./explore-report.js";
import type { ExploreReportData } from "./explore-report-data.js";
import { niceTicks, renderExploreReportHtml } from "./explore-report-html.js";
import { escapeHtml } from "./page-shell.js";
import type { RunReportData } from "./report-data.js";

const opts = (over: Partial<ExploreOptions> = {}): ExploreOptions => ({
  mode: "orderings",
  machine: machineConfig({ profile: "qemu-v5" }),
  queues: 1,
  extras: [],
  faults: true,
  ...over,
});

/** An exploration and its report: the data, and the page as written. */
function explored(o: ExploreOptions) {
  const sampler = new ExploreSampler({ max: 40 });
  const result = explore(o, undefined, sampler);
  const data = buildExploreReport({
    command: "cmdqv explore --profile qemu-v5 --queues 1",
    options: o,
    result,
    samples: exploreSamples(sampler, result),
    elapsedSeconds: 1.5,
    jobs: 1,
    replayFiles: result.violations.map((v) => `out/qemu-v5-${v.invariant}.json`),
  });
  return { result, data, html: renderExploreReportHtml(data) };
}

/** The JSON document a page embeds. */
function embedded<T>(html: string): T {
  const m = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html);
  assert.ok(m, "no report-data element");
  return JSON.parse(m[1]!) as T;
}

/** The element `<tag … id="id" …>…</tag>` (not nested in one of its own kind). */
function element(html: string, tag: string, id: string): string {
  const at = html.indexOf(`id="${id}"`);
  assert.ok(at >= 0, `no #${id}`);
  const start = html.lastIndexOf(`<${tag}`, at);
  const end = html.indexOf(`</${tag}>`, at);
  return html.slice(start, end);
}

const v5 = explored(opts());
const failNth = explored(opts({ mode: "fail-nth" }));

describe("the exploration report's data", () => {
  it("counts the paths, states and distinct states of the explorer's own result", () => {
    const { result: r, html } = v5;
    const counts = element(html, "section", "explore-counts");
    const value = (k: string) =>
      Number(new RegExp(`data-count="${k}" data-value="(\\d+)"`).exec(counts)?.[1]);
    assert.equal(value("paths"), r.paths);
    assert.equal(value("states"), r.states);
    assert.equal(value("distinct-states"), r.distinctStates);
    assert.equal(value("pruned"), r.pruned);
    assert.match(counts, /exhausted/);
    const d = embedded<ExploreReportData>(html);
    assert.deepEqual(
      [d.counts.paths, d.counts.states, d.counts.distinctStates],
      [r.paths, r.states, r.distinctStates],
    );
  });

  it("has a row per invariant, VIOLATED with the runs the explorer counted, ok elsewhere", () => {
    const table = element(v5.html, "section", "explore-table");
    for (const inv of INVARIANT_NAMES) {
      const row = new RegExp(`<tr data-invariant="${inv}" data-ok="(true|false)">(.*?)</tr>`).exec(
        table,
      );
      assert.ok(row, `no row for ${inv}`);
      const v = v5.result.violations.find((x) => x.invariant === inv);
      assert.equal(row[1], String(v === undefined), inv);
      if (v !== undefined) assert.match(row[2]!, new RegExp(`VIOLATED</a> in ${v.count} runs?`));
      else assert.match(row[2]!, /data-profile="qemu-v5" data-ok="true">ok</);
    }
    assert.ok(v5.result.violations.length > 0, "qemu-v5's exploration violates an invariant");
  });

  it("shows each counterexample's minimal sequence in order, its injected fault as SITE (call N)", () => {
    for (const v of v5.result.violations) {
      const article = element(v5.html, "article", `ce-qemu-v5-${v.invariant}`);
      const items = [...article.matchAll(/<li[^>]*>(.*?)<\/li>/g)].map((m) =>
        m[1]!.replace(/<[^>]+>/g, " ").replace(/\s+/g, " "),
      );
      assert.equal(items.length, v.replay.steps.length);
      v.replay.steps.forEach((s, i) => {
        const [step, fault] = s.split(" [fail ");
        assert.ok(items[i]!.startsWith(escapeHtml(step!)), `${items[i]} is ${s}`);
        if (fault !== undefined)
          assert.ok(items[i]!.includes(`fail ${escapeHtml(fault.slice(0, -1))}`), items[i]);
      });
      const injected = v.replay.mode === "orderings" ? (v.replay.injected ?? []) : [];
      assert.ok(injected.length > 0, "the counterexample fails a host call");
      for (const f of injected)
        assert.match(article, new RegExp(`fail ${f.site} \\(call ${f.call}\\)</span>`));
      assert.match(article, new RegExp(`replay: <code>.*out/qemu-v5-${v.invariant}\\.json</code>`));
      assert.match(article, /<iframe data-ce="0"/);
    }
  });

  it("embeds the run report of each counterexample's replay: its steps, the violating one marked", () => {
    const d = embedded<ExploreReportData>(v5.html);
    assert.equal(d.counterexamples.length, v5.result.violations.length);
    d.counterexamples.forEach((c, i) => {
      const v = v5.result.violations[i]!;
      assert.match(c.runReport, /<body data-report="run">/);
      const run = embedded<RunReportData>(c.runReport);
      assert.equal(run.kind, "replay");
      assert.deepEqual(
        run.steps?.list.map((s) => s.text),
        v.replay.steps,
      );
      assert.equal(run.steps?.invariant, v.invariant);
      assert.equal(run.steps?.reproduced, true);
      assert.notEqual(run.steps?.violating ?? null, null);
      assert.equal(run.verdicts.find((x) => x.name === v.invariant)?.ok, false);
      // Beside it, the same steps under reference, as `cmdqv run --replay --report` shows them.
      assert.equal(run.compare?.profile, "reference");
      assert.equal(run.compare?.steps.list.length, v.replay.steps.length);
      assert.equal(run.compare?.verdicts.find((x) => x.name === v.invariant)?.ok, true);
    });
  });

  it("names a fixed fault plan (fail-nth) with its counterexample", () => {
    const [c] = embedded<ExploreReportData>(failNth.html).counterexamples;
    assert.ok(c, "fail-nth under qemu-v5 finds a counterexample");
    const v = failNth.result.violations[0]!;
    assert.ok(v.replay.mode === "orderings" && v.replay.faultPlan?.kind === "nth");
    assert.match(c.faultPlan ?? "", new RegExp(`fail host call ${v.replay.faultPlan.nth}\\b`));
    assert.match(failNth.html, /fault plan: fail host call \d+/);
    assert.match(element(failNth.html, "section", "explore-counts"), /host calls failed/);
  });

  it("charts every sample in each panel, the last at the result's figures", () => {
    const chart = element(v5.html, "section", "states-chart");
    const svg = chart.slice(chart.indexOf('<svg data-x="paths"'), chart.indexOf("</svg>"));
    const n = v5.data.samples.length;
    assert.ok(n > 4, `${n} samples`);
    assert.equal([...svg.matchAll(/<circle class="states"/g)].length, n);
    assert.equal([...svg.matchAll(/<circle class="distinct"/g)].length, n);
    const r: ExploreResult = v5.result;
    const titles = [...svg.matchAll(/<title>([^<]*)<\/title><\/circle>/g)].map((m) => m[1]!);
    const last = titles[n - 1]!.replace(/(\d) (\d)/g, "$1$2");
    assert.match(
      last,
      new RegExp(`^${r.paths} paths: ${r.states} states, ${r.distinctStates} distinct`),
    );
  });

  it("draws an interleavings replay's run with the steps the workload took", () => {
    const f: InterleavingsReplay = {
      cmdqv_replay: 1,
      mode: "interleavings",
      machine: machineConfig({ profile: "qemu-v5" }),
      invalidations: 4,
      vcpus: 2,
      inject: true,
      choices: [1, 0, 2],
      invariant: "no-silent-hang",
      message: "",
      steps: [],
    };
    const direct = runInterleavings(
      { machine: f.machine, invalidations: 4, vcpus: 2, inject: true },
      new ReplayChoice(f.choices),
    );
    const d = replayReportData(f, "cmdqv run --replay i.json");
    assert.deepEqual(
      d.steps?.list.map((s) => s.text),
      direct.steps,
    );
    assert.equal(d.steps?.reproduced, false);
    assert.ok(d.timeline.total > 0, "the run's events are on its timeline");
  });

  it("labels the chart's axes with round ticks that reach past the largest value", () => {
    for (const max of [1, 7, 396, 2274, 1e6 + 1]) {
      const t = niceTicks(max);
      assert.equal(t[0], 0);
      assert.ok(t[t.length - 1]! >= max, `${max}: ${t.join(",")}`);
      assert.ok(t.length <= 12, `${max}: ${t.join(",")}`);
      const step = t[1]! - t[0]!;
      assert.match(String(step / 10 ** Math.floor(Math.log10(step))), /^(1|2|5)$/);
    }
  });
});
