// The speed-up of `cmdqv explore --jobs 2` over `--jobs 1`, measured in one command: they
// alternate, REPS times each, on the same space, so that a change in the machine's load
// hits both alike. A third row runs two `--jobs 1` processes at once: the throughput the
// machine gives two independent explorations, the ceiling for `--jobs 2`. Prints states/s
// per run, the medians, the ratios and the load average (a shared machine shows in it).
// Usage: node scripts/explore-jobs-speedup.mjs [REPS] [explore flags…]   (default 3, the default space)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";

const reps = Number(process.argv[2] ?? 3);
const flags = process.argv.slice(3);
const out = mkdtempSync(join(tmpdir(), "cmdqv-speedup-"));
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");

/** One `cmdqv explore --json` run: its summary. */
function explore(jobs, dir) {
  const args = [
    "bin/cmdqv.js",
    "explore",
    "--json",
    "--out",
    join(out, dir),
    "--jobs",
    String(jobs),
  ];
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...args, ...flags], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => {
      stdout += d;
    });
    p.stderr.on("data", (d) => {
      stderr += d;
    });
    p.on("close", (code) =>
      code === 0 || code === 1 ? resolve(JSON.parse(stdout)) : reject(new Error(stderr)),
    );
  });
}

const rate = { "--jobs 1": [], "--jobs 2": [], "2 × --jobs 1 at once": [] };
let figures = "";
const note = (row, o, statesPerS, wall) => {
  const sum = `${o.paths} paths, ${o.states} states, ${o.distinct_states} distinct`;
  if (figures !== "" && figures !== sum) throw new Error(`figures differ: ${figures} / ${sum}`);
  figures = sum;
  rate[row].push(statesPerS);
  console.log(`${row}: ${wall.toFixed(2)} s, ${Math.round(statesPerS)} states/s; load ${load()}`);
};
console.log(`${cpus().length} CPUs, load average ${load()} (1, 5, 15 min)`);
for (let r = 0; r < reps; r++) {
  for (const jobs of [1, 2]) {
    const o = await explore(jobs, `j${jobs}`);
    note(`--jobs ${jobs}`, o, o.states / o.elapsed_s, o.elapsed_s);
  }
  // Each process's own clock, as the other rows (node's start-up left out of both).
  const both = await Promise.all([explore(1, "a"), explore(1, "b")]);
  const wall = Math.max(both[0].elapsed_s, both[1].elapsed_s);
  note("2 × --jobs 1 at once", both[0], (both[0].states + both[1].states) / wall, wall);
}
console.log(`figures of every run: ${figures}`);
rmSync(out, { recursive: true, force: true });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(rate["--jobs 1"]);
for (const [row, xs] of Object.entries(rate))
  console.log(
    `median ${row}: ${Math.round(median(xs))} states/s, ${(median(xs) / base).toFixed(2)}×`,
  );
