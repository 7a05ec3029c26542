// `npm test`'s runner (run-tests.mjs with quiet-reporter.mjs) on test files written here:
// passing tests print nothing, a failing one prints in full, and the exit status says so.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const dir = mkdtempSync(join(tmpdir(), "cmdqv-reporter-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A test file of `passing` passing tests named "passes N", and `body` after them. */
function testFile(name: string, passing: number, body = ""): string {
  const path = join(dir, name);
  const tests = Array.from({ length: passing }, (_, i) => `  it("passes ${i}", () => {});`);
  writeFileSync(
    path,
    [
      'import assert from "node:assert/strict";',
      'import { describe, it } from "node:test";',
      'describe("a suite", () => {',
      ...tests,
      body,
      "});",
      "",
    ].join("\n"),
  );
  return path;
}

function runTests(files: string[]) {
  // Without the variable that marks this process as a test's child, which would make the
  // runner's node --test skip the files ("run() is being called recursively").
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const r = spawnSync(process.execPath, ["scripts/run-tests.mjs", ...files], {
    encoding: "utf8",
    timeout: 120_000,
    env,
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe("npm test's runner", () => {
  it("prints one line for a passing run, whatever its size, and exits 0", () => {
    const r = runTests([testFile("green.test.ts", 300)]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^ok: 300 tests, 300 passed, 0 failed \(\d+\.\d s\)\n$/);
  });

  it("shows each failing test in full (suites, name, file:line, error) and exits non-zero", () => {
    const failing = testFile(
      "red.test.ts",
      200,
      [
        '  describe("inner", () => {',
        '    it("compares", () => assert.deepEqual({ a: 1 }, { a: 2 }));',
        "  });",
        '  it("throws", () => { throw new Error("boom in the test"); });',
      ].join("\n"),
    );
    const r = runTests([failing]);
    assert.notEqual(r.code, 0);
    const where = (line: number) => `${failing}:${line}:`;
    // Each failure: its path of suites, where it is (the TypeScript line), its whole error.
    assert.ok(r.out.includes(`✗ a suite › inner › compares\n  ${where(205)}`), r.out);
    assert.match(
      r.out,
      /Expected values to be strictly deep-equal:[\s\S]*\+ {3}a: 1\n[\s\S]*- {3}a: 2\n/,
    );
    assert.ok(r.out.includes(`✗ a suite › throws\n  ${where(207)}`), r.out);
    assert.match(r.out, /Error: boom in the test\n\s+at /);
    assert.match(r.out, /^FAIL: 202 tests, 200 passed, 2 failed \(\d+\.\d s\)$/m);
    // Quiet: no passing test is named, no TAP; the output does not grow with passing tests.
    assert.doesNotMatch(r.out, /passes \d|^\s*ok \d+ |^# Subtest|TAP version/m);
    assert.ok(r.out.split("\n").length < 80, `${r.out.split("\n").length} lines`);
  });

  it("names a test file that cannot run and shows why", () => {
    const broken = join(dir, "broken.test.ts");
    writeFileSync(broken, 'import { nothing } from "./no-such-module.js";\nnothing();\n');
    const r = runTests([broken, testFile("fine.test.ts", 3)]);
    assert.notEqual(r.code, 0);
    assert.ok(r.out.includes(`✗ ${broken}`), r.out);
    assert.match(r.out, /no-such-module/);
    assert.match(r.out, /^FAIL: .*3 passed, 1 failed/m);
  });
});
