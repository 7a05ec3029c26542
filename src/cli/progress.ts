// A single status line on stderr, only when stderr is a terminal, rewritten in place at
// most every 200 ms. Wall-clock time is read here, in the CLI, never in the core.

export class ProgressLine {
  private readonly on: boolean;
  private last = 0;
  private shown = false;

  constructor(enabled = true) {
    this.on = enabled && process.stderr.isTTY === true;
  }

  update(text: string): void {
    if (!this.on) return;
    const now = Date.now();
    if (now - this.last < 200) return;
    this.last = now;
    process.stderr.write(`\r\x1b[2K${text}`);
    this.shown = true;
  }

  done(): void {
    if (this.shown) process.stderr.write("\r\x1b[2K");
    this.shown = false;
  }
}
