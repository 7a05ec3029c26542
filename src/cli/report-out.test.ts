import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { TraceEvent } from "../trace/trace.js";
import { UsageError } from "./options.js";
import { replayCommand } from "./replay-cmd.js";
import { checkReportFile, teeSink } from "./report-out.js";
import { checkRunProfile, defaultRun } from "./run-cmd.js";
import { captured } from "./run-testkit.js";

const dir = mkdtempSync(join(tmpdir(), "cmdqv-report-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The embedded data of a written page. */
function dataOf(path: string): { kind: string; queues: { rings: { prod: number }[] } } {
  const html = readFileSync(path, "utf8");
  const json = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html);
  assert.ok(json, "no report-data");
  return JSON.parse(json[1]!) as { kind: string; queues: { rings: { prod: number }[] } };
}

describe("cmdqv run --report", () => {
  it("writes the default run's page and says so on stderr with its size and events", async () => {
    const path = join(dir, "run.html");
    const writes: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => writes.push(s) !== 0) as typeof process.stderr.write;
    let code: number;
    try {
      code = (await captured(() => defaultRun({ invalidations: "40", report: path }))).value;
    } finally {
      process.stderr.write = write;
    }
    assert.equal(code, 0);
    const size = statSync(path).size;
    assert.ok(size > 10_000, `${size} bytes`);
    assert.match(readFileSync(path, "utf8"), /<body data-report="run">/);
    assert.match(writes.join(""), new RegExp(`wrote ${path} \\(\\d+\\.\\d kB, [\\d ]+ events\\)`));
    const d = dataOf(path);
    assert.equal(d.kind, "run");
    assert.ok(
      d.queues.rings.every((r) => r.prod > 0),
      "the guest's commands went through",
    );
  });

  it("refuses a path it cannot write, or one a trace flag writes too, before the run", () => {
    assert.throws(() => checkReportFile(dir, undefined, undefined), /--report: .* is a directory/);
    assert.throws(
      () => checkReportFile(join(dir, "no", "x.html"), undefined, undefined),
      /--report: cannot write/,
    );
    const same = join(dir, "same.html");
    assert.throws(
      () => checkReportFile(same, [`file=${same}`], undefined),
      /--report and --trace name the same file/,
    );
    assert.throws(() => checkReportFile(same, undefined, same), /--report and --perfetto/);
    assert.doesNotThrow(() => checkReportFile(same, undefined, join(dir, "other.json")));
  });

  it("is refused with --profile all in one line, and checks a real-QEMU replay's path before QEMU starts", async () => {
    assert.throws(
      () => checkRunProfile({ profile: "all", report: "x.html" }),
      (e) => e instanceof UsageError && /a report follows one run/.test(e.message),
    );
    // A replay on real QEMU has its report (test-real-qemu/qemu-replay-report.test.ts);
    // a path it cannot write is refused before any QEMU runs.
    await assert.rejects(
      replayCommand("docs/findings/one-queue-faults/qemu-v5-no-silent-hang.json", {
        vmm: "qemu",
        report: dir,
      }),
      (e) => e instanceof UsageError && /--report: .* is a directory/.test(e.message),
    );
  });

  it("gives every event to both the trace files and the report", () => {
    const a: TraceEvent[] = [];
    const b: TraceEvent[] = [];
    const both = teeSink({ event: (e) => a.push(e) }, { event: (e) => b.push(e) })!;
    const e: TraceEvent = { t: 1, actor: "host.kernel", name: "close", args: {} };
    both.event(e);
    assert.deepEqual([a, b], [[e], [e]]);
    const only = { event: (x: TraceEvent) => a.push(x) };
    assert.equal(teeSink(null, only), only);
    assert.equal(teeSink(null, null), null);
  });
});
