import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { INVARIANT_NAMES } from "../check/invariants.js";
import { MAX_WORKLOAD_INVALIDATIONS } from "../guest/workload.js";
import { FAULT_SITES } from "../host/faults.js";
import { PROFILE_NAMES } from "../vmm/tegra241-cmdqv/profile.js";
import { SCENARIO_LIMITS } from "./load.js";
import { MAX_MIX_WEIGHT, STEP_KINDS } from "./schema.js";
import { SHOWN_CHARS } from "./schema-scalars.js";

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

  it("states every limit of a scenario file with its current value", () => {
    const limits = doc.slice(doc.indexOf("## Limits"));
    // Numbers from 10 000 up are written in groups of three digits.
    const grouped = (n: number) =>
      n < 10_000 ? String(n) : n.toLocaleString("en-US").replaceAll(",", " ");
    const L = SCENARIO_LIMITS;
    assert.ok(
      limits.includes(
        `| file size | ${L.fileBytes / 2 ** 20} MiB (${grouped(L.fileBytes)} bytes) |`,
      ),
    );
    assert.ok(
      limits.includes(`| ${grouped(L.nodes)} | \`f.yaml:16668:5: more than ${L.nodes} YAML nodes`),
    );
    assert.ok(
      limits.includes(
        `| ${grouped(L.expandedNodes)} | \`too large once its aliases are expanded (more than ${L.expandedNodes} nodes)\``,
      ),
    );
    assert.ok(
      limits.includes(
        `| nesting | ${L.depth} levels below the top-level mapping | \`nested more than ${L.depth} levels deep\``,
      ),
    );
    assert.ok(limits.includes(`| problems listed | ${L.errors} |`));
    assert.ok(limits.includes(`| a value quoted in an error | ${SHOWN_CHARS} characters |`));
    assert.ok(
      limits.includes(
        `| ${grouped(MAX_WORKLOAD_INVALIDATIONS)} | \`must be from 0 to ${MAX_WORKLOAD_INVALIDATIONS}\``,
      ),
    );
    assert.ok(
      limits.includes(
        `| a \`workload.mix\` weight | ${grouped(MAX_MIX_WEIGHT)} | \`must be from 0 to ${MAX_MIX_WEIGHT}\` |`,
      ),
    );
  });
});
