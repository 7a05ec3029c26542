// `cmdqv run` at its limits: the workload bound, a run the step cap cuts short, trace
// files written as the run goes, and a replay that records no trace it was not asked for.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { loadReplayFile } from "../explore/replay-load.js";
import { MAX_WORKLOAD_INVALIDATIONS } from "../guest/workload.js";
import { fromJsonl, toJsonl } from "../trace/jsonl.js";
import { toPerfetto } from "../trace/perfetto.js";
import type { TraceEvent } from "../trace/trace.js";
import { FLUSH_BYTES, TraceFiles } from "./output.js";
import { replayOnModel } from "./replay-cmd.js";
import { defaultRun, EXIT_CUT_SHORT } from "./run-cmd.js";

function cmdqv(args: string[]) {
  const r = spawnSync(process.execPath, ["bin/cmdqv.js", ...args], {
    encoding: "utf8",
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const made: string[] = [];
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), "cmdqv-run-"));
  made.push(d);
  return d;
}
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** Run `body` with console.log and console.error captured. */
function captured<T>(body: () => T): { value: T; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    return { value: body(), out, err };
  } finally {
    console.log = log;
    console.error = error;
  }
}

describe("cmdqv run --invalidations", () => {
  it("refuses more invalidations than MAX_WORKLOAD_INVALIDATIONS with one line and exit status 2", () => {
    assert.equal(MAX_WORKLOAD_INVALIDATIONS, 1_000_000);
    const r = cmdqv(["run", "--invalidations", "1000000000"]);
    assert.equal(r.code, 2, r.err);
    assert.equal(
      r.err,
      'cmdqv: --invalidations: expected an integer from 0 to 1000000, got "1000000000"\n',
    );
    assert.equal(r.out, "");
  });

  it("says on stderr that the step cap cut the run short, and exits with EXIT_CUT_SHORT", () => {
    const r = captured(() => defaultRun({ invalidations: "5000" }, { maxSteps: 2000 }));
    assert.equal(r.value, EXIT_CUT_SHORT);
    assert.equal(EXIT_CUT_SHORT, 3);
    assert.match(
      r.err[0] ?? "",
      /^cmdqv run: cut short: the workload was cut with \d+ of 5000 invalidations issued: it hit the scheduler's cap of 2000 steps per program step \(at \d+ ns\)$/,
    );
    assert.equal(r.err[1], "cmdqv run: the summary covers only the part of the run before the cut");
    assert.ok(r.out.join("\n").includes("invariants:"), "the partial summary is printed");
  });

  it("exits 0 and says nothing on stderr when the run completes", () => {
    const r = captured(() => defaultRun({ invalidations: "300" }));
    assert.equal(r.value, 0);
    assert.deepEqual(r.err, []);
  });
});

