// `npm run bench` prints one figure per line (name, value, unit);
// `npm run bench -- --json` prints one JSON object of name → number.

import { figures, onceFigures } from "./figures.js";
import { measure } from "./harness.js";
import { REAL_QEMU_FIGURES, realQemuFigures } from "./real-qemu.js";
import { REPORT_FIGURES, reportFigures } from "./report.js";
import { BenchTable } from "./table.js";

const args = process.argv.slice(2);
const json = args.includes("--json");
const unknown = args.filter((a) => a !== "--json");
if (unknown.length > 0) {
  console.error(`bench: unknown argument ${JSON.stringify(unknown[0])} (accepted: --json)`);
  process.exit(2);
}

const out: Record<string, number> = {};
const table = new BenchTable([
  ...figures.map((f) => f.name),
  ...onceFigures.flatMap((f) => f.names.map((n) => n.name)),
  ...REAL_QEMU_FIGURES.map((f) => f.name),
  ...REPORT_FIGURES.map((f) => f.name),
]);
for (const fig of figures) {
  const m = measure(fig);
  out[m.name] = m.value;
  if (!json) console.log(table.row(m.name, m.value, m.unit));
  else if (process.stderr.isTTY) process.stderr.write(`measured ${m.name}\n`);
}
for (const fig of onceFigures) {
  const values = fig.run();
  for (const { name, unit } of fig.names) {
    const v = values[name]!;
    out[name] = v;
    if (!json) console.log(table.row(name, v, unit));
  }
}
const real = await realQemuFigures();
if (typeof real === "string") console.error(`bench: real-QEMU figures skipped: ${real}`);
else
  for (const { name, unit } of REAL_QEMU_FIGURES) {
    const v = real[name]!;
    out[name] = v;
    if (!json) console.log(table.row(name, v, unit));
  }
// The default run's HTML report: its size, and its load time in Debian's chromium.
const report = await reportFigures();
const measured = "figures" in report ? report.figures : report.partial;
for (const { name, unit } of REPORT_FIGURES) {
  const v = measured[name];
  if (v !== undefined) {
    out[name] = v;
    if (!json) console.log(table.row(name, v, unit));
  } else if ("skipped" in report) {
    if (json) console.error(`bench: ${name} skipped: ${report.skipped}`);
    else console.log(table.skipped(name, report.skipped));
  }
}
if (json) console.log(JSON.stringify(out));
