// CI's bounded exploration of each profile through the CLI: upstream profiles must report
// violations (exit 1), the reference design none (exit 0). Runs before `npm test`.
import { spawnSync } from "node:child_process";

const expected = { "qemu-v5": 1, "qemu-v7": 1, "qemu-11.1": 1, "qemu-latest": 1, reference: 0 };
let bad = 0;
for (const [profile, code] of Object.entries(expected)) {
  const r = spawnSync(
    process.execPath,
    [
      "bin/cmdqv.js",
      "explore",
      "--profile",
      profile,
      "--queues",
      "1",
      "--json",
      "--out",
      ".cmdqv/ci-replays",
    ],
    { encoding: "utf8" },
  );
  let summary = "";
  let space = "";
  try {
    const o = JSON.parse(r.stdout);
    space = o.space;
    summary = `${o.paths} paths, ${o.distinct_states} distinct states, space ${o.space}, ${o.elapsed_s} s, violations: ${o.violations.map((v) => v.invariant).join(", ") || "none"}`;
  } catch {
    summary = `unparsable output: ${r.stdout.slice(0, 200)} ${r.stderr.slice(0, 500)}`;
  }
  // A bounded run that stopped short would pass for a clean one: the space must be whole.
  const ok = r.status === code && space === "exhausted";
  if (!ok) bad++;
  console.log(
    `explore ${profile}: exit ${r.status} (expected ${code}) ${ok ? "ok" : "UNEXPECTED"}: ${summary}`,
  );
}
process.exit(bad === 0 ? 0 : 1);
