// The exploration report in Debian's chromium: `cmdqv explore --profile qemu-v5 --queues 1
// --report FILE` (finding 1's exploration: one violated invariant), opened from disk and
// held through the page contract (data-report="explore") to what `cmdqv explore --json`
// says of the same exploration.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { openReport, type WatchedPage, watchedPage } from "./browser.js";
import { chromiumForTests } from "./chromium-hooks.js";
import { cmdqv, tempDir } from "./report-kit.js";
import { EXPLORE_SECTIONS, sectionsMissing } from "./run-report-checks.js";

/** What `cmdqv explore --json` prints (the fields the report shows). */
interface ExploreJson {
  readonly profile: string;
  readonly paths: number;
  readonly states: number;
  readonly distinct_states: number;
  readonly violations: readonly {
    readonly invariant: string;
    readonly runs: number;
    readonly steps: readonly string[];
  }[];
}

const EXPLORATION = ["explore", "--profile", "qemu-v5", "--queues", "1"] as const;
/** Every invariant the explorer judges, as its text table names them. */
const tableInvariants = (stdout: string): string[] =>
  stdout
    .split("\n")
    .map((l) => /^([a-z-]+)\s+(ok|VIOLATED)\b/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);

/** Numbers in a text, thousands separators (",", spaces) allowed. */
function numbersIn(text: string): number[] {
  return [...text.matchAll(/\d{1,3}(?:[, \u00a0\u202f]\d{3})+(?!\d)|\d+/g)].map((m) =>
    Number(m[0].replace(/[^\d]/g, "")),
  );
}

const tmp = tempDir("explore-report");
const browser = chromiumForTests();
let w: WatchedPage;
let truth: ExploreJson;
let invariants: string[];
let file: string;

describe("the exploration report", () => {
  before(async () => {
    file = join(tmp.dir, "explore.html");
    const r = cmdqv([...EXPLORATION, "--out", join(tmp.dir, "replays"), "--report", file]);
    assert.ok(
      r.status === 0 || r.status === 1,
      `cmdqv explore --report exited ${r.status}: ${r.stderr}`,
    );
    assert.ok(existsSync(file), `no report at ${file}`);
    invariants = tableInvariants(r.stdout);
    const j = cmdqv([...EXPLORATION, "--out", join(tmp.dir, "truth"), "--json"]);
    truth = JSON.parse(j.stdout) as ExploreJson;
    w = await watchedPage(browser());
    await openReport(w.page, file);
  });
  after(async () => {
    tmp.remove();
  });

  it("loads from disk as an exploration report, with no console error or uncaught exception", async () => {
    assert.equal(await w.page.getAttribute("body", "data-report"), "explore");
    assert.deepEqual(w.errors, []);
    assert.deepEqual(w.requests, [w.page.url()], "it asks for nothing but itself");
  });

  it("has every section of the contract, each with a heading", async () => {
    assert.deepEqual(await sectionsMissing(w.page, EXPLORE_SECTIONS), []);
  });

  it("has a row per invariant for the profile, violated where the exploration found it so", async () => {
    assert.ok(invariants.length >= 5, `the explorer's table: ${invariants.join(", ")}`);
    const rows = await w.page.$$eval("#explore-table tr", (trs) =>
      trs.map((tr) => (tr as unknown as { textContent: string | null }).textContent ?? ""),
    );
    const violated = new Set(truth.violations.map((v) => v.invariant));
    for (const inv of invariants) {
      const row =
        rows.find((t) => t.includes(inv) && t.includes(truth.profile)) ??
        rows.find((t) => t.includes(inv));
      assert.ok(row !== undefined, `no row for ${inv}: ${rows.join(" | ")}`);
      assert.equal(/violated/i.test(row), violated.has(inv), `${inv}: ${row}`);
    }
  });

  it("counts the paths, states and distinct states the exploration reported", async () => {
    const text = await w.page.$eval(
      "#explore-counts",
      (e) => (e as unknown as { textContent: string | null }).textContent ?? "",
    );
    const shown = numbersIn(text);
    for (const [what, n] of [
      ["paths", truth.paths],
      ["states", truth.states],
      ["distinct states", truth.distinct_states],
    ] as const)
      assert.ok(shown.includes(n), `${what} ${n} not in #explore-counts: ${text}`);
  });

  it("charts the states over time as an SVG with marks in it", async () => {
    const marks = await w.page.$$eval(
      "#states-chart svg :is(path, polyline, line, rect, circle)",
      (els) => els.length,
    );
    assert.ok(marks > 0, "an empty chart");
  });

  it("gives each counterexample its minimal sequence and a run report that opens", async () => {
    assert.ok(truth.violations.length > 0, "the exploration found a violation");
    const items = await w.page.$$eval("#counterexamples > *:not(h2)", (els) =>
      els.map((e) => {
        const el = e as unknown as {
          textContent: string | null;
          querySelector(s: string): { getAttribute(n: string): string | null } | null;
        };
        return {
          text: el.textContent ?? "",
          href: el.querySelector("a[href]")?.getAttribute("href") ?? null,
          embedded: el.querySelector('iframe, [data-report="run"]') !== null,
        };
      }),
    );
    for (const v of truth.violations) {
      const item = items.find((i) => i.text.includes(v.invariant));
      assert.ok(item !== undefined, `no counterexample for ${v.invariant}`);
      // The steps in order (each step's name, without its fault note).
      let from = 0;
      for (const step of v.steps.map((s) => s.split(" ")[0]!)) {
        const at = item.text.indexOf(step, from);
        assert.ok(at >= 0, `${v.invariant}: ${step} missing or out of order in: ${item.text}`);
        from = at + step.length;
      }
      assert.ok(item.href !== null || item.embedded, `${v.invariant}: no run report`);
      if (item.href !== null) {
        const target = new URL(item.href, pathToFileURL(file));
        assert.equal(target.protocol, "file:", item.href);
        assert.ok(existsSync(fileURLToPath(target)), `the linked report ${item.href} exists`);
        const linked = await watchedPage(browser());
        await openReport(linked.page, fileURLToPath(target));
        assert.equal(await linked.page.getAttribute("body", "data-report"), "run");
        assert.deepEqual(linked.errors, []);
        await linked.page.close();
      }
    }
  });
});
