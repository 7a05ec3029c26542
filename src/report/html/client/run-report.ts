// The run report page's script (bundled into the page by src/report/client-bundle.ts).
// It reads the embedded data and draws the timeline on a canvas (one lane per actor, in
// virtual time; zoom with the wheel or +/−, pan by dragging or with the arrow keys), fills
// #details for the mark clicked, the registers at the cursor, and wires the logs' filter
// and time links and the steps to the cursor. `window.cmdqvReport` is the hook the
// browser tests use (docs/report.md).

import { EV, type RunReportData, undelta } from "../../report-data.js";

declare global {
  interface Window {
    cmdqvReport: CmdqvReportHook;
  }
}

interface CmdqvReportHook {
  eventCount(): number;
  eventAt(i: number): { name: string; t: number; lane: string };
  positionOf(i: number): { x: number; y: number } | null;
  select(i: number): void;
  /** The cursor's time (virtual ns). */
  cursor(): number;
  /** Show [t0, t1] (virtual ns). */
  setView(t0: number, t1: number): void;
}

const el = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`#${id} missing`);
  return e as T;
};

const data = JSON.parse(el("report-data").textContent ?? "{}") as RunReportData;
const tl = data.timeline;
const S = tl.strings;

// Every listed event gets a global index: the streams one after the other, each in time
// order. T, END (a slice's end; an instant's own time), SID (its stream) and ARG (its
// arguments' string, -1 when not kept) are indexed by it.
const streams = tl.streams.map((s) => ({ ...s, tt: undelta(s.t), off: 0, span: 0 }));
let N = 0;
for (const s of streams) {
  s.off = N;
  N += s.tt.length;
}
const T = new Float64Array(N);
const END = new Float64Array(N);
const SID = new Int32Array(N);
const ARG = new Int32Array(N).fill(-1);
streams.forEach((s, k) => {
  for (let j = 0; j < s.tt.length; j++) {
    const i = s.off + j;
    T[i] = s.tt[j]!;
    END[i] = s.tt[j]! + (s.dur?.[j] ?? 0);
    SID[i] = k;
  }
  const at = undelta(s.argAt);
  at.forEach((j, m) => {
    ARG[s.off + j] = s.args[m]!;
  });
});

function formatNs(ns: number): string {
  const a = Math.abs(ns);
  if (a < 1000) return `${Math.round(ns)} ns`;
  if (a < 1e6) return `${(ns / 1000).toFixed(a < 1e4 ? 2 : 1)} µs`;
  if (a < 1e9) return `${(ns / 1e6).toFixed(a < 1e7 ? 3 : 2)} ms`;
  return `${(ns / 1e9).toFixed(4)} s`;
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) =>
    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;",
  );

type Args = Record<string, string | number | boolean | null>;
const argsOf = (i: number): Args | null =>
  ARG[i]! >= 0 ? (JSON.parse(S[ARG[i]!] ?? "{}") as Args) : null;
const streamOf = (i: number) => streams[SID[i]!]!;
const nameOf = (i: number) => S[streamOf(i).name] ?? "?";

// ---- lanes ------------------------------------------------------------------------------

const LABEL_W = 210;
const AXIS_H = 22;
const lanes = tl.lanes.map((l) => ({ ...l, h: l.kind === "hw" ? 44 : 20, top: 0 }));
{
  let y = AXIS_H;
  for (const l of lanes) {
    l.top = y;
    y += l.h;
  }
}
const HEIGHT = (lanes.at(-1)?.top ?? AXIS_H) + (lanes.at(-1)?.h ?? 0) + 4;

/** Per lane, its streams (indices into `streams`). */
const laneStreams: number[][] = lanes.map(() => []);
streams.forEach((s, k) => {
  laneStreams[s.lane]?.push(k);
});

