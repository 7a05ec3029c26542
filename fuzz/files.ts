// Scenario and replay file fuzzers, structure-aware: the committed scenarios
// (scenarios/*.yaml) and replays (docs/findings/**/*.json) are parsed, mutated a few times
// (values at their edges and of the wrong type, keys dropped or unknown, lists grown,
// deeper nesting) and written back. Each mutant goes through the loader in-process: it
// must load, or be refused with one-line errors that name the file's line; nothing may
// throw. A sample of the mutants also goes through the CLI (`cmdqv run FILE` or
// `cmdqv run --replay FILE`), which must end with a documented exit status and no stack
// trace.

import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { parseReplay } from "../src/explore/replay-load.js";
import { formatScenarioError, loadScenario } from "../src/scenario/load.js";
import { Gen, mutate } from "./gen.js";
import type { FuzzOutcome } from "./qtest.js";

export interface FileFuzzOptions {
  readonly seed: number;
  /** Mutants loaded in-process. */
  readonly files: number;
  /** Of those, how many also run through the CLI. */
  readonly cliRuns: number;
}

/** What the CLI may exit with: passed, violation found, usage error. */
const CLEAN_EXITS = new Set([0, 1, 2]);
/** A CLI run of a mutant that takes longer than this is a hang. */
const CLI_TIMEOUT_MS = 60_000;

function walk(dir: string, ext: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, ext, out);
    else if (name.endsWith(ext)) out.push(p);
  }
  return out.sort();
}

function runCli(
  args: string[],
): Promise<{ code: number | null; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bin/cmdqv.js", ...args], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      if (stderr.length < 20_000) stderr += d;
    });
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, CLI_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(t);
      resolve({ code, stderr, timedOut });
    });
  });
}

function cliProblem(r: { code: number | null; stderr: string; timedOut: boolean }): string | null {
  if (r.timedOut) return `no answer within ${CLI_TIMEOUT_MS / 1000} s`;
  if (r.code === null || !CLEAN_EXITS.has(r.code))
    return `exit status ${r.code}: ${r.stderr.slice(0, 400)}`;
  if (/^\s+at .+:\d+:\d+\)?$/m.test(r.stderr)) return `a stack trace: ${r.stderr.slice(0, 400)}`;
  return null;
}

/** Scenario files: mutants of scenarios/*.yaml. */
export async function fuzzScenarios(o: FileFuzzOptions): Promise<FuzzOutcome> {
  const g = new Gen(o.seed);
  const seeds = walk("scenarios", ".yaml").map((p) => readFileSync(p, "utf8"));
  const { parse } = await import("yaml");
  const dir = mkdtempSync(join(tmpdir(), "cmdqv-fuzz-scen-"));
  let cli = 0;
  try {
    for (let i = 0; i < o.files; i++) {
      let doc: unknown = parse(g.pick(seeds));
      for (let k = 0, n = 1 + g.int(4); k < n; k++) doc = mutate(g, doc);
      const text = g.chance(5) ? `${stringify(doc)}\n${g.garbage(40)}` : stringify(doc);
      const file = join(dir, `m${i}.yaml`);
      let r: ReturnType<typeof loadScenario>;
      try {
        r = loadScenario(text, file);
      } catch (e) {
        writeFileSync(file, text);
        return {
          inputs: i + 1,
          peakRssMb: rss(),
          failure: `the loader threw on ${file}: ${(e as Error).stack?.split("\n").slice(0, 3).join(" | ")}`,
        };
      }
      if (!r.ok) {
        for (const e of r.error) {
          const line = formatScenarioError(e);
          if (/[\r\n]/.test(line) || !line.startsWith(`${file}:`) || line.length > 2000) {
            writeFileSync(file, text);
            return {
              inputs: i + 1,
              peakRssMb: rss(),
              failure: `an error that is not one line naming the file (${file}): ${JSON.stringify(line.slice(0, 300))}`,
            };
          }
        }
        continue;
      }
      if (cli < o.cliRuns && g.chance(20)) {
        cli++;
        writeFileSync(file, text);
        const problem = cliProblem(await runCli(["run", file]));
        if (problem !== null)
          return { inputs: i + 1, peakRssMb: rss(), failure: `cmdqv run ${file}: ${problem}` };
      }
    }
    return { inputs: o.files, peakRssMb: rss(), failure: null };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Replay files: mutants of docs/findings/**\/*.json. */
export async function fuzzReplays(o: FileFuzzOptions): Promise<FuzzOutcome> {
  const g = new Gen(o.seed);
  const seeds = walk("docs/findings", ".json").map((p) => readFileSync(p, "utf8"));
  const dir = mkdtempSync(join(tmpdir(), "cmdqv-fuzz-replay-"));
  let cli = 0;
  try {
    for (let i = 0; i < o.files; i++) {
      let doc: unknown = JSON.parse(g.pick(seeds));
      for (let k = 0, n = 1 + g.int(4); k < n; k++) doc = mutate(g, doc);
      const text = g.chance(5)
        ? JSON.stringify(doc).slice(0, g.int(2000))
        : JSON.stringify(doc, null, 1);
      const file = join(dir, `m${i}.json`);
      let r: ReturnType<typeof parseReplay>;
      try {
        r = parseReplay(text, file);
      } catch (e) {
        writeFileSync(file, text);
        return {
          inputs: i + 1,
          peakRssMb: rss(),
          failure: `the replay loader threw on ${file}: ${(e as Error).stack?.split("\n").slice(0, 3).join(" | ")}`,
        };
      }
      if (!r.ok) {
        if (/[\r\n]/.test(r.error) || r.error.length > 2000) {
          writeFileSync(file, text);
          return {
            inputs: i + 1,
            peakRssMb: rss(),
            failure: `an error that is not one line (${file}): ${JSON.stringify(r.error.slice(0, 300))}`,
          };
        }
        continue;
      }
      if (cli < o.cliRuns && g.chance(25)) {
        cli++;
        writeFileSync(file, text);
        const problem = cliProblem(await runCli(["run", "--replay", file]));
        if (problem !== null)
          return {
            inputs: i + 1,
            peakRssMb: rss(),
            failure: `cmdqv run --replay ${file}: ${problem}`,
          };
      }
    }
    return { inputs: o.files, peakRssMb: rss(), failure: null };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function rss(): number {
  return process.memoryUsage().rss / (1024 * 1024);
}
