// Loading a scenario file: YAML 1.2 (core schema) → plain data → the zod schema, with every
// problem reported at once as `file:line:col: path: message (got value)`. Bad input never
// throws: a scenario is user input, and one clear line per mistake is the whole interface.
//
// The YAML document is converted to plain data by our own walk rather than yaml's toJS,
// for three reasons: integers stay exact (they are read as bigint, and the ones beyond
// 2^53 reach the schema as decimal text), keys such as `__proto__` stay ordinary keys, and
// alias expansion is bounded (a "billion laughs" file is an error, not an out-of-memory).
// The same document gives each error its position and the text the author wrote.

import { readFileSync } from "node:fs";
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document as YamlDocument,
  type Node as YamlNode,
} from "yaml";
import type { z } from "zod";
import { err, ok, type Result } from "../util/result.js";
import {
  objectKeys,
  type Scenario,
  type SourcePos,
  STEP_KINDS,
  scenarioIssueMessage,
  scenarioSchema,
} from "./schema.js";
import { closest, MISSING } from "./schema-scalars.js";

export interface ScenarioError {
  readonly file: string;
  /** 1-based; 0 when the error concerns the whole file (it could not be read). */
  readonly line: number;
  readonly col: number;
  /** Where in the scenario: `guest[2].write.addr`; "" for the document itself. */
  readonly path: string;
  readonly message: string;
  /** The offending value as written in the file, when there is one. */
  readonly got?: string;
}

/** `review.yaml:12:11: guest[2].write.addr: not an address (got "cmdqv+0xZZ")`. */
export function formatScenarioError(e: ScenarioError): string {
  const where = e.line > 0 ? `${e.file}:${e.line}:${e.col}` : e.file;
  const path = e.path === "" ? "" : `${e.path}: `;
  const got = e.got === undefined ? "" : ` (got ${e.got})`;
  return `${where}: ${path}${e.message}${got}`;
}

/** Read and load a scenario file. */
export function loadScenarioFile(path: string): Result<Scenario, ScenarioError[]> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory"
          : `cannot read it (${code ?? String(e)})`;
    return err([{ file: path, line: 0, col: 0, path: "", message: why }]);
  }
  return loadScenario(text, path);
}

type PathSeg = string | number;

