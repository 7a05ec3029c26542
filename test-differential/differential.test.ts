// The model against real QEMU 11.1.3 on the same simulated host: every built-in script
// (registers, the 120 gate orders, the two-queue sample, the review's cases, hostile
// inputs, vEVENTs, disables and reset, the trapped main CMDQ) must agree observation by
// observation under the profile that 11.1.3 is, with only the documented masks. And the
// comparison must bite: another profile, or a mask taken away, shows differences.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { builtinScripts, selectScripts } from "../src/differential/catalog.js";
import { MASKS } from "../src/differential/masks.js";
import { describeDifference, summaryLine, totals } from "../src/differential/report.js";
import { runScript, type ScriptOutcome } from "../src/differential/runner.js";
import { modelSide, QEMU_11_1_PROFILE, qemuSide } from "../src/differential/sides.js";
import { qemusStartedBy } from "../src/real-qemu/testkit.js";
import type { ProfileName } from "../src/vmm/tegra241-cmdqv/profile.js";

const sides = (profile: ProfileName) => ({
  model: () => modelSide(profile),
  qemu: () => qemuSide(),
});

describe(`the model (${QEMU_11_1_PROFILE}) against real QEMU 11.1.3`, () => {
  it("agrees on every built-in script, with only the documented masks", async (t) => {
    const outcomes: ScriptOutcome[] = [];
    for (const s of builtinScripts())
      outcomes.push(await runScript(s, sides(QEMU_11_1_PROFILE), MASKS));
    const sum = totals(outcomes);
    t.diagnostic(summaryLine(sum));
    const first = outcomes
      .map((o) => describeDifference(o, 2))
      .filter((d) => d !== null)
      .slice(0, 5);
    assert.equal(sum.differing, 0, `${summaryLine(sum)}\n${first.join("\n")}`);
    assert.ok(sum.scripts >= 250 && sum.observations > 20_000, summaryLine(sum));
  });
});

describe("the differential bites", () => {
  it("shows qemu-v5's Case 2 console message against 11.1.3's", async () => {
    const [s] = selectScripts(builtinScripts(), "review/case2");
    const o = await runScript(s!, sides("qemu-v5"), MASKS);
    const d = o.comparison.differences.find((x) => x.kind === "console");
    assert.ok(d, describeDifference(o) ?? "no difference");
    assert.ok(
      d.qemu.includes("IOMMU_HW_QUEUE_ALLOC failed: Cannot allocate memory"),
      d.qemu.join("\n"),
    );
  });

  it("shows QEMU's vfio plumbing at realize once its mask is taken away", async () => {
    const [s] = selectScripts(builtinScripts(), "review/case2");
    const o = await runScript(
      s!,
      sides(QEMU_11_1_PROFILE),
      MASKS.filter((m) => m.name !== "vfio-plumbing"),
    );
    const d = o.comparison.difference;
    assert.equal(d?.step, 0);
    assert.ok(
      d?.qemu.some((l) => l.startsWith("IOMMU_IOAS_CHANGE_PROCESS")),
      d?.qemu.join("\n"),
    );
  });

  it("shows qemu-v7's GERRORN copy, which 11.1.3 does not make", async () => {
    const [s] = selectScripts(builtinScripts(), "sync/cached-registers");
    const o = await runScript(s!, sides("qemu-v7"), MASKS);
    assert.deepEqual(
      [
        o.comparison.difference?.kind,
        o.comparison.difference?.model,
        o.comparison.difference?.qemu,
      ],
      ["reply", ["OK 0x0000000000000005"], ["OK 0x0000000000000000"]],
    );
  });
});

describe("cmdqv diff", () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ["bin/cmdqv.js", "diff", ...args], { encoding: "utf8" });

  it("prints the count of scripts and observations and exits 0 when nothing differs", () => {
    const r = cli("review/*", "hostile/base-in-mmio");
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /against real QEMU 11\.1: 4 scripts, \d+ steps, \d+ observations compared: no differences/,
    );
  });

  it("refuses a script that is neither a file nor a built-in name, without a stack trace", () => {
    const r = cli("no/such/script");
    assert.equal(r.status, 2);
    assert.equal(
      r.stderr.trim(),
      'cmdqv: "no/such/script" is neither a file nor the name of a built-in script (see cmdqv diff --list)',
    );
  });

  it("refuses an unknown mask by name", () => {
    const r = cli("--unmask", "nope", "review/case2");
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--unmask: no mask "nope" \(masks: uapi-framing, /);
  });

  it("stops at Ctrl-C after the script in hand, says so, and leaves no QEMU behind", async () => {
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, ["bin/cmdqv.js", "diff", "gates/**"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    // Once the first script has been compared (or has printed its difference), interrupt.
    await new Promise((r) => setTimeout(r, 2000));
    child.kill("SIGINT");
    const code = await new Promise<number | null>((r) => child.on("close", r));
    assert.equal(code, 130, out);
    assert.match(out, /interrupted after \d+ of 144 scripts/);
    // Every QEMU that run started carries its pid in CMDQV_PARENT_PID.
    const left = qemusStartedBy(child.pid!);
    assert.deepEqual(left, [], "no QEMU of that run is left");
  });

  it("exits 1 and prints the first difference with the steps before it", () => {
    const r = cli("--profile", "qemu-v5", "review/case2");
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^review\/case2: step \d+: .*\n {2}differs in \w+:/m);
    assert.match(r.stdout, /1 scripts differ/);
  });
});
