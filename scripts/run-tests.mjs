// Runs every *.test.ts under src/, test/, fuzz/, bench/ and scripts/ (or the files and
// folders given) with node:test through tsx, reported by scripts/quiet-reporter.mjs: a
// failing test in full, then the counts (pass --test-reporter=spec for every test's name).
// Node 20 has no TypeScript glob for --test, so the file list is explicit.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

function find(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

// Arguments: test files, or directories to search (e.g. `test-qemu`); none → src, test,
// fuzz (the fuzzers' regression corpus), bench and scripts. Options (--…) go to node --test.
const args = process.argv.slice(2);
const options = args.filter((a) => a.startsWith("--"));
const only = args.filter((a) => !a.startsWith("--"));
const files =
  only.length > 0
    ? only.flatMap((a) =>
        statSync(a, { throwIfNoEntry: false })?.isDirectory() ? find(a, []).sort() : [a],
      )
    : ["src", "test", "fuzz", "bench", "scripts"].flatMap((d) => find(d, [])).sort();
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}
const reporter = options.some((o) => o.startsWith("--test-reporter"))
  ? []
  : [`--test-reporter=${fileURLToPath(new URL("./quiet-reporter.mjs", import.meta.url))}`];
const result = spawnSync(
  process.execPath,
  // Source maps: a failure's file:line is the TypeScript line, not tsx's output.
  ["--enable-source-maps", "--import", "tsx", "--test", ...reporter, ...options, ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
