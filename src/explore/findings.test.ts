// Every replay file committed under docs/findings/ must still reproduce the violation it
// records, so the replay commands in docs/findings.md keep working.

import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ReplayChoice } from "../sim/choice.js";
import { runOrderings } from "./orderings.js";
import { loadReplayFile } from "./replay-load.js";

const ROOT = "docs/findings";

function replayFiles(): string[] {
  const out: string[] = [];
  for (const dir of readdirSync(ROOT, { withFileTypes: true }))
    if (dir.isDirectory())
      for (const f of readdirSync(join(ROOT, dir.name)))
        if (f.endsWith(".json")) out.push(join(ROOT, dir.name, f));
  return out.sort();
}

describe("documented findings", () => {
  const files = replayFiles();

  it("are committed for every upstream profile", () => {
    for (const p of ["qemu-v5", "qemu-v7", "qemu-latest"])
      assert.ok(
        files.some((f) => f.includes(`/${p}-no-silent-hang.json`)),
        p,
      );
    assert.ok(!files.some((f) => f.includes("/reference-")), "reference has no findings");
  });

  for (const file of files) {
    it(`still reproduces ${file}`, () => {
      const r = loadReplayFile(file);
      assert.ok(r.ok, r.ok ? "" : r.error);
      const f = r.value;
      assert.equal(f.mode, "orderings");
      if (f.mode !== "orderings") return;
      const machine = f.faultPlan ? { ...f.machine, faultPlan: f.faultPlan } : f.machine;
      const out = runOrderings(
        { machine, queues: f.queues, extras: f.extras, faults: f.faults },
        new ReplayChoice(f.choices),
        null,
      );
      assert.ok(
        out.checker.violations().some((v) => v.invariant === f.invariant),
        `${f.invariant} not reproduced: ${out.steps.map((s) => s.step).join(" ")}`,
      );
    });
  }
});
