// `cmdqv explore --vmm qemu` and `cmdqv run --replay FILE --vmm qemu`: the orderings
// program on real QEMU 11.1 (src/explore/qemu-orderings.ts). Wall-clock time lives here:
// the elapsed time, the progress line and the watchdog of a QEMU that stops answering.
// The hardware's own ticker is a no-op: the relay steps the host after every qtest reply
// by as much as QEMU's clock moved, so a path is deterministic.

import { join } from "node:path";
import { INVARIANT_NAMES } from "../check/invariants.js";
import { formatTable } from "../explore/explorer.js";
import { EXTRA_STEPS } from "../explore/orderings.js";
import {
  exploreQemuOrderings,
  QemuPathError,
  type QemuRunOptions,
  qemuExploreTable,
  ReplayStepError,
  replayOnQemu,
} from "../explore/qemu-orderings.js";
import type { OrderingsReplay } from "../explore/replay.js";
import { FAULT_SITES } from "../host/faults.js";
import { FetchError } from "../real-qemu/fetch.js";
import { NativeBuildError } from "../real-qemu/native-build.js";
import { LaunchError } from "../real-qemu/qemu-launch.js";
import type { Ticker } from "../real-qemu/session.js";
import { QemuReportObserver, qemuReplayReportData } from "../report/qemu-replay-report.js";
import { CMDQV_COMMAND, shellWord } from "../util/shell.js";
import { parseIntFlag, parseList, UsageError, writeOutFile } from "./options.js";
import { ProgressLine } from "./progress.js";
import { RealQemuError } from "./qemu-cmd.js";
import { writeReportData } from "./report-out.js";

const watchdog: Ticker = (ms, fn) => {
  const t = setInterval(fn, ms);
  return () => clearInterval(t);
};

/** How long one qtest line may wait for QEMU (CMDQV_QEMU_REPLY_MS overrides, as for qtest). */
const LINE_TIMEOUT_MS = Number(process.env["CMDQV_QEMU_REPLY_MS"] ?? "") || 30_000;

function runOptions(qemu: string | undefined, observer?: QemuReportObserver): QemuRunOptions {
  return {
    ticker: () => () => {},
    watchdog,
    lineTimeoutMs: LINE_TIMEOUT_MS,
    ...(qemu !== undefined ? { qemu } : {}),
    ...(observer !== undefined ? { observer } : {}),
  };
}

/** The plumbing's failures (no QEMU fetched, no compiler, QEMU died): one line, exit 69. */
async function known<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (
      e instanceof FetchError ||
      e instanceof NativeBuildError ||
      e instanceof LaunchError ||
      e instanceof QemuPathError
    )
      throw new RealQemuError(e.message);
    throw e;
  }
}

export interface ExploreQemuFlags {
  mode: string;
  queues: string;
  extras: string;
  faults: boolean;
  faultSites?: string;
  maxPaths?: string;
  jobs: string;
  json: boolean;
  out: string;
  ramPage: string;
  qemu?: string;
  /** Where --profile came from (commander's value source): given on the command line or not. */
  profileSource?: string;
}

