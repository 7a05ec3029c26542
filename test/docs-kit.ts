// Reading the repository's Markdown the way GitHub shows it, for the tests that keep the
// docs true (docs-standalone, docs-profiles, docs-commands): which files are docs, their
// code blocks and code spans, their headings and the anchors GitHub gives them.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root (this file is in test/). Paths below are relative to it. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

export function read(path: string): string {
  return readFileSync(join(ROOT, path), "utf8");
}

export function exists(path: string): boolean {
  return statSync(join(ROOT, path), { throwIfNoEntry: false }) !== undefined;
}

/** Every file under `dir` (relative to the root), depth first, in name order. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string): void => {
    for (const name of readdirSync(abs).sort()) {
      if (name === "node_modules" || name === ".git") continue;
      const path = join(abs, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(ROOT, path));
    }
  };
  if (exists(dir)) walk(join(ROOT, dir));
  return out;
}

/** README.md and every Markdown file under docs/. */
export function markdownDocs(): string[] {
  return ["README.md", ...filesUnder("docs").filter((f) => f.endsWith(".md"))];
}

export interface FencedBlock {
  readonly lang: string;
  /** 1-based line of the block's first content line. */
  readonly line: number;
  readonly lines: readonly string[];
}

const FENCE = /^\s*(`{3,}|~{3,})\s*([\w+-]*)/;

/** The fenced code blocks of a Markdown text. */
export function fencedBlocks(md: string): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  const lines = md.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] ?? "");
    if (!open) continue;
    const fence = open[1] ?? "```";
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !(lines[j] ?? "").trim().startsWith(fence))
      body.push(lines[j++] ?? "");
    blocks.push({ lang: open[2] ?? "", line: i + 2, lines: body });
    i = j;
  }
  return blocks;
}

/** The text with fenced blocks blanked (line numbers kept), for prose-only scans. */
export function withoutFences(md: string): string {
  const lines = md.split("\n");
  for (const b of fencedBlocks(md))
    for (let k = 0; k < b.lines.length; k++) lines[b.line - 1 + k] = "";
  return lines.join("\n");
}

export interface CodeSpan {
  readonly text: string;
  readonly line: number;
}

/** The inline code spans outside fenced blocks (a span does not cross a blank line). */
export function codeSpans(md: string): CodeSpan[] {
  const spans: CodeSpan[] = [];
  const prose = withoutFences(md);
  for (const m of prose.matchAll(/(`+)(?!`)((?:(?!\1).|\n(?!\s*\n))+?)\1(?!`)/g)) {
    const line = prose.slice(0, m.index).split("\n").length;
    spans.push({ text: (m[2] ?? "").replace(/\s*\n\s*/g, " ").trim(), line });
  }
  return spans;
}

/** The text with code (fenced and inline) blanked, for link scans. */
export function proseOnly(md: string): string {
  return withoutFences(md).replace(/(`+)(?!`)((?:(?!\1).|\n(?!\s*\n))+?)\1(?!`)/g, (s) =>
    s.replace(/[^\n]/g, " "),
  );
}

export interface Heading {
  readonly level: number;
  readonly text: string;
}

export function headings(md: string): Heading[] {
  const out: Heading[] = [];
  for (const line of withoutFences(md).split("\n")) {
    const m = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (m) out.push({ level: (m[1] ?? "").length, text: m[2] ?? "" });
  }
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function githubSlug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** Every anchor a Markdown text offers: its headings' slugs, repeats numbered -1, -2. */
export function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const h of headings(md)) {
    const slug = githubSlug(h.text);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}
