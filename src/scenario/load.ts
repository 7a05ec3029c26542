// Loading a scenario file: YAML 1.2 (core schema) → plain data → the zod schema, with every
// problem reported at once as `file:line:col: path: message (got value)`. Bad input never
// throws: a scenario is user input, and one clear line per mistake is the whole interface.
//
// The YAML document is converted to plain data by our own walk rather than yaml's toJS,
// for three reasons: integers stay exact (they are read as bigint, and the ones beyond
// 2^53 reach the schema as decimal text), keys such as `__proto__` stay ordinary keys, and
// alias expansion is bounded (a "billion laughs" file is an error, not an out-of-memory).
// The same document gives each error its position and the text the author wrote.
//
// Hostile files are refused quickly and in one line each: the file's size, its YAML nodes
// and its nesting are capped before anything costs more than a pass over the text (the
// parser's stack is watched as it goes, so a deep file never reaches yaml's recursive
// composer), every lookup below is by index rather than by search, and at most
// SCENARIO_LIMITS.errors problems are reported, the rest counted.

import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import {
  Composer,
  type CST,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  Parser,
  type Alias as YamlAlias,
  type Document as YamlDocument,
  type YAMLMap as YamlMap,
  type Node as YamlNode,
  type Pair as YamlPair,
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
import { clip, closest, MISSING, quoted, SHOWN_CHARS } from "./schema-scalars.js";

/** What a scenario file may hold (docs/scenarios.md, "Limits"). */
export const SCENARIO_LIMITS = {
  /** Bytes of the file: 300 times the largest example (registers.yaml, 3.5 KB). */
  fileBytes: 1024 * 1024,
  /** YAML nodes as written (mappings, lists, scalars, aliases): registers.yaml has 227. */
  nodes: 50_000,
  /** Nodes once aliases are expanded. */
  expandedNodes: 200_000,
  /** Levels of nesting of mappings and lists (an alias nests what it names). */
  depth: 64,
  /** Problems reported; the ones after are counted in one last line. */
  errors: 20,
} as const;

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
  return oneLine(`${where}: ${path}${e.message}${got}`);
}

/**
 * An error is one line whatever it quotes: control characters (a `\r` inside a token yaml
 * could not read, found by fuzz/files.ts) and line separators are shown escaped.
 */
function oneLine(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    const control = c < 0x20 || c === 0x7f || c === 0x2028 || c === 0x2029;
    out += control ? `\\u${c.toString(16).padStart(4, "0")}` : ch;
  }
  return out;
}

function mib(bytes: number): string {
  return `${bytes / (1024 * 1024)} MiB`;
}

/** The file's size error: `size` when known (a regular file), else "more than the limit". */
function tooBig(file: string, size: number | undefined): ScenarioError {
  const max = SCENARIO_LIMITS.fileBytes;
  const what = size !== undefined ? `${size} bytes` : `more than ${max} bytes`;
  return {
    file,
    line: 1,
    col: 1,
    path: "",
    message: `the file is too large (${what}): a scenario file is at most ${mib(max)} (${max} bytes)`,
  };
}

/**
 * The bytes of a file of at most `max` bytes, or the file's size when it is larger
 * (undefined when a pipe or a device goes past `max`: it may never end, so reading stops).
 */
function readAtMost(path: string, max: number): Buffer | { readonly tooBig: number | undefined } {
  const fd = openSync(path, "r");
  try {
    const st = fstatSync(fd);
    if (st.isFile() && st.size > max) return { tooBig: st.size };
    const chunks: Buffer[] = [];
    let total = 0;
    const chunk = Buffer.alloc(64 * 1024);
    while (total <= max) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(Buffer.from(chunk.subarray(0, n)));
      total += n;
    }
    // A regular file that grew while it was read is still refused with a size.
    if (total > max) return { tooBig: st.isFile() ? total : undefined };
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

/**
 * Offset of the first byte that does not belong to well-formed UTF-8 (the rules of
 * TextDecoder's fatal mode: no overlong forms, no surrogates, nothing above U+10FFFF),
 * or -1 when all of it does.
 */
export function firstNonUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const more =
      c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (more === 0) return i;
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    const second = b[i + 1];
    if (second === undefined || second < lo || second > hi) return i;
    for (let k = 2; k <= more; k++) {
      const next = b[i + k];
      if (next === undefined || next < 0x80 || next > 0xbf) return i;
    }
    i += more + 1;
  }
  return -1;
}

/** 1-based line and column (in characters) of `offset` in `text`. */
function lineColIn(text: string, offset: number): SourcePos {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, col: offset - start + 1 };
}

