// The run report's page: the sections the page contract names (docs/report.md), written
// here as HTML where they do not depend on the cursor (the verdicts, the rings, the host
// objects, the logs, the steps and the comparison), on the shared page shell. The
// timeline, the details and the registers at the cursor are drawn by the page's script
// (html/client/run-report.ts, bundled by client-bundle.ts) from the embedded data.

import { F } from "../regs/cmdqv.js";
import { fieldOf } from "../regs/regdef.js";
import { qIdx, qWrap } from "../smmu/queue.js";
import { bundleClient } from "./client-bundle.js";
import { attr, escapeHtml as esc, renderPage } from "./page-shell.js";
import { formatNs } from "./report-collector.js";
import type {
  CompareData,
  HostObject,
  LogLine,
  RingData,
  RunReportData,
  StepsData,
  Verdict,
} from "./report-data.js";

const RUN_CSS = `
#summary dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 10px; }
#summary dt { color: var(--muted); }
#summary dd { margin: 0; }
#verdicts tr[data-ok="false"] td { background: #fdecea; }
.tl-toolbar { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; margin-bottom: 6px; }
.tl-toolbar button { font: inherit; padding: 1px 8px; }
.tl-legend span { display: inline-flex; align-items: center; gap: 3px; margin-right: 8px; font-size: 12px; color: var(--muted); }
.tl-legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; }
.sampling-note { background: #fff8e1; border: 1px solid #f3d98b; padding: 4px 8px; font-size: 12px; margin: 4px 0 6px; }
.tl-wrap { position: relative; border: 1px solid var(--line); outline: none; }
.tl-wrap:focus { border-color: var(--accent); }
.tl-wrap canvas { display: block; width: 100%; cursor: crosshair; }
.tl-tip { position: absolute; pointer-events: none; background: rgba(29,35,39,.92); color: #fff; padding: 2px 6px; font-size: 12px; border-radius: 3px; white-space: nowrap; display: none; z-index: 2; }
.split { display: grid; grid-template-columns: minmax(320px, 1fr) minmax(320px, 1fr); gap: 20px; }
@media (max-width: 1000px) { .split { grid-template-columns: 1fr; } }
#details-body table td:first-child { color: var(--muted); white-space: nowrap; }
#details-body h3 { font-size: 14px; margin: 0 0 6px; }
#registers .reg-scroll { max-height: 520px; overflow: auto; border: 1px solid var(--line); }
#registers tr.changed td { background: var(--sel); }
#registers td.fields { font-size: 12px; }
#registers tr.page-row td { background: var(--panel); font-weight: 600; }
.rings { display: flex; flex-wrap: wrap; gap: 20px; }
.ring { border: 1px solid var(--line); padding: 8px; min-width: 320px; max-width: 640px; }
.ring h3 { margin: 0 0 6px; font-size: 14px; }
.ring .cmds { max-height: 220px; overflow: auto; }
#host-objects tr.leaked td { background: #fdecea; }
#host-objects tr.refused td:nth-child(5) { color: var(--bad); font-weight: 600; }
.logs { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 12px; }
@media (max-width: 1200px) { .logs { grid-template-columns: 1fr; } }
.log { border: 1px solid var(--line); max-height: 360px; overflow: auto; }
.log h3 { position: sticky; top: 0; margin: 0; padding: 4px 6px; background: var(--panel); font-size: 13px; }
.log-line { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; padding: 1px 6px; white-space: pre-wrap; word-break: break-all; }
.log-line.error { color: var(--bad); }
.log-line.hidden { display: none; }
.log-line a.t { color: var(--muted); text-decoration: none; margin-right: 6px; }
.log-line a.t:hover { text-decoration: underline; }
.log-line.hit { background: var(--sel); }
ol.steps { padding-left: 28px; }
ol.steps li.step { padding: 1px 4px; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; cursor: pointer; }
ol.steps li.step.violating { background: #fdecea; border-left: 3px solid var(--bad); font-weight: 600; }
ol.steps li.step.current { outline: 1px solid var(--accent); }
#compare .split > div { border: 1px solid var(--line); padding: 8px; }
`;

