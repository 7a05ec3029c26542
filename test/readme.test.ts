// README.md's "Use it as a library" example, run as a user would run it, so it cannot rot:
// its TypeScript block is written to a temporary file inside the package (so "cmdqv"
// resolves to this package by its own name, through package.json "exports"), run with
// tsx, and what it prints must be the README's "It prints" block. The file is removed.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

/** The first ```lang block after `heading` in `markdown`. */
function block(markdown: string, heading: string, lang: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README.md has a "${heading}" section`);
  const next = markdown.indexOf("\n## ", start + heading.length + 2);
  const section = markdown.slice(start, next < 0 ? undefined : next);
  const m = new RegExp(`\\n\`\`\`${lang}\\n([\\s\\S]*?)\\n\`\`\`\\n`).exec(section);
  assert.ok(m?.[1], `the "${heading}" section has a \`\`\`${lang} block`);
  return m[1];
}

describe("README.md", () => {
  it("has a library example that runs and prints what the README says", () => {
    const readme = readFileSync("README.md", "utf8");
    const heading = "## Use it as a library";
    const code = block(readme, heading, "ts");
    const expected = block(readme, heading, "text");
    assert.match(code, /from "cmdqv"/);
    // .cmdqv/ is the tool's own scratch space in the repo (git-ignored).
    const tmp = join(".cmdqv", "tmp");
    mkdirSync(tmp, { recursive: true });
    const dir = mkdtempSync(join(tmp, "readme-"));
    try {
      const file = join(dir, "example.ts");
      writeFileSync(file, code);
      const r = spawnSync(process.execPath, ["--import", "tsx", file], {
        encoding: "utf8",
        timeout: 120_000,
      });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${expected}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      // The scratch folders too, unless something else is in them (rmdir needs them empty).
      for (const d of [tmp, ".cmdqv"])
        try {
          rmdirSync(d);
        } catch {
          break;
        }
    }
  });
});
