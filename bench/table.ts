// The table `npm run bench` prints as it measures, one figure a line: the name left, the
// number right-aligned on its decimal point (thousands grouped), the unit after it, each
// in its own column. The name column is as wide as the longest name to come, so the
// rows line up although each is printed as soon as it is measured.

/** Room for the integer part of a value: 9,999,999,999 (a rate of billions per second). */
const INT_WIDTH = 13;
/** Decimals shown (seconds: 2) and the room they take, point included. */
const DECIMALS = 2;
const FRAC_WIDTH = DECIMALS + 1;

/** `12,345,678` or `3.42`: grouped thousands, at most DECIMALS decimals. */
export function formatValue(v: number): string {
  return v.toLocaleString("en-US", { maximumFractionDigits: DECIMALS });
}

/** The rows of one bench run, aligned for the names it will print. */
export class BenchTable {
  private readonly nameWidth: number;

  constructor(names: readonly string[]) {
    this.nameWidth = Math.max(0, ...names.map((n) => n.length));
  }

  /** A figure that could not be measured: its name, "skipped:", and why in the unit column. */
  skipped(name: string, why: string): string {
    return `${name.padEnd(this.nameWidth)}  ${"skipped:".padStart(INT_WIDTH + FRAC_WIDTH)}  ${why}`;
  }

  row(name: string, value: number, unit: string): string {
    const text = formatValue(value);
    const dot = text.indexOf(".");
    const int = dot < 0 ? text : text.slice(0, dot);
    const frac = dot < 0 ? "" : text.slice(dot);
    return `${name.padEnd(this.nameWidth)}  ${int.padStart(INT_WIDTH)}${frac.padEnd(FRAC_WIDTH)}  ${unit}`;
  }
}
