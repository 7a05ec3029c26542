// The committed reports of docs/findings.md's findings (npm run report:findings) open in
// Debian's chromium without an error and show the violation their run records: the
// replay file's invariant, or the violations the scenario expects.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { FINDINGS_MD, findingsOf, reportOf } from "../scripts/gen-findings-reports.js";
import { openReport, watchedPage } from "./browser.js";
import { chromiumForTests } from "./chromium-hooks.js";
import { REPO } from "./report-kit.js";
import { verdictRows } from "./run-report-checks.js";

/** The invariants a finding's run records as violated. */
function recorded(run: string): string[] {
  const text = readFileSync(join(REPO, run), "utf8");
  if (run.endsWith(".json")) return [(JSON.parse(text) as { invariant: string }).invariant];
  const doc = parse(text) as { guest: { expect?: { violated?: string[] } }[] };
  return doc.guest.flatMap((s) => s.expect?.violated ?? []);
}

const browser = chromiumForTests();

describe("the findings' reports", () => {
  const runs = findingsOf(readFileSync(join(REPO, FINDINGS_MD), "utf8")).flatMap((f) => f.runs);

  it("are one per run the findings name", () => {
    assert.ok(runs.length >= 5, runs.join(", "));
  });

  for (const run of runs)
    it(`${reportOf(run)} opens with no error and shows ${run}'s violation`, async () => {
      const w = await watchedPage(browser());
      await openReport(w.page, join(REPO, reportOf(run)));
      const rows = await verdictRows(w.page);
      const want = recorded(run);
      assert.ok(want.length > 0, `${run} records no violation`);
      for (const inv of want)
        assert.equal(
          rows.find((r) => r.name === inv)?.ok,
          "false",
          `${inv}: ${JSON.stringify(rows)}`,
        );
      assert.deepEqual(w.errors, []);
      assert.deepEqual(w.requests, [w.page.url()]);
      await w.page.close();
    });
});
