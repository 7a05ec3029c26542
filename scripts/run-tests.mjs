// Runs every *.test.ts under src/ and test/ (or the files and folders given) with node:test
// through tsx.
// Node 20 has no TypeScript glob for --test, so the file list is explicit.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

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

// Arguments: test files, or directories to search (e.g. `test-qemu`); none → src, test and
// fuzz (the fuzzers' regression corpus).
const only = process.argv.slice(2);
const files =
  only.length > 0
    ? only.flatMap((a) =>
        statSync(a, { throwIfNoEntry: false })?.isDirectory() ? find(a, []).sort() : [a],
      )
    : [...find("src", []), ...find("test", []), ...find("fuzz", [])].sort();
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}
const result = spawnSync(process.execPath, ["--import", "tsx", "--test", ...files], {
  stdio: "inherit",
});
process.exit(result.status ?? 1);
