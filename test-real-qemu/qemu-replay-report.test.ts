// The run report of a replay on real QEMU 11.1.3 (`cmdqv run --replay X.json --vmm qemu
// --report FILE.html`): finding 4's replay (two queues, a refused destroy) run on real
// QEMU over the simulated host, its report's data held to what the run itself shows: the
// steps as replayed, the violating step as the one in which the kernel refused the destroy,
// the host objects as the host's ioctl log created them, and the rings' PROD/CONS as the
// host's CMDQV hardware held them when the guest's last step ended (before QEMU exited).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type QemuRunObserver, replayOnQemu } from "../src/explore/qemu-orderings.js";
import type { OrderingsReplay } from "../src/explore/replay.js";
import { loadReplayFile } from "../src/explore/replay-load.js";
import { IoctlLog } from "../src/host/kernel/ioctl-log.js";
import { QemuReportObserver, qemuReplayReportData } from "../src/report/qemu-replay-report.js";
import type { RunReportData } from "../src/report/report-data.js";
import { renderRunReportHtml } from "../src/report/run-report-html.js";

const FINDING = "docs/findings/two-queues/qemu-v7-no-refused-destroy.json";
const noTicks = () => () => {};
const watchdog = (ms: number, fn: () => void) => {
  const t = setInterval(fn, ms);
  return () => clearInterval(t);
};

const dir = mkdtempSync(join(tmpdir(), "cmdqv-qemu-report-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function finding(): OrderingsReplay {
  const r = loadReplayFile(FINDING);
  assert.ok(r.ok && r.value.mode === "orderings", FINDING);
  return r.value;
}

/** The embedded data of a written page. */
function pageData(html: string): RunReportData {
  const json = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html);
  assert.ok(json, "no report-data");
  return JSON.parse(json[1]!) as RunReportData;
}

describe("the run report of a replay on real QEMU 11.1.3", () => {
  it("holds the replay's steps, the violating step, the host's objects and the hardware's PROD/CONS", async () => {
    const f = finding();
    const obs = new QemuReportObserver();
    // What the run itself shows, taken apart from the report: each step's end on the
    // host's clock, and the hardware's PROD/CONS of each guest queue's HW queue then.
    const ends: number[] = [];
    let hw: ({ prod: number; cons: number } | null)[] = [];
    let hwIds: (number | null)[] = [];
    const observer: QemuRunObserver = {
      hostTrace: obs.hostTrace,
      qemuTrace: obs.qemuTrace,
      started: (h) => obs.started(h),
      sent: (l) => obs.sent(l),
      replied: (r) => obs.replied(r),
      console: (l) => obs.console(l),
      stepEnded: () => {
        obs.stepEnded();
        const host = obs.host!;
        ends.push(host.clock.now());
        hwIds = [0, 1].map((i) => host.iommufd.hwQueues().find((x) => x.index === i)?.id ?? null);
        hw = [0, 1].map((i) => {
          const q = host.iommufd.hwQueues().filter((x) => x.index === i);
          const last = q[q.length - 1];
          if (last === undefined) return null;
          const info = host.iommufd.viommuInfo(last.viommu)!;
          const v = host.hw.vcmdq(host.hw.vcmdqOf(info.vintf, i));
          return { prod: v.prod, cons: v.cons };
        });
      },
    };
    const out = await replayOnQemu(f.steps, { ticker: noTicks, watchdog, observer });
    const d = qemuReplayReportData({
      command: `cmdqv run --replay ${FINDING} --vmm qemu`,
      file: f,
      outcome: out,
      observer: obs,
    });
    assert.equal(d.header.vmm, "real QEMU 11.1.3");
    assert.equal(d.header.profile, "");

    // The steps, as replayed, each ending where the run's step ended.
    assert.deepEqual(
      d.steps?.list.map((s) => s.text),
      f.steps,
    );
    assert.deepEqual(
      d.steps?.list.map((s) => s.t),
      ends,
    );
    // The violating step: the one during which the kernel refused IOMMU_DESTROY.
    const host = obs.host!;
    const refused = host.iommufd.log.entries().find((e) => e.call === "IOMMU_DESTROY" && e.errno);
    assert.ok(refused, "the finding's refused destroy is in the host's log");
    const during = ends.findIndex((t) => t >= refused.t);
    assert.ok(during >= 0);
    assert.equal(d.steps?.reproduced, true);
    assert.equal(d.steps?.violating, during);
    const verdict = d.verdicts.find((v) => v.name === "no-refused-destroy")!;
    assert.equal(verdict.ok, false);
    assert.equal(verdict.step, during);

    // Host objects: one per object the ioctl log shows created, the refused one marked.
    const created = host.iommufd.log
      .entries()
      .filter((e) => e.errno === undefined && /_ALLOC$|_BIND_/.test(e.call))
      .map((e) => / → \w+=(\d+)/.exec(IoctlLog.condense(e)))
      .filter((m) => m !== null)
      .map((m) => Number(m[1]));
    assert.ok(created.length >= 8, `${created.length} objects created`);
    assert.deepEqual(
      d.objects.map((o) => o.id),
      [...new Set(created)].sort((a, b) => a - b),
    );
    const obj = d.objects.find((o) => o.id === (refused.args as { id: number }).id)!;
    assert.deepEqual(
      obj.refused.map((r) => r.errno),
      [refused.errno],
    );
    assert.equal(obj.leaked, out.leakedObjects.includes(obj.id));

    // The rings: PROD and CONS as the hardware held them when the last step ended.
    assert.ok(
      hw.every((x) => x !== null),
      "both queues had a HW queue",
    );
    assert.ok(hw.some((x) => x!.prod > 0));
    assert.deepEqual(
      d.queues.rings.map((r) => ({ prod: r.prod, cons: r.cons })),
      hw,
    );
    assert.deepEqual(
      d.queues.rings.map((r) => r.hwQueue),
      hwIds,
    );

    // QEMU's own trace lines are on the VMM's lane, and the page carries them.
    assert.ok(obs.traceLines > 0, "QEMU printed its tegra241_cmdqv trace lines");
    assert.ok(d.timeline.strings.includes("tegra241_cmdqv_write_vcmdq_page0"));
    const page = renderRunReportHtml(d);
    assert.match(page, /VMM: real QEMU 11\.1\.3/);
    assert.deepEqual(pageData(page).steps, d.steps);
  });

  it("is written by cmdqv run --replay --vmm qemu --report, and said on stderr", () => {
    const path = join(dir, "q.html");
    const r = spawnSync(
      process.execPath,
      ["bin/cmdqv.js", "run", "--replay", FINDING, "--vmm", "qemu", "--report", path],
      { encoding: "utf8", timeout: 300_000 },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^reproduced on real QEMU: no-refused-destroy$/m);
    assert.match(r.stderr, new RegExp(`wrote ${path} \\(`));
    const d = pageData(readFileSync(path, "utf8"));
    assert.equal(d.kind, "replay");
    assert.equal(d.header.vmm, "real QEMU 11.1.3");
    assert.deepEqual(
      d.steps?.list.map((s) => s.text),
      finding().steps,
    );
  });
});
