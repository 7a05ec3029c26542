// Every cmdqv command that README.md and docs/ give (in code blocks and code spans,
// starting with `cmdqv`, `npx cmdqv` or `node bin/cmdqv.js`) parses with the real CLI: the
// subcommand exists, each flag exists for it (as `cmdqv SUB --help` lists it), values pass
// the flag's own parser where that is cheap (integers, sizes, profiles, fault sites, masks,
// built-in diff scripts), and repository files it names exist. Placeholders (FILE, N,
// `[--queues 1|2]`) are read as a synopsis. The cheap ones (--help, --list-sites, --list,
// --masks, --version) are run and must succeed. And the `cmdqv` command itself is
// reachable as README.md says: `npx cmdqv` after `npm ci`, or a bare `cmdqv` after
// `npm link`.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseIntFlag, parseRamPage, parseSizeFlag } from "../src/cli/options.js";
import { builtinScripts, selectScripts } from "../src/differential/catalog.js";
import { MASKS } from "../src/differential/masks.js";
import { FAULT_SITES } from "../src/host/faults.js";
import { CMDQV_COMMAND } from "../src/util/shell.js";
import { PROFILE_NAMES } from "../src/vmm/tegra241-cmdqv/profile.js";
import { codeSpans, exists, fencedBlocks, markdownDocs, ROOT, read } from "./docs-kit.js";

export interface DocCommand {
  readonly where: string;
  /** The command as written, after its `cmdqv` prefix. */
  readonly args: readonly string[];
  /** Files fed to it with `<`. */
  readonly stdin: readonly string[];
  /** Named in a code span: a reference in prose, which may stop before a flag's value. */
  readonly span: boolean;
}

/** Split at `&&`, `||`, `;` and `|` outside quotes, parentheses and synopsis brackets. */
function segments(line: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = "";
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? "";
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "(" || c === "[") depth++;
    else if (c === ")" || c === "]") depth = Math.max(0, depth - 1);
    else if (depth === 0 && (c === ";" || c === "|" || (c === "&" && line[i + 1] === "&"))) {
      out.push(line.slice(start, i));
      if (line[i + 1] === c) i++;
      start = i + 1;
    }
  }
  out.push(line.slice(start));
  return out.map((s) => s.trim()).filter((s) => s !== "");
}

/** Shell words, quotes removed. */
function words(s: string): string[] {
  return [...s.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? "");
}

/** A shell comment (` # …` outside quotes) cut off. */
function uncomment(line: string): string {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? "";
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1] ?? ""))) return line.slice(0, i);
  }
  return line;
}

const PREFIXES: readonly (readonly string[])[] = [
  ["npx", "cmdqv"],
  ["cmdqv"],
  ["node", "bin/cmdqv.js"],
];

/** The cmdqv commands of one line of shell, as the docs write them. */
export function commandsIn(line: string, where: string, span = false): DocCommand[] {
  const out: DocCommand[] = [];
  for (let seg of segments(uncomment(line.replace(/^\s*\$\s+/, "")))) {
    const stdin: string[] = [];
    seg = seg
      .replace(/(?:^|\s)<\s*<\([^)]*\)/g, " ")
      .replace(/(?:^|\s)(\d?>>?|<)\s*(&\d|\S+)/g, (_, op: string, target: string) => {
        if (op === "<") stdin.push(target);
        return " ";
      });
    const w = words(seg);
    while (w.length > 0 && /^[A-Z_][A-Z0-9_]*=/.test(w[0] ?? "")) w.shift();
    const prefix = PREFIXES.find((p) => p.every((x, i) => w[i] === x));
    // `cmdqv run: cut short` is a message, `cmdqv …` a command left open.
    const first = w[prefix?.length ?? 0] ?? "";
    if (!prefix || first === "" || first.endsWith(":") || placeholder(first)) continue;
    out.push({ where, args: w.slice(prefix.length), stdin, span });
  }
  return out;
}