const group = (n: number) => String(n).replace(/\B(?=(\d{3})+$)/g, " ");
const ns = (t: number) => `${group(t)} ns`;

/** A link that moves the timeline's cursor to `t`. */
function timeLink(t: number | null | undefined): string {
  if (t === null || t === undefined) return "";
  return `<a href="#timeline" class="t" data-t="${t}">${esc(formatNs(t))}</a>`;
}

function verdictTable(verdicts: readonly Verdict[], id: string | null, steps: StepsData | null) {
  const rows = verdicts.map((v) => {
    const stepAttr = v.step !== undefined ? ` data-step="${v.step}"` : "";
    const step =
      v.step !== undefined
        ? `step ${v.step + 1}${steps?.list[v.step] ? `: <code>${esc(steps.list[v.step]!.text)}</code>` : ""}`
        : "";
    return `<tr data-invariant="${attr(v.name)}" data-ok="${v.ok}"${stepAttr}><td><code>${esc(v.name)}</code></td><td>${
      v.ok ? '<span class="ok">ok</span>' : '<span class="bad">VIOLATED</span>'
    }</td><td>${esc(v.message ?? "")}</td><td>${step}</td><td>${timeLink(v.t)}</td></tr>`;
  });
  return `<table${id ? ` id="${id}"` : ""}><thead><tr><th>invariant</th><th>verdict</th><th>violation</th><th>step</th><th>found at</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function summarySection(d: RunReportData): string {
  const h = d.header;
  const dl = [
    ["command", `<code>${esc(h.command)}</code>`],
    ["machine", esc(h.machine)],
    // A run on real QEMU has no profile: its VMM is QEMU itself.
    ...(h.profile !== "" ? [["profile", `<code>${esc(h.profile)}</code>`]] : []),
    ["VMM", esc(h.vmm === "model" ? "model (cmdqv's device model)" : h.vmm)],
    ["seed", String(h.seed)],
    ["virtual time", `${esc(formatNs(h.virtualNs))} (${esc(ns(h.virtualNs))})`],
  ]
    .map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`)
    .join("");
  const notes = h.notes.map((n) => `<p class="note">${esc(n)}</p>`).join("");
  return `<section id="summary"><h2>Summary</h2><dl>${dl}</dl>${notes}${verdictTable(d.verdicts, "verdicts", d.steps)}</section>`;
}

function timelineSection(d: RunReportData): string {
  const tl = d.timeline;
  const note =
    tl.samplingNote !== null ? `<p class="sampling-note">${esc(tl.samplingNote)}</p>` : "";
  const legend = [
    ["#e0701a", "trapped access (VM exit)"],
    ["#2e9d4f", "direct page0 access"],
    ["#9aa5ad", "RAM access"],
    ["#1f5fbf", "configuration, ioctl, other"],
    ["#7b3fbf", "slice (CMD_SYNC wait, queue life)"],
    ["#d62728", "error, errno, violation"],
    ["rgba(46,157,79,.45)", "PROD band (per bucket)"],
    ["rgba(31,95,191,.45)", "CONS band (per bucket)"],
  ]
    .map(([c, w]) => `<span><i style="background:${c}"></i>${w}</span>`)
    .join("");
  return `<section id="timeline"><h2>Timeline</h2>
<div class="tl-toolbar"><button type="button" id="tl-zoom-in" title="zoom in (+)">+</button><button type="button" id="tl-zoom-out" title="zoom out (−)">−</button><button type="button" id="tl-reset" title="whole run (0)">whole run</button><span id="tl-range" class="muted mono"></span></div>
<div class="tl-legend">${legend}</div>
${note}<p class="note">${group(tl.total)} events in the run; ${group(tl.listed)} marks on the timeline (with the report's own: violations, EN_OK changes), ${group(tl.withArgs)} with their arguments. Wheel or +/− to zoom, drag or arrow keys to pan, click a mark for its details; the cursor (the vertical line) sets the registers' time.</p>
<div class="tl-wrap" id="tl-wrap" tabindex="0"><canvas id="tl-canvas"></canvas><div class="tl-tip" id="tl-tip"></div></div>
</section>`;
}

