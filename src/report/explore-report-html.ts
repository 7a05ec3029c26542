// The exploration report's page (`data-report="explore"`), on the shell every report page
// shares (page-shell.ts): the sections the page contract names — #explore-table,
// #explore-counts, #states-chart (hand-written SVG), #counterexamples — written here as
// HTML. The page's script (html/client/explore-report.ts) only adds what needs a browser:
// each counterexample's run report is put in its iframe when its panel is opened (so the
// page loads one page, not one per counterexample), a run report opens in a tab of its
// own, and the chart's x axis switches between paths and wall time.

import { bundleClient } from "./client-bundle.js";
import type {
  ExploreCounterexample,
  ExploreReportData,
  ExploreSamplePoint,
} from "./explore-report-data.js";
import { attr, escapeHtml as esc, renderPage } from "./page-shell.js";

const EXPLORE_CSS = `
.explore-grid td[data-ok="false"] { background: #fdecea; }
.explore-grid td[data-ok="true"] { color: var(--ok); }
.counts { display: flex; flex-wrap: wrap; gap: 12px; margin: 0; }
.counts > div { border: 1px solid var(--line); background: var(--panel); padding: 8px 14px; min-width: 140px; }
.counts dt { color: var(--muted); font-size: 12px; }
.counts dd { margin: 2px 0 0; font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.counts dd.text { font-size: 14px; font-weight: 400; }
#states-chart svg { display: block; max-width: 100%; height: auto; font-size: 11px; }
#states-chart svg[hidden] { display: none; }
#states-chart .axis line, #states-chart .axis path { stroke: var(--muted); }
#states-chart .grid { stroke: var(--line); }
#states-chart text { fill: var(--fg); }
#states-chart .series-states { stroke: var(--accent); fill: none; stroke-width: 1.5; }
#states-chart .series-distinct { stroke: #8e44ad; fill: none; stroke-width: 1.5; }
#states-chart circle.states { fill: var(--accent); }
#states-chart circle.distinct { fill: #8e44ad; }
#states-chart .found { stroke: var(--bad); stroke-dasharray: 3 3; }
#states-chart .found-label { fill: var(--bad); }
.chart-x { margin: 4px 0 8px; }
.chart-x button { font: inherit; padding: 1px 8px; }
.chart-x button[aria-pressed="true"] { background: var(--sel); }
.counterexample { border: 1px solid var(--line); padding: 8px 12px; margin: 0 0 14px; }
.counterexample h3 { margin: 0 0 6px; font-size: 15px; }
.counterexample ol.sequence { margin: 6px 0; padding-left: 28px; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; }
.counterexample ol.sequence li.faulted { color: var(--bad); }
.counterexample .fault { background: #fdecea; border: 1px solid #f5c2c0; border-radius: 3px; padding: 0 4px; margin-left: 6px; }
.counterexample details > summary { cursor: pointer; color: var(--accent); }
.counterexample iframe { display: block; width: 100%; height: 80vh; border: 1px solid var(--line); margin-top: 6px; background: #fff; }
.counterexample .tools { margin-top: 6px; }
.counterexample .tools button { font: inherit; padding: 1px 8px; }
`;

/** `1 234 567`: digits in groups of three, as the CLI writes counts. */
function digits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+$)/g, " ");
}

function countsHtml(d: ExploreReportData): string {
  const c = d.counts;
  const box = (label: string, key: string, value: number) =>
    `<div><dt>${esc(label)}</dt><dd data-count="${key}" data-value="${value}">${digits(value)}</dd></div>`;
  const text = (label: string, value: string) =>
    `<div><dt>${esc(label)}</dt><dd class="text">${esc(value)}</dd></div>`;
  return `<dl class="counts">
${box("paths", "paths", c.paths)}
${box("states", "states", c.states)}
${box("distinct states", "distinct-states", c.distinctStates)}
${box("runs cut at a state seen", "pruned", c.pruned)}
${text("space", c.spaceText)}
${c.failedCalls !== undefined ? text("host calls failed", c.failedCalls) : ""}
${text("elapsed", `${c.elapsedSeconds.toFixed(2)} s${d.header.jobs > 1 ? ` on ${d.header.jobs} threads` : ""}`)}
</dl>
<p class="note">A path is one run of the model, from the machine's creation to a state already explored or to the end; states counts every step of every run (a run replays its prefix), distinct states counts each machine state once, by fingerprint.</p>`;
}

function tableHtml(d: ExploreReportData): string {
  const head = d.profiles.map((p) => `<th scope="col">${esc(p)}</th>`).join("");
  const rows = d.table.map((r) => {
    const cells = r.cells.map((c) =>
      c.ok
        ? `<td data-profile="${attr(c.profile)}" data-ok="true">ok</td>`
        : `<td data-profile="${attr(c.profile)}" data-ok="false"><a href="#${attr(ceId(r.invariant, c.profile))}">VIOLATED</a> in ${digits(c.runs)} run${c.runs === 1 ? "" : "s"}</td>`,
    );
    const ok = r.cells.every((c) => c.ok);
    return `<tr data-invariant="${attr(r.invariant)}" data-ok="${ok}"><th scope="row">${esc(r.invariant)}</th>${cells.join("")}</tr>`;
  });
  return `<table class="explore-grid"><thead><tr><th>invariant</th>${head}</tr></thead><tbody>
${rows.join("\n")}
</tbody></table>`;
}

