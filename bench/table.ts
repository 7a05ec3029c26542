// The table `npm run bench` prints as it measures, one figure a line: the name left, then
// the median, min and max of its rounds, each right-aligned on its decimal point
// (thousands grouped), then the unit, each in its own column. The name column is as wide
// as the longest name to come, so the rows line up although each is printed as soon as it
// is measured.

import type { Spread } from "./stats.js";

/** Room for the integer part of a value: 9,999,999,999 (a rate of billions per second). */
const INT_WIDTH = 13;
/** Decimals shown (seconds: 2) and the room they take, point included. */
const DECIMALS = 2;
const FRAC_WIDTH = DECIMALS + 1;
/** One number column: integer part and decimals. */
const NUM_WIDTH = INT_WIDTH + FRAC_WIDTH;

/** `12,345,678` or `3.42`: grouped thousands, at most DECIMALS decimals. */
export function formatValue(v: number): string {
  return v.toLocaleString("en-US", { maximumFractionDigits: DECIMALS });
}

/** `v` in a number column, its integer part ending at the same place whatever its decimals. */
function numberCell(v: number): string {
  const text = formatValue(v);
  const dot = text.indexOf(".");
  const int = dot < 0 ? text : text.slice(0, dot);
  const frac = dot < 0 ? "" : text.slice(dot);
  return `${int.padStart(INT_WIDTH)}${frac.padEnd(FRAC_WIDTH)}`;
}

/** The rows of one bench run, aligned for the names it will print. */
export class BenchTable {
  private readonly nameWidth: number;

  constructor(names: readonly string[]) {
    this.nameWidth = Math.max("figure".length, ...names.map((n) => n.length));
  }

  /** The column titles, over the columns the rows fill. */
  header(): string {
    const col = (t: string) => `${t.padStart(INT_WIDTH)}${"".padEnd(FRAC_WIDTH)}`;
    return `${"figure".padEnd(this.nameWidth)}  ${col("median")}  ${col("min")}  ${col("max")}  unit`;
  }

  /** A figure that could not be measured: its name, "skipped:", and why in the unit column. */
  skipped(name: string, why: string): string {
    const blank = "".padEnd(NUM_WIDTH);
    return `${name.padEnd(this.nameWidth)}  ${blank}  ${blank}  ${"skipped:".padStart(NUM_WIDTH)}  ${why}`;
  }

  row(name: string, s: Spread, unit: string): string {
    return `${name.padEnd(this.nameWidth)}  ${numberCell(s.median)}  ${numberCell(s.min)}  ${numberCell(s.max)}  ${unit}`;
  }
}
