// `npm run bench` prints one figure per line: name, median, min and max of its rounds, unit.
// `npm run bench -- --json` prints the run as one JSON object (machine, figures);
// `-- --save FILE` writes that object to FILE (a baseline) as well;
// `-- --compare FILE` then compares each figure's median with the baseline in FILE.

import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import {
  type BenchFigure,
  type BenchRun,
  compareRuns,
  comparisonLines,
  loadBaseline,
  machineMeta,
} from "./baseline.js";
import { CONSUMER_VS_LIMIT, figures, onceFigures } from "./figures.js";
import { measure } from "./harness.js";
import { REAL_GUEST_FIGURES, realGuestFigures } from "./real-guest.js";
import { REAL_QEMU_FIGURES, realQemuFigures } from "./real-qemu.js";
import { REPORT_FIGURES, reportFigures } from "./report.js";
import { type Spread, single } from "./stats.js";
import { BenchTable } from "./table.js";

const USAGE = "accepted: --json, --save FILE, --compare FILE";
const args = process.argv.slice(2);
let json = false;
let save: string | undefined;
let compare: string | undefined;
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === "--json") json = true;
  else if (a === "--save" || a === "--compare") {
    const file = args[++i];
    if (file === undefined || file.startsWith("--")) {
      console.error(`bench: ${a} needs a FILE (${USAGE})`);
      process.exit(2);
    }
    if (a === "--save") save = file;
    else compare = file;
  } else {
    console.error(`bench: unknown argument ${JSON.stringify(a)} (${USAGE})`);
    process.exit(2);
  }
}
// A bad baseline is refused before anything is measured.
const baseline = compare === undefined ? undefined : loadBaseline(compare);
if (baseline !== undefined && !baseline.ok) {
  console.error(baseline.error);
  process.exit(2);
}

const loadStart = loadavg();
const out: Record<string, BenchFigure> = {};
const table = new BenchTable([
  ...figures.map((f) => f.name),
  ...onceFigures.flatMap((f) => f.names.map((n) => n.name)),
  ...REAL_QEMU_FIGURES.map((f) => f.name),
  ...REPORT_FIGURES.map((f) => f.name),
]);
const put = (name: string, s: Spread, unit: string) => {
  out[name] = { median: s.median, min: s.min, max: s.max, runs: s.runs, unit };
  if (!json) console.log(table.row(name, s, unit));
  else if (process.stderr.isTTY) process.stderr.write(`measured ${name}\n`);
};
if (!json) console.log(table.header());
for (const fig of figures) {
  const m = measure(fig);
  put(m.name, m, m.unit);
}
for (const fig of onceFigures) {
  const values = fig.run();
  for (const { name, unit } of fig.names) put(name, single(values[name]!), unit);
}
const real = await realQemuFigures();
if (typeof real === "string") console.error(`bench: real-QEMU figures skipped: ${real}`);
else for (const { name, unit } of REAL_QEMU_FIGURES) put(name, single(real[name]!), unit);
const guest = await realGuestFigures();
if (typeof guest === "string") console.error(`bench: real-guest figures skipped: ${guest}`);
else for (const { name, unit } of REAL_GUEST_FIGURES) put(name, single(guest[name]!), unit);
// The default run's HTML report: its size, and its load time in Debian's chromium.
const report = await reportFigures();
const measured = "figures" in report ? report.figures : report.partial;
for (const { name, unit } of REPORT_FIGURES) {
  const v = measured[name];
  if (v !== undefined) put(name, v, unit);
  else if ("skipped" in report) {
    if (json) console.error(`bench: ${name} skipped: ${report.skipped}`);
    else console.log(table.skipped(name, report.skipped));
  }
}

// The consumer next to its physical limit (bench/ring-read.ts).
const consumer = out[CONSUMER_VS_LIMIT.consumer];
const limit = out[CONSUMER_VS_LIMIT.limit];
const share =
  consumer === undefined || limit === undefined ? undefined : consumer.median / limit.median;
if (!json && share !== undefined)
  console.log(
    `\n${CONSUMER_VS_LIMIT.consumer} / ${CONSUMER_VS_LIMIT.limit} = ${share.toFixed(3)} (the consumer runs at ${(share * 100).toFixed(1)}% of the ring read limit)`,
  );

const run: BenchRun = {
  machine: machineMeta(loadStart, loadavg(), new Date()),
  figures: out,
  ...(share === undefined ? {} : { consumerShareOfRingReadLimit: Number(share.toFixed(4)) }),
};
// Indented, the load triples on one line each (as Biome formats JSON, so a saved baseline
// passes the repository's lint as written).
const text = `${JSON.stringify(run, null, 2).replace(/\[\s+([\d.,\s]*?)\s+\]/g, (_, xs: string) => `[${xs.replace(/\s+/g, " ")}]`)}\n`;
if (json) process.stdout.write(text);
else console.log(`\nmachine: ${run.machine.note}`);
if (save !== undefined) {
  writeFileSync(save, text);
  console.error(`bench: baseline written to ${save}`);
}
if (baseline?.ok) {
  const m = baseline.run.machine;
  const lines = [
    `compared with ${compare} (${m.cpus} CPUs, ${m.model}, Node ${m.node}, ${m.date}; ${m.note}): this run's median / the baseline's`,
    ...comparisonLines(compareRuns(out, baseline.run.figures)),
  ];
  // With --json, stdout is the JSON alone.
  const print = json ? console.error : console.log;
  print(`\n${lines.join("\n")}`);
}