const ceId = (invariant: string, profile: string) => `ce-${profile}-${invariant}`;

/** The sequence step by step; a failed host call (`[fail SITE (call N)]`) set apart. */
function stepHtml(step: string): string {
  const m = /^(.*?) \[fail (.+)\]$/.exec(step);
  if (m === null) return `<li>${esc(step)}</li>`;
  return `<li class="faulted">${esc(m[1]!)}<span class="fault" title="an injected host failure">fail ${esc(m[2]!)}</span></li>`;
}

function counterexampleHtml(c: ExploreCounterexample, i: number): string {
  const rows: string[] = [
    `<p>${esc(c.message)}</p>`,
    `<p class="muted">found in ${digits(c.runs)} run${c.runs === 1 ? "" : "s"}; ${c.minimal ? "the minimal sequence, shrunk from the first" : "the first run's sequence"}:</p>`,
  ];
  if (c.faultPlan !== null) rows.push(`<p>fault plan: ${esc(c.faultPlan)}</p>`);
  rows.push(`<ol class="sequence">${c.steps.map(stepHtml).join("")}</ol>`);
  if (c.replayCommand !== null) rows.push(`<p>replay: <code>${esc(c.replayCommand)}</code></p>`);
  rows.push(`<details class="run-report" data-ce="${i}">
<summary>the run report of this replay</summary>
<div class="tools"><button type="button" class="open-tab" data-ce="${i}">open in a tab of its own</button></div>
<iframe data-ce="${i}" title="run report: ${attr(c.invariant)}"></iframe>
</details>`);
  return `<article class="counterexample" id="${attr(ceId(c.invariant, c.profile))}" data-invariant="${attr(c.invariant)}" data-profile="${attr(c.profile)}">
<h3>${esc(c.invariant)} <span class="muted">under ${esc(c.profile)}</span></h3>
${rows.join("\n")}
</article>`;
}

// ---- the chart ------------------------------------------------------------------------

/** Round steps (1, 2 or 5 times a power of ten) from 0 past `max`, about `n` of them. */
export function niceTicks(max: number, n = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let v = 0; v < max + step; v += step) {
    out.push(Number(v.toPrecision(12)));
    if (v >= max) break;
  }
  return out;
}

const W = 760;
const PANEL = 130;
const GAP = 30;
const LEFT = 64;
const RIGHT = 16;
const TOP = 12;

interface Axis {
  readonly key: "paths" | "time";
  readonly label: string;
  readonly at: (s: ExploreSamplePoint) => number;
  readonly tick: (v: number) => string;
}

const short = (v: number) =>
  v >= 1e6
    ? `${Number((v / 1e6).toPrecision(3))}M`
    : v >= 1e4
      ? `${Number((v / 1e3).toPrecision(3))}k`
      : String(v);

