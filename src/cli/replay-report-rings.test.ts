// The run report of a replay is built once (replayRunReportData): the page `cmdqv run
// --replay FILE --report` writes and the one an exploration report embeds for the same
// file show the same rings, PROD and CONS as last seen before the VM's teardown.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { InterleavingsReplay, OrderingsReplay } from "../explore/replay.js";
import { machineConfig } from "../machine/config.js";
import { replayReportData } from "../report/explore-report.js";
import type { RunReportData } from "../report/report-data.js";
import { replayCommand } from "./replay-cmd.js";
import { captured } from "./run-testkit.js";

const dir = mkdtempSync(join(tmpdir(), "cmdqv-replay-rings-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The page's embedded data, as `cmdqv run --replay FILE --report` wrote it. */
async function pageOf(f: InterleavingsReplay | OrderingsReplay, name: string) {
  const file = join(dir, `${name}.json`);
  const page = join(dir, `${name}.html`);
  writeFileSync(file, JSON.stringify(f));
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    await captured(() => replayCommand(file, { report: page }));
  } finally {
    process.stderr.write = write;
  }
  const html = readFileSync(page, "utf8");
  const json = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html);
  assert.ok(json, "no report-data");
  return JSON.parse(json[1]!) as RunReportData;
}

const ringsOf = (d: RunReportData) =>
  d.queues.rings.map((r) => ({ queue: r.queue, prod: r.prod, cons: r.cons, base: r.base }));

describe("a replay's report, embedded or written by cmdqv run --replay --report", () => {
  it("shows the same rings for an interleavings replay, the guest's PROD past 0", async () => {
    const f: InterleavingsReplay = {
      cmdqv_replay: 1,
      mode: "interleavings",
      machine: machineConfig({ profile: "qemu-v5" }),
      invalidations: 40,
      vcpus: 2,
      inject: false,
      choices: [1, 0, 2],
      invariant: "no-silent-hang",
      message: "",
      steps: [],
    };
    const page = await pageOf(f, "interleavings");
    const embedded = replayReportData(f, "cmdqv run --replay interleavings.json");
    assert.ok(
      page.queues.rings.some((r) => r.prod > 0),
      "the workload's commands reached a ring",
    );
    assert.deepEqual(ringsOf(embedded), ringsOf(page));
  });

  it("shows the same rings for a finding's orderings replay", async () => {
    const f = JSON.parse(
      readFileSync("docs/findings/two-queues/qemu-v7-no-silent-hang.json", "utf8"),
    ) as OrderingsReplay;
    const page = await pageOf(f, "orderings");
    const embedded = replayReportData(f, "cmdqv run --replay orderings.json");
    assert.equal(page.queues.rings.length, f.machine.vcmdqs);
    assert.deepEqual(ringsOf(embedded), ringsOf(page));
  });
});
