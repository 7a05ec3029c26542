// `cmdqv explore … --report FILE.html`: the path is checked before the exploration, the
// page is written after it and reported with its size, and `--jobs N` draws the figures
// and the chart of `--jobs 1`.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { ExploreReportData } from "../report/explore-report-data.js";
import { formatBytes } from "./output-files.js";

const dir = mkdtempSync(join(tmpdir(), "cmdqv-explore-report-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function cmdqv(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/cmdqv.js", "explore", ...args], {
    encoding: "utf8",
    timeout: 300_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function reportData(file: string): ExploreReportData {
  const html = readFileSync(file, "utf8");
  const m = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html);
  assert.ok(m, `${file}: no report-data`);
  return JSON.parse(m[1]!) as ExploreReportData;
}

/** The report's figures that do not depend on the wall clock. */
function figures(d: ExploreReportData) {
  const { elapsedSeconds: _, ...counts } = d.counts;
  return {
    counts,
    table: d.table,
    samples: d.samples.map(({ ms: _ms, ...s }) => s),
    counterexamples: d.counterexamples.map((c) => [c.invariant, c.runs, c.steps]),
  };
}

describe("cmdqv explore --report", () => {
  it("writes the page after the exploration and says so with its size; --jobs 2 draws what --jobs 1 does", () => {
    const runs = [1, 2].map((jobs) => {
      const file = join(dir, `jobs${jobs}.html`);
      const r = cmdqv(
        "--profile",
        "qemu-v7",
        "--queues",
        "1",
        "--jobs",
        String(jobs),
        "--out",
        join(dir, `out${jobs}`),
        "--report",
        file,
      );
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr, `wrote ${file} (${formatBytes(statSync(file).size)})\n`);
      assert.match(readFileSync(file, "utf8"), /<body data-report="explore">/);
      return reportData(file);
    });
    const [one, two] = runs as [ExploreReportData, ExploreReportData];
    assert.equal(two.header.jobs, 2);
    assert.ok(one.samples.length > 4 && one.counterexamples.length > 0);
    assert.deepEqual(figures(two), figures(one));
  });

  it("refuses a report it could not write, and --vmm qemu, in one line before any work", () => {
    mkdirSync(join(dir, "a-dir"));
    const cases: [string[], RegExp][] = [
      [
        ["--report", join(dir, "a-dir")],
        /^cmdqv: --report: ".*a-dir" is a directory, not a file\n$/,
      ],
      [
        ["--report", join(dir, "missing", "r.html")],
        /^cmdqv: --report: cannot write ".*" \(ENOENT\)\n$/,
      ],
      [
        ["--vmm", "qemu", "--report", join(dir, "q.html")],
        /^cmdqv: --report: not with --vmm qemu \(.+\)\n$/,
      ],
    ];
    for (const [args, line] of cases) {
      const r = cmdqv("--out", join(dir, "refused"), ...args);
      assert.equal(r.status, 2, args.join(" "));
      assert.match(r.stderr, line);
      assert.equal(r.stdout, "", "nothing was explored");
    }
    assert.equal(existsSync(join(dir, "q.html")), false);
  });
});