/** One SVG: states run (top panel) and distinct states (bottom) against the x axis. */
function chartSvg(samples: readonly ExploreSamplePoint[], x: Axis, hidden: boolean): string {
  const pts = [{ paths: 0, states: 0, distinct: 0, violations: 0, ms: 0 }, ...samples];
  const xMax = Math.max(...pts.map(x.at));
  const xt = niceTicks(xMax, 8);
  const xEnd = xt[xt.length - 1]!;
  const plotW = W - LEFT - RIGHT;
  const H = TOP + 2 * PANEL + GAP + 40;
  const px = (v: number) => LEFT + (xEnd > 0 ? (v / xEnd) * plotW : 0);
  const parts: string[] = [];
  const panel = (
    top: number,
    label: string,
    cls: "states" | "distinct",
    at: (s: ExploreSamplePoint) => number,
  ) => {
    const yt = niceTicks(Math.max(...pts.map(at)), 4);
    const yEnd = yt[yt.length - 1]!;
    const py = (v: number) => top + PANEL - (yEnd > 0 ? (v / yEnd) * PANEL : 0);
    for (const t of yt)
      parts.push(
        `<line class="grid" x1="${LEFT}" x2="${W - RIGHT}" y1="${py(t)}" y2="${py(t)}"/>`,
        `<text x="${LEFT - 6}" y="${py(t) + 4}" text-anchor="end">${short(t)}</text>`,
      );
    parts.push(
      `<text x="${LEFT + 4}" y="${top + 12}" class="panel-label">${esc(label)}</text>`,
      `<polyline class="series-${cls}" points="${pts.map((s) => `${px(x.at(s)).toFixed(1)},${py(at(s)).toFixed(1)}`).join(" ")}"/>`,
    );
    for (const s of samples)
      parts.push(
        `<circle class="${cls}" r="2" cx="${px(x.at(s)).toFixed(1)}" cy="${py(at(s)).toFixed(1)}"><title>${esc(
          `${digits(s.paths)} paths${s.ms !== undefined ? `, ${(s.ms / 1000).toFixed(2)} s` : ""}: ${digits(s.states)} states, ${digits(s.distinct)} distinct, ${s.violations} violated invariant${s.violations === 1 ? "" : "s"}`,
        )}</title></circle>`,
      );
  };
  panel(TOP, "states run", "states", (s) => s.states);
  panel(TOP + PANEL + GAP, "distinct states", "distinct", (s) => s.distinct);
  // Where the number of violated invariants went up (to the sample's resolution).
  let seen = 0;
  for (const s of samples) {
    if (s.violations <= seen) continue;
    seen = s.violations;
    const xv = px(x.at(s));
    // The label on the side of the line that has room for it.
    const right = xv < W - RIGHT - 80;
    parts.push(
      `<line class="found" x1="${xv.toFixed(1)}" x2="${xv.toFixed(1)}" y1="${TOP}" y2="${TOP + 2 * PANEL + GAP}"><title>${esc(
        `${s.violations} violated invariant${s.violations === 1 ? "" : "s"} by ${digits(s.paths)} paths`,
      )}</title></line>`,
      `<text class="found-label" x="${(right ? xv + 3 : xv - 3).toFixed(1)}" y="${TOP + PANEL + GAP - 6}" text-anchor="${right ? "start" : "end"}">${s.violations} violated</text>`,
    );
  }
  const axisY = TOP + 2 * PANEL + GAP;
  parts.push(
    `<line class="axis" x1="${LEFT}" x2="${W - RIGHT}" y1="${axisY}" y2="${axisY}" stroke="currentColor"/>`,
  );
  for (const t of xt)
    parts.push(
      `<line class="axis" x1="${px(t)}" x2="${px(t)}" y1="${axisY}" y2="${axisY + 4}" stroke="currentColor"/>`,
      `<text x="${px(t)}" y="${axisY + 16}" text-anchor="middle">${x.tick(t)}</text>`,
    );
  parts.push(
    `<text x="${LEFT + plotW / 2}" y="${axisY + 32}" text-anchor="middle">${esc(x.label)}</text>`,
  );
  return `<svg data-x="${x.key}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="states and distinct states against ${attr(x.label)}"${hidden ? " hidden" : ""}>${parts.join("")}</svg>`;
}

function chartHtml(d: ExploreReportData): string {
  const s = d.samples;
  if (s.length === 0) return `<p class="note">The exploration ran no path.</p>`;
  const byPaths: Axis = { key: "paths", label: "paths explored", at: (p) => p.paths, tick: short };
  const timed = s.every((p) => p.ms !== undefined);
  const byTime: Axis = {
    key: "time",
    label: "wall time (s)",
    at: (p) => (p.ms ?? 0) / 1000,
    tick: (v) => String(v),
  };
  const toggle = timed
    ? `<div class="chart-x">x axis: <button type="button" data-x="paths" aria-pressed="true">paths</button> <button type="button" data-x="time" aria-pressed="false">wall time</button></div>`
    : "";
  return `${toggle}${chartSvg(s, byPaths, false)}${timed ? chartSvg(s, byTime, true) : ""}
<p class="note">${s.length} samples, taken as paths ended (every ${s.length > 1 ? `${digits(sampleStep(s))} paths` : "path"}; the same on any number of threads), the last at the end of the exploration.</p>`;
}

/** Paths between consecutive samples (the sampler keeps them evenly spaced). */
function sampleStep(s: readonly ExploreSamplePoint[]): number {
  return s.length > 2 ? s[1]!.paths - s[0]!.paths : s[0]!.paths;
}

/** The whole page. */
export function renderExploreReportHtml(d: ExploreReportData): string {
  const opts = d.header.options.map(([k, v]) => `${esc(k)} ${esc(v)}`).join(" · ");
  const header = `<div class="sub"><code>${esc(d.header.command)}</code></div>
<div class="sub">${esc(d.header.machine)} · VMM: our model · ${opts}</div>`;
  const ces =
    d.counterexamples.length > 0
      ? d.counterexamples.map(counterexampleHtml).join("\n")
      : `<p class="note">No invariant was violated: there is no counterexample.</p>`;
  const body = `<section id="explore-table"><h2>Invariants per profile</h2>
${tableHtml(d)}
</section>
<section id="explore-counts"><h2>Counts</h2>
${countsHtml(d)}
</section>
<section id="states-chart"><h2>States over the exploration</h2>
${chartHtml(d)}
</section>
<section id="counterexamples"><h2>Counterexamples</h2>
${ces}
</section>`;
  return renderPage({
    report: "explore",
    title: d.title,
    header,
    body,
    data: d,
    script: bundleClient("explore-report"),
    style: EXPLORE_CSS,
  });
}
