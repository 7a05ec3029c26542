// The run and replay reports in Debian's chromium: the default run, the review's Case 2
// under qemu-v5, and finding 1's replay, each written by `cmdqv run … --report FILE` and
// opened from disk. Each is held to what the same run printed and traced without a report
// (report-kit.ts, run-truth.ts), through the page contract only.

import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import {
  closeChromium,
  type LaunchedBrowser,
  launchChromium,
  openReport,
  type WatchedPage,
  watchedPage,
} from "./browser.js";
import {
  CASE2,
  DEFAULT_RUN,
  REPLAY,
  type RunCase,
  type RunTruth,
  runReport,
  runTruth,
  tempDir,
} from "./report-kit.js";
import {
  clickableEvents,
  clickEvent,
  eventAt,
  logsFiltered,
  objectIdsOnPage,
  RUN_SECTIONS,
  ringsOnPage,
  sectionsMissing,
  stepsOnPage,
  timelineCounts,
  verdictRows,
  visibleText,
} from "./run-report-checks.js";

const tmp = tempDir("report-browser");
let chromium: LaunchedBrowser;

before(async () => {
  chromium = await launchChromium();
});
after(async () => {
  const left = await closeChromium(chromium);
  tmp.remove();
  assert.deepEqual(left, [], "chromium processes left after the tests");
});

/** The report of `c` open in a page, and the truth of the same run. */
function reportOf(c: RunCase): {
  page: () => WatchedPage;
  truth: () => RunTruth;
  file: () => string;
} {
  let page: WatchedPage | undefined;
  let truth: RunTruth | undefined;
  let file: string | undefined;
  before(async () => {
    const r = runReport(tmp.dir, c);
    file = r.file;
    assert.ok(r.status === 0 || r.status === 1, `cmdqv run exited ${r.status}: ${r.stderr}`);
    assert.ok(existsSync(r.file), `no report at ${r.file}: ${r.stderr}`);
    truth = runTruth(tmp.dir, c);
    assert.equal(r.status, truth.status, "the run with --report ends as the run without it");
    page = await watchedPage(chromium.browser);
    await openReport(page.page, r.file);
  });
  after(async () => {
    await page?.page.close();
  });
  return {
    page: () => page ?? assert.fail("the report did not open"),
    truth: () => truth ?? assert.fail("the run's truth was not taken"),
    file: () => file ?? assert.fail("no report was written"),
  };
}