/** A file's bytes as scenario text, or the one error that says why they are not. */
export function decodeScenarioBytes(
  bytes: Uint8Array,
  file: string,
): Result<string, ScenarioError> {
  const at = (line: number, col: number, message: string): ScenarioError => ({
    file,
    line,
    col,
    path: "",
    message,
  });
  if (bytes.length > SCENARIO_LIMITS.fileBytes) return err(tooBig(file, bytes.length));
  const [b0, b1, b2, b3] = bytes;
  if (
    (b0 === 0xff && b1 === 0xfe && b2 === 0 && b3 === 0) ||
    (b0 === 0 && b1 === 0 && b2 === 0xfe && b3 === 0xff)
  )
    return err(at(1, 1, "UTF-32 byte order mark: save the file as UTF-8"));
  if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0xfe && b1 === 0xff))
    return err(at(1, 1, "UTF-16 byte order mark: save the file as UTF-8"));
  const bad = firstNonUtf8(bytes);
  if (bad >= 0) {
    const before = Buffer.from(bytes.buffer, bytes.byteOffset, bad).toString("utf8");
    const p = lineColIn(before, before.length);
    const byte = bytes[bad]!.toString(16).padStart(2, "0");
    return err(
      at(
        p.line,
        p.col,
        `not UTF-8: byte 0x${byte} cannot be read as text here (save the file as UTF-8)`,
      ),
    );
  }
  return ok(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8"));
}

/** Read and load a scenario file. */
export function loadScenarioFile(path: string): Result<Scenario, ScenarioError[]> {
  let read: ReturnType<typeof readAtMost>;
  try {
    read = readAtMost(path, SCENARIO_LIMITS.fileBytes);
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
  if (!Buffer.isBuffer(read)) return err([tooBig(path, read.tooBig)]);
  const text = decodeScenarioBytes(read, path);
  if (!text.ok) return err([text.error]);
  return loadScenario(text.value, path);
}

type PathSeg = string | number;

/** How a path is printed: `guest[2].write.addr`, `faults.probability["hw_queue_alloc:pin"]`. */
export function formatPath(path: readonly PathSeg[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg) && seg.length <= SHOWN_CHARS)
      out += out === "" ? seg : `.${seg}`;
    else out += `[${quoted(seg)}]`;
  }
  return out;
}

/** A map key as text; collection keys are not scenario keys. */
function keyText(key: unknown): string | undefined {
  if (key === null || key === undefined) return "";
  if (isScalar(key)) {
    const v = key.value;
    if (typeof v === "string") return v;
    return key.source ?? String(v);
  }
  return undefined;
}

/** 1 + the largest parser stack a file within SCENARIO_LIMITS.depth can need, with room. */
const PARSER_STACK_MAX = SCENARIO_LIMITS.depth + 8;

/**
 * The file's CST, or the offset where its nesting goes past the limit. yaml's parser keeps
 * its own stack (one entry per open collection), so it is watched after every token: a
 * file nested a thousand deep stops here, before yaml's recursive composer could run out
 * of call stack on it.
 */
function parseTokens(text: string, lc: LineCounter): Result<CST.Token[], number> {
  const parser = new Parser(lc.addNewLine);
  const tokens: CST.Token[] = [];
  lc.addNewLine(0); // as Parser.parse does before the first token
  for (const lexeme of new Lexer().lex(text)) {
    for (const t of parser.next(lexeme)) tokens.push(t);
    if (parser.stack.length > PARSER_STACK_MAX) return err(parser.offset);
  }
  for (const t of parser.end()) tokens.push(t);
  return ok(tokens);
}

/** What one pass over the composed document finds, in document order. */
interface DocumentIndex {
  /** The node each alias names: the last anchor of that name before it. */
  readonly aliasTarget: ReadonlyMap<YamlAlias, YamlNode>;
  /** Keys that repeat an earlier key of the same mapping. */
  readonly duplicates: readonly YamlNode[];
  /** The first node past SCENARIO_LIMITS.nodes, when there are more. */
  readonly pastLimit: YamlNode | null;
}

/**
 * Anchors, duplicate keys and the node count, in one walk (yaml's own duplicate-key check
 * compares each key with every earlier one, and its alias lookup walks the document per
 * alias: both quadratic, so both are done here instead). The walk stops counting at the
 * limit; the parser has already bounded the depth, so recursion is safe.
 */
