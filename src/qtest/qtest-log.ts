// QEMU's qtest log (`-qtest-log FILE`; `cmdqv qtest --qtest-log FILE`): every line a
// connection receives and every line it sends, stamped with the time since it opened.
//
// facts (QEMU system/qtest.c, read for facts only): the connection's open writes
// `[I 0.000000] OPENED` (its timer starts there); each command `[R +SECONDS]` followed by
// ` WORD` for each of its words (the line split on single spaces, so the line itself after
// one space; an empty line gives `[R +SECONDS]` alone); each line sent (replies and the
// asynchronous `IRQ raise N` lines alike) `[S +SECONDS] LINE`; the close
// `[I +SECONDS] CLOSED`. SECONDS is printed with six decimals. QEMU reads a wall-clock
// timer; here the time comes from the clock the caller injects (the CLI passes a monotonic
// wall clock, tests a fake one), so nothing below src/cli reads the wall clock.

/** What a qtest session tells its log (protocol.ts calls these). */
export interface QtestLog {
  /** The connection opened (the session was made). */
  opened(): void;
  /** A command line came in, without its newline. */
  received(line: string): void;
  /** A line went out, without its newline. */
  sent(line: string): void;
  /** The connection closed. */
  closed(): void;
}

/** Seconds with six decimals, as QEMU's `%.06f`. */
function seconds(s: number): string {
  return s.toFixed(6);
}

/**
 * A QtestLog that writes QEMU's text through `write` (one call per line, newline included).
 * `now` gives seconds on any monotonic clock; times are printed relative to `opened()`.
 */
export class QtestLogWriter implements QtestLog {
  private readonly write: (text: string) => void;
  private readonly now: () => number;
  private start = 0;
  private open = false;

  constructor(write: (text: string) => void, now: () => number) {
    this.write = write;
    this.now = now;
  }

  private elapsed(): string {
    return seconds(Math.max(0, this.now() - this.start));
  }

  opened(): void {
    this.start = this.now();
    this.open = true;
    this.write(`[I ${this.elapsed()}] OPENED\n`);
  }

  received(line: string): void {
    this.write(`[R +${this.elapsed()}]${line === "" ? "" : ` ${line}`}\n`);
  }

  sent(line: string): void {
    // qemu: sends are logged only while the connection is open.
    if (this.open) this.write(`[S +${this.elapsed()}] ${line}\n`);
  }

  closed(): void {
    if (!this.open) return;
    this.open = false;
    this.write(`[I +${this.elapsed()}] CLOSED\n`);
  }
}
