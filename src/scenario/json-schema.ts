// The scenario format as JSON Schema, for editors (the YAML language server validates and
// completes a file that names it in a `# yaml-language-server: $schema=…` comment). It is
// generated from the zod schema, so the two cannot disagree; scripts/gen-json-schema.ts
// writes it to docs/scenario.schema.json and a test keeps the committed copy current.
//
// Two passes over zod's output make it say what the loader says, as an editor shows it:
// - a list of allowed values is the `enum` keyword (zod writes `anyOf` of `const`s, and an
//   editor then reports one error per value: 31 for a misspelt fault site);
// - the rules between fields of one object that the zod schema checks in code (its
//   superRefine) and JSON Schema can state (CROSS_FIELD_RULES).
// What the loader refuses and JSON Schema cannot state (a value's range depending on
// another field, the order of the steps) is listed, with the reason, by
// src/scenario/json-schema.test.ts, which holds the schema against the loader with Ajv.

import { z } from "zod";
import { scenarioSchema } from "./schema.js";

/** Where the generated schema is committed, relative to the repository root. */
export const SCENARIO_SCHEMA_FILE = "docs/scenario.schema.json";

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object";

/** `anyOf: [{const: a}, {const: b}]` → `enum: [a, b]`, everywhere in `node`. */
export function constsAsEnums(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(constsAsEnums);
  if (!isObject(node)) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    const consts =
      k === "anyOf" &&
      Array.isArray(v) &&
      v.length > 0 &&
      v.every((x) => isObject(x) && Object.keys(x).length === 1 && "const" in x);
    if (consts) out["enum"] = (v as Json[]).map((x) => x["const"]);
    else out[k] = constsAsEnums(v);
  }
  return out;
}

/** The keys of the object schema at `path`, which must exist (a renamed field fails here). */
function objectAt(root: Json, path: readonly string[]): Json {
  let at: unknown = root;
  for (const seg of path) {
    at = isObject(at) ? at[seg] : undefined;
    if (!isObject(at)) throw new Error(`json-schema: no ${path.join("/")} in the scenario schema`);
  }
  return at as Json;
}

function propertyNames(o: Json): string[] {
  return isObject(o["properties"]) ? Object.keys(o["properties"]) : [];
}

/** A whole number written as zero: `0`, `0x0`, `0_000` (the field's own pattern checks the rest). */
const ZERO_TEXT = "^(0[xXoObB])?[0_]+$";

/**
 * Rules between the fields of one object, as the zod schema's superRefine checks them, at
 * their path in the generated schema. Each is one `allOf` entry, so an editor names it.
 */
const CROSS_FIELD_RULES: readonly {
  readonly path: readonly string[];
  readonly rules: (o: Json) => Json;
}[] = [
  {
    path: ["properties", "faults"],
    rules: () => ({
      allOf: [
        {
          description: "a fault plan needs site, nth or probability",
          anyOf: [{ required: ["site"] }, { required: ["nth"] }, { required: ["probability"] }],
        },
        {
          description: "give either site (with nth) or probability (with seed), not both",
          not: { required: ["site", "probability"] },
        },
        {
          description: "nth does not apply to a probability plan",
          not: { required: ["probability", "nth"] },
        },
      ],
      dependencies: { seed: ["probability"] },
    }),
  },
  {
    path: ["properties", "guest", "items", "properties", "workload", "properties", "mix"],
    rules: (mix) => ({
      minProperties: 1,
      allOf: [
        {
          description: "at least one kind needs a weight above 0",
          anyOf: propertyNames(mix).map((k) => ({
            required: [k],
            properties: {
              [k]: { not: { anyOf: [{ const: 0 }, { type: "string", pattern: ZERO_TEXT }] } },
            },
          })),
        },
      ],
    }),
  },
  {
    path: ["properties", "guest", "items", "properties", "expect"],
    rules: () => ({
      minProperties: 1,
      allOf: [
        {
          description: 'violated contradicts invariants: "ok"',
          not: {
            required: ["invariants", "violated"],
            properties: { invariants: { const: "ok" }, violated: { type: "array", minItems: 1 } },
          },
        },
      ],
    }),
  },
];

/** The JSON Schema (draft-07, the input side: what a file may contain). */
export function scenarioJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(scenarioSchema, {
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
  const schema = constsAsEnums(generated) as Json;
  for (const { path, rules } of CROSS_FIELD_RULES) {
    const o = objectAt(schema, path);
    Object.assign(o, rules(o));
  }
  return {
    ...schema,
    $comment: "Generated from src/scenario/schema.ts by scripts/gen-json-schema.ts; do not edit.",
  };
}