/** The ring as a circle: CONS and PROD as hands, the commands between them as an arc. */
function ringSvg(r: RingData): string {
  const size = r.log2size > 0 ? 2 ** r.log2size : 0;
  const cx = 90;
  const cy = 90;
  const R = 70;
  const at = (idx: number, rad = R) => {
    const a = (2 * Math.PI * idx) / Math.max(size, 1) - Math.PI / 2;
    return [cx + rad * Math.cos(a), cy + rad * Math.sin(a)] as const;
  };
  const c = size > 0 ? qIdx(r.cons, r.log2size) : 0;
  const p = size > 0 ? qIdx(r.prod, r.log2size) : 0;
  const parts = [
    `<circle cx="${cx}" cy="${cy}" r="${R}" fill="none" stroke="#d9dee2" stroke-width="14"/>`,
  ];
  if (r.pending > 0 && size > 0) {
    const [x0, y0] = at(c);
    const [x1, y1] = at(c + r.pending);
    const large = r.pending / size > 0.5 ? 1 : 0;
    parts.push(
      r.pending >= size
        ? `<circle cx="${cx}" cy="${cy}" r="${R}" fill="none" stroke="#f0a040" stroke-width="14"/>`
        : `<path d="M ${x0.toFixed(1)} ${y0.toFixed(1)} A ${R} ${R} 0 ${large} 1 ${x1.toFixed(1)} ${y1.toFixed(1)}" fill="none" stroke="#f0a040" stroke-width="14"/>`,
    );
  }
  const hand = (idx: number, color: string, label: string, rad: number) => {
    const [x, y] = at(idx, R + 10);
    const [lx, ly] = at(idx, rad);
    return `<line x1="${cx}" y1="${cy}" x2="${x.toFixed(1)}" y2="${y.toFixed(1)}" stroke="${color}" stroke-width="2"/><text x="${lx.toFixed(1)}" y="${ly.toFixed(1)}" font-size="11" fill="${color}" text-anchor="middle">${label}</text>`;
  };
  if (size > 0) {
    parts.push(hand(c, "#1f5fbf", "CONS", R - 24));
    parts.push(hand(p, "#2e9d4f", "PROD", R - 38));
    if (r.err !== 0) {
      const [x, y] = at(c);
      parts.push(
        `<circle class="error-slot" cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="7" fill="#d62728"><title>error slot: the command at CONS (${esc(r.errName ?? "")})</title></circle>`,
      );
    }
  } else
    parts.push(
      `<text x="${cx}" y="${cy}" font-size="12" text-anchor="middle" fill="#5f6b73">no BASE</text>`,
    );
  return `<svg viewBox="0 0 180 180" width="180" height="180" role="img" aria-label="VCMDQ${r.queue} ring">${parts.join("")}</svg>`;
}