// A begin ("B") ends at the matching end ("E") of its lane and name, or at the run's end.
for (const s of streams) {
  if ((s.flags & EV.BEGIN) === 0) continue;
  const ends = streams.find(
    (e) => e.lane === s.lane && e.name === s.name && (e.flags & EV.END) !== 0,
  );
  const marks: [number, number, boolean][] = [];
  for (let j = 0; j < s.tt.length; j++) marks.push([s.tt[j]!, s.off + j, true]);
  if (ends) for (let j = 0; j < ends.tt.length; j++) marks.push([ends.tt[j]!, ends.off + j, false]);
  marks.sort((a, b) => a[0] - b[0] || (a[2] === b[2] ? 0 : a[2] ? 1 : -1));
  const open: number[] = [];
  for (const [t, i, begin] of marks) {
    if (begin) open.push(i);
    else {
      const b = open.pop();
      if (b !== undefined) END[b] = t;
    }
  }
  for (const b of open) END[b] = Math.max(tl.end, T[b]!);
}
/** The longest span per stream, so a slice that starts before the view is still found. */
for (const s of streams)
  for (let j = 0; j < s.tt.length; j++) s.span = Math.max(s.span, END[s.off + j]! - T[s.off + j]!);

/** Counter series per lane: name → points (the samples whose values are kept). */
const series = lanes.map(() => new Map<string, { t: number[]; v: number[] }>());
const laneMax = lanes.map(() => 1);
for (const s of streams) {
  if ((s.flags & EV.COUNTER) === 0) continue;
  for (let j = 0; j < s.tt.length; j++) {
    const a = argsOf(s.off + j);
    if (a === null) continue;
    for (const [k, v] of Object.entries(a)) {
      if (typeof v !== "number") continue;
      let p = series[s.lane]!.get(k);
      if (p === undefined) {
        p = { t: [], v: [] };
        series[s.lane]!.set(k, p);
      }
      p.t.push(s.tt[j]!);
      p.v.push(v);
      laneMax[s.lane] = Math.max(laneMax[s.lane]!, v);
    }
  }
}
const aggs = tl.aggregates.map((a) => {
  const bucket = undelta(a.bucket);
  for (const r of Object.values(a.ranges))
    for (const v of r.max) laneMax[a.lane] = Math.max(laneMax[a.lane]!, v);
  return { ...a, b: bucket };
});

// ---- view -------------------------------------------------------------------------------

const wrap = el<HTMLDivElement>("tl-wrap");
const canvas = el<HTMLCanvasElement>("tl-canvas");
const tip = el<HTMLDivElement>("tl-tip");
const ctx = canvas.getContext("2d")!;
const span0 = Math.max(tl.end - tl.start, 1);
const FULL: [number, number] = [tl.start - span0 * 0.01, tl.end + span0 * 0.01];
let v0 = FULL[0];
let v1 = FULL[1];
let width = 800;
let selected = -1;
/**
 * The cursor: a time, and for a step the trace events emitted by its end (`seq`), which
 * tells apart register writes at the same virtual time in consecutive steps.
 */
interface Cursor {
  readonly t: number;
  readonly seq: number | null;
}
let cursor: Cursor = { t: tl.end, seq: null };
let prev: Cursor | null = null;
let cursorT = tl.end;

const plotW = () => Math.max(width - LABEL_W - 8, 10);
const xOf = (t: number) => LABEL_W + ((t - v0) / (v1 - v0)) * plotW();
const tOf = (x: number) => v0 + ((x - LABEL_W) / plotW()) * (v1 - v0);

/** A stream's colour: errors, trapped and direct accesses, RAM, slices, the rest. */
function colorOf(s: (typeof streams)[number]): string {
  const f = s.flags;
  if ((f & EV.ERROR) !== 0) return "#d62728";
  if ((f & EV.TRAPPED) !== 0) return "#e0701a";
  if ((f & EV.DIRECT) !== 0) return "#2e9d4f";
  if ((f & EV.RAM) !== 0) return "#9aa5ad";
  if ((f & EV.COUNTER) !== 0) return "#5f6b73";
  if ((f & EV.BEGIN) !== 0 || s.dur !== null) return "#7b3fbf";
  return "#1f5fbf";
}