describe("trace files", () => {
  /** Events enough for several flushes of each file. */
  function manyEvents(n: number): TraceEvent[] {
    const out: TraceEvent[] = [];
    for (let i = 0; i < n; i++)
      out.push({
        t: i * 250,
        actor: i % 3 === 0 ? "guest.vcpu0" : i % 3 === 1 ? "vmm.cmdqv" : "host.hw",
        name: "mmio_write",
        args: { addr: `0x${(0xc08_0000 + i).toString(16)}`, value: i, exit: i % 2 === 0 },
      });
    return out;
  }

  it("are written as the run goes, holding at most FLUSH_BYTES of text, and come out whole", () => {
    const dir = scratch();
    const jsonl = join(dir, "t.jsonl");
    const perfetto = join(dir, "t.json");
    const events = manyEvents(60_000);
    const files = TraceFiles.open(jsonl, perfetto);
    assert.ok(files);
    for (const e of events) files.event(e);
    files.close();
    const longest = Math.max(...events.map((e) => toPerfetto([e]).length));
    assert.ok(files.peakBuffered() <= FLUSH_BYTES + longest, `${files.peakBuffered()}`);
    const jsonlText = readFileSync(jsonl, "utf8");
    assert.ok(jsonlText.length > 3 * FLUSH_BYTES, "several flushes happened");
    assert.equal(jsonlText, toJsonl(events));
    assert.deepEqual(fromJsonl(jsonlText).events, events);
    const perfettoText = readFileSync(perfetto, "utf8");
    assert.equal(perfettoText, toPerfetto(events));
    const doc = JSON.parse(perfettoText) as { traceEvents: { ph: string }[] };
    assert.equal(doc.traceEvents.filter((e) => e.ph === "i").length, events.length);
  });

  it("are refused before the run when a path cannot be written", () => {
    const r = cmdqv([
      "run",
      "--invalidations",
      "1000000",
      "--perfetto",
      join(scratch(), "no-such-dir", "t.json"),
    ]);
    assert.equal(r.code, 2);
    assert.match(r.err, /^cmdqv: --perfetto: cannot write ".*t\.json" \(ENOENT\)\n$/);
    assert.equal(r.out, "", "nothing ran");
  });

  it("hold the same events as the run's own record, JSON Lines and Perfetto alike", () => {
    const dir = scratch();
    const jsonl = join(dir, "run.jsonl");
    const perfetto = join(dir, "run.json");
    const r = cmdqv(["run", "--invalidations", "400", "--trace", jsonl, "--perfetto", perfetto]);
    assert.equal(r.code, 0, r.err);
    const parsed = fromJsonl(readFileSync(jsonl, "utf8"));
    assert.deepEqual(parsed.errors, []);
    assert.ok(parsed.events.length > 100);
    const doc = JSON.parse(readFileSync(perfetto, "utf8")) as {
      traceEvents: { ph: string; name: string; cat?: string }[];
    };
    // Every event but the tracks' metadata; a counter carries the event's name as its category.
    const traced = doc.traceEvents.filter((e) => e.ph !== "M");
    assert.deepEqual(
      traced.map((e) => (e.ph === "C" ? e.cat : e.name)),
      parsed.events.map((e) => e.name),
    );
  });
});

describe("cmdqv run --replay", () => {
  const file = "docs/findings/one-queue-faults/qemu-v7-no-silent-hang.json";

  it("refuses an interleavings file asking for more invalidations than MAX_WORKLOAD_INVALIDATIONS", () => {
    const dir = scratch();
    const f = loadReplayFile(file);
    assert.ok(f.ok);
    const path = join(dir, "big.json");
    writeFileSync(
      path,
      JSON.stringify({
        cmdqv_replay: 1,
        mode: "interleavings",
        machine: f.value.machine,
        invalidations: MAX_WORKLOAD_INVALIDATIONS + 1,
        vcpus: 2,
        inject: false,
        choices: [],
        invariant: "no-silent-hang",
        message: "",
        steps: [],
      }),
    );
    const r = cmdqv(["run", "--replay", path]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /^cmdqv: .*big\.json: invalidations: .*1000000/);
    assert.equal(r.out, "");
  });

  it("records no trace unless --trace or --perfetto asks for one", () => {
    const f = loadReplayFile(file);
    assert.ok(f.ok);
    const r = captured(() => replayOnModel(file, f.value, null));
    assert.equal(r.value.code, 1);
    assert.match(r.out.join("\n"), /\nreproduced: no-silent-hang$/);
    assert.equal(r.value.machine?.tracer.enabled, false);
    assert.equal(r.value.machine?.traceEvents.length, 0);
  });

  it("streams the trace to the sink it is given and keeps none", () => {
    const f = loadReplayFile(file);
    assert.ok(f.ok);
    const got: TraceEvent[] = [];
    const r = captured(() => replayOnModel(file, f.value, { event: (e) => got.push(e) }));
    assert.equal(r.value.code, 1);
    assert.ok(got.length > 10, `${got.length} events`);
    assert.equal(r.value.machine?.traceEvents.length, 0);
  });
});
