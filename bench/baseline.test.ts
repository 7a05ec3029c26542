import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  type BenchFigure,
  type BenchRun,
  compareRuns,
  comparisonLines,
  loadBaseline,
  machineMeta,
} from "./baseline.js";
import { figures } from "./figures.js";

const fig = (median: number, min: number, max: number, unit: string): BenchFigure => ({
  median,
  min,
  max,
  runs: 5,
  unit,
});

const baseline: Record<string, BenchFigure> = {
  steady_per_s: fig(100, 90, 110, "commands/s"),
  up_per_s: fig(100, 95, 105, "commands/s"),
  down_per_s: fig(200, 190, 210, "accesses/s"),
  took_s: fig(2, 1.8, 2.2, "s"),
  size_mb: fig(1, 1, 1, "MB"),
  gone_per_s: fig(5, 5, 5, "commands/s"),
};
const current: Record<string, BenchFigure> = {
  steady_per_s: fig(105, 100, 108, "commands/s"),
  up_per_s: fig(120, 118, 125, "commands/s"),
  down_per_s: fig(100, 90, 110, "accesses/s"),
  took_s: fig(3, 3, 3, "s"),
  size_mb: fig(0.5, 0.5, 0.5, "MB"),
  new_per_s: fig(7, 7, 7, "commands/s"),
};

describe("comparing a bench run with a baseline", () => {
  const rows = compareRuns(current, baseline);
  const by = (name: string) => rows.find((r) => r.name === name);

  it("gives each figure on both sides the ratio of this run's median to the baseline's", () => {
    const ratios = Object.fromEntries(
      rows.flatMap((r) => ("ratio" in r ? [[r.name, r.ratio]] : [])),
    );
    assert.deepEqual(ratios, {
      steady_per_s: 1.05,
      up_per_s: 1.2,
      down_per_s: 0.5,
      took_s: 1.5,
      size_mb: 0.5,
    });
  });

  it("flags a median outside the baseline's min–max, with a word that fits the unit", () => {
    const moved = Object.fromEntries(
      rows.flatMap((r) => ("moved" in r ? [[r.name, r.moved]] : [])),
    );
    assert.deepEqual(moved, {
      steady_per_s: "",
      up_per_s: "faster",
      down_per_s: "slower",
      took_s: "slower",
      size_mb: "lower",
    });
  });

  it("names the figures missing on either side", () => {
    assert.deepEqual(by("new_per_s"), { name: "new_per_s", only: "this run" });
    assert.deepEqual(by("gone_per_s"), { name: "gone_per_s", only: "the baseline" });
    assert.equal(rows.length, 7);
  });

  it("prints one aligned line a figure, with the ratio and the moved word", () => {
    const lines = comparisonLines(rows);
    assert.equal(lines.length, rows.length);
    const line = (name: string) => lines.find((l) => l.startsWith(`${name} `))!;
    assert.match(line("up_per_s"), /1\.20×\s+faster: outside the baseline's 95–105 commands\/s/);
    assert.match(line("steady_per_s"), /1\.05×\s+within the baseline's 90–110/);
    assert.match(line("took_s"), /1\.50×\s+slower/);
    assert.match(line("gone_per_s"), /only in the baseline$/);
    assert.match(line("new_per_s"), /only in this run$/);
    // The ratios end in one column (the "-" of a figure on one side only, too).
    const end = lines[0]!.indexOf("×");
    assert.ok(end > 0);
    for (const l of lines) assert.ok(l[end] === "×" || l[end] === "-", lines.join("\n"));
  });
});

describe("a baseline file", () => {
  const dir = mkdtempSync(join(tmpdir(), "cmdqv-bench-baseline-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const good: BenchRun = {
    machine: machineMeta([0.1, 0.2, 0.3], [0.4, 0.5, 0.6], new Date(0)),
    figures: baseline,
  };
  const write = (name: string, text: string) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  it("loads when it is a run as --save writes it", () => {
    const f = write("good.json", JSON.stringify(good, null, 2));
    const r = loadBaseline(f);
    assert.ok(r.ok, r.ok ? "" : r.error);
    assert.deepEqual(r.run.figures, baseline);
  });

  it("is refused in one line naming the file and the problem", () => {
    const bad = structuredClone(good) as { figures: Record<string, Record<string, unknown>> };
    bad.figures["up_per_s"]!["median"] = "fast";
    const cases: [string, string, RegExp][] = [
      ["type.json", JSON.stringify(bad), /figures\.up_per_s\.median: .*number/],
      ["syntax.json", '{\n  "machine": ,\n}', /syntax\.json(:2:\d+)?: not JSON \(.*\)$/],
      [
        "order.json",
        JSON.stringify({ ...good, figures: { x: fig(5, 6, 7, "s") } }),
        /min ≤ median/,
      ],
      ["nofig.json", JSON.stringify({ machine: good.machine }), /figures: /],
    ];
    for (const [name, text, problem] of cases) {
      const f = write(name, text);
      const r = loadBaseline(f);
      assert.ok(!r.ok, name);
      assert.ok(r.error.startsWith(`bench: baseline ${f}`), r.error);
      assert.match(r.error, problem);
      assert.ok(!r.error.includes("\n"), r.error);
    }
    const missing = loadBaseline(join(dir, "absent.json"));
    assert.ok(!missing.ok && /absent\.json: cannot be read \(ENOENT\)/.test(missing.error));
  });

  it("that is bad stops `npm run bench -- --compare` with exit 2 and that line, before measuring", () => {
    const f = write("cli.json", "[1, 2]");
    const root = fileURLToPath(new URL("..", import.meta.url));
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", join(root, "bench/main.ts"), "--compare", f],
      { cwd: root, encoding: "utf8" },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, new RegExp(`^bench: baseline ${f}: \\(top level\\): .*\\n$`));
  });

  it("committed for this machine size loads, and holds every in-process figure", () => {
    const r = loadBaseline(fileURLToPath(new URL("baseline-2cpu.json", import.meta.url)));
    assert.ok(r.ok, r.ok ? "" : r.error);
    assert.equal(r.run.machine.cpus, 2);
    for (const f of figures) assert.ok(f.name in r.run.figures, f.name);
  });

  it("notes whether the machine was loaded when it was taken", () => {
    const quiet = machineMeta([0, 0, 0], [0, 0, 0], new Date(0));
    const busy = machineMeta([50, 50, 50], [60, 60, 60], new Date(0));
    assert.equal(quiet.loaded, false);
    // The bench keeps one CPU busy itself: that alone at the end is not a loaded machine.
    assert.equal(machineMeta([0.2, 0, 0], [1.4, 0, 0], new Date(0)).loaded, false);
    assert.equal(machineMeta([0.2, 0, 0], [1.6, 0, 0], new Date(0)).loaded, true);
    assert.equal(busy.loaded, true);
    assert.match(busy.note, /loaded/);
    assert.equal(busy.date, "1970-01-01T00:00:00.000Z");
  });
});