/** First global index in [from, to) (ascending by T) whose time is ≥ t. */
function lowerBound(from: number, to: number, t: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (T[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function drawAxis(): void {
  ctx.fillStyle = "#f5f7f8";
  ctx.fillRect(0, 0, width, AXIS_H);
  ctx.fillStyle = "#5f6b73";
  ctx.font = "11px system-ui, sans-serif";
  const span = v1 - v0;
  const raw = span / 8;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = raw / p >= 5 ? 5 * p : raw / p >= 2 ? 2 * p : p;
  ctx.strokeStyle = "#e6eaed";
  for (let t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
    const x = xOf(t);
    ctx.beginPath();
    ctx.moveTo(x, AXIS_H - 4);
    ctx.lineTo(x, HEIGHT);
    ctx.stroke();
    ctx.fillText(formatNs(t), x + 2, 14);
  }
}

function drawLane(l: number): void {
  const lane = lanes[l]!;
  const top = lane.top;
  const h = lane.h;
  if (l % 2 === 1) {
    ctx.fillStyle = "#fafbfc";
    ctx.fillRect(LABEL_W, top, width - LABEL_W, h);
  }
  // PROD/CONS per bucket: the band from the least to the greatest value.
  for (const a of aggs) {
    if (a.lane !== l) continue;
    const bw = tl.bucketNs;
    for (let k = 0; k < a.b.length; k++) {
      const t0 = a.b[k]! * bw;
      if (t0 + bw < v0 || t0 > v1) continue;
      const x0 = xOf(t0);
      const x1 = Math.max(xOf(t0 + bw), x0 + 1);
      for (const [name, r] of Object.entries(a.ranges)) {
        const lo = r.min[k]!;
        const hi = r.max[k]!;
        if (lo < 0) continue;
        const y0 = top + h - 3 - (hi / laneMax[l]!) * (h - 8);
        const y1 = top + h - 3 - (lo / laneMax[l]!) * (h - 8);
        ctx.fillStyle = name === "prod" ? "rgba(46,157,79,.45)" : "rgba(31,95,191,.45)";
        ctx.fillRect(x0, y0, x1 - x0, Math.max(y1 - y0, 1));
      }
    }
  }
  // Counter series (PROD/CONS) as step lines.
  for (const [name, s] of series[l]!) {
    ctx.strokeStyle = name === "prod" ? "#2e9d4f" : "#1f5fbf";
    ctx.lineWidth = 1;
    ctx.beginPath();
    let started = false;
    for (let k = 0; k < s.t.length; k++) {
      const t = s.t[k]!;
      const next = s.t[k + 1] ?? t;
      if (next < v0 || t > v1) continue;
      const x = xOf(t);
      const y = top + h - 3 - (s.v[k]! / laneMax[l]!) * (h - 8);
      if (!started) {
        ctx.moveTo(x, y);
        started = true;
      } else ctx.lineTo(x, y);
      ctx.lineTo(Math.min(xOf(next), width), y);
    }
    ctx.stroke();
  }
  // Each stream's events; instants at the same pixel drawn once.
  for (const k of laneStreams[l]!) {
    const st = streams[k]!;
    const f = st.flags;
    if ((f & EV.END) !== 0) continue;
    const c = colorOf(st);
    ctx.fillStyle = c;
    const to = st.off + st.tt.length;
    let lastX = -1;
    const instants = st.span === 0;
    for (let i = lowerBound(st.off, to, v0 - st.span); i < to; ) {
      const t = T[i]!;
      if (t > v1) break;
      const end = END[i]!;
      const x = xOf(t);
      if (end > t) {
        const x1 = Math.max(xOf(end), x + 1);
        // A slice under a pixel wide is drawn once per pixel, as the instants are.
        const narrow = x1 - x <= 1 && Math.round(x) === lastX;
        if (end >= v0 && !narrow) {
          lastX = Math.round(x);
          ctx.globalAlpha = (f & EV.BEGIN) !== 0 ? 0.18 : 0.7;
          const inset = (f & EV.BEGIN) !== 0 ? 2 : 5;
          ctx.fillRect(x, top + inset, x1 - x, h - 2 * inset);
          ctx.globalAlpha = 1;
        }
        i++;
        continue;
      }
      const px = Math.round(x);
      if (px !== lastX) {
        if ((f & EV.COUNTER) !== 0) ctx.fillRect(px, top + h - 4, 1, 3);
        else if ((f & EV.ERROR) !== 0) ctx.fillRect(px - 1, top, 3, h);
        else ctx.fillRect(px, top + 3, 1.5, h - 6);
        lastX = px;
      }
      // Instants only: skip the rest of this pixel's events at once.
      i = instants ? Math.max(i + 1, lowerBound(i + 1, to, tOf(px + 0.5))) : i + 1;
    }
  }
}

function draw(): void {
  const dpr = window.devicePixelRatio || 1;
  width = wrap.clientWidth || 800;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(HEIGHT * dpr);
  canvas.style.height = `${HEIGHT}px`;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, HEIGHT);
  drawAxis();
  ctx.save();
  ctx.beginPath();
  ctx.rect(LABEL_W, AXIS_H, width - LABEL_W, HEIGHT - AXIS_H);
  ctx.clip();
  for (let l = 0; l < lanes.length; l++) drawLane(l);
  // Step ends (replays) and the cursor.
  ctx.setLineDash([4, 3]);
  ctx.strokeStyle = "#b26a00";
  for (const m of tl.stepMarks) {
    const x = xOf(m.t);
    if (x < LABEL_W || x > width) continue;
    ctx.beginPath();
    ctx.moveTo(x, AXIS_H);
    ctx.lineTo(x, HEIGHT);
    ctx.stroke();
    ctx.fillStyle = "#b26a00";
    ctx.fillText(`step ${m.step + 1}`, x + 2, AXIS_H + 10);
  }
  ctx.setLineDash([]);
  const cx = xOf(cursorT);
  ctx.strokeStyle = "#c62828";
  ctx.beginPath();
  ctx.moveTo(cx, AXIS_H);
  ctx.lineTo(cx, HEIGHT);
  ctx.stroke();
  if (selected >= 0) {
    const l = lanes[streamOf(selected).lane]!;
    const x = xOf(T[selected]!);
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 2;
    ctx.strokeRect(x - 4, l.top + 1, Math.max(xOf(END[selected]!) - x, 0) + 8, l.h - 2);
    ctx.lineWidth = 1;
  }
  ctx.restore();
  // Lane labels.
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, AXIS_H, LABEL_W, HEIGHT - AXIS_H);
  ctx.font = "12px system-ui, sans-serif";
  for (const l of lanes) {
    ctx.fillStyle = "#1d2327";
    ctx.fillText(l.label, 6, l.top + Math.min(l.h, 20) / 2 + 4, LABEL_W - 10);
    ctx.strokeStyle = "#eef1f3";
    ctx.beginPath();
    ctx.moveTo(0, l.top + l.h);
    ctx.lineTo(width, l.top + l.h);
    ctx.stroke();
  }
  el("tl-range").textContent = `${formatNs(v0)} – ${formatNs(v1)} (${formatNs(v1 - v0)} shown)`;
}

let pending = false;
function redraw(): void {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    draw();
  });
}

