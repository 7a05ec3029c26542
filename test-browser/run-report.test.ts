// The run and replay reports in Debian's chromium: the default run, the review's Case 2
// under qemu-v5, and finding 1's replay, each written by `cmdqv run … --report FILE` and
// opened from disk. Each is held to what the same run printed and traced without a report
// (report-kit.ts, run-truth.ts), through the page contract only.

import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { openReport, type WatchedPage, watchedPage } from "./browser.js";
import { chromiumForTests } from "./chromium-hooks.js";
import {
  CASE2,
  cmdqv,
  DEFAULT_RUN,
  REPLAY,
  type RunCase,
  type RunTruth,
  runReport,
  runTruth,
  tempDir,
} from "./report-kit.js";
import {
  changedRegisters,
  clickableEvents,
  clickEvent,
  eventAt,
  logsFiltered,
  middlePair,
  objectIdsOnPage,
  RUN_SECTIONS,
  ringsOnPage,
  sectionsMissing,
  stepsOnPage,
  timelineCounts,
  verdictRows,
  visibleText,
  xOf,
} from "./run-report-checks.js";
import { verdictsFromOutput } from "./run-truth.js";

/**
 * The register a step of the explored program writes (docs/findings.md: the gate writes
 * BASE_L, BASE_H and ALLOC of each queue, its CONFIG.EN through VINTF0's page0, CMDQV's
 * CONFIG and VINTF0's CONFIG; a SYNC's PROD), as the page names registers; null if none.
 */
function writtenBy(step: string): RegExp | null {
  const q = /\d+$/.exec(step)?.[0] ?? "";
  const name = step.replace(/\d+$/, "");
  const regs: Record<string, RegExp> = {
    BASE_L: new RegExp(`^VCMDQ${q}_BASE_L$`),
    BASE_H: new RegExp(`^VCMDQ${q}_BASE_H$`),
    ALLOC: new RegExp(`^CMDQ_ALLOC_MAP_${q}$`),
    ENABLE: new RegExp(`LVCMDQ${q}_CONFIG$`),
    CMDQV_EN: /^CONFIG$/,
    VINTF_EN: /^VINTF0_CONFIG$/,
    SYNC: new RegExp(`LVCMDQ${q}_PROD_INDX$`),
  };
  return regs[name] ?? null;
}

const tmp = tempDir("report-browser");
const browser = chromiumForTests();
after(() => tmp.remove());

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
    page = await watchedPage(browser());
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
      // data-base: BASE's address, or the whole register (ADDR with LOG2SIZE in [4:0]).
      const base = Number(ring.base);
      if (t.base !== null) assert.equal(base - (base % 32), t.base, `VCMDQ${t.queue} BASE`);
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

  it("zooms in with its + button and pans with the arrow keys", async () => {
    const page = r.page().page;
    const pair = await middlePair(page);
    assert.ok(pair !== null, "two marks apart in the middle of the timeline");
    const apart = async () => Math.abs((await xOf(page, pair.a))! - (await xOf(page, pair.b))!);
    const before = await apart();
    await page.locator("#timeline button", { hasText: /^\+$/ }).click();
    assert.ok((await apart()) > before * 1.5, `${before} px apart, then ${await apart()}`);
    const x0 = (await xOf(page, pair.a))!;
    await page.focus("#timeline [tabindex]");
    await page.keyboard.press("ArrowRight");
    const x1 = await xOf(page, pair.a);
    assert.ok(x1 === null || x1 < x0, `panned right: the mark at ${x0} moved to ${x1}`);
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

  it("says on screen that it aggregates or samples, holding fewer marks than the run's invalidations", async () => {
    const page = r.page().page;
    const { events, drawn, lanes } = await timelineCounts(page);
    // What the run issued, as it printed it: "(E exits, N invalidations)" per path.
    const issued = [...r.truth().stdout.matchAll(/exits, (\d+) invalidations\)/g)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
    assert.equal(issued, 100_000, r.truth().stdout);
    assert.ok(lanes.length >= 4, `lanes: ${lanes.join(", ")}`);
    if (events < issued || drawn < events) {
      const note = await visibleText(page, "#timeline .sampling-note");
      assert.ok(
        note !== null && note.trim() !== "",
        `${drawn} drawn of ${events} events for ${issued} invalidations, and no note`,
      );
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

  it("shows the same steps under reference side by side, with reference's verdicts", async () => {
    const ref = cmdqv(["run", ...REPLAY.args, "--profile", "reference"]);
    assert.ok(ref.status === 0 || ref.status === 1, ref.stderr);
    const refVerdicts = verdictsFromOutput(ref.stdout);
    const page = r.page().page;
    const text = await page.$eval("#compare", (c) => c.textContent ?? "");
    assert.match(text, /reference/);
    const rows = await page.$$eval("#compare tr[data-invariant]", (trs) =>
      trs.map((tr) => `${tr.getAttribute("data-invariant")}=${tr.getAttribute("data-ok")}`),
    );
    const both = [...r.truth().verdicts, ...refVerdicts].map((v) => `${v.name}=${v.ok}`);
    assert.deepEqual(rows.sort(), both.sort());
    const steps = await page.$$eval("#compare li.step", (li) => li.length);
    assert.equal(steps, 2 * r.truth().steps.length);
  });

  it("marks changed the register each configuration step wrote, and none a later step wrote", async () => {
    const page = r.page().page;
    const steps = r.truth().steps.map((s) => s.split(/\s+/)[0]!);
    const written = steps.map(writtenBy);
    for (let k = 0; k < steps.length; k++) {
      const reg = written[k];
      if (reg === null || reg === undefined) continue;
      await page.locator("#steps li.step").nth(k).click();
      const changed = await changedRegisters(page);
      assert.ok(
        changed.some((n) => reg.test(n)),
        `${steps[k]}: changed ${changed.join(", ")}`,
      );
      const next = written[k + 1];
      if (next && String(next) !== String(reg))
        assert.ok(
          !changed.some((n) => next.test(n)),
          `${steps[k]}: ${steps[k + 1]}'s register is marked too: ${changed.join(", ")}`,
        );
    }
  });
});
