// docs/findings.md links a run report for each run its findings name, written by
// `npm run report:findings`: the block cannot go stale without this failing (a finding's
// new replay with no report, a report left for a replay that is gone, a link to nothing).
// Generating every report is left to the script (a run each); this reads what it wrote.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { posix } from "node:path";
import { describe, it } from "node:test";
import { runScenario } from "../src/index.js";
import {
  BLOCK_END,
  BLOCK_START,
  FINDINGS_MD,
  findingsOf,
  linksBlock,
  REPORTS_DIR,
  reportOf,
  withLinksBlock,
} from "./gen-findings-reports.js";

const markdown = readFileSync(FINDINGS_MD, "utf8");

/** The links of the block as written in docs/findings.md: run (repository path) and report. */
function blockLinks(md: string): { run: string; report: string }[] {
  const start = md.indexOf(BLOCK_START);
  const end = md.indexOf(BLOCK_END);
  assert.ok(start >= 0 && end > start, `${FINDINGS_MD} has no reports block`);
  return [...md.slice(start, end).matchAll(/\[([^\]]+)\]\(([^)]+)\)/g)].map((m) => ({
    run: `docs/findings/${m[1]}`,
    report: posix.join(posix.dirname(FINDINGS_MD), m[2]!),
  }));
}

describe("docs/findings.md's reports block", () => {
  const findings = findingsOf(markdown);
  const links = () => blockLinks(markdown);

  it("links a report for exactly the runs the findings name, each finding at least one", () => {
    assert.ok(findings.length >= 5, `findings: ${findings.map((f) => f.number).join(", ")}`);
    for (const f of findings) assert.ok(f.runs.length > 0, `finding ${f.number} names no run`);
    assert.deepEqual(
      links()
        .map((l) => l.run)
        .sort(),
      findings.flatMap((f) => f.runs).sort(),
    );
  });

  it("links files that exist: each run, and its report where the script writes it", () => {
    for (const l of links()) {
      assert.ok(existsSync(l.run), `${l.run} does not exist`);
      assert.equal(l.report, reportOf(l.run));
      assert.ok(existsSync(l.report), `${l.report} is not generated (npm run report:findings)`);
      assert.match(readFileSync(l.report, "utf8"), /<body[^>]*data-report="run"/, l.report);
    }
  });

  it("is what the script writes for these findings, and no other report is left beside them", () => {
    assert.equal(withLinksBlock(markdown, linksBlock(findings)), markdown);
    const reports = readdirSync(REPORTS_DIR).map((n) => `${REPORTS_DIR}/${n}`);
    assert.deepEqual(
      reports.sort(),
      links()
        .map((l) => l.report)
        .sort(),
    );
  });

  it("names scenarios that still show their finding's violation", () => {
    const scenarios = findings.flatMap((f) => f.runs).filter((r) => r.endsWith(".yaml"));
    for (const s of scenarios) {
      const r = runScenario(s);
      assert.ok(r.ok, s);
      assert.ok(r.value.passed && r.value.violated.length > 0, `${s}: ${r.value.report}`);
    }
  });
});

describe("the findings reports script", () => {
  const md = [
    "# F",
    "",
    "intro naming docs/findings/a/x.json",
    "## 1. One",
    "- `cmdqv run --replay docs/findings/a/p-one.json`, `…/p-two.json`.",
    "- again docs/findings/a/p-one.json, not docs/findings/reports/a--p-one.html",
    "## Elsewhere",
    "docs/findings/b/q.json",
    "## 2. Two",
    "`cmdqv run docs/findings/c/s.yaml`",
    "",
  ].join("\n");

  it("takes each numbered finding's runs, a …/name after a path in its folder, each once", () => {
    assert.deepEqual(findingsOf(md), [
      {
        number: 1,
        title: "One",
        runs: ["docs/findings/a/p-one.json", "docs/findings/a/p-two.json"],
      },
      { number: 2, title: "Two", runs: ["docs/findings/c/s.yaml"] },
    ]);
  });

  it("puts the block before finding 1 the first time, and replaces only the block after", () => {
    const once = withLinksBlock(md, linksBlock(findingsOf(md)));
    assert.ok(once.indexOf(BLOCK_START) < once.indexOf("## 1. One"), once);
    assert.ok(once.includes("[a/p-two.json](findings/reports/a--p-two.html)"), once);
    const again = withLinksBlock(once, `${BLOCK_START}\nX\n${BLOCK_END}`);
    assert.equal(
      again.replace(`${BLOCK_START}\nX\n${BLOCK_END}`, ""),
      once.replace(linksBlock(findingsOf(md)), ""),
    );
  });
});