function setView(a: number, b: number): void {
  const min = 50;
  if (b - a < min) {
    const mid = (a + b) / 2;
    a = mid - min / 2;
    b = mid + min / 2;
  }
  const fullSpan = FULL[1] - FULL[0];
  if (b - a > fullSpan) {
    a = FULL[0];
    b = FULL[1];
  }
  if (a < FULL[0]) {
    b += FULL[0] - a;
    a = FULL[0];
  }
  if (b > FULL[1]) {
    a -= b - FULL[1];
    b = FULL[1];
  }
  v0 = a;
  v1 = b;
  draw();
}

function zoom(factor: number, atX?: number): void {
  const t = atX !== undefined ? tOf(atX) : (v0 + v1) / 2;
  setView(t - (t - v0) * factor, t + (v1 - t) * factor);
}

function pan(fraction: number): void {
  const d = (v1 - v0) * fraction;
  setView(v0 + d, v1 + d);
}

// ---- hit testing and details ------------------------------------------------------------

/** Events under (x, y): nearest first; those at the same place all come first. */
function hits(x: number, y: number): number[] {
  const l = lanes.findIndex((ln) => y >= ln.top && y < ln.top + ln.h);
  if (l < 0) return [];
  const tol = 5;
  const tx = tOf(x);
  const dt = ((v1 - v0) / plotW()) * tol;
  const out: { i: number; d: number }[] = [];
  for (const k of laneStreams[l]!) {
    const st = streams[k]!;
    if ((st.flags & EV.END) !== 0) continue;
    const to = st.off + st.tt.length;
    for (let i = lowerBound(st.off, to, tx - dt - st.span); i < to; i++) {
      if (T[i]! > tx + dt) break;
      // Nearest the event's own time first; a slice under the pointer after the marks there.
      const x0 = xOf(T[i]!);
      const x1 = xOf(END[i]!);
      const atMark = Math.abs(x - x0);
      const d = x >= x0 && x <= x1 ? Math.min(atMark, 0.75) : Math.min(atMark, Math.abs(x - x1));
      if (d <= tol) out.push({ i, d });
    }
  }
  out.sort((a, b) => a.d - b.d || a.i - b.i);
  return out.map((o) => o.i);
}