function indexDocument(doc: YamlDocument.Parsed): DocumentIndex {
  const anchors = new Map<string, YamlNode>();
  const aliasTarget = new Map<YamlAlias, YamlNode>();
  const duplicates: YamlNode[] = [];
  let count = 0;
  let pastLimit: YamlNode | null = null;
  const visit = (node: unknown): void => {
    if (pastLimit !== null || node === null || node === undefined) return;
    if (++count > SCENARIO_LIMITS.nodes) {
      pastLimit = node as YamlNode;
      return;
    }
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target !== undefined) aliasTarget.set(node, target);
      return;
    }
    if (isScalar(node) || isMap(node) || isSeq(node)) {
      // Set before the children: an alias inside its own anchor names it (as yaml does).
      if (node.anchor) anchors.set(node.anchor, node);
    }
    if (isSeq(node)) for (const item of node.items) visit(item);
    else if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        visit(pair.key);
        const k = keyText(pair.key);
        if (k !== undefined) {
          if (seen.has(k)) duplicates.push((pair.key as YamlNode | null) ?? node);
          else seen.add(k);
        }
        visit(pair.value);
      }
    }
  };
  visit(doc.contents);
  return { aliasTarget, duplicates, pastLimit };
}

class Converter {
  private nodes = 0;
  private tooDeep = false;
  private tooLarge = false;
  readonly errors: { node: YamlNode; message: string }[] = [];
  private readonly aliasTarget: ReadonlyMap<YamlAlias, YamlNode>;

  constructor(index: DocumentIndex) {
    this.aliasTarget = index.aliasTarget;
  }