/** Blocks of shell; in any other block only `$ ` lines are commands (the rest is output). */
const SHELL = new Set(["sh", "bash", "shell", "console", "zsh"]);

/** Every cmdqv command of a Markdown file: code block lines (with `\` continuations) and code spans. */
export function docCommands(file: string, md: string): DocCommand[] {
  const out: DocCommand[] = [];
  for (const b of fencedBlocks(md)) {
    let pending = "";
    b.lines.forEach((raw, k) => {
      const line = pending + raw;
      if (/\\\s*$/.test(raw)) {
        pending = line.replace(/\\\s*$/, " ");
        return;
      }
      pending = "";
      if (SHELL.has(b.lang) || /^\s*\$\s/.test(line))
        out.push(...commandsIn(line, `${file}:${b.line + k}`));
    });
  }
  for (const s of codeSpans(md)) out.push(...commandsIn(s.text, `${file}:${s.line}`, true));
  return out;
}

interface OptionSpec {
  readonly long: string;
  readonly value: "none" | "required" | "optional";
  description: string;
}

interface CommandSpec {
  readonly options: Map<string, OptionSpec>;
  readonly args: readonly { readonly required: boolean; readonly variadic: boolean }[];
}

/** A command's options and arguments, from the help commander prints for it. */
export function parseHelp(help: string): CommandSpec {
  const options = new Map<string, OptionSpec>();
  let section = "";
  let last: OptionSpec | undefined;
  const usage = /^Usage: \S+(?: [\w-]+)? ?(.*)$/m.exec(help)?.[1] ?? "";
  const args = [...usage.matchAll(/[<[]([\w-]+)(\.\.\.)?[>\]]/g)]
    .filter((m) => m[1] !== "options" && m[1] !== "command")
    .map((m) => ({ required: m[0].startsWith("<"), variadic: m[2] !== undefined }));
  for (const line of help.split("\n")) {
    if (/^\S.*:$/.test(line)) {
      section = line;
      last = undefined;
      continue;
    }
    if (section !== "Options:") continue;
    const m = /^ {2}(?:(-\w), )?(--[\w-]+)(?: ([<[])[^>\]]*[>\]])?\s*(.*)$/.exec(line);
    if (m?.[2]) {
      const value = m[3] === "<" ? "required" : m[3] === "[" ? "optional" : "none";
      last = { long: m[2], value, description: m[4] ?? "" };
      options.set(m[2], last);
      if (m[1]) options.set(m[1], last);
    } else if (last && /^ {3,}\S/.test(line)) last.description += ` ${line.trim()}`;
  }
  return { options, args };
}

/** The command names a program's help lists (`help` aside). */
function parseCommands(help: string): string[] {
  const at = help.indexOf("\nCommands:\n");
  if (at < 0) return [];
  return [...help.slice(at).matchAll(/^ {2}([\w-]+)/gm)]
    .map((m) => m[1] ?? "")
    .filter((c) => c !== "help");
}

interface Cli {
  readonly program: CommandSpec;
  readonly commands: ReadonlyMap<string, CommandSpec>;
}

function run(args: readonly string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, "bin/cmdqv.js"), ...args],
      { cwd: ROOT, timeout: 120_000, maxBuffer: 16 << 20, env: { ...process.env, NO_COLOR: "1" } },
      (err, stdout, stderr) => {
        const code = err && typeof err.code === "number" ? err.code : err ? 1 : 0;
        resolve({ status: code, stdout, stderr });
      },
    );
  });
}

let cliOnce: Promise<Cli> | undefined;

/** The CLI as its help describes it, read once per test run. */
function loadCli(): Promise<Cli> {
  cliOnce ??= readCli();
  return cliOnce;
}