function regByOffset(off: number) {
  return data.registers.regs.find((r) => r.offset === off);
}

function fieldsText(fields: readonly (readonly [string, number, number])[], v: number): string {
  if (fields.length === 0) return "";
  return fields
    .map(([name, shift, w]) => {
      const x = w >= 32 ? v >>> 0 : (v >>> shift) & ((1 << w) - 1);
      return w === 1 ? `${name}=${x}` : `${name}=0x${x.toString(16)}`;
    })
    .join(" ");
}

/** Decoded words for an argument: a register access, an opcode. */
function decodeArg(i: number, k: string, v: string | number | boolean | null): string {
  if ((k === "addr" || k === "gpa") && typeof v === "string") {
    const base = cmdqvBase();
    const a = Number.parseInt(v, 16);
    if (base !== null && a >= base && a < base + 0x50000) {
      const r = regByOffset(a - base);
      const args = argsOf(i);
      const raw = args?.value ?? args?.val;
      const val = typeof raw === "string" ? Number.parseInt(raw.slice(-8), 16) : Number.NaN;
      if (r)
        return `CMDQV+0x${(a - base).toString(16)} ${r.name}${Number.isFinite(val) ? `: ${fieldsText(r.fields, val)}` : ""}`;
      return `CMDQV+0x${(a - base).toString(16)}`;
    }
  }
  if (k === "opcode" && typeof v === "number") return data.opcodes[String(v)] ?? "";
  return "";
}

const cmdqvBase = (): number | null => data.header.cmdqvBase;

function flagWords(f: number): string[] {
  const w: string[] = [];
  if ((f & EV.TRAPPED) !== 0) w.push("trapped (VM exit)");
  if ((f & EV.DIRECT) !== 0) w.push("direct page0 (no VM exit)");
  if ((f & EV.RAM) !== 0) w.push("RAM");
  if ((f & EV.ERROR) !== 0) w.push("error");
  if ((f & EV.COUNTER) !== 0) w.push("counter sample");
  return w;
}

function eventDetails(i: number): string {
  const st = streamOf(i);
  const lane = lanes[st.lane]!;
  const args = argsOf(i);
  const rows = Object.entries(args ?? {})
    .map(([k, v]) => {
      const dec = decodeArg(i, k, v);
      return `<tr><td>${esc(k)}</td><td><code>${esc(String(v))}</code>${dec ? `<div class="muted">${esc(dec)}</div>` : ""}</td></tr>`;
    })
    .join("");
  const end = END[i]! > T[i]! ? ` to ${formatNs(END[i]!)} (${formatNs(END[i]! - T[i]!)})` : "";
  const words = flagWords(st.flags);
  const missing =
    args === null
      ? `<tr><td>arguments</td><td class="muted">not kept: one of ${st.total} events of its kind (${esc(st.label)}); the report keeps the arguments of the first of them and of samples spread over the run</td></tr>`
      : "";
  return `<h3 class="ev-name">${esc(nameOf(i))}</h3><table><tr><td>lane</td><td>${esc(lane.label)} <span class="muted">(${esc(lane.id)})</span></td></tr><tr><td>time</td><td>${formatNs(T[i]!)} <span class="muted">(${T[i]} ns)</span>${end}</td></tr>${
    words.length > 0 ? `<tr><td>kind</td><td>${esc(words.join(", "))}</td></tr>` : ""
  }${rows}${missing}</table>`;
}