/** How a path is printed: `guest[2].write.addr`, `faults.probability["hw_queue_alloc:pin"]`. */
export function formatPath(path: readonly PathSeg[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Nodes the plain-data conversion may produce, counting alias expansions: far above any real scenario. */
const MAX_NODES = 200_000;
/** Nesting deeper than this is not a scenario (and would risk the stack). */
const MAX_DEPTH = 64;

class Converter {
  private nodes = 0;
  readonly errors: { node: YamlNode; message: string }[] = [];
  private readonly doc: YamlDocument.Parsed;

  constructor(doc: YamlDocument.Parsed) {
    this.doc = doc;
  }

  /** A map key as text; collection keys are not scenario keys. */
  keyText(key: unknown): string | undefined {
    if (key === null || key === undefined) return "";
    if (isScalar(key)) {
      const v = key.value;
      if (typeof v === "string") return v;
      return key.source ?? String(v);
    }
    return undefined;
  }

  convert(node: unknown, depth: number): unknown {
    if (node === null || node === undefined) return null;
    if (++this.nodes > MAX_NODES || depth > MAX_DEPTH) {
      if (this.nodes === MAX_NODES + 1 || depth === MAX_DEPTH + 1)
        this.errors.push({
          node: node as YamlNode,
          message:
            depth > MAX_DEPTH
              ? `nested more than ${MAX_DEPTH} levels deep`
              : "too large once its aliases are expanded",
        });
      return null;
    }
    if (isScalar(node)) {
      const v = node.value;
      if (typeof v === "bigint") {
        // Exact either way: a safe integer as a number, anything larger as its decimal text.
        const n = Number(v);
        return Number.isSafeInteger(n) ? n : v.toString();
      }
      return v;
    }
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (target === undefined) {
        this.errors.push({ node, message: `unknown alias *${node.source}` });
        return null;
      }
      return this.convert(target, depth + 1);
    }
    if (isSeq(node)) return node.items.map((item) => this.convert(item, depth + 1));
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const key = this.keyText(pair.key);
        if (key === undefined) {
          this.errors.push({ node: pair.key as YamlNode, message: "a key must be plain text" });
          continue;
        }
        // defineProperty: "__proto__" is then an ordinary (unknown) key, not a prototype.
        Object.defineProperty(out, key, {
          value: this.convert(pair.value, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    return null;
  }
}

interface Located {
  /** The node the path ends at (or the deepest one that exists). */
  readonly node: YamlNode | null;
  /** The key node of the last segment, when the path ends in a mapping entry. */
  readonly key: YamlNode | null;
  readonly found: boolean;
}

function locate(doc: YamlDocument.Parsed, conv: Converter, path: readonly PathSeg[]): Located {
  let node = doc.contents as YamlNode | null;
  let key: YamlNode | null = null;
  for (const seg of path) {
    let target: unknown = node;
    for (let hops = 0; isAlias(target) && hops < 16; hops++) target = target.resolve(doc);
    if (isMap(target)) {
      const pair = target.items.find((p) => conv.keyText(p.key) === String(seg));
      if (!pair) return { node, key: null, found: false };
      key = pair.key as YamlNode;
      // `key:` with nothing after it: point at the key.
      node = (pair.value as YamlNode | null) ?? key;
    } else if (isSeq(target) && typeof seg === "number") {
      const item = target.items[seg] as YamlNode | undefined;
      if (item === undefined) return { node, key: null, found: false };
      key = null;
      node = item;
    } else return { node, key: null, found: false };
  }
  return { node, key, found: true };
}

/** The value as the author wrote it: text quoted, numbers as written, collections by kind. */
function shown(node: YamlNode | null): string | undefined {
  if (node === null) return undefined;
  if (isScalar(node)) {
    if (typeof node.value === "string") return JSON.stringify(node.value);
    if (node.source !== undefined && node.source !== "") return node.source;
    return node.value === null ? "nothing" : String(node.value);
  }
  if (isAlias(node)) return `*${node.source}`;
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  return undefined;
}

function offsetOf(node: YamlNode | null): number {
  return node?.range?.[0] ?? 0;
}

interface Positioned extends ScenarioError {
  readonly offset: number;
}

function byPosition(a: Positioned, b: Positioned): number {
  return a.offset - b.offset;
}

function finish(errors: Positioned[]): ScenarioError[] {
  errors.sort(byPosition);
  const seen = new Set<string>();
  const out: ScenarioError[] = [];
  for (const { offset: _offset, ...e } of errors) {
    const k = formatScenarioError(e);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(e);
  }
  return out;
}

/**
 * The issues worth reporting under a union: when exactly one branch got past the type
 * check (the value had the right shape for it), its inner issues say what is wrong.
 */
function unionBranch(issue: z.core.$ZodIssueInvalidUnion): z.core.$ZodIssue[] | undefined {
  const deep = issue.errors.filter(
    (branch) => !branch.every((i) => i.code === "invalid_type" && i.path.length === 0),
  );
  return deep.length === 1 ? deep[0] : undefined;
}

/** Parse and validate a scenario. `file` is only used to name positions. */
export function loadScenario(text: string, file: string): Result<Scenario, ScenarioError[]> {
  const lc = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lc,
    version: "1.2",
    schema: "core",
    intAsBigInt: true,
    prettyErrors: false,
    uniqueKeys: true,
  });
  const pos = (offset: number): SourcePos => {
    const p = lc.linePos(offset);
    return { line: Math.max(1, p.line), col: Math.max(1, p.col) };
  };
  const at = (offset: number, path: string, message: string, got?: string): Positioned => ({
    file,
    ...pos(offset),
    path,
    message,
    ...(got !== undefined ? { got } : {}),
    offset,
  });

  // YAML problems first: with broken syntax the structure below is guesswork.
  const yamlProblems = [...doc.errors, ...doc.warnings];
  if (yamlProblems.length > 0)
    return err(finish(yamlProblems.map((e) => at(e.pos[0], "", yamlMessage(e.code, e.message)))));

  if (doc.contents === null)
    return err([
      {
        file,
        line: 1,
        col: 1,
        path: "",
        message: "the file is empty: a scenario needs at least name and guest",
      },
    ]);

  const conv = new Converter(doc);
  const data = conv.convert(doc.contents, 0);
  if (conv.errors.length > 0)
    return err(finish(conv.errors.map((e) => at(offsetOf(e.node), "", e.message))));

  // Which keys each strict object knows, by the object zod was looking at (unknown keys).
  const knownKeys = new WeakMap<object, readonly string[]>();
  const parsed = scenarioSchema.safeParse(data, {
    reportInput: true,
    error: (iss) => {
      if (iss.code === "unrecognized_keys" && typeof iss.input === "object" && iss.input !== null)
        knownKeys.set(iss.input, objectKeys(iss.inst));
      return scenarioIssueMessage(iss);
    },
  });
  if (parsed.success) {
    const s = parsed.data;
    return ok({
      file,
      name: s.name,
      ...(s.description !== undefined ? { description: s.description } : {}),
      machine: s.machine,
      guest: s.guest.map((step, i) => ({
        ...step,
        at: pos(offsetOf(locate(doc, conv, ["guest", i]).node)),
      })),
    });
  }

  const errors: Positioned[] = [];
  const report = (issue: z.core.$ZodIssue, prefix: readonly PathSeg[]): void => {
    const path = [...prefix, ...(issue.path as PathSeg[])];
    if (issue.code === "invalid_union") {
      const inner = unionBranch(issue);
      if (inner) {
        for (const i of inner) report(i, path);
        return;
      }
    }
    if (issue.code === "unrecognized_keys") {
      const known =
        (typeof issue.input === "object" && issue.input !== null
          ? knownKeys.get(issue.input)
          : undefined) ?? [];
      const what =
        path.at(-1) === "probability"
          ? "unknown fault site, see cmdqv explore --list-sites"
          : "unknown key";
      for (const key of issue.keys) {
        const where = locate(doc, conv, [...path, key]);
        const guess = closest(key, known);
        const hint = guess
          ? `; did you mean "${guess}"?`
          : known.length > 0 && known.length <= 8
            ? ` (expected ${known.join(", ")})`
            : "";
        errors.push(
          at(offsetOf(where.key ?? where.node), formatPath([...path, key]), `${what}${hint}`),
        );
      }
      return;
    }
    const where = locate(doc, conv, path);
    const isRoot = path.length === 0;
    let message = isRoot && issue.code === "invalid_type" ? rootMessage(issue) : issue.message;
    // `- boot` instead of `- boot: {}`: say how to write it.
    const v = where.found && isScalar(where.node) ? where.node.value : undefined;
    if (
      path.length === 2 &&
      path[0] === "guest" &&
      issue.code === "invalid_type" &&
      typeof v === "string" &&
      (STEP_KINDS as readonly string[]).includes(v)
    )
      message = `a step is a mapping: write "${v}: {}"`;
    errors.push(
      at(
        offsetOf(where.node),
        formatPath(path),
        message,
        where.found && issue.message !== MISSING ? shown(where.node) : undefined,
      ),
    );
  };
  // A whole-object complaint ("a step is one of …") next to an unknown key at the same
  // place only repeats it: the unknown key is the mistake.
  const unknownAt = new Set(
    parsed.error.issues
      .filter((i) => i.code === "unrecognized_keys")
      .map((i) => formatPath(i.path as PathSeg[])),
  );
  for (const issue of parsed.error.issues) {
    if (issue.code === "custom" && unknownAt.has(formatPath(issue.path as PathSeg[]))) continue;
    report(issue, []);
  }
  return err(finish(errors));
}

function rootMessage(issue: z.core.$ZodIssue): string {
  return issue.code === "invalid_type" && issue.expected === "object"
    ? "a scenario is a mapping (name:, guest:, …) at the top level"
    : issue.message;
}

/** yaml's messages, made to read as one line (some carry advice about its API). */
function yamlMessage(code: string, message: string): string {
  switch (code) {
    case "MULTIPLE_DOCS":
      return "more than one YAML document: a scenario file holds one";
    case "DUPLICATE_KEY":
      return "duplicate key: each key may appear once in a mapping";
    case "TAB_AS_INDENT":
      return "tabs are not allowed as indentation in YAML: use spaces";
    default: {
      const line = message.split("\n")[0] ?? message;
      return `YAML: ${line.charAt(0).toLowerCase()}${line.slice(1)}`;
    }
  }
}