async function readCli(): Promise<Cli> {
  const root = await run(["--help"]);
  assert.equal(root.status, 0, root.stderr);
  const names = parseCommands(root.stdout);
  const helps = await Promise.all(names.map((n) => run([n, "--help"])));
  const commands = new Map<string, CommandSpec>();
  names.forEach((n, i) => {
    const h = helps[i];
    assert.equal(h?.status, 0, `cmdqv ${n} --help: ${h?.stderr}`);
    commands.set(n, parseHelp(h?.stdout ?? ""));
  });
  return { program: parseHelp(root.stdout), commands };
}

/** A synopsis placeholder rather than a value: FILE, N, SITE[:N], <x>, an ellipsis. */
function placeholder(v: string): boolean {
  return /^[A-Z][A-Z0-9_]*(?:\[[^\]]*\])?$/.test(v) || /[…<>]|\.\.\./.test(v);
}

/** A path into this repository (its first part is a tracked file or folder), not the reader's own. */
function repoPath(p: string): boolean {
  const first = p.split("/")[0] ?? "";
  return first !== "" && !first.startsWith(".") && !first.startsWith("~") && exists(first);
}

const INTEGER_FLAGS = new Set([
  "--depth",
  "--invalidations",
  "--queues",
  "--max-paths",
  "--runs",
  "--seed",
  "--jobs",
  "--vcmdqs",
  "--vcpus",
  "--context",
]);
/** Flags whose values are words the flag's help lists. */
const WORD_FLAGS = new Set(["--mode", "--vmm", "--layout", "--cmdqv", "--extras", "--profile"]);