function showDetails(list: number[]): void {
  const body = el("details-body");
  if (list.length === 0) return;
  const [first, ...rest] = list;
  const more = rest.slice(0, 40);
  body.innerHTML =
    eventDetails(first!) +
    (more.length > 0
      ? `<p class="note">Also here (${rest.length}):</p><ul class="also">${more
          .map(
            (i) =>
              `<li><a href="#details" data-ev="${i}">${esc(nameOf(i))}</a> <span class="muted">${formatNs(T[i]!)}</span></li>`,
          )
          .join("")}</ul>`
      : "");
}

function aggregateDetails(x: number, y: number): boolean {
  const l = lanes.findIndex((ln) => y >= ln.top && y < ln.top + ln.h);
  if (l < 0) return false;
  const t = tOf(x);
  const k0 = Math.floor(t / tl.bucketNs);
  const rows: string[] = [];
  for (const a of aggs) {
    if (a.lane !== l) continue;
    const k = a.b.indexOf(k0);
    if (k < 0) continue;
    let r = `<tr><td>${esc(a.label)}</td><td>${a.count[k]} events</td><td>`;
    for (const [name, s] of Object.entries(a.ranges ?? {}))
      if (s.min[k]! >= 0) r += `${esc(name)} ${s.min[k]}…${s.max[k]} `;
    rows.push(`${r}</td></tr>`);
  }
  if (rows.length === 0) return false;
  el("details-body").innerHTML =
    `<h3>aggregated: ${formatNs(k0 * tl.bucketNs)} – ${formatNs((k0 + 1) * tl.bucketNs)}</h3><p class="note">Events counted in this bucket (not drawn one by one; zoom in for the samples).</p><table>${rows.join("")}</table>`;
  return true;
}

// ---- registers --------------------------------------------------------------------------

const regHist = data.registers.history.map((h) => ({
  ...h,
  tt: undelta(h.t),
  ss: undelta(h.seq),
}));

