// The docs stand on their own: every upstream fact the code cites (`spec: qemu §3.3`,
// `linux §4.4`) is a section of docs/spec/, nothing in README.md or docs/ points outside
// the repository (a sibling folder, an issue tracker, CI machinery), and every relative
// link lands on a file, and on a heading when it names one, as does every repository path
// the docs name.

import assert from "node:assert/strict";
import { dirname, join, normalize } from "node:path";
import { describe, it } from "node:test";
import {
  anchors,
  codeSpans,
  exists,
  filesUnder,
  headings,
  markdownDocs,
  proseOnly,
  read,
} from "./docs-kit.js";

/** The cited documents: docs/spec/<name>.md, by name. */
const SPEC_DOCS = filesUnder("docs/spec")
  .filter((f) => f.endsWith(".md") && !f.endsWith("README.md"))
  .map((f) => f.slice("docs/spec/".length, -".md".length));

/** Section numbers of a spec document: the headings that start with "N." or "N.M". */
function sections(doc: string): Set<string> {
  const out = new Set<string>();
  for (const h of headings(read(`docs/spec/${doc}.md`))) {
    const m = /^(\d+(?:\.\d+)*)\.?\s/.exec(h.text);
    if (m?.[1]) out.add(m[1]);
  }
  return out;
}

export interface SpecCitation {
  readonly file: string;
  readonly line: number;
  readonly doc: string | undefined;
  readonly section: string;
  readonly text: string;
}

/**
 * Every `§N` of a text, with the document it cites: the one named right before it
 * (`qemu §2.6`, `spec: linux §5`), else the one named last before it in the same file (a
 * bare `§3.2` continues the last citation; in Markdown, within its paragraph or table row);
 * a spec document's own bare `§N` is itself.
 * `spec: X §N` names X whatever X is, so a citation of a document that does not exist
 * shows up as one.
 */
export function specCitations(
  file: string,
  text: string,
  markdown?: { self: string | undefined },
): SpecCitation[] {
  const out: SpecCitation[] = [];
  let current = markdown?.self;
  // `spec: X §N`, or `spec: X` alone (its § on the next line), or `[word] §N`.
  const re = /\bspec:\s*([\w-]+)(?:\s+§(\d+(?:\.\d+)*))?|(?:\b([\w-]+):?\s+)?§(\d+(?:\.\d+)*)/g;
  text.split("\n").forEach((line, i) => {
    // In Markdown a citation reaches no further than its paragraph or table row.
    if (markdown && (line.trim() === "" || line.trimStart().startsWith("|")))
      current = markdown.self;
    for (const m of line.matchAll(re)) {
      const [, spec, specSection, word, section] = m;
      if (spec !== undefined && specSection === undefined) {
        if (SPEC_DOCS.includes(spec)) current = spec;
        continue;
      }
      if (spec !== undefined) current = spec;
      else if (word !== undefined && SPEC_DOCS.includes(word)) current = word;
      out.push({
        file,
        line: i + 1,
        doc: current,
        section: specSection ?? section ?? "",
        text: m[0],
      });
    }
  });
  return out;
}

const CODE_DIRS = ["src", "test", "bench", "fuzz", "native", "scripts"];
const CODE_FILE = /\.(?:ts|mts|js|mjs|cjs|c|h)$/;
/** This file cites wrong sections on purpose, to show they are caught. */
const THIS_FILE = "test/docs-standalone.test.ts";

function codeCitations(): SpecCitation[] {
  return CODE_DIRS.flatMap(filesUnder)
    .filter((f) => CODE_FILE.test(f) && f !== THIS_FILE)
    .flatMap((f) => specCitations(f, read(f)));
}

