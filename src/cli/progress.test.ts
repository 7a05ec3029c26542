import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { etaMs, formatDuration, ProgressLine } from "./progress.js";

/** A terminal as ProgressLine sees it: what was written, at a width that can change. */
class FakeTerminal extends EventEmitter {
  readonly writes: string[] = [];
  isTTY: boolean;
  columns: number;
  constructor(columns: number, isTTY = true) {
    super();
    this.columns = columns;
    this.isTTY = isTTY;
  }
  write(s: string): boolean {
    this.writes.push(s);
    return true;
  }
  resize(columns: number): void {
    this.columns = columns;
    this.emit("resize");
  }
}

/** What a write shows: the text without \r and escape sequences (ESC [ … final byte). */
function visible(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x1b) {
      i++; // the [
      while (i + 1 < s.length && !/[A-Za-z]/.test(s[i + 1]!)) i++;
      i++; // the final letter
    } else if (c !== 0x0d) out += s[i];
  }
  return out;
}

const CLEAR = "\r\x1b[2K";

function line(columns: number) {
  const term = new FakeTerminal(columns);
  let t = 1_000_000;
  const clock = {
    advance(ms: number) {
      t += ms;
    },
  };
  const p = new ProgressLine({ stream: term, now: () => t });
  return { term, clock, p };
}

const LONG =
  "explore qemu-latest orderings: 123456 states/s, 2 violated invariants, fault site hw_queue_alloc:pin";

describe("the progress line", () => {
  it("never writes a line wider than columns - 1 at width 60, with its counts kept", () => {
    const { term, clock, p } = line(60);
    for (let done = 0; done <= 100_000; done += 7919) {
      clock.advance(1500);
      p.update(LONG, { done, total: 100_000 });
    }
    p.update("short", { done: 5, total: 10 });
    assert.ok(term.writes.length > 10);
    for (const w of term.writes) {
      const shown = Array.from(visible(w));
      assert.ok(shown.length <= 59, `${shown.length} columns: ${JSON.stringify(w)}`);
    }
    // The text is what gives way: the counts and the time survive the cut.
    assert.match(visible(term.writes.at(-2)!), /…/);
    assert.match(visible(term.writes.at(-2)!), /\d+\/100000 \(\d+%\)/);
  });

  it("drops the unit before the ETA when the status alone is too wide", () => {
    const { term, clock, p } = line(60);
    clock.advance(3200);
    p.update("cmdqv run", { done: 5123, total: 100_000, unit: "invalidations" });
    assert.equal(visible(term.writes[0]!), "cmdqv run · 5123/100000 (5%) · 3s elapsed · ETA 59s");
  });

  it("starts each write with a carriage return and clear-line, and clears itself when done", () => {
    const { term, clock, p } = line(60);
    for (let i = 0; i < 5; i++) {
      clock.advance(300);
      p.update(`step ${i}`, { done: i, total: 5 });
    }
    p.done();
    assert.equal(term.writes.length, 6);
    for (const w of term.writes) assert.ok(w.startsWith(CLEAR), JSON.stringify(w));
    assert.equal(term.writes.at(-1), CLEAR);
  });

  it("writes at most once per 200 ms", () => {
    const { term, clock, p } = line(60);
    for (let i = 0; i < 10; i++) {
      clock.advance(50);
      p.update(`step ${i}`);
    }
    // t = 50 (first write), then 250, 450: 3 writes in 500 ms.
    assert.equal(term.writes.length, 3);
  });

  it("shows done/total, elapsed and an ETA from the rate so far", () => {
    const { term, clock, p } = line(120);
    clock.advance(10_000);
    p.update("cmdqv run", { done: 100, total: 400, unit: "invalidations" });
    // 100 in 10 s is 10 per second: 300 left take 30 s.
    assert.equal(
      visible(term.writes[0]!),
      "cmdqv run · 100/400 invalidations (25%) · 10s elapsed · ETA 30s",
    );
    clock.advance(20_000);
    p.update("cmdqv run", { done: 300, total: 400 });
    // 300 in 30 s: the last 100 take 10 s.
    assert.match(visible(term.writes[1]!), /300\/400 \(75%\) · 30s elapsed · ETA 10s$/);
  });

  it("shows no ETA without a total or before any progress, and elapsed time always", () => {
    const { term, clock, p } = line(120);
    clock.advance(3000);
    p.update("paths", { done: 0, total: 50 });
    clock.advance(3000);
    p.update("paths", { done: 17, unit: "runs" });
    clock.advance(3000);
    p.update("no counts");
    const shown = term.writes.map(visible);
    assert.equal(shown[0], "paths · 0/50 (0%) · 3s elapsed");
    assert.equal(shown[1], "paths · 17 runs · 6s elapsed");
    assert.equal(shown[2], "no counts · 9s elapsed");
  });

  it("redraws at the new width on a resize, clearing the rows the old line wraps onto", () => {
    const { term, clock, p } = line(100);
    clock.advance(1000);
    p.update(LONG, { done: 1, total: 3 });
    const before = Array.from(visible(term.writes[0]!)).length;
    assert.equal(before, 99);
    term.resize(40);
    const redraw = term.writes[1]!;
    // 99 characters on 40 columns are 3 rows: this one and 2 above are cleared.
    assert.ok(redraw.startsWith(`${CLEAR}\x1b[1A\x1b[2K\x1b[1A\x1b[2K`), JSON.stringify(redraw));
    assert.ok(Array.from(visible(redraw)).length <= 39);
    p.done();
    term.resize(80);
    assert.equal(term.writes.length, 3, "no redraw once done");
  });

  it("writes nothing when the stream is not a terminal, or when disabled", () => {
    const pipe = new FakeTerminal(60, false);
    const a = new ProgressLine({ stream: pipe, now: () => 0 });
    a.update("x", { done: 1, total: 2 });
    a.done();
    const tty = new FakeTerminal(60);
    const b = new ProgressLine({ stream: tty, now: () => 0, enabled: false });
    b.update("x");
    b.done();
    assert.deepEqual([pipe.writes, tty.writes], [[], []]);
  });
});

describe("progress arithmetic", () => {
  it("formats durations as seconds, minutes and hours", () => {
    assert.deepEqual([0, 42_000, 185_000, 7_620_000].map(formatDuration), [
      "0s",
      "42s",
      "3m05s",
      "2h07m",
    ]);
  });

  it("has an ETA only when a total is known and some but not all is done", () => {
    assert.equal(etaMs({ done: 0, total: 10 }, 1000), undefined);
    assert.equal(etaMs({ done: 5 }, 1000), undefined);
    assert.equal(etaMs({ done: 10, total: 10 }, 1000), undefined);
    assert.equal(etaMs({ done: 1, total: 4 }, 2000), 6000);
  });
});