  convert(node: unknown, depth: number): unknown {
    if (node === null || node === undefined) return null;
    // The document itself is within both limits (see indexDocument and parseTokens): only
    // aliases, each expanding what it names in place, can take the data past them.
    if (depth > SCENARIO_LIMITS.depth) {
      if (!this.tooDeep)
        this.errors.push({
          node: node as YamlNode,
          message: `nested more than ${SCENARIO_LIMITS.depth} levels deep`,
        });
      this.tooDeep = true;
      return null;
    }
    if (++this.nodes > SCENARIO_LIMITS.expandedNodes) {
      if (!this.tooLarge)
        this.errors.push({
          node: node as YamlNode,
          message: `too large once its aliases are expanded (more than ${SCENARIO_LIMITS.expandedNodes} nodes)`,
        });
      this.tooLarge = true;
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
      const target = this.aliasTarget.get(node);
      if (target === undefined) {
        this.errors.push({ node, message: `unknown alias *${clip(node.source)}` });
        return null;
      }
      return this.convert(target, depth + 1);
    }
    if (isSeq(node)) return node.items.map((item) => this.convert(item, depth + 1));
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const key = keyText(pair.key);
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

/** Finds the node at a scenario path; each mapping is indexed by key once, when first asked. */
class Locator {
  private readonly byKey = new WeakMap<YamlMap, Map<string, YamlPair>>();
  private readonly doc: YamlDocument.Parsed;
  private readonly aliasTarget: ReadonlyMap<YamlAlias, YamlNode>;

  constructor(doc: YamlDocument.Parsed, index: DocumentIndex) {
    this.doc = doc;
    this.aliasTarget = index.aliasTarget;
  }

  private pairs(map: YamlMap): Map<string, YamlPair> {
    let m = this.byKey.get(map);
    if (m === undefined) {
      m = new Map();
      for (const p of map.items as YamlPair[]) {
        const k = keyText(p.key);
        if (k !== undefined && !m.has(k)) m.set(k, p);
      }
      this.byKey.set(map, m);
    }
    return m;
  }

  locate(path: readonly PathSeg[]): Located {
    let node = this.doc.contents as YamlNode | null;
    let key: YamlNode | null = null;
    for (const seg of path) {
      let target: unknown = node;
      for (let hops = 0; isAlias(target) && hops < 16; hops++)
        target = this.aliasTarget.get(target);
      if (isMap(target)) {
        const pair = this.pairs(target).get(String(seg));
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
}

/** The value as the author wrote it: text quoted, numbers as written, collections by kind. */
function shown(node: YamlNode | null): string | undefined {
  if (node === null) return undefined;
  if (isScalar(node)) {
    if (typeof node.value === "string") return quoted(node.value);
    if (node.source !== undefined && node.source !== "") return clip(node.source);
    return node.value === null ? "nothing" : clip(String(node.value));
  }
  if (isAlias(node)) return `*${clip(node.source)}`;
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

/**
 * The errors in file order, each once, at most SCENARIO_LIMITS.errors of them: a last line
 * at the first one left out counts the rest.
 */
function finish(errors: Positioned[]): ScenarioError[] {
  errors.sort(byPosition);
  const seen = new Set<string>();
  const out: ScenarioError[] = [];
  let more = 0;
  let firstLeftOut: ScenarioError | undefined;
  for (const { offset: _offset, ...e } of errors) {
    const k = formatScenarioError(e);
    if (seen.has(k)) continue;
    seen.add(k);
    if (out.length < SCENARIO_LIMITS.errors) out.push(e);
    else {
      firstLeftOut ??= e;
      more++;
    }
  }
  if (firstLeftOut !== undefined)
    out.push({
      file: firstLeftOut.file,
      line: firstLeftOut.line,
      col: firstLeftOut.col,
      path: "",
      message: `… and ${more} more ${more === 1 ? "problem" : "problems"} from here on (only the first ${SCENARIO_LIMITS.errors} are listed)`,
    });
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

/** A custom issue that asks for no `(got …)`: the value is a whole step, not the mistake. */
function omitsGot(issue: z.core.$ZodIssue): boolean {
  return issue.code === "custom" && issue.params?.omitGot === true;
}

/** Parse and validate a scenario. `file` is only used to name positions. */
export function loadScenario(text: string, file: string): Result<Scenario, ScenarioError[]> {
  const size = Buffer.byteLength(text, "utf8");
  if (size > SCENARIO_LIMITS.fileBytes) return err([tooBig(file, size)]);
  const nul = text.indexOf("\0");
  if (nul >= 0)
    return err([
      {
        file,
        ...lineColIn(text, nul),
        path: "",
        message:
          "a NUL character: a scenario is UTF-8 text (UTF-16 without a byte order mark? save the file as UTF-8)",
      },
    ]);

  const lc = new LineCounter();
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

  const tokens = parseTokens(text, lc);
  if (!tokens.ok)
    return err([at(tokens.error, "", `nested more than ${SCENARIO_LIMITS.depth} levels deep`)]);
  const composer = new Composer({
    version: "1.2",
    schema: "core",
    intAsBigInt: true,
    // Checked in indexDocument, in linear time.
    uniqueKeys: false,
  });
  let doc: YamlDocument.Parsed | undefined;
  const yamlProblems: Positioned[] = [];
  for (const d of composer.compose(tokens.value, true, text.length)) {
    if (doc === undefined) doc = d;
    else {
      yamlProblems.push(at(d.range[0], "", yamlMessage("MULTIPLE_DOCS", "")));
      break;
    }
  }
  const empty = {
    file,
    line: 1,
    col: 1,
    path: "",
    message: "the file is empty: a scenario needs at least name and guest",
  };
  if (doc === undefined) return err([empty]);

  // YAML problems first: with broken syntax the structure below is guesswork.
  for (const e of [...doc.errors, ...doc.warnings])
    yamlProblems.push(at(e.pos[0], "", yamlMessage(e.code, e.message)));
  if (yamlProblems.length > 0) return err(finish(yamlProblems));

  if (doc.contents === null) return err([empty]);

  const index = indexDocument(doc);
  if (index.pastLimit !== null)
    return err([
      at(
        offsetOf(index.pastLimit),
        "",
        `more than ${SCENARIO_LIMITS.nodes} YAML nodes (mappings, lists and values): a scenario file holds at most ${SCENARIO_LIMITS.nodes}`,
      ),
    ]);
  if (index.duplicates.length > 0)
    return err(
      finish(
        index.duplicates.map((k) =>
          at(offsetOf(k), "", "duplicate key: each key may appear once in a mapping"),
        ),
      ),
    );

  const conv = new Converter(index);
  const data = conv.convert(doc.contents, 0);
  if (conv.errors.length > 0)
    return err(finish(conv.errors.map((e) => at(offsetOf(e.node), "", e.message))));

  const loc = new Locator(doc, index);
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
        at: pos(offsetOf(loc.locate(["guest", i]).node)),
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
        const where = loc.locate([...path, key]);
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
    const where = loc.locate(path);
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
        where.found && issue.message !== MISSING && !omitsGot(issue)
          ? shown(where.node)
          : undefined,
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

/** yaml's messages, made to read as one short line (some carry advice about its API). */
function yamlMessage(code: string, message: string): string {
  switch (code) {
    case "MULTIPLE_DOCS":
      return "more than one YAML document: a scenario file holds one";
    case "DUPLICATE_KEY":
      return "duplicate key: each key may appear once in a mapping";
    case "TAB_AS_INDENT":
      return "tabs are not allowed as indentation in YAML: use spaces";
    default: {
      // Some messages quote the source ("Not a YAML token: …"): keep the line short.
      const line = clip(message.split("\n")[0] ?? message, 2 * SHOWN_CHARS);
      return `YAML: ${line.charAt(0).toLowerCase()}${line.slice(1)}`;
    }
  }
}