/** The register's value at the cursor: its last change at or before it. */
function valueAt(h: (typeof regHist)[number], c: Cursor): { v: number; at: number } | null {
  const before = c.seq !== null ? (k: number) => h.ss[k]! < c.seq! : (k: number) => h.tt[k]! <= c.t;
  let lo = 0;
  let hi = h.tt.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (before(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? null : { v: h.v[lo - 1]!, at: h.tt[lo - 1]! };
}

const PAGE_TITLES: Record<string, string> = {
  config: "Config page (CMDQV+0x0)",
  vcmdq0: "VCMDQ page0 (direct, CMDQV+0x10000)",
  vcmdq1: "VCMDQ page1 (direct, CMDQV+0x20000)",
  vintf0: "VINTF0 page0 (LVCMDQs, CMDQV+0x30000)",
  vintf1: "VINTF0 page1 (LVCMDQs, CMDQV+0x40000)",
};

function renderRegisters(): void {
  const rows: string[] = [];
  let page = "";
  let changed = 0;
  for (const h of regHist) {
    const r = data.registers.regs[h.reg]!;
    if (r.page !== page) {
      page = r.page;
      rows.push(`<tr class="page-row"><td colspan="4">${esc(PAGE_TITLES[page] ?? page)}</td></tr>`);
    }
    const now = valueAt(h, cursor);
    const before = prev === null ? undefined : valueAt(h, prev);
    const isChanged = before !== undefined && (now?.v ?? null) !== (before?.v ?? null);
    if (isChanged) changed++;
    const approx = h.sampledFrom !== null && cursorT >= h.sampledFrom;
    rows.push(
      `<tr data-reg="${esc(r.name)}"${isChanged ? ' class="changed"' : ""}><td><code>${esc(r.name)}</code>${r.access === "ro" ? ' <span class="muted">ro</span>' : ""}</td><td><code>${
        now === null ? "—" : `0x${(now.v >>> 0).toString(16)}`
      }</code></td><td class="fields"><code>${now === null ? "" : esc(fieldsText(r.fields, now.v))}</code></td><td>${
        now === null
          ? '<span class="muted">not seen yet</span>'
          : `<a href="#timeline" class="t" data-t="${now.at}">${formatNs(now.at)}</a>${approx ? ' <span class="muted" title="this register changed too often: past this time the report keeps its last value per time bucket">≈</span>' : ""}`
      }</td></tr>`,
    );
  }
  el("reg-body").innerHTML = rows.join("");
  el("reg-cursor").textContent =
    `The CMDQV register file as the guest saw it (its reads and writes), at ${formatNs(cursorT)}` +
    (prev === null
      ? "."
      : `; ${changed} register${changed === 1 ? "" : "s"} changed since the previous step (${formatNs(prev.t)}), highlighted.`);
}

/** Move the cursor (the previous position becomes the step the changes are counted from). */
function setCursor(t: number, seq: number | null = null, previous: Cursor | null = cursor): void {
  prev = previous;
  cursor = { t, seq };
  cursorT = t;
  renderRegisters();
  redraw();
}

/** The cursor at the end of step k (a replay's), or null when its end is not known. */
function stepCursor(k: number): Cursor | null {
  const s = data.steps?.list[k];
  if (s?.t === undefined) return null;
  return { t: s.t, seq: s.seq ?? null };
}

/** Put `t` in view (keeping the zoom) unless it already is. */
function reveal(t: number): void {
  if (t >= v0 && t <= v1) return;
  const half = (v1 - v0) / 2;
  setView(t - half, t + half);
}

function select(i: number): void {
  if (!(i >= 0 && i < N)) return;
  selected = i;
  showDetails([i]);
  reveal(T[i]!);
  setCursor(T[i]!);
}

// ---- interaction ------------------------------------------------------------------------

let drag: { x: number; v0: number; v1: number; moved: boolean } | null = null;

canvas.addEventListener("mousedown", (e) => {
  drag = { x: e.clientX, v0, v1, moved: false };
  wrap.focus();
});
window.addEventListener("mousemove", (e) => {
  if (drag !== null) {
    const dx = e.clientX - drag.x;
    if (Math.abs(dx) > 3) drag.moved = true;
    if (drag.moved) {
      const dt = (dx / plotW()) * (drag.v1 - drag.v0);
      setView(drag.v0 - dt, drag.v1 - dt);
    }
    return;
  }
  const r = canvas.getBoundingClientRect();
  const x = e.clientX - r.left;
  const y = e.clientY - r.top;
  if (x < LABEL_W || x > r.width || y < AXIS_H || y > r.height) {
    tip.style.display = "none";
    return;
  }
  const h = hits(x, y);
  if (h.length === 0) {
    tip.style.display = "none";
    return;
  }
  tip.textContent = `${nameOf(h[0]!)} @ ${formatNs(T[h[0]!]!)}${h.length > 1 ? ` (+${h.length - 1})` : ""}`;
  tip.style.left = `${Math.min(x + 12, r.width - 200)}px`;
  tip.style.top = `${y + 12}px`;
  tip.style.display = "block";
});
window.addEventListener("mouseup", (e) => {
  if (drag === null) return;
  const wasDrag = drag.moved;
  drag = null;
  if (wasDrag) return;
  const r = canvas.getBoundingClientRect();
  const x = e.clientX - r.left;
  const y = e.clientY - r.top;
  if (x < LABEL_W || y < AXIS_H) return;
  const h = hits(x, y);
  if (h.length > 0) {
    selected = h[0]!;
    showDetails(h);
    setCursor(T[h[0]!]!);
  } else {
    aggregateDetails(x, y);
    setCursor(tOf(x));
  }
});
canvas.addEventListener(
  "wheel",
  (e) => {
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    if (Math.abs(e.deltaX) > Math.abs(e.deltaY)) pan(e.deltaX / r.width);
    else zoom(e.deltaY > 0 ? 1.25 : 0.8, Math.max(e.clientX - r.left, LABEL_W));
  },
  { passive: false },
);
wrap.addEventListener("keydown", (e) => {
  const k = e.key;
  if (k === "ArrowLeft") pan(-0.1);
  else if (k === "ArrowRight") pan(0.1);
  else if (k === "+" || k === "=") zoom(0.8);
  else if (k === "-" || k === "_") zoom(1.25);
  else if (k === "0") setView(FULL[0], FULL[1]);
  else return;
  e.preventDefault();
});
el("tl-zoom-in").addEventListener("click", () => zoom(0.5));
el("tl-zoom-out").addEventListener("click", () => zoom(2));
el("tl-reset").addEventListener("click", () => setView(FULL[0], FULL[1]));
window.addEventListener("resize", () => redraw());

// Links to a time anywhere on the page (logs, verdicts, objects, registers).
document.addEventListener("click", (e) => {
  const a = (e.target as Element | null)?.closest?.("a.t[data-t], a[data-ev]");
  if (!a) return;
  const ev = a.getAttribute("data-ev");
  if (ev !== null) {
    e.preventDefault();
    select(Number(ev));
    return;
  }
  const t = Number(a.getAttribute("data-t"));
  if (!Number.isFinite(t)) return;
  // Show the neighbourhood: a hundredth of the run around t, or the current zoom if closer.
  const half = Math.min((v1 - v0) / 2, span0 / 200);
  setView(t - half, t + half);
  const near = nearestEvent(t);
  if (near >= 0) {
    selected = near;
    showDetails([near]);
  }
  setCursor(t);
});

/** The listed event nearest to t (any lane; one with arguments preferred), -1 when none. */
function nearestEvent(t: number): number {
  let best = -1;
  let bestD = Number.POSITIVE_INFINITY;
  for (const st of streams) {
    if ((st.flags & EV.END) !== 0) continue;
    const to = st.off + st.tt.length;
    const k = lowerBound(st.off, to, t);
    for (const i of [k - 1, k]) {
      if (i < st.off || i >= to) continue;
      const d = Math.abs(T[i]! - t) + (ARG[i]! < 0 ? 0.5 : 0);
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
  }
  return best;
}

// Logs: the filter (text, or /regex/ case-insensitive).
const filter = el<HTMLInputElement>("log-filter");
const logLines = [...document.querySelectorAll<HTMLElement>(".log-line[data-t], .log-line")];
function applyFilter(): void {
  const q = filter.value.trim();
  let test: (s: string) => boolean = () => true;
  if (q.startsWith("/") && q.length > 2 && q.endsWith("/")) {
    try {
      const re = new RegExp(q.slice(1, -1), "i");
      test = (s) => re.test(s);
    } catch {
      test = (s) => s.toLowerCase().includes(q.toLowerCase());
    }
  } else if (q !== "") test = (s) => s.toLowerCase().includes(q.toLowerCase());
  let shown = 0;
  for (const line of logLines) {
    const ok = test(line.textContent ?? "");
    line.classList.toggle("hidden", !ok);
    if (ok) shown++;
  }
  el("log-count").textContent = q === "" ? "" : `${shown} of ${logLines.length} lines`;
}
filter.addEventListener("input", applyFilter);

// Steps (replays): a click puts the cursor at the step's end, the previous step's end before.
const stepItems = [...document.querySelectorAll<HTMLElement>("#steps li.step")];
for (const li of stepItems)
  li.addEventListener("click", () => {
    const k = Number(li.dataset.step);
    const at = stepCursor(k);
    if (at === null) return;
    for (const x of stepItems) x.classList.toggle("current", x === li);
    reveal(at.t);
    setCursor(at.t, at.seq, stepCursor(k - 1) ?? { t: tl.start, seq: 0 });
  });

// ---- start ------------------------------------------------------------------------------

window.cmdqvReport = {
  eventCount: () => N,
  eventAt: (i) => ({ name: nameOf(i), t: T[i]!, lane: lanes[streamOf(i).lane]?.id ?? "" }),
  positionOf(i) {
    if (!(i >= 0 && i < N)) return null;
    const t = T[i]!;
    if (END[i]! < v0 || t > v1) return null;
    // The mark of an event's time (a slice's start): where a click selects it.
    const l = lanes[streamOf(i).lane]!;
    const r = canvas.getBoundingClientRect();
    const x = xOf(t);
    if (x < LABEL_W || x > width) return null;
    return { x: r.left + window.scrollX + x, y: r.top + window.scrollY + l.top + l.h / 2 };
  },
  select,
  cursor: () => cursorT,
  setView: (a, b) => setView(a, b),
};

{
  // A replay opens at its violating step; a run at its end.
  const k = data.steps?.violating ?? null;
  const at = k !== null ? stepCursor(k) : null;
  if (k !== null && at !== null) {
    cursor = at;
    cursorT = at.t;
    prev = stepCursor(k - 1) ?? { t: tl.start, seq: 0 };
    stepItems[k]?.classList.add("current");
  }
  draw();
  renderRegisters();
  document.body.dataset.ready = "true";
}
