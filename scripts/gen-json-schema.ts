// Writes docs/scenario.schema.json, the scenario format as JSON Schema for editors, from
// the zod schema (src/scenario/json-schema.ts), then formats it with biome so that
// `biome ci .` accepts the committed file. A test (src/scenario/json-schema.test.ts)
// fails when the committed file differs from what this produces.
//
//   npx tsx scripts/gen-json-schema.ts

import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SCENARIO_SCHEMA_FILE, scenarioJsonSchema } from "../src/scenario/json-schema.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = resolve(root, SCENARIO_SCHEMA_FILE);
writeFileSync(out, `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`);
const biome = resolve(root, "node_modules/@biomejs/biome/bin/biome");
const fmt = spawnSync(process.execPath, [biome, "format", "--write", out], { encoding: "utf8" });
if (fmt.status !== 0) {
  console.error(`gen-json-schema: biome format failed on ${SCENARIO_SCHEMA_FILE}`);
  console.error(fmt.stdout, fmt.stderr);
  process.exit(1);
}
console.log(`wrote ${SCENARIO_SCHEMA_FILE}`);
