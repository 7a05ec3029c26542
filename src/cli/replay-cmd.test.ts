// `cmdqv run --replay` with machine flags: the recorded steps under another profile (and
// what "NOT reproduced" then means), --profile all's table, and the flags a replay refuses.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PROFILE_NAMES } from "../vmm/tegra241-cmdqv/profile.js";
import { UsageError } from "./options.js";
import { type ReplayFlags, replayCommand } from "./replay-cmd.js";
import { captured, invariantsOf, matrixOf } from "./run-testkit.js";

/** qemu-v5 counterexamples the explorer wrote (src/explore/findings.test.ts keeps them true). */
const HANG = "docs/findings/one-queue-faults/qemu-v5-no-silent-hang.json";
const LEAK = "docs/findings/two-queues/qemu-v5-no-leak.json";

async function replay(path: string, flags: ReplayFlags = {}) {
  const r = await captured(() => replayCommand(path, flags));
  return { code: r.value, text: r.out.join("\n"), err: r.err };
}

describe("cmdqv run --replay --profile", () => {
  it("reproduces a qemu-v5 counterexample on the profile it was found on", async () => {
    const r = await replay(HANG);
    assert.equal(r.code, 1);
    assert.match(r.text, /^replay of .*: orderings, profile qemu-v5$/m);
    assert.match(r.text, /\nreproduced: no-silent-hang$/);
  });

  it("replays its steps under reference, says so, and finds the violation NOT reproduced", async () => {
    const r = await replay(HANG, { profile: "reference" });
    assert.equal(r.code, 0, "no invariant violated under reference");
    assert.match(
      r.text,
      /^replay of .*: orderings, profile reference \(overrides the file's qemu-v5\)$/m,
    );
    assert.match(
      r.text,
      /^ {2}the steps found on qemu-v5 are replayed under reference: "NOT reproduced" means reference does not show no-silent-hang on these steps$/m,
    );
    assert.match(r.text, /^steps as found on qemu-v5:$/m);
    assert.match(r.text, /^steps under reference:$/m);
    assert.equal(invariantsOf(r.text).get("no-silent-hang"), "ok");
    assert.match(r.text, /\nNOT reproduced under reference: no-silent-hang \(found on qemu-v5\)$/);
  });

  it("names the other machine flags it lays over the file's machine", async () => {
    const r = await replay(LEAK, { seed: "3", ramPage: "64K" });
    assert.equal(r.code, 1);
    assert.match(r.text, /^replay of .*: orderings, profile qemu-v5$/m);
    assert.match(
      r.text,
      /^ {2}flags over the file's machine: --ram-page 64K \(the file's 2M\), --seed 3 \(the file's 1\)$/m,
    );
    assert.match(
      r.text,
      /^ {2}the steps found on the file's machine are replayed on this machine: /m,
    );
    assert.match(r.text, /\nreproduced on this machine: no-leak \(found on qemu-v5\)$/);
  });
});

describe("cmdqv run --replay --profile all", () => {
  it("prints a table whose every column is that profile's own replay", async () => {
    const all = await replay(LEAK, { profile: "all" });
    const table = matrixOf(all.text);
    const codes: number[] = [];
    for (const p of PROFILE_NAMES) {
      const one = await replay(LEAK, { profile: p });
      codes.push(one.code);
      const col = p === "qemu-v5" ? "qemu-v5*" : p;
      for (const [name, word] of invariantsOf(one.text))
        assert.equal(table.get(name)?.get(col), word, `${p} ${name}`);
      const reproduced = /\nreproduced( under \S+)?: no-leak/.test(one.text);
      assert.equal(table.get("reproduced")?.get(col), reproduced ? "yes" : "NO", p);
    }
    // The explorer found no-leak on v5, v7 and latest; reference has none (docs/findings.md).
    assert.equal(table.get("reproduced")?.get("qemu-v5*"), "yes");
    assert.equal(table.get("reproduced")?.get("reference"), "NO");
    assert.equal(all.code, Math.max(...codes), "the worst of the replays' statuses");
    assert.equal(all.code, 1);
  });

  it("notes the profiles under which the recorded choices give other steps", async () => {
    const r = await replay(HANG, { profile: "all" });
    assert.equal(matrixOf(r.text).get("reproduced")?.get("qemu-v5*"), "yes");
    // Under reference the host call the choices fail is not made at VINTF_EN.
    assert.match(
      r.text,
      /^reference: the recorded choices give other steps than on qemu-v5: BASE_L0 → /m,
    );
    assert.doesNotMatch(r.text, /^qemu-v5: the recorded choices give other steps/m);
  });
});

describe("flags a replay refuses", () => {
  for (const [flags, message] of [
    [
      { vcmdqs: "4" },
      "--vcmdqs: a replay keeps the file's 2 VCMDQs: its recorded choices were made among their steps",
    ],
    [
      { vcpus: "4" },
      "--vcpus: a replay keeps the file's 2 vCPUs: its recorded choices were made for them",
    ],
    [
      { cmdqv: "off" },
      "--cmdqv: a replay keeps the file's cmdqv=on: its recorded steps are the CMDQV's",
    ],
    [
      { invalidations: "5" },
      "--invalidations: an orderings replay has no workload (the flag sets the built-in default run's)",
    ],
    [
      { profile: "all", perfetto: "/nonexistent/t.json" },
      "--perfetto: --profile all runs once per profile, and a trace follows one run (trace one --profile at a time)",
    ],
    [
      { vmm: "qemu", profile: "reference" },
      "--profile describes our model; real QEMU 11.1 has its own behaviour (drop --profile or add --vmm model)",
    ],
    [
      { vmm: "qemu", seed: "3" },
      "--seed: --vmm qemu replays the file's machine on real QEMU 11.1 (machine flags are for --vmm model)",
    ],
  ] as const)
    it(`refuses ${JSON.stringify(flags)} in one line, before running`, async () => {
      const r = await captured(() =>
        replayCommand(HANG, flags).then(
          () => assert.fail("not refused"),
          (e: unknown) => {
            assert.ok(e instanceof UsageError, String(e));
            assert.equal(e.message, message);
          },
        ),
      );
      assert.deepEqual(r.out, [], "nothing ran");
    });
});
