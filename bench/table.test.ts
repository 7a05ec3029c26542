import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { figures, onceFigures } from "./figures.js";
import { REAL_QEMU_FIGURES } from "./real-qemu.js";
import { REPORT_FIGURES } from "./report.js";
import { spread } from "./stats.js";
import { BenchTable, formatValue } from "./table.js";

/** Every figure `npm run bench` prints, with values of each shape it gives. */
const rows = [
  ...figures.map((f) => ({ name: f.name, unit: f.unit })),
  ...onceFigures.flatMap((f) => f.names),
  ...REAL_QEMU_FIGURES,
  ...REPORT_FIGURES,
].map((f, i) => {
  const v = (k: number) => [123_456_789, 3.42, 7, 1_234.5, 0.07, 98_765][(i + k) % 6]!;
  return { ...f, value: spread([v(0), v(1), v(2)]) };
});

describe("the bench table", () => {
  const table = new BenchTable(rows.map((r) => r.name));
  const lines = rows.map((r) => table.row(r.name, r.value, r.unit));

  it("puts every unit in one column, after every name and number", () => {
    const unitAt = lines.map((l, i) => l.length - rows[i]!.unit.length);
    assert.equal(new Set(unitAt).size, 1, lines.join("\n"));
    lines.forEach((l, i) => {
      assert.ok(l.startsWith(rows[i]!.name), "names are left-aligned");
      assert.ok(l.endsWith(`  ${rows[i]!.unit}`), l);
    });
  });

  it("writes why a figure was skipped where its unit would be, on the figure's own line", () => {
    const name = REPORT_FIGURES[1]!.name;
    const line = table.skipped(name, "no chromium found");
    assert.ok(line.startsWith(name), line);
    assert.ok(line.includes("skipped:"), line);
    const unitAt = lines[0]!.length - rows[0]!.unit.length;
    assert.equal(line.indexOf("no chromium found"), unitAt, `${line}\n${lines[0]}`);
  });

  it("right-aligns the median, the min and the max each on its decimal point, under its title", () => {
    const header = table.header();
    const cols = ["median", "min", "max"] as const;
    let from = 0;
    for (const col of cols) {
      // The column where each integer part ends: one column for all rows, the title's end.
      const intEnd = lines.map((l, i) => {
        const text = formatValue(rows[i]!.value[col]);
        // Numbers come in column order: search after the previous columns' numbers.
        let start = rows[i]!.name.length;
        for (const c of cols.slice(0, cols.indexOf(col)))
          start = l.indexOf(formatValue(rows[i]!.value[c]), start) + 1;
        start = l.indexOf(text, start);
        assert.ok(start > 0, l);
        const dot = text.indexOf(".");
        return start + (dot < 0 ? text.length : dot);
      });
      assert.equal(new Set(intEnd).size, 1, `${col}\n${lines.join("\n")}`);
      const titleEnd = header.indexOf(col, from) + col.length;
      from = titleEnd;
      assert.equal(titleEnd, intEnd[0], `${header}\n${lines[0]}`);
    }
    assert.ok(header.endsWith("  unit"), header);
    assert.equal(header.length - "unit".length, lines[0]!.length - rows[0]!.unit.length);
  });

  it("writes values with grouped thousands and at most two decimals", () => {
    assert.deepEqual([123_456_789, 3.42, 7, 1_234.5, 0.07, 2.345_67].map(formatValue), [
      "123,456,789",
      "3.42",
      "7",
      "1,234.5",
      "0.07",
      "2.35",
    ]);
  });
});