/** The checks every run or replay report passes. */
function commonChecks(c: RunCase, r: ReturnType<typeof reportOf>): void {
  it("loads from disk with no console error or uncaught exception", () => {
    assert.deepEqual(r.page().errors, []);
  });

  it("asks for nothing but itself: no network, no other file", () => {
    assert.deepEqual(r.page().requests, [r.page().page.url()]);
  });

  it("has every section of the contract, each with a heading", async () => {
    const want = c.replay !== undefined ? [...RUN_SECTIONS, "steps"] : [...RUN_SECTIONS];
    assert.deepEqual(await sectionsMissing(r.page().page, want), []);
  });

  it("gives each invariant the verdict the run printed, a violated one with its text", async () => {
    const rows = await verdictRows(r.page().page);
    const truth = r.truth().verdicts;
    assert.deepEqual(
      rows.map((x) => [x.name, x.ok]),
      truth.map((v) => [v.name, String(v.ok)]),
    );
    for (const v of truth.filter((x) => !x.ok)) {
      const row = rows.find((x) => x.name === v.name)!;
      assert.ok(row.text.includes(v.message ?? ""), `${v.name}: ${row.text}`);
    }
  });

  it("shows an event's details in #details when its mark on the timeline is clicked", async () => {
    const page = r.page().page;
    const picked = await clickableEvents(page, 3);
    assert.ok(picked.length > 0, "no event mark a click can hit");
    for (const i of picked) {
      const ev = await eventAt(page, i);
      const details = await clickEvent(page, i);
      assert.ok(details.includes(ev.name), `event ${i} (${ev.name}): #details says ${details}`);
    }
  });

  it("draws each VCMDQ ring at the PROD and CONS the run ended with", async () => {
    const rings = await ringsOnPage(r.page().page);
    const truth = r.truth().rings;
    assert.deepEqual(
      rings.map((x) => x.queue).sort((a, b) => a - b),
      truth.map((x) => x.queue),
      "one ring per VCMDQ",
    );
    for (const t of truth) {
      const ring = rings.find((x) => x.queue === t.queue)!;
      assert.deepEqual(
        { queue: ring.queue, prod: ring.prod, cons: ring.cons },
        { queue: t.queue, prod: t.prod, cons: t.cons },
      );
      assert.ok(ring.picture, `VCMDQ${t.queue}: no SVG or canvas picture`);
      if (t.log2size !== null) assert.equal(ring.log2size, t.log2size, `VCMDQ${t.queue} LOG2SIZE`);
      if (t.base !== null) assert.equal(Number(ring.base), t.base, `VCMDQ${t.queue} BASE`);
    }
  });

  it("has a row for every host object the ioctl log allocated", async () => {
    const ids = await objectIdsOnPage(r.page().page);
    const truth = r.truth().objectIds;
    assert.ok(truth.length > 0, "the run allocated host objects");
    assert.deepEqual(
      truth.filter((id) => !ids.includes(id)),
      [],
      `rows: ${ids.join(", ")}`,
    );
  });

  it("filters its logs by the text typed into #log-filter", async () => {
    const page = r.page().page;
    const all = await logsFiltered(page, "");
    for (const word of ["IOMMU_HW_QUEUE_ALLOC", "VFIO_DEVICE_BIND_IOMMUFD"])
      assert.ok(all.includes(word), `${word} is not in #logs`);
    const some = await logsFiltered(page, "IOMMU_HW_QUEUE_ALLOC");
    assert.ok(some.includes("IOMMU_HW_QUEUE_ALLOC"), some);
    assert.equal(some.includes("VFIO_DEVICE_BIND_IOMMUFD"), false, some);
    await logsFiltered(page, "");
  });

  it("raised no console error or exception during the interactions above", () => {
    assert.deepEqual(r.page().errors, []);
  });
}

describe("the default run's report", () => {
  const r = reportOf(DEFAULT_RUN);
  commonChecks(DEFAULT_RUN, r);

  it("stays under 5 MB", () => {
    assert.ok(statSync(r.file()).size < 5 * 2 ** 20, `${statSync(r.file()).size} bytes`);
  });

  it("says on screen that it aggregates or samples where it does not draw every event", async () => {
    const page = r.page().page;
    const { events, drawn, lanes } = await timelineCounts(page);
    assert.ok(events > 100_000, `the timeline holds the run's events: ${events}`);
    assert.ok(lanes.length >= 4, `lanes: ${lanes.join(", ")}`);
    if (drawn < events) {
      const note = await visibleText(page, "#timeline .sampling-note");
      assert.ok(note !== null && note.trim() !== "", `${drawn} of ${events} drawn, and no note`);
    }
  });
});

describe("Case 2's report (scenarios/review-case2.yaml, qemu-v5)", () => {
  const r = reportOf(CASE2);
  commonChecks(CASE2, r);
});

describe("the report of finding 1's replay", () => {
  const r = reportOf(REPLAY);
  commonChecks(REPLAY, r);

  it("lists the replay's steps and highlights the step where the invariant broke", async () => {
    const steps = await stepsOnPage(r.page().page);
    const truth = r.truth();
    assert.deepEqual(
      steps.map((s) => s.text.trim().split(/\s+/)[0]),
      truth.steps.map((s) => s.split(/\s+/)[0]),
    );
    // no-silent-hang breaks on the CMD_SYNC that timed out: the SYNC step of its VCMDQ.
    const hang = truth.verdicts.find((v) => v.name === "no-silent-hang" && !v.ok);
    const queue = /on VCMDQ(\d+)/.exec(hang?.message ?? "")?.[1];
    assert.ok(queue !== undefined, "finding 1 is a silent hang on a VCMDQ");
    const violating = steps.flatMap((s, i) => (s.violating ? [i] : []));
    assert.deepEqual(violating, [truth.steps.findIndex((s) => s.startsWith(`SYNC${queue}`))]);
  });
});