describe("spec citations", () => {
  it("are found in the code, named or continued, so this test checks something", () => {
    const cited = codeCitations();
    assert.ok(cited.filter((c) => c.doc === "qemu").length > 50, "qemu citations");
    assert.ok(cited.filter((c) => c.doc === "linux").length > 100, "linux citations");
  });

  it("in src, test, bench, fuzz, native and scripts each name a heading of docs/spec/<doc>.md", () => {
    const secs = new Map(SPEC_DOCS.map((d) => [d, sections(d)]));
    const bad = codeCitations()
      .filter((c) => c.doc === undefined || !secs.get(c.doc)?.has(c.section))
      .map(
        (c) => `${c.file}:${c.line}: "${c.text}" (${c.doc ?? "no document named"} §${c.section})`,
      );
    assert.deepEqual(bad, [], "citations whose section is not a heading of docs/spec");
  });

  it("in README.md and the docs each name a heading of docs/spec/<doc>.md", () => {
    const secs = new Map(SPEC_DOCS.map((d) => [d, sections(d)]));
    const bad = markdownDocs()
      .flatMap((f) => {
        const self = /^docs\/spec\/([\w-]+)\.md$/.exec(f)?.[1];
        return specCitations(f, read(f), { self: self === "README" ? undefined : self });
      })
      .filter((c) => c.doc === undefined || !secs.get(c.doc)?.has(c.section))
      .map(
        (c) => `${c.file}:${c.line}: "${c.text}" (${c.doc ?? "no document named"} §${c.section})`,
      );
    assert.deepEqual(bad, []);
  });

  it("resolve against the documents' own numbering (a renumbered section is caught)", () => {
    const [ok] = specCitations("x.ts", "spec: qemu §3.3");
    assert.equal(ok?.doc, "qemu");
    assert.ok(sections("qemu").has("3.3"));
    const cited = specCitations(
      "x.ts",
      "spec: linux §4.4 and §4.9; anchors §1.3; spec: anchors §1.3\n// spec: qemu\n// §3.3; spec: review",
    );
    assert.deepEqual(
      cited.map((c) => [c.doc, c.section]),
      [
        ["linux", "4.4"],
        ["linux", "4.9"],
        ["linux", "1.3"],
        ["anchors", "1.3"],
        ["qemu", "3.3"],
      ],
    );
    assert.ok(!sections("linux").has("4.9"), "linux has no §4.9, so that citation would fail");
  });
});