export async function exploreQemuCommand(f: ExploreQemuFlags): Promise<number> {
  if (f.profileSource === "cli")
    throw new UsageError(
      "--profile describes our model; real QEMU has its own behaviour (drop --profile or use --vmm model)",
    );
  if (f.mode !== "orderings")
    throw new UsageError(
      `--mode ${JSON.stringify(f.mode)}: --vmm qemu explores the orderings mode only`,
    );
  if (f.ramPage !== "2M")
    throw new UsageError(
      `--ram-page ${JSON.stringify(f.ramPage)}: --vmm qemu backs guest RAM with 2M pages only`,
    );
  // QEMU 11.1's CMDQV has two VCMDQs (TEGRA241_CMDQV_MAX_CMDQ).
  const queues = parseIntFlag("--queues", f.queues, 1, 2);
  const extras = parseList("--extras", f.extras, EXTRA_STEPS);
  const faultSites =
    f.faultSites !== undefined ? parseList("--fault-sites", f.faultSites, FAULT_SITES) : undefined;
  if (faultSites !== undefined && !f.faults)
    throw new UsageError("--fault-sites: host faults are off (--no-faults)");
  const jobs = parseIntFlag("--jobs", f.jobs, 1, 16);
  const maxPaths =
    f.maxPaths !== undefined ? parseIntFlag("--max-paths", f.maxPaths, 1, 1e12) : undefined;
  const progress = new ProgressLine(!f.json);
  const t0 = Date.now();
  // Ctrl-C: the paths in hand finish (their QEMUs and files go), then the table so far.
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const result = await known(() =>
    exploreQemuOrderings(
      {
        ...runOptions(f.qemu),
        stop: () => interrupted,
        queues,
        extras,
        faults: f.faults,
        ...(faultSites !== undefined ? { faultSites } : {}),
        ...(maxPaths !== undefined ? { maxPaths } : {}),
        jobs,
      },
      (p) => {
        const s = (Date.now() - t0) / 1000;
        progress.update(
          `explore --vmm qemu: ${p.paths} paths (${(p.paths / Math.max(s, 1e-3)).toFixed(1)} QEMUs/s), ${p.violations} violated invariants`,
        );
      },
    ),
  ).finally(() => {
    progress.done();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  });
  const elapsed = (Date.now() - t0) / 1000;
  const files: string[] = [];
  for (const v of result.violations) {
    const path = join(f.out, `qemu-${v.invariant}.json`);
    writeOutFile("--out", path, `${JSON.stringify(v.replay, null, 2)}\n`);
    const run = result.runs.get(v.invariant);
    if (run) writeOutFile("--out", path.replace(/\.json$/, ".qtest"), `${run.script.join("\n")}\n`);
    files.push(path);
  }
  if (f.json) {
    console.log(
      JSON.stringify({
        vmm: result.qemu,
        mode: "orderings",
        paths: result.paths,
        steps: result.states,
        elapsed_s: Number(elapsed.toFixed(3)),
        complete: result.complete,
        violations: result.violations.map((v, i) => ({
          invariant: v.invariant,
          replay: files[i],
          message: v.message,
          runs: v.count,
          steps: v.replay.steps,
        })),
      }),
    );
  } else {
    console.log(
      formatTable(qemuExploreTable(result, { elapsedSeconds: elapsed, stopped: interrupted })),
    );
    result.violations.forEach((v, i) => {
      console.log("");
      console.log(`${v.invariant}: ${v.message}`);
      console.log(`  first sequence: ${v.replay.steps.join(" → ")}`);
      console.log(`  replay: ${CMDQV_COMMAND} run --replay ${shellWord(files[i]!)} --vmm qemu`);
      console.log(
        `  qtest:  ${CMDQV_COMMAND} qtest --vmm qemu < ${shellWord(files[i]!.replace(/\.json$/, ".qtest"))}`,
      );
    });
  }
  if (interrupted) {
    console.error("cmdqv: explore --vmm qemu stopped at Ctrl-C; the table covers the paths run");
    return 130;
  }
  return result.violations.length > 0 ? 1 : 0;
}

/**
 * `cmdqv run --replay FILE --vmm qemu`: the file's steps, in order, on real QEMU; with
 * `report`, the run report of the replay (QEMU traces its CMDQV events for it).
 */
export async function replayQemuCommand(
  path: string,
  f: OrderingsReplay,
  qemu: string | undefined,
  report?: string,
): Promise<number> {
  let out: Awaited<ReturnType<typeof replayOnQemu>>;
  const observer = report !== undefined ? new QemuReportObserver() : undefined;
  try {
    out = await known(() => replayOnQemu(f.steps, runOptions(qemu, observer)));
  } catch (e) {
    if (e instanceof ReplayStepError) throw new UsageError(`${path}: ${e.message}`);
    throw e;
  }
  const origin = f.vmm === "qemu" ? "found on real QEMU" : `found on profile ${f.machine.profile}`;
  console.log(`replay of ${path} on ${out.qemu}: orderings, ${origin}`);
  print(
    "steps",
    out.steps.map((s) =>
      s.fault
        ? `${s.step}   [host call failed: ${s.fault.site}${s.fault.nth > 1 ? ` #${s.fault.nth} in the step` : ""} (call ${s.fault.call})]`
        : s.step,
    ),
  );
  print("QEMU console", out.console);
  print("host ioctl log", out.ioctls);
  print("host dmesg", out.hostDmesg);
  print(
    "qtest lines the guest sent, with QEMU's replies (`cmdqv qtest --vmm qemu` plays the lines)",
    out.transcript.map((t) => `${t.line.padEnd(48)} → ${t.reply}`),
  );
  console.log("\ninvariants (judged from outside QEMU):");
  for (const inv of INVARIANT_NAMES) {
    const v = out.violations.filter((x) => x.invariant === inv);
    console.log(`  ${inv.padEnd(20)} ${v.length === 0 ? "ok" : `VIOLATED: ${v[0]!.message}`}`);
  }
  const wanted = out.steps.filter((s) => s.fault).length;
  const asked = f.steps.filter((s) => s.includes("[fail ")).length;
  if (wanted < asked)
    console.log("\nwarning: a host call the file fails was never made on real QEMU");
  const reproduced = out.violations.some((v) => v.invariant === f.invariant);
  console.log(`\n${reproduced ? "reproduced" : "NOT reproduced"} on real QEMU: ${f.invariant}`);
  if (report !== undefined && observer !== undefined)
    writeReportData(
      report,
      qemuReplayReportData({
        command: `cmdqv run --replay ${path} --vmm qemu`,
        file: f,
        outcome: out,
        observer,
      }),
    );
  return out.violations.length > 0 ? 1 : 0;
}

function print(title: string, lines: readonly string[]): void {
  console.log(`\n${title}:`);
  for (const l of lines) console.log(`  ${l}`);
  if (lines.length === 0) console.log("  (none)");
}