function ringBlock(r: RingData): string {
  const size = r.log2size > 0 ? 2 ** r.log2size : 0;
  const ptr = (v: number) =>
    size > 0
      ? `${v} = 0x${v.toString(16)} (index ${qIdx(v, r.log2size)}, wrap ${qWrap(v, r.log2size)})`
      : `${v} = 0x${v.toString(16)}`;
  const rows = [
    [
      "BASE",
      `<code>${esc(r.base)}</code> (ADDR <code>${esc(r.addr)}</code>, LOG2SIZE ${r.log2size}: ${size} entries)`,
    ],
    ["PROD", `<code>${esc(ptr(r.prod))}</code>`],
    ["CONS", `<code>${esc(ptr(r.cons))}</code>`],
    [
      "error slot",
      r.err === 0
        ? '<span class="muted">none (CONS.ERR = 0)</span>'
        : `<span class="bad">CONS.ERR = ${r.err} (${esc(r.errName ?? "")})</span> at index ${size > 0 ? qIdx(r.cons, r.log2size) : "?"}`,
    ],
    ["enabled", r.enabled ? "CMDQ_EN_OK = 1" : "CMDQ_EN_OK = 0"],
    ["HW queue", r.hwQueue === null ? '<span class="muted">none</span>' : `hw_queue ${r.hwQueue}`],
    ["read from", esc(r.source)],
  ]
    .map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`)
    .join("");
  const cmds =
    r.pending === 0
      ? '<p class="note">No commands between CONS and PROD.</p>'
      : `<p class="note">${r.pending} command${r.pending === 1 ? "" : "s"} between CONS and PROD${
          r.commands.length < r.pending ? ` (the first ${r.commands.length} shown)` : ""
        }:</p><div class="cmds"><table><thead><tr><th>index</th><th>command</th><th>words</th></tr></thead><tbody>${r.commands
          .map(
            (c) =>
              `<tr><td>${c.index}</td><td><code>${esc(c.text)}</code></td><td><code>${esc(c.words.join(" "))}</code></td></tr>`,
          )
          .join("")}</tbody></table></div>`;
  // PROD.WR and CONS.RD: the index with its wrap bit, as the registers hold it (CONS.ERR
  // has its own attribute).
  return `<div class="ring" data-queue="${r.queue}" data-prod="${fieldOf(r.prod, F.PROD.WR)}" data-cons="${fieldOf(r.cons, F.CONS.RD)}" data-err="${r.err}" data-base="${attr(r.base)}" data-log2size="${r.log2size}"><h3>VCMDQ${r.queue}</h3><div style="display:flex;gap:12px;align-items:flex-start">${ringSvg(r)}<table>${rows}</table></div>${cmds}</div>`;
}

function queuesSection(d: RunReportData): string {
  const rings = d.queues.rings;
  return `<section id="queues"><h2>Queues</h2><p class="note">Each VCMDQ as the guest sees it ${esc(d.queues.when)}.</p>${
    rings.length === 0
      ? '<p class="note">The machine has no CMDQV (cmdqv=off, or the VMM did not select one).</p>'
      : `<div class="rings">${rings.map(ringBlock).join("")}</div>`
  }</section>`;
}

function objectRow(o: HostObject): string {
  const cls = [o.leaked ? "leaked" : "", o.refused.length > 0 ? "refused" : ""]
    .filter((c) => c !== "")
    .join(" ");
  const destroyed =
    o.destroyed === null
      ? '<span class="muted">never</span>'
      : `${timeLink(o.destroyed.t)} ${esc(o.destroyed.how)}`;
  const refused = o.refused.map((r) => `${timeLink(r.t)} ${esc(r.errno)}`).join("<br>");
  return `<tr data-object-id="${o.id}"${cls ? ` class="${cls}"` : ""}><td>${o.id}</td><td>${esc(o.type)}</td><td>${
    o.created
      ? `${timeLink(o.created.t)} <code>${esc(o.created.line)}</code>`
      : '<span class="muted">—</span>'
  }</td><td>${destroyed}</td><td>${refused}</td><td>${
    o.leaked ? `<span class="badge bad">leaked</span> ${esc(o.note ?? "")}` : esc(o.note ?? "")
  }</td></tr>`;
}

function objectsSection(d: RunReportData): string {
  return `<section id="host-objects"><h2>Host objects</h2><p class="note">The iommufd objects the host held, from the ioctl log: created, destroyed (IOMMU_DESTROY, or the kernel's release when iommufd closed), refused destroys and leaks.</p><table><thead><tr><th>id</th><th>type</th><th>created</th><th>destroyed</th><th>refused destroys</th><th>leak</th></tr></thead><tbody>${d.objects
    .map(objectRow)
    .join("")}</tbody></table></section>`;
}

function logBlock(kind: string, title: string, lines: readonly LogLine[]): string {
  const body =
    lines.length === 0
      ? '<div class="log-line muted">(none)</div>'
      : lines
          .map(
            (l) =>
              `<div class="log-line${l.error ? " error" : ""}"${l.t !== null ? ` data-t="${l.t}"` : ""}>${timeLink(l.t)}${esc(l.text)}</div>`,
          )
          .join("");
  return `<div class="log" data-log="${kind}"><h3>${title} <span class="muted">(${lines.length})</span></h3>${body}</div>`;
}

function logsSection(d: RunReportData): string {
  return `<section id="logs"><h2>Logs</h2><p><label>Filter: <input id="log-filter" type="search" placeholder="text or /regex/" size="40"></label> <span id="log-count" class="muted"></span></p><div class="logs">${logBlock(
    "ioctl",
    "host ioctl log (condensed)",
    d.logs.ioctl,
  )}${logBlock("dmesg", "guest dmesg", d.logs.dmesg)}${logBlock("console", "VMM console", d.logs.console)}</div></section>`;
}

function stepList(s: StepsData): string {
  return `<ol class="steps">${s.list
    .map(
      (x, i) =>
        `<li class="step${i === s.violating ? " violating" : ""}" data-step="${i}"${x.t !== undefined ? ` data-t="${x.t}"` : ""}>${esc(x.text)}${
          i === s.violating
            ? ` <span class="badge bad">${esc(s.invariant)} violated here</span>`
            : ""
        }</li>`,
    )
    .join("")}</ol>`;
}

function stepsSection(s: StepsData): string {
  return `<section id="steps"><h2>Steps</h2><p class="note">${
    s.reproduced
      ? `Reproduced: <code>${esc(s.invariant)}</code>`
      : `NOT reproduced: <code>${esc(s.invariant)}</code>`
  } — ${esc(s.message)}. ${s.violating !== null ? `The violation was found after step ${s.violating + 1}.` : "The step of the violation is not known."} Click a step to put the cursor at its end.</p>${stepList(s)}</section>`;
}

function compareSection(d: RunReportData, c: CompareData): string {
  const side = (title: string, verdicts: readonly Verdict[], steps: StepsData | null) =>
    `<div><h3>${esc(title)}</h3>${verdictTable(verdicts, null, steps)}${steps ? stepList(steps) : ""}</div>`;
  return `<section id="compare"><h2>Compared with ${esc(c.profile)}</h2><p class="note">The same recorded steps run under <code>${esc(c.profile)}</code>: where this run violates an invariant and ${esc(c.profile)} does not, the difference is the fix.</p><div class="split">${side(
    `this run: ${d.header.profile}`,
    d.verdicts,
    d.steps,
  )}${side(c.profile, c.verdicts, c.steps)}</div></section>`;
}

/** The whole page for a run or replay report. */
export function renderRunReportHtml(d: RunReportData): string {
  const h = d.header;
  const bad = d.verdicts.filter((v) => !v.ok).length;
  const who = h.profile !== "" ? `profile <code>${esc(h.profile)}</code>` : `VMM: ${esc(h.vmm)}`;
  const header = `<div class="sub">${esc(h.machine)} · ${who}${h.profile !== "" ? ` · VMM ${esc(h.vmm)}` : ""} · seed ${h.seed} · ${
    bad === 0
      ? '<span class="badge ok">all invariants hold</span>'
      : `<span class="badge bad">${bad} invariant${bad === 1 ? "" : "s"} violated</span>`
  }</div>`;
  const body = [
    summarySection(d),
    timelineSection(d),
    `<div class="split"><section id="details"><h2>Details</h2><div id="details-body"><p class="note">Click a mark on the timeline (or a time in a log) to see its details here.</p></div></section><section id="registers"><h2>Registers</h2><p class="note" id="reg-cursor">The CMDQV register file as the guest saw it, at the cursor.</p><div class="reg-scroll"><table><thead><tr><th>register</th><th>value</th><th>fields</th><th>last change</th></tr></thead><tbody id="reg-body"></tbody></table></div></section></div>`,
    queuesSection(d),
    objectsSection(d),
    logsSection(d),
    d.steps ? stepsSection(d.steps) : "",
    d.compare ? compareSection(d, d.compare) : "",
  ].join("\n");
  return renderPage({
    report: "run",
    title: d.title,
    header,
    body,
    data: d,
    script: bundleClient("run-report"),
    style: RUN_CSS,
  });
}
