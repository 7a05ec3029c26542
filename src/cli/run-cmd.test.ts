// `cmdqv run` at its limits: the workload bound, a run the step cap cuts short, trace
// files written as the run goes, and a replay that records no trace it was not asked for;
// machine flags over a scenario's machine, --profile all, and what --help says.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadReplayFile } from "../explore/replay-load.js";
import { MAX_WORKLOAD_INVALIDATIONS } from "../guest/workload.js";
import { fromJsonl, toJsonl } from "../trace/jsonl.js";
import { toPerfetto } from "../trace/perfetto.js";
import type { TraceEvent } from "../trace/trace.js";
import { PROFILE_NAMES } from "../vmm/tegra241-cmdqv/profile.js";
import { cmdqv, scratchDirs } from "./cli-testkit.js";
import { MACHINE_FLAG_DEFAULTS, MACHINE_FLAGS } from "./machine-flags.js";
import { UsageError } from "./options.js";
import { FLUSH_BYTES, TraceFiles } from "./output.js";
import { replayOnModel } from "./replay-cmd.js";
import { DEFAULT_RUN_INVALIDATIONS, defaultRun, EXIT_CUT_SHORT, scenarioRun } from "./run-cmd.js";
import { captured, invariantsOf, matrixOf } from "./run-testkit.js";

const scratch = scratchDirs("run");

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

  it("says on stderr that the step cap cut the run short, and exits with EXIT_CUT_SHORT", async () => {
    const r = await captured(() => defaultRun({ invalidations: "5000" }, { maxSteps: 2000 }));
    assert.equal(r.value, EXIT_CUT_SHORT);
    assert.equal(EXIT_CUT_SHORT, 3);
    assert.match(
      r.err[0] ?? "",
      /^cmdqv run: cut short: the workload was cut with \d+ of 5000 invalidations issued: it hit the scheduler's cap of 2000 steps per program step \(at \d+ ns\)$/,
    );
    assert.equal(r.err[1], "cmdqv run: the summary covers only the part of the run before the cut");
    assert.ok(r.out.join("\n").includes("invariants:"), "the partial summary is printed");
  });

  it("exits 0 and says nothing on stderr when the run completes", async () => {
    const r = await captured(() => defaultRun({ invalidations: "300" }));
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
    const r = cmdqv([
      "run",
      "--invalidations",
      "400",
      "--trace",
      `file=${jsonl}`,
      "--perfetto",
      perfetto,
    ]);
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

  it("records no trace unless --trace or --perfetto asks for one", async () => {
    const f = loadReplayFile(file);
    assert.ok(f.ok);
    const r = await captured(() => replayOnModel(file, f.value, null));
    assert.equal(r.value.code, 1);
    assert.match(r.out.join("\n"), /\nreproduced: no-silent-hang$/);
    assert.equal(r.value.machine?.tracer.enabled, false);
    assert.equal(r.value.machine?.traceEvents.length, 0);
  });

  it("streams the trace to the sink it is given and keeps none", async () => {
    const f = loadReplayFile(file);
    assert.ok(f.ok);
    const got: TraceEvent[] = [];
    const r = await captured(() => replayOnModel(file, f.value, { event: (e) => got.push(e) }));
    assert.equal(r.value.code, 1);
    assert.ok(got.length > 10, `${got.length} events`);
    assert.equal(r.value.machine?.traceEvents.length, 0);
  });
});

const CASE2 = "scenarios/review-case2.yaml";

