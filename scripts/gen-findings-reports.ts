// `npm run report:findings`: the HTML run report of every finding in docs/findings.md.
// Each finding's section names its runs (replay files, or a scenario, under
// docs/findings/); each is run with `cmdqv run … --report` into docs/findings/reports/,
// and the links block of docs/findings.md (between its two marker comments) is written
// again from the same list, so it cannot name a report that was not generated, nor miss one.

import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const FINDINGS_MD = "docs/findings.md";
export const REPORTS_DIR = "docs/findings/reports";
export const BLOCK_START =
  "<!-- findings-reports: written by npm run report:findings (scripts/gen-findings-reports.ts); edit the script, not this block -->";
export const BLOCK_END = "<!-- /findings-reports -->";

/** A finding of docs/findings.md and the runs its section names. */
export interface Finding {
  /** Its number, as its heading gives it ("## 4. …"). */
  readonly number: number;
  readonly title: string;
  /** Repository paths of its replay files (.json) and scenarios (.yaml), as named, each once. */
  readonly runs: readonly string[];
}

/** A path under docs/findings/ (not its reports), or `…/name` after one in the same section. */
const RUN_PATH =
  /(docs\/findings\/(?!reports\/)[\w./-]+\.(?:json|yaml))|…\/([\w.-]+\.(?:json|yaml))/g;

/** The numbered findings of docs/findings.md's text, with the runs each section names. */
export function findingsOf(markdown: string): Finding[] {
  const out: Finding[] = [];
  for (const section of markdown.split(/^## /m).slice(1)) {
    const heading = /^(\d+)\. (.*)$/m.exec(section.split("\n")[0] ?? "");
    if (!heading) continue;
    const runs: string[] = [];
    let last = "";
    for (const m of section.matchAll(RUN_PATH)) {
      const path = m[1] ?? (last !== "" ? posix.join(posix.dirname(last), m[2]!) : null);
      if (path === null) continue;
      if (m[1] !== undefined) last = m[1];
      if (!runs.includes(path)) runs.push(path);
    }
    out.push({ number: Number(heading[1]), title: heading[2]!.trim(), runs });
  }
  return out;
}

/** The report file of a run: its folder and name under docs/findings/, .html. */
export function reportOf(run: string): string {
  const rel = run.slice("docs/findings/".length).replace(/\.(json|yaml)$/, "");
  return `${REPORTS_DIR}/${rel.replaceAll("/", "--")}.html`;
}

/** `cmdqv run`'s arguments for a run: a replay file, or a scenario. */
export function runArgs(run: string): string[] {
  return run.endsWith(".json") ? ["--replay", run] : [run];
}

/** The links block: markers, then a table with a row per finding and a link per run. */
export function linksBlock(findings: readonly Finding[]): string {
  const rows = findings.map((f) => {
    const links = f.runs.map((run) => {
      const href = posix.relative(posix.dirname(FINDINGS_MD), reportOf(run));
      return `[${run.slice("docs/findings/".length)}](${href})`;
    });
    return `| ${f.number}. ${f.title} | ${links.length > 0 ? links.join("<br>") : "none"} |`;
  });
  return [
    BLOCK_START,
    "",
    "| finding | report of each run |",
    "| --- | --- |",
    ...rows,
    "",
    BLOCK_END,
  ].join("\n");
}

/** `markdown` with its links block replaced (or, the first time, put before finding 1). */
export function withLinksBlock(markdown: string, block: string): string {
  const start = markdown.indexOf(BLOCK_START);
  const end = markdown.indexOf(BLOCK_END);
  if (start >= 0 && end > start)
    return markdown.slice(0, start) + block + markdown.slice(end + BLOCK_END.length);
  const first = markdown.search(/^## 1\. /m);
  if (first < 0) throw new Error(`${FINDINGS_MD}: no "## 1." heading to put the reports before`);
  const intro =
    "## Reports\n\nEach finding's run as the HTML report `cmdqv run --report FILE` writes (a\nself-contained file: open it in a browser, from disk).\n\n";
  return `${markdown.slice(0, first)}${intro}${block}\n\n${markdown.slice(first)}`;
}

/** Generate every report and rewrite the block; the reports written. */
export function generate(root: string, log: (line: string) => void): string[] {
  const mdPath = join(root, FINDINGS_MD);
  const markdown = readFileSync(mdPath, "utf8");
  const findings = findingsOf(markdown);
  const outDir = join(root, REPORTS_DIR);
  mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  for (const f of findings)
    for (const run of f.runs) {
      const report = reportOf(run);
      const r = spawnSync(
        process.execPath,
        [join(root, "bin/cmdqv.js"), "run", ...runArgs(run), "--report", report],
        { cwd: root, encoding: "utf8", maxBuffer: 64 * 2 ** 20 },
      );
      // 0: nothing violated, or only what a scenario expects; 1: the finding's violation.
      if (r.status !== 0 && r.status !== 1)
        throw new Error(
          `cmdqv run ${runArgs(run).join(" ")} exited ${r.status}: ${r.stderr.trim()}`,
        );
      written.push(report);
      log(`finding ${f.number}: ${report}`);
    }
  for (const name of readdirSync(outDir))
    if (!written.includes(`${REPORTS_DIR}/${name}`)) {
      rmSync(join(outDir, name));
      log(`removed ${REPORTS_DIR}/${name} (no finding names its run)`);
    }
  writeFileSync(mdPath, withLinksBlock(markdown, linksBlock(findings)));
  log(`${FINDINGS_MD}: links block written (${written.length} reports)`);
  return written;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  try {
    generate(root, (l) => console.log(l));
  } catch (e) {
    console.error(`report:findings: ${(e as Error).message}`);
    process.exit(1);
  }
}
