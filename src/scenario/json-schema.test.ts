import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { SCENARIO_SCHEMA_FILE, scenarioJsonSchema } from "./json-schema.js";

describe("the committed JSON Schema", () => {
  it("is exactly what scripts/gen-json-schema.ts generates from the zod schema", () => {
    const committed = JSON.parse(
      readFileSync(new URL(`../../${SCENARIO_SCHEMA_FILE}`, import.meta.url), "utf8"),
    ) as unknown;
    // Compared as data: the committed file is formatted by biome, the generator's text is not.
    const generated = JSON.parse(JSON.stringify(scenarioJsonSchema())) as unknown;
    assert.deepEqual(
      committed,
      generated,
      `${SCENARIO_SCHEMA_FILE} is stale: run npx tsx scripts/gen-json-schema.ts`,
    );
  });

  it("is a strict draft-07 object schema that requires name and guest", () => {
    const s = scenarioJsonSchema();
    assert.equal(s["$schema"], "http://json-schema.org/draft-07/schema#");
    assert.equal(s["type"], "object");
    assert.equal(s["additionalProperties"], false);
    assert.deepEqual(s["required"], ["name", "guest"]);
  });

  it("has string patterns that compile as regular expressions", () => {
    const patterns: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) for (const x of v) walk(x);
      else if (v !== null && typeof v === "object")
        for (const [k, x] of Object.entries(v)) {
          if (k === "pattern" && typeof x === "string") patterns.push(x);
          else walk(x);
        }
    };
    walk(scenarioJsonSchema());
    assert.ok(patterns.length > 5);
    for (const p of patterns) assert.doesNotThrow(() => new RegExp(p, "u"), p);
    const address = patterns.find((p) => p.includes("cmdqv"))!;
    for (const ok of ["cmdqv+0x1000", "ram + 1M", "smmu", "0x4000_0000", "4096"])
      assert.match(ok, new RegExp(address, "u"));
    assert.doesNotMatch("cmdqv+0xZZ", new RegExp(address, "u"));
  });
});
