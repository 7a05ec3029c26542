import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { INVARIANT_NAMES } from "../check/invariants.js";
import { FAULT_SITES } from "../host/faults.js";
import { PROFILE_NAMES } from "../vmm/tegra241-cmdqv/profile.js";
import { STEP_KINDS } from "./schema.js";

const doc = readFileSync(new URL("../../docs/scenarios.md", import.meta.url), "utf8");

describe("docs/scenarios.md", () => {
  it("lists every current fault site, with their count", () => {
    for (const site of FAULT_SITES) assert.ok(doc.includes(`\`${site}\``), site);
    assert.ok(doc.includes(`there are ${FAULT_SITES.length}:`), "the count of fault sites");
  });

  it("documents every step kind, profile and invariant name", () => {
    const headings = doc.split("\n").filter((l) => l.startsWith("### "));
    for (const kind of STEP_KINDS)
      assert.ok(
        headings.some((h) => h.includes(`\`${kind}\``)),
        kind,
      );
    for (const p of PROFILE_NAMES) assert.ok(doc.includes(`\`${p}\``), p);
    for (const n of INVARIANT_NAMES) assert.ok(doc.includes(`\`${n}\``), n);
  });
});