describe("machine flags over a scenario's machine", () => {
  it("runs the file's own profile when none is given, and the one --profile names over it", () => {
    const own = cmdqv(["run", CASE2]);
    assert.equal(own.code, 0, own.err);
    assert.match(own.out, /^cmdqv run: profile qemu-v5$/m);
    assert.match(own.out, /^ {2}no-silent-hang {7}VIOLATED \(expected\): /m);
    const v7 = cmdqv(["run", CASE2, "--profile", "qemu-v7"]);
    assert.equal(v7.code, 1, v7.err);
    assert.match(v7.out, /^cmdqv run: profile qemu-v7 \(overrides the file's qemu-v5\)$/m);
    // v7's fix: the guest is told, so no silent hang, and the v5 scenario's expectations fail.
    assert.equal(invariantsOf(v7.out).get("no-silent-hang"), "ok");
    assert.match(v7.out, /^scenario review-case2 \(scenarios\/review-case2\.yaml\): FAILED$/m);
  });

  it("names every other flag it lays over the file's machine, with the file's value", async () => {
    const r = await captured(() =>
      scenarioRun(CASE2, { seed: "7", ramPage: "64K", layout: "qemu-11.1" }),
    );
    const text = r.out.join("\n");
    assert.match(text, /^cmdqv run: profile qemu-v5$/m);
    // --layout repeats the file's: nothing overridden, nothing said.
    assert.match(
      text,
      /^ {2}flags over the file's machine: --ram-page 64K \(the file's 2M\), --seed 7 \(the file's 1\)$/m,
    );
    assert.match(text, /^ {2}RAM 1024 MiB at 0x40000000 on 64K pages, .*, seed 7$/m);
  });

  it("refuses --vcpus and --invalidations, and a machine the file's steps no longer fit, in one line", () => {
    const refused = (f: Parameters<typeof scenarioRun>[1], message: string) =>
      assert.throws(
        () => scenarioRun(CASE2, f),
        (e) => e instanceof UsageError && e.message === message,
      );
    refused(
      { vcpus: "4" },
      "--vcpus: a scenario's workload steps run on the vCPUs its file gives (machine.vcpus, or a step's vcpus); change them there",
    );
    refused(
      { invalidations: "5" },
      "--invalidations: sets the built-in default run's workload; a scenario's workload steps give their own",
    );
    refused(
      { vcmdqs: "1" },
      `--vcmdqs 1: ${CASE2}:26:5: the boot step places 2 rings for 1 VCMDQ(s)`,
    );
    refused(
      { profile: "qemu-v9" },
      '--profile: expected one of qemu-v5, qemu-v7, qemu-11.1, qemu-latest, reference or all, got "qemu-v9"',
    );
    refused(
      { profile: "all", perfetto: join(scratch(), "t.json") },
      "--perfetto: --profile all runs once per profile, and a trace follows one run (trace one --profile at a time)",
    );
  });
});

describe("cmdqv run --profile all", () => {
  it("prints a scenario's table whose every column is that profile's own run", async () => {
    const all = await captured(() => scenarioRun(CASE2, { profile: "all" }));
    const table = matrixOf(all.out.join("\n"));
    const codes: number[] = [];
    for (const p of PROFILE_NAMES) {
      const one = await captured(() => scenarioRun(CASE2, { profile: p }));
      codes.push(one.value);
      const text = one.out.join("\n");
      const col = p === "qemu-v5" ? "qemu-v5*" : p;
      for (const [name, word] of invariantsOf(text))
        assert.equal(table.get(name)?.get(col), word, `${p} ${name}`);
      assert.equal(
        table.get("scenario")?.get(col),
        /\): passed$/m.test(text) ? "passed" : "FAILED",
        p,
      );
    }
    assert.equal(table.get("no-silent-hang")?.get("qemu-v5*"), "VIOLATED (expected)");
    assert.equal(table.get("scenario")?.get("reference"), "FAILED");
    // The worst of the runs': qemu-v5 passes, the others fail the v5 expectations.
    assert.deepEqual(codes, [0, 1, 1, 1, 1]);
    assert.equal(all.value, 1);
    assert.ok(
      all.out.some((l) => l.startsWith(`reference: ${CASE2}:`)),
      "each profile's failures follow, named by profile",
    );
  });

  it("prints the default run's table, and exits 0 when every profile's run holds", async () => {
    const r = await captured(() => defaultRun({ profile: "all", invalidations: "200" }));
    assert.equal(r.value, 0);
    const table = matrixOf(r.out.join("\n"));
    assert.deepEqual([...(table.get("isolation")?.keys() ?? [])], [...PROFILE_NAMES]);
    for (const row of table.values()) assert.deepEqual([...new Set(row.values())], ["ok"]);
  });
});

describe("cmdqv run --help", () => {
  it("shows each flag's default, from where it is defined, and the modes it applies to", () => {
    const r = cmdqv(["run", "--help"]);
    assert.equal(r.code, 0, r.err);
    const help = r.out.replace(/\s+/g, " ");
    for (const [key, flag] of Object.entries(MACHINE_FLAGS)) {
      const value = MACHINE_FLAG_DEFAULTS[key as keyof typeof MACHINE_FLAGS];
      const line = help.slice(help.indexOf(`${flag} <`));
      const modes = line.indexOf("[default run");
      const shown = line.indexOf("(default: ");
      assert.ok(modes > 0 && modes < shown, `${flag}: modes before its default`);
      assert.match(line.slice(shown), new RegExp(`^\\(default: ${value}[;)]`), flag);
    }
    assert.equal(MACHINE_FLAG_DEFAULTS.ramSize, "1G");
    assert.ok(
      help.includes(
        `--invalidations <n> invalidations to issue [default run] (default: ${DEFAULT_RUN_INVALIDATIONS})`,
      ),
    );
    assert.ok(
      help.includes("--vcpus <n> guest vCPUs issuing invalidations [default run] (default: 2)"),
    );
    assert.ok(
      help.includes(
        "[default run, scenario, --replay] (default: qemu-latest; a scenario's or a replay's own)",
      ),
    );
    assert.ok(
      help.includes("Modes: default run no scenario and no --replay"),
      "the modes are listed",
    );
  });
});
