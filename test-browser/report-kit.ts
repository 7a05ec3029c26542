// Reports made the way a user makes them: the real `cmdqv` command with `--report FILE`,
// into a temporary directory. The same command without --report, with a trace, gives the
// truth the report is held to (run-truth.ts).

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  cmdqvBaseFromOutput,
  RING_TRACE_PATTERNS,
  type RingTruth,
  ringsFromTraceFile,
  stepsFromOutput,
  type VerdictTruth,
  verdictsFromOutput,
} from "./run-truth.js";

/** The checkout this file is in. */
export const REPO = fileURLToPath(new URL("..", import.meta.url));

export interface CommandResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node bin/cmdqv.js ARGS` in the checkout. */
export function cmdqv(args: readonly string[]): CommandResult {
  const r = spawnSync(process.execPath, [join(REPO, "bin/cmdqv.js"), ...args], {
    cwd: REPO,
    encoding: "utf8",
    maxBuffer: 64 * 2 ** 20,
    timeout: 600_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A temporary directory, removed by the returned function. */
export function tempDir(prefix: string): { readonly dir: string; readonly remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `cmdqv-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One `cmdqv run` whose report the tests open. */
export interface RunCase {
  /** A short name: the report's file name. */
  readonly name: string;
  /** `cmdqv run`'s arguments before --report (a scenario, --replay FILE, flags). */
  readonly args: readonly string[];
  /** The guest's VCMDQ count on that machine. */
  readonly vcmdqs: number;
  /** A replay file: its machine names the CMDQV's address (a replay prints no machine line). */
  readonly replay?: string;
}

/** The default run, as the README's first command runs it. */
export const DEFAULT_RUN: RunCase = { name: "default", args: [], vcmdqs: 2 };
/** The review's Case 2 under qemu-v5: a silent hang, expected by the scenario. */
export const CASE2: RunCase = { name: "case2", args: ["scenarios/review-case2.yaml"], vcmdqs: 2 };
/** Finding 1's replay (docs/findings.md): Case 2 rediscovered by the explorer. */
export const FINDING1 = "docs/findings/one-queue-faults/qemu-v5-no-silent-hang.json";
export const REPLAY: RunCase = {
  name: "replay",
  args: ["--replay", FINDING1],
  vcmdqs: 2,
  replay: FINDING1,
};

/** `cmdqv run ARGS --report DIR/NAME.html`: the report's path and what the command said. */
export function runReport(dir: string, c: RunCase): CommandResult & { readonly file: string } {
  const file = join(dir, `${c.name}.html`);
  return { ...cmdqv(["run", ...c.args, "--report", file]), file };
}

/** What the same run did, from its own output and a trace (not from any report). */
export interface RunTruth {
  readonly status: number | null;
  readonly verdicts: readonly VerdictTruth[];
  readonly rings: readonly RingTruth[];
  /** A replay's steps as it lists them; empty for other runs. */
  readonly steps: readonly string[];
  /** The host object ids the condensed ioctl log shows allocated (`→ ioas=2`, …). */
  readonly objectIds: readonly number[];
  readonly stdout: string;
}

/** Run `c` again without --report, with a trace of the registers the rings need. */
export function runTruth(dir: string, c: RunCase): RunTruth {
  const trace = join(dir, `${c.name}.truth.jsonl`);
  const r = cmdqv([
    "run",
    ...c.args,
    ...RING_TRACE_PATTERNS.flatMap((p) => ["--trace", p]),
    "--trace",
    `file=${trace}`,
  ]);
  if (r.status !== 0 && r.status !== 1)
    throw new Error(`cmdqv run ${c.args.join(" ")} exited ${r.status}: ${r.stderr}`);
  const base =
    c.replay !== undefined
      ? (
          JSON.parse(readFileSync(join(REPO, c.replay), "utf8")) as {
            machine: { cmdqvBase: number };
          }
        ).machine.cmdqvBase
      : cmdqvBaseFromOutput(r.stdout);
  return {
    status: r.status,
    verdicts: verdictsFromOutput(r.stdout),
    rings: ringsFromTraceFile(trace, base, c.vcmdqs),
    steps: c.replay !== undefined ? stepsFromOutput(r.stdout) : [],
    objectIds: objectIdsFromOutput(r.stdout),
    stdout: r.stdout,
  };
}

/** Object kinds an ioctl's result names when it allocates one. */
const ALLOCATED = /→ (?:ioas|hwpt|viommu|veventq|vdevice|hw_queue)=(\d+)/g;

/** The ids of the objects the printed ioctl log allocated, in order, each once. */
export function objectIdsFromOutput(stdout: string): number[] {
  const ids = [...stdout.matchAll(ALLOCATED)].map((m) => Number(m[1]));
  return [...new Set(ids)];
}