/** Whether `v` is one of the words a help text lists. */
function listed(description: string, v: string): boolean {
  return description.split(/[\s,:;|()"'[\]]+/).includes(v);
}

/** Why a flag's value is refused, or undefined. Cheap checks only; unknown flags pass. */
function valueProblem(o: OptionSpec, v: string): string | undefined {
  if (placeholder(v)) return undefined;
  if (v.includes("|")) {
    for (const alt of v.split("|")) {
      const p = valueProblem(o, alt);
      if (p) return p;
    }
    return undefined;
  }
  const flag = o.long;
  try {
    if (INTEGER_FLAGS.has(flag)) parseIntFlag(flag, v, 0, Number.MAX_SAFE_INTEGER);
    else if (flag === "--ram-size") parseSizeFlag(flag, v, 2 ** 52);
    else if (flag === "--ram-page") parseRamPage(v);
  } catch (e) {
    return (e as Error).message;
  }
  if (
    flag === "--profile" &&
    !(PROFILE_NAMES as readonly string[]).includes(v) &&
    !listed(o.description, v)
  )
    return `${flag}: "${v}" is no profile`;
  if (WORD_FLAGS.has(flag) && flag !== "--profile")
    for (const item of flag === "--extras" ? v.split(",") : [v])
      if (!listed(o.description, item)) return `${flag}: "${item}" is not among: ${o.description}`;
  const sites = FAULT_SITES as readonly string[];
  // Site names have a colon of their own ("hw_queue_alloc:obj_alloc"); only a trailing
  // ":N" is the count, as the CLI reads it.
  if (flag === "--fault" && !sites.includes(v.replace(/:\d+$/, "")))
    return `${flag}: no fault site "${v}"`;
  if (flag === "--fault-sites")
    for (const s of v.split(","))
      if (!placeholder(s) && !sites.includes(s)) return `${flag}: no fault site "${s}"`;
  if (flag === "--unmask" && !MASKS.some((m) => m.name === v)) return `${flag}: no mask "${v}"`;
  if (flag === "--replay" && repoPath(v) && !exists(v)) return `${flag}: no file ${v}`;
  return undefined;
}

const CHEAP = new Set(["--help", "-h", "--list-sites", "--list", "--masks", "--version"]);

/** The words of a synopsis with its brackets dropped: `[--queues 1|2]` is `--queues 1|2`. */
function unbracket(args: readonly string[]): { words: string[]; synopsis: boolean } {
  let depth = 0;
  let synopsis = false;
  const out = args.map((a) => {
    let w = a;
    while (w.startsWith("[")) {
      w = w.slice(1);
      depth++;
      synopsis = true;
    }
    while (depth > 0 && w.endsWith("]")) {
      w = w.slice(0, -1);
      depth--;
    }
    return w;
  });
  return { words: out, synopsis };
}

/** Why the CLI would refuse a documented command, or undefined; and whether it is cheap to run. */
export function check(cli: Cli, c: DocCommand): { problem?: string; cheap: boolean } {
  const { words: args, synopsis } = unbracket(c.args);
  let cheap = false;
  let positional = 0;
  let sub: string | undefined;
  let spec = cli.program;
  const problems: string[] = [];
  for (const f of c.stdin) if (repoPath(f) && !exists(f)) problems.push(`< ${f}: no such file`);
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    if (a === "--") break;
    if (a.startsWith("-")) {
      const [name = a, inline] = a.split("=", 2);
      const o = spec.options.get(name);
      if (!o) {
        problems.push(`${name} is no flag of cmdqv${sub ? ` ${sub}` : ""}`);
        continue;
      }
      if (CHEAP.has(o.long)) cheap = true;
      let value = inline;
      const next = args[i + 1];
      if (value === undefined && o.value === "required") {
        value = next;
        i++;
      } else if (
        value === undefined &&
        o.value === "optional" &&
        next !== undefined &&
        !next.startsWith("-")
      ) {
        value = next;
        i++;
      }
      if (value === undefined && o.value === "required" && !c.span)
        problems.push(`${name} needs a value`);
      const p = value === undefined ? undefined : valueProblem(o, value);
      if (p) problems.push(p);
      continue;
    }
    if (sub === undefined) {
      const s = cli.commands.get(a);
      if (!s) {
        problems.push(`"${a}" is no cmdqv command`);
        break;
      }
      sub = a;
      spec = s;
      continue;
    }
    const decl = spec.args[Math.min(positional, spec.args.length - 1)];
    if (!decl || (positional >= spec.args.length && !decl.variadic))
      problems.push(`cmdqv ${sub} takes no argument "${a}"`);
    positional++;
    if (placeholder(a)) continue;
    if (sub === "run" && repoPath(a) && !exists(a)) problems.push(`no scenario file ${a}`);
    if (sub === "diff" && !exists(a) && (repoPath(a) || !/\.(?:qtest|ya?ml)$/.test(a)))
      if (selectScripts(builtinScripts(), a).length === 0)
        problems.push(`"${a}" is neither a file nor a built-in script`);
  }
  if (problems.length > 0) return { problem: problems.join("; "), cheap: false };
  return { cheap: cheap && !synopsis && !args.some(placeholder) };
}

const COMMANDS = markdownDocs().flatMap((f) => docCommands(f, read(f)));

describe("cmdqv commands in README.md and docs/", () => {
  it("are found in code blocks and code spans", () => {
    assert.ok(COMMANDS.length > 40, `only ${COMMANDS.length} found`);
    const readme = COMMANDS.filter((c) => c.where.startsWith("README.md:"));
    assert.deepEqual(readme[0]?.args, ["run"], "the README's first command runs the main job");
  });

  it("parse with the real CLI's commands, flags and value parsers, and the cheap ones run", async () => {
    const cli = await loadCli();
    assert.ok(cli.commands.has("run") && cli.commands.get("explore")?.options.has("--list-sites"));
    const bad: string[] = [];
    const cheap = new Map<string, string>();
    for (const c of COMMANDS) {
      const r = check(cli, c);
      if (r.problem) bad.push(`${c.where}: cmdqv ${c.args.join(" ")}: ${r.problem}`);
      else if (r.cheap) cheap.set(c.args.join("\u0000"), c.where);
    }
    assert.deepEqual(bad, []);
    assert.ok(cheap.size > 0, "some documented commands are cheap enough to run");
    const ran = await Promise.all(
      [...cheap].map(async ([key, where]) => ({ where, key, r: await run(key.split("\u0000")) })),
    );
    for (const { where, key, r } of ran)
      assert.ok(
        r.status === 0 && r.stdout.trim() !== "",
        `${where}: cmdqv ${key.replaceAll("\u0000", " ")} exited ${r.status}: ${r.stderr}`,
      );
  });

  it("would catch an unknown command, flag or value", async () => {
    const cli = await loadCli();
    const problem = (line: string) =>
      check(cli, commandsIn(line, "t")[0] ?? { where: "", args: [], stdin: [], span: false })
        .problem;
    assert.equal(problem("npx cmdqv explore --profile qemu-v5 --queues 1"), undefined);
    assert.equal(
      problem("npx cmdqv explore --vmm qemu [--queues 1|2] [--fault-sites LIST]"),
      undefined,
    );
    assert.match(problem("npx cmdqv explorer") ?? "", /no cmdqv command/);
    assert.match(problem("npx cmdqv run --profiles qemu-v5") ?? "", /no flag of cmdqv run/);
    assert.match(problem("npx cmdqv run --profile qemu-v9") ?? "", /no profile/);
    assert.match(problem("cmdqv explore --queues two") ?? "", /--queues/);
    assert.match(problem("cmdqv qtest --ram-page 3K") ?? "", /--ram-page/);
    assert.match(problem("cmdqv run --replay docs/findings/nothing.json") ?? "", /no file/);
    assert.match(problem("cmdqv diff 'gatez/**'") ?? "", /neither a file nor a built-in script/);
    assert.match(problem("cmdqv qtest --vmm qemu --fault nowhere:2") ?? "", /no fault site/);
  });
});

describe("the cmdqv command", () => {
  it("runs from a fresh clone as `npx cmdqv` after `npm ci`: a bin with no build step", () => {
    const pkg = JSON.parse(read("package.json")) as {
      bin: Record<string, string>;
      dependencies: Record<string, string>;
    };
    const bin = pkg.bin["cmdqv"] ?? "";
    assert.equal(bin, "bin/cmdqv.js");
    assert.ok(read(bin).startsWith("#!/usr/bin/env node\n"));
    assert.ok((statSync(join(ROOT, bin)).mode & 0o111) !== 0, `${bin} is executable`);
    // The bin runs the TypeScript sources through tsx, so tsx must come with `npm ci --omit=dev` too.
    assert.match(read(bin), /from "tsx\//);
    assert.ok(pkg.dependencies["tsx"], "tsx is a runtime dependency");
  });

  it("is printed as npx cmdqv in cmdqv's own output, and README.md says how to get the bare command", () => {
    // src/cli/printed-commands.test.ts runs such a printed line verbatim.
    assert.equal(CMDQV_COMMAND, "npx cmdqv");
    const readme = read("README.md");
    const firstScreen = readme.split("\n").slice(0, 30).join("\n");
    assert.match(firstScreen, /npm ci && npx cmdqv run\b/);
    assert.match(firstScreen, /npm ci && npm test\b/);
    assert.match(firstScreen, /`npm link`/);
  });

  it("has every `npm run` script the docs name in package.json", () => {
    const scripts = Object.keys((JSON.parse(read("package.json")) as { scripts: object }).scripts);
    const bad: string[] = [];
    for (const f of markdownDocs())
      for (const b of [
        ...fencedBlocks(read(f)).flatMap((x) => x.lines),
        ...codeSpans(read(f)).map((s) => s.text),
      ])
        for (const m of b.matchAll(/\bnpm run ([\w:-]+)/g))
          if (!scripts.includes(m[1] ?? "")) bad.push(`${f}: npm run ${m[1]}`);
    assert.deepEqual(bad, []);
  });
});