/** What the docs must not mention: places outside this repository. */
const OUTSIDE: readonly { what: string; re: RegExp }[] = [
  { what: "a folder beside the repository", re: /\.\.\/shared\b/ },
  { what: "a path of the machine the docs were written on", re: /(?:^|[\s`'"(])\/work\//m },
  { what: "an issue number", re: /\bissues?\s+#?\d+/i },
  { what: "a pull request number", re: /\b(?:PR|pull request)s?\s+#\d+|\bNV-PR\b/i },
  { what: "CI machinery", re: /(?:^|[^\w.])\.ci\/|\bexplore-ci\b|\.github\/workflows/m },
];

describe("README.md and docs/", () => {
  it("mention nothing outside the repository: sibling folders, issue numbers, CI internals", () => {
    const files = ["README.md", ...filesUnder("docs")];
    assert.ok(files.length > 20);
    const bad: string[] = [];
    for (const f of files)
      read(f)
        .split("\n")
        .forEach((line, i) => {
          for (const o of OUTSIDE)
            if (o.re.test(line)) bad.push(`${f}:${i + 1}: ${o.what}: ${line.trim()}`);
        });
    assert.deepEqual(bad, []);
  });

  it("would catch each kind of outside reference", () => {
    for (const [sample, what] of [
      ["see ../shared/spec/x.md", "a folder beside the repository"],
      ["the targets from issue 6", "an issue number"],
      ["(NV-PR #39)", "a pull request number"],
      ["`.ci/run` runs it", "CI machinery"],
    ] as const)
      assert.ok(
        OUTSIDE.some((o) => o.what === what && o.re.test(sample)),
        sample,
      );
  });
});

/** Every relative link target of a Markdown text: [text](target), outside code. */
export function relativeLinks(md: string): { target: string; line: number }[] {
  const prose = proseOnly(md);
  const out: { target: string; line: number }[] = [];
  const re =
    /\[(?:[^\]\n]|\n(?!\s*\n))*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|^[ \t]*\[[^\]]+\]:[ \t]+(\S+)/gm;
  for (const m of prose.matchAll(re)) {
    const target = m[1] ?? m[2] ?? "";
    if (/^[a-z][a-z+.-]*:/i.test(target)) continue; // https:, mailto:
    out.push({ target, line: prose.slice(0, m.index).split("\n").length });
  }
  return out;
}

describe("relative links in README.md and docs/**/*.md", () => {
  it("land on an existing file, and on one of its headings when they name an anchor", () => {
    const bad: string[] = [];
    let count = 0;
    for (const f of markdownDocs())
      for (const { target, line } of relativeLinks(read(f))) {
        count++;
        const [pathPart = "", anchor] = target.split("#", 2);
        const path = pathPart === "" ? f : normalize(join(dirname(f), decodeURI(pathPart)));
        if (path.startsWith("..") || !exists(path)) {
          bad.push(`${f}:${line}: ${target}: no such file in the repository`);
          continue;
        }
        if (anchor !== undefined && path.endsWith(".md") && !anchors(read(path)).has(anchor))
          bad.push(`${f}:${line}: ${target}: ${path} has no heading with anchor #${anchor}`);
      }
    assert.ok(count > 30, `only ${count} relative links found`);
    assert.deepEqual(bad, []);
  });

  it("are read the way GitHub reads them", () => {
    const md =
      "See [a](docs/x.md#b-c), `[not](a link)`, [web](https://example.org).\n\n[r]: spec/y.md\n";
    assert.deepEqual(
      relativeLinks(md).map((l) => l.target),
      ["docs/x.md#b-c", "spec/y.md"],
    );
    assert.ok(
      anchors("## 3.6 The review of v5 19/32: Case 1 [R ML-V5-19]\n").has(
        "36-the-review-of-v5-1932-case-1-r-ml-v5-19",
      ),
    );
    assert.ok(anchors("# A\n## A\n").has("a-1"));
  });
});

/** The repository's top folders, as a path in prose or code starts. */
const TOP =
  "(?:src|test|bench|fuzz|native|scripts|docs|scenarios|bin|test-qemu|test-real-qemu|test-real-guest|test-differential|guest-linux)";

/** Repository paths a Markdown text names in prose or code spans (globs and placeholders aside). */
export function repoPaths(md: string): { path: string; line: number }[] {
  const out: { path: string; line: number }[] = [];
  const re = new RegExp(`(?:^|[\\s(])(${TOP}/[\\w./*<>-]*)`, "g");
  const add = (text: string, line: number) => {
    for (const m of text.matchAll(re)) {
      const path = (m[1] ?? "").replace(/[.,:;]+$/, "");
      if (!/[*<>]/.test(path)) out.push({ path, line });
    }
  };
  proseOnly(md)
    .split("\n")
    .forEach((l, i) => {
      add(l, i + 1);
    });
  for (const s of codeSpans(md)) add(s.text, s.line);
  return out;
}

describe("repository paths in README.md and docs/**/*.md", () => {
  it("exist", () => {
    const named = markdownDocs().flatMap((f) => repoPaths(read(f)).map((p) => ({ f, ...p })));
    assert.ok(named.length > 50, `only ${named.length} paths found`);
    const bad = named.filter((p) => !exists(p.path)).map((p) => `${p.f}:${p.line}: ${p.path}`);
    assert.deepEqual(bad, []);
  });

  it("are read from prose and code spans, globs aside", () => {
    assert.deepEqual(
      repoPaths(
        "The defaults (`src/sim/config.ts`), in src/machine/config.ts, or `fuzz/corpus/*`.",
      ).map((p) => p.path),
      ["src/machine/config.ts", "src/sim/config.ts"],
    );
  });
});
