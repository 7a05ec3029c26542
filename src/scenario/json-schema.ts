// The scenario format as JSON Schema, for editors (the YAML language server validates and
// completes a file that names it in a `# yaml-language-server: $schema=…` comment). It is
// generated from the zod schema, so the two cannot disagree; scripts/gen-json-schema.ts
// writes it to docs/scenario.schema.json and a test keeps the committed copy current.

import { z } from "zod";
import { scenarioSchema } from "./schema.js";

/** Where the generated schema is committed, relative to the repository root. */
export const SCENARIO_SCHEMA_FILE = "docs/scenario.schema.json";

/** The JSON Schema (draft-07, the input side: what a file may contain). */
export function scenarioJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(scenarioSchema, {
    io: "input",
    target: "draft-07",
    // zod leaves out `default` on the input side of a transform; the schema's fields carry
    // theirs as `inputDefault` (see schema.ts), shown to editors as `default`.
    override: ({ jsonSchema }) => {
      const j = jsonSchema as Record<string, unknown>;
      if ("inputDefault" in j) {
        j["default"] = j["inputDefault"];
        delete j["inputDefault"];
      }
    },
  });
  return {
    ...schema,
    $comment: "Generated from src/scenario/schema.ts by scripts/gen-json-schema.ts; do not edit.",
  };
}
