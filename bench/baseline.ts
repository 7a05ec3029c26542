// A bench run as JSON (`npm run bench -- --json`, or `--save FILE` for a baseline), and the
// comparison of a run with a saved baseline (`--compare FILE`): per figure, this run's
// median over the baseline's, flagged when it falls outside the baseline's own min–max.

import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { z } from "zod";
import type { Spread } from "./stats.js";
import { formatValue } from "./table.js";

const finite = z.number().refine(Number.isFinite, "expected a finite number");

const FigureSchema = z
  .object({
    median: finite,
    min: finite,
    max: finite,
    runs: z.number().int().positive(),
    unit: z.string().min(1),
  })
  .refine((f) => f.min <= f.median && f.median <= f.max, "expected min ≤ median ≤ max");

const MachineSchema = z.object({
  cpus: z.number().int().positive(),
  model: z.string(),
  node: z.string(),
  date: z.string(),
  /** os.loadavg() (1, 5, 15 minutes) when the run started and when it ended. */
  loadStart: z.tuple([finite, finite, finite]),
  loadEnd: z.tuple([finite, finite, finite]),
  /** True when other work shared the CPUs during the run (see LOADED_ABOVE). */
  loaded: z.boolean(),
  note: z.string(),
});

export const BenchRunSchema = z.object({
  machine: MachineSchema,
  figures: z.record(z.string(), FigureSchema),
  /** hw_consumer_cmds_per_s / ring_read_limit_cmds_per_s, medians. */
  consumerShareOfRingReadLimit: finite.optional(),
});

export type Machine = z.infer<typeof MachineSchema>;
export type BenchFigure = Spread & { readonly unit: string };
export type BenchRun = z.infer<typeof BenchRunSchema>;

/**
 * Others' load (1-minute average) above which a run is noted as taken on a loaded machine:
 * the load at the start, or at the end less the one CPU the bench itself kept busy.
 */
export const LOADED_ABOVE = 0.5;

/** The CPU model: /proc/cpuinfo's name, family and model where there is one, else os.cpus()'s. */
function cpuModel(fallback: string): string {
  let info: string;
  try {
    info = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return fallback;
  }
  const field = (k: string) => new RegExp(`^${k}\\s*: (.*)$`, "m").exec(info)?.[1]?.trim();
  const name = field("model name") ?? fallback;
  const family = field("cpu family");
  const model = field("model");
  return family === undefined || model === undefined
    ? name
    : `${name} (family ${family} model ${model})`;
}

/** The machine a run is taken on: CPUs, model, Node, date, and the load around the run. */
export function machineMeta(
  loadStart: readonly number[],
  loadEnd: readonly number[],
  date: Date,
): Machine {
  const cs = cpus();
  const three = (l: readonly number[]): [number, number, number] => [
    Number((l[0] ?? 0).toFixed(2)),
    Number((l[1] ?? 0).toFixed(2)),
    Number((l[2] ?? 0).toFixed(2)),
  ];
  const others = Math.max(loadStart[0] ?? 0, (loadEnd[0] ?? 0) - 1);
  const loaded = others > LOADED_ABOVE;
  return {
    cpus: cs.length,
    model: cpuModel(cs[0]?.model ?? "unknown"),
    node: process.version,
    date: date.toISOString(),
    loadStart: three(loadStart),
    loadEnd: three(loadEnd),
    loaded,
    note: loaded
      ? `taken on a shared, loaded machine: 1-minute load ${three(loadStart)[0]} at the start and ${three(loadEnd)[0]} at the end on ${cs.length} CPUs, so other work took CPU time from the rounds`
      : `taken on an otherwise idle machine (others' 1-minute load at most ${others.toFixed(2)} on ${cs.length} CPUs)`,
  };
}

/** Where a JSON.parse error points ("… at position N"), as line:column, when it says. */
function jsonErrorAt(text: string, message: string): string {
  const m = /position (\d+)/.exec(message);
  if (m === null) return "";
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  const col = pos - before.lastIndexOf("\n");
  return `:${line}:${col}`;
}

/** The baseline in `file`, or one line naming the file and what is wrong with it. */
export function loadBaseline(
  file: string,
): { readonly ok: true; readonly run: BenchRun } | { readonly ok: false; readonly error: string } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    return { ok: false, error: `bench: baseline ${file}: cannot be read (${code})` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    // V8 quotes the text around the error, newlines included: one line for the user.
    const msg = (e as Error).message.replace(/\s+/g, " ");
    return {
      ok: false,
      error: `bench: baseline ${file}${jsonErrorAt(text, msg)}: not JSON (${msg})`,
    };
  }
  const r = BenchRunSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    const where = i.path.length > 0 ? i.path.map(String).join(".") : "(top level)";
    return { ok: false, error: `bench: baseline ${file}: ${where}: ${i.message}` };
  }
  return { ok: true, run: r.data };
}

/** One figure's comparison: ratio of medians and whether it left the baseline's spread. */
export type Comparison =
  | {
      readonly name: string;
      readonly ratio: number;
      /** Empty when within the baseline's min–max; else e.g. "faster", "slower", "higher". */
      readonly moved: string;
      readonly base: BenchFigure;
    }
  | { readonly name: string; readonly only: "this run" | "the baseline" };

/**
 * The words for a move above the baseline's max and below its min: rates (unit …/s) are
 * faster when higher, times (s, ms) slower when higher, anything else just higher/lower.
 */
export function moveWords(unit: string): { readonly up: string; readonly down: string } {
  if (unit.endsWith("/s")) return { up: "faster", down: "slower" };
  if (unit === "s" || unit === "ms") return { up: "slower", down: "faster" };
  return { up: "higher", down: "lower" };
}

/** Every figure of either side, this run's order first, then those only in the baseline. */
export function compareRuns(
  current: Readonly<Record<string, BenchFigure>>,
  baseline: Readonly<Record<string, BenchFigure>>,
): Comparison[] {
  const out: Comparison[] = [];
  for (const [name, f] of Object.entries(current)) {
    const base = baseline[name];
    if (base === undefined) {
      out.push({ name, only: "this run" });
      continue;
    }
    const { up, down } = moveWords(base.unit);
    const moved = f.median > base.max ? up : f.median < base.min ? down : "";
    out.push({ name, ratio: f.median / base.median, moved, base });
  }
  for (const name of Object.keys(baseline))
    if (!(name in current)) out.push({ name, only: "the baseline" });
  return out;
}

/** The comparison as aligned lines: name, ratio (this run / baseline), and what moved. */
export function comparisonLines(rows: readonly Comparison[]): string[] {
  const w = Math.max(0, ...rows.map((r) => r.name.length));
  return rows.map((r) => {
    const name = r.name.padEnd(w);
    if ("only" in r) return `${name}  ${"-".padStart(8)}  only in ${r.only}`;
    const ratio = `${r.ratio.toFixed(2)}×`.padStart(8);
    const range = `${formatValue(r.base.min)}–${formatValue(r.base.max)} ${r.base.unit}`;
    return r.moved === ""
      ? `${name}  ${ratio}  within the baseline's ${range}`
      : `${name}  ${ratio}  ${r.moved}: outside the baseline's ${range}`;
  });
}
