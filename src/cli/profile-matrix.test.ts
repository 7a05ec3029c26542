import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { INVARIANT_NAMES } from "../check/invariants.js";
import { EXIT } from "./exit.js";
import { formatProfileMatrix, worstExit } from "./profile-matrix.js";
import { matrixOf } from "./run-testkit.js";

describe("the --profile all table", () => {
  it("has a column per profile run, in PROFILE_NAMES order, the file's marked, and '-' for a run that could not start", () => {
    const ok = INVARIANT_NAMES.map((name) => ({ name, ok: name !== "no-leak" }));
    const text = formatProfileMatrix(
      [
        { profile: "reference", invariants: null, verdict: "FAILED", code: 1 },
        {
          profile: "qemu-v5",
          invariants: ok,
          expected: new Set(["no-leak"]),
          verdict: "passed",
          code: 0,
        },
      ],
      { own: "qemu-v5", verdictRow: "scenario" },
    );
    const t = matrixOf(text);
    assert.deepEqual(
      [...(t.get("no-leak")?.entries() ?? [])],
      [
        ["qemu-v5*", "VIOLATED (expected)"],
        ["reference", "-"],
      ],
    );
    assert.equal(t.get("isolation")?.get("qemu-v5*"), "ok");
    assert.equal(t.get("scenario")?.get("reference"), "FAILED");
    assert.deepEqual([...t.keys()], [...INVARIANT_NAMES, "scenario"]);
  });

  it("exits with the worst status of its runs: a violation, then a cut-short run, then success", () => {
    assert.equal(worstExit([EXIT.ok, EXIT.ok]), EXIT.ok);
    assert.equal(worstExit([EXIT.ok, EXIT.cutShort]), EXIT.cutShort);
    assert.equal(worstExit([EXIT.cutShort, EXIT.violation, EXIT.ok]), EXIT.violation);
    assert.equal(worstExit([]), EXIT.ok);
  });
});
