import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { cmdqv, scratchDirs } from "./cli-testkit.js";
import { UsageError } from "./options.js";
import {
  checkOutputFile,
  checkTraceFiles,
  formatBytes,
  groupDigits,
  reportWritten,
  wroteLine,
} from "./output-files.js";

const scratch = scratchDirs("out-files");

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof UsageError, String(e));
    assert.ok(!e.message.includes("\n"), e.message);
    return e.message;
  }
  assert.fail("accepted");
}

describe("an output file checked before the run", () => {
  it("refuses a directory, a missing directory, a path under a file and an unwritable place", () => {
    const dir = scratch();
    const file = join(dir, "f.json");
    writeFileSync(file, "x");
    assert.equal(
      refusal(() => checkOutputFile("--perfetto", dir)),
      `--perfetto: ${JSON.stringify(dir)} is a directory, not a file`,
    );
    const missing = join(dir, "no-such-dir", "t.json");
    assert.equal(
      refusal(() => checkOutputFile("--trace", missing)),
      `--trace: cannot write ${JSON.stringify(missing)} (ENOENT)`,
    );
    assert.match(
      refusal(() => checkOutputFile("--trace", join(file, "t.jsonl"))),
      /^--trace: cannot write ".*f\.json\/t\.jsonl" \(ENOTDIR\)$/,
    );
    assert.match(
      refusal(() => checkOutputFile("--trace", "/proc/cmdqv-t.jsonl")),
      /^--trace: cannot write into "\/proc" \((ENOENT|EACCES)\)$/,
    );
    assert.equal(
      refusal(() => checkOutputFile("--trace", "")),
      '--trace: expected a file path, got ""',
    );
  });

  it("takes a new file in a writable directory or an existing file, and changes neither", () => {
    const dir = scratch();
    const fresh = join(dir, "new.json");
    assert.equal(checkOutputFile("--perfetto", fresh), fresh);
    assert.equal(existsSync(fresh), false, "nothing is made by the check");
    const old = join(dir, "old.jsonl");
    writeFileSync(old, "kept\n");
    checkOutputFile("--trace", old);
    assert.equal(readFileSync(old, "utf8"), "kept\n");
    assert.deepEqual(readdirSync(dir), ["old.jsonl"], "no probe file is left behind");
  });

  it("refuses --trace and --perfetto naming one file", () => {
    const dir = scratch();
    mkdirSync(join(dir, "sub"));
    const a = join(dir, "t.json");
    assert.match(
      refusal(() => checkTraceFiles(a, join(dir, "sub", "..", "t.json"))),
      /^--trace and --perfetto name the same file ".*t\.json": give two files$/,
    );
    assert.doesNotThrow(() => checkTraceFiles(a, join(dir, "p.json")));
  });
});

describe("what a run says it wrote", () => {
  it("gives sizes in B, kB, MB and GB and counts in groups of three digits", () => {
    assert.deepEqual([0, 999, 1000, 12_345, 12_300_000, 999_960, 1_234_567_890].map(formatBytes), [
      "0 B",
      "999 B",
      "1.0 kB",
      "12.3 kB",
      "12.3 MB",
      "1.0 MB",
      "1.2 GB",
    ]);
    assert.deepEqual([0, 12, 999, 1000, 456_789, 1_234_567].map(groupDigits), [
      "0",
      "12",
      "999",
      "1 000",
      "456 789",
      "1 234 567",
    ]);
    assert.equal(
      wroteLine({ path: "out.json", bytes: 12_300_000, events: 456_789 }),
      "wrote out.json (12.3 MB, 456 789 events)",
    );
    const lines: string[] = [];
    reportWritten(
      [
        { path: "a.jsonl", bytes: 10, events: 1 },
        { path: "b.json", bytes: 2000, events: 3 },
      ],
      (s) => lines.push(s),
    );
    assert.deepEqual(lines, [
      "wrote a.jsonl (10 B, 1 event)\n",
      "wrote b.json (2.0 kB, 3 events)\n",
    ]);
  });

  it("reports each trace file of cmdqv run with its real size and event count", () => {
    const dir = scratch();
    const jsonl = join(dir, "run.jsonl");
    const perfetto = join(dir, "run.json");
    const r = cmdqv([
      "run",
      "--invalidations",
      "300",
      "--trace",
      `file=${jsonl}`,
      "--perfetto",
      perfetto,
    ]);
    assert.equal(r.code, 0, r.err);
    const events = readFileSync(jsonl, "utf8").trimEnd().split("\n").length;
    assert.ok(events > 100);
    for (const path of [jsonl, perfetto])
      assert.ok(
        r.err.includes(`${wroteLine({ path, bytes: statSync(path).size, events })}\n`),
        `${path}: ${r.err}`,
      );
  });

  it("fails at once, in one line with exit status 2, when --perfetto names a directory", () => {
    const dir = scratch();
    const r = cmdqv(["run", "--invalidations", "1000000", "--perfetto", dir]);
    assert.equal(r.code, 2);
    assert.equal(r.err, `cmdqv: --perfetto: ${JSON.stringify(dir)} is a directory, not a file\n`);
    assert.equal(r.out, "", "nothing ran");
  });
});
