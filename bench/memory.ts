// `npm run bench:memory`: the peak resident set size of two jobs, each run in a child
// process: the default `cmdqv run`, and a large machine (bench/memory-large.ts: 64 GiB of
// guest RAM on 1 GiB pages, 128 VCMDQs of LOG2SIZE 19 with their 8 MiB rings written once).
// Peak RSS comes from `/usr/bin/time -v` ("Maximum resident set size") when it exists,
// else from the child's own process.resourceUsage().maxRSS, reported at exit by a preload
// module. `-- --json` prints one JSON object.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const json = args.includes("--json");
const unknown = args.filter((a) => a !== "--json");
if (unknown.length > 0) {
  console.error(`bench:memory: unknown argument ${JSON.stringify(unknown[0])} (accepted: --json)`);
  process.exit(2);
}

const REPO = fileURLToPath(new URL("..", import.meta.url));
const TIME = "/usr/bin/time";
const haveTime = existsSync(TIME) && process.env["CMDQV_BENCH_NO_TIME"] === undefined;
const TIMEOUT_MS = 10 * 60_000;

interface Job {
  readonly key: string;
  readonly what: string;
  readonly target: number;
  readonly argv: readonly string[];
}

const JOBS: readonly Job[] = [
  {
    key: "default_run",
    what: "cmdqv run (the built-in default job)",
    target: 300e6,
    argv: ["bin/cmdqv.js", "run"],
  },
  {
    key: "large_machine",
    what: "64 GiB guest RAM, 128 VCMDQs × 8 MiB rings written once",
    target: 2e9,
    argv: ["--import", "tsx", "bench/memory-large.ts"],
  },
];

const dir = mkdtempSync(join(tmpdir(), "cmdqv-bench-memory-"));
const preload = join(dir, "maxrss.mjs");
writeFileSync(
  preload,
  `import { writeFileSync } from "node:fs";
process.on("exit", () => writeFileSync(process.env.CMDQV_MAXRSS_FILE, String(process.resourceUsage().maxRSS)));
`,
);

interface Result {
  readonly peakRssBytes: number;
  readonly method: string;
  readonly seconds: number;
  readonly stdoutTail: string;
}

function run(job: Job): Result {
  const rssFile = join(dir, `${job.key}.rss`);
  const nodeArgv = haveTime
    ? [TIME, "-v", process.execPath, ...job.argv]
    : [process.execPath, "--import", preload, ...job.argv];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(nodeArgv[0]!, nodeArgv.slice(1), {
    cwd: REPO,
    encoding: "utf8",
    timeout: TIMEOUT_MS,
    maxBuffer: 64 << 20,
    env: { ...process.env, CMDQV_MAXRSS_FILE: rssFile },
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0)
    throw new Error(`${job.key}: exit ${r.status ?? r.signal}\n${r.stderr.slice(-2000)}`);
  let kib: number;
  if (haveTime) {
    const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
    if (m === null) throw new Error(`${job.key}: no "Maximum resident set size" from ${TIME}`);
    kib = Number(m[1]);
  } else kib = Number(readFileSync(rssFile, "utf8"));
  return {
    peakRssBytes: kib * 1024,
    method: haveTime ? "/usr/bin/time -v" : "process.resourceUsage().maxRSS",
    seconds,
    stdoutTail: r.stdout.trim().split("\n").slice(-1)[0] ?? "",
  };
}

const out: Record<string, number | string> = {};
try {
  for (const job of JOBS) {
    if (!json) process.stderr.write(`running ${job.what}\n`);
    const r = run(job);
    out[`${job.key}_peak_rss_bytes`] = r.peakRssBytes;
    out[`${job.key}_s`] = Number(r.seconds.toFixed(2));
    out["method"] = r.method;
    if (!json) {
      const mb = (r.peakRssBytes / 1e6).toFixed(0);
      const ok = r.peakRssBytes < job.target ? "under" : "OVER";
      console.log(
        `${job.what}: peak RSS ${mb} MB (${ok} the ${job.target / 1e6} MB target), ${r.seconds.toFixed(1)} s`,
      );
      if (job.key === "large_machine") console.log(`  ${r.stdoutTail}`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (json) console.log(JSON.stringify(out));
else console.log(`(peak RSS measured with ${String(out["method"])})`);
