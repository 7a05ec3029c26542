// A single status line on stderr, only when stderr is a terminal, rewritten in place at
// most every 200 ms. Wall-clock time is read here, in the CLI, never in the core.
//
// The line never reaches the last column (a line as wide as the terminal wraps on some
// terminals and the next \r then rewrites only its second half), so it is cut to
// columns - 1 characters: the caller's text is shortened first, so that the counts,
// elapsed time and ETA stay visible. Each write starts with \r and clear-line. When the
// terminal is made narrower, a terminal that reflows wraps the old line onto several
// rows: those rows are cleared before the line is drawn again at the new width.

/** What the line is written to: process.stderr, or a fake in tests. */
export interface ProgressStream {
  write(s: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
  on?(event: "resize", listener: () => void): unknown;
  off?(event: "resize", listener: () => void): unknown;
}

export interface ProgressOptions {
  /** false: the line is never shown (e.g. under --json). Default true. */
  readonly enabled?: boolean;
  /** Default process.stderr. Nothing is written unless it is a TTY. */
  readonly stream?: ProgressStream;
  /** Milliseconds; default Date.now. */
  readonly now?: () => number;
  /** Least time between two writes, in ms (default 200). */
  readonly intervalMs?: number;
}

/** How far the work is: `done` of `total` (when the total is known), counted in `unit`. */
export interface ProgressCounts {
  readonly done: number;
  readonly total?: number | undefined;
  /** What is counted: "paths", "invalidations issued". */
  readonly unit?: string;
}

/** Columns assumed when the stream does not say. */
const DEFAULT_COLUMNS = 80;
const CLEAR = "\r\x1b[2K";
const UP_CLEAR = "\x1b[1A\x1b[2K";

/** `42s`, `3m05s`, `2h07m`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const two = (n: number) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
}

/**
 * Milliseconds left at the rate so far, or undefined when it cannot be known: no total,
 * nothing done yet, or nothing left.
 */
export function etaMs(counts: ProgressCounts | undefined, elapsedMs: number): number | undefined {
  if (counts?.total === undefined || counts.done <= 0 || counts.done >= counts.total)
    return undefined;
  return ((counts.total - counts.done) * Math.max(elapsedMs, 1)) / counts.done;
}

/** `512/1000 paths (51%) · 5s elapsed · ETA 5s`: the part of the line cut last. */
export function progressStatus(
  counts: ProgressCounts | undefined,
  elapsedMs: number,
  withUnit = true,
): string {
  const parts: string[] = [];
  if (counts !== undefined) {
    const { done, total } = counts;
    const unit = counts.unit && withUnit ? ` ${counts.unit}` : "";
    const pct = (t: number) => (t > 0 ? Math.floor((100 * Math.min(done, t)) / t) : 100);
    parts.push(total === undefined ? `${done}${unit}` : `${done}/${total}${unit} (${pct(total)}%)`);
  }
  parts.push(`${formatDuration(elapsedMs)} elapsed`);
  const eta = etaMs(counts, elapsedMs);
  if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
  return parts.join(" · ");
}

/** `s` cut to `max` characters (code points), the cut marked with "…". */
function cut(s: string, max: number): string {
  const chars = Array.from(s);
  if (chars.length <= max) return s;
  return max <= 0 ? "" : `${chars.slice(0, max - 1).join("")}…`;
}

/**
 * The text and a status on one line of at most `max` characters: the first status (longest
 * first) that leaves room for some of the text, which is cut to fit; else all of it cut.
 */
export function fitLine(text: string, statuses: readonly string[], max: number): string {
  const sep = " · ";
  for (const status of statuses) {
    const room = max - Array.from(status).length - sep.length;
    if (room >= Math.min(8, Array.from(text).length)) return `${cut(text, room)}${sep}${status}`;
  }
  return cut(`${text}${sep}${statuses.at(-1) ?? ""}`, max);
}

export class ProgressLine {
  private readonly on: boolean;
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly start: number;
  private last = Number.NEGATIVE_INFINITY;
  /** The line on screen ("" when none) and what it was made of, for a redraw on resize. */
  private shown = "";
  private text = "";
  private counts: ProgressCounts | undefined;
  private readonly onResize = (): void => this.redraw(true);
  private listening = false;

  constructor(options: boolean | ProgressOptions = true) {
    const o: ProgressOptions = typeof options === "boolean" ? { enabled: options } : options;
    this.stream = o.stream ?? process.stderr;
    this.on = (o.enabled ?? true) && this.stream.isTTY === true;
    this.now = o.now ?? Date.now;
    this.intervalMs = o.intervalMs ?? 200;
    this.start = this.now();
  }

  /** Show `text` (and how far the work is, when known); at most one write per interval. */
  update(text: string, counts?: ProgressCounts): void {
    if (!this.on) return;
    const now = this.now();
    if (now - this.last < this.intervalMs) return;
    this.last = now;
    this.text = text;
    this.counts = counts;
    if (!this.listening && this.stream.on) {
      this.stream.on("resize", this.onResize);
      this.listening = true;
    }
    this.redraw(false);
  }

  /** Clear the line (before the command prints its result). */
  done(): void {
    if (this.shown !== "") this.stream.write(this.clear(false));
    this.shown = "";
    if (this.listening) this.stream.off?.("resize", this.onResize);
    this.listening = false;
  }

  private columns(): number {
    const c = this.stream.columns;
    return c !== undefined && c > 1 ? c : DEFAULT_COLUMNS;
  }

  /** \r and clear-line; after a resize, also the rows the old line now wraps onto. */
  private clear(resized: boolean): string {
    if (!resized) return CLEAR;
    const wrapped = Math.ceil(Array.from(this.shown).length / this.columns()) - 1;
    return CLEAR + UP_CLEAR.repeat(Math.max(0, wrapped));
  }

  private redraw(resized: boolean): void {
    if (resized && this.shown === "") return;
    const elapsed = this.now() - this.start;
    const statuses = [true, false].map((unit) => progressStatus(this.counts, elapsed, unit));
    const line = fitLine(this.text, statuses, this.columns() - 1);
    this.stream.write(`${this.clear(resized)}${line}`);
    this.shown = line;
  }
}
