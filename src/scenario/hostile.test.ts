// Hostile scenario files: each is refused quickly, in one line per problem with
// file:line:col, and never by running a program that cannot mean anything. The inputs are
// generated here (the big ones are megabytes: no fixtures).

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { MAX_WORKLOAD_INVALIDATIONS } from "../guest/workload.js";
import {
  firstNonUtf8,
  formatScenarioError,
  loadScenario,
  loadScenarioFile,
  SCENARIO_LIMITS,
  type ScenarioError,
} from "./load.js";
import { MAX_MIX_WEIGHT, type Scenario } from "./schema.js";
import { quoted, SHOWN_CHARS } from "./schema-scalars.js";

function load(text: string): Scenario {
  const r = loadScenario(text, "t.yaml");
  assert.ok(r.ok, r.ok ? "" : r.error.map(formatScenarioError).join("\n"));
  return r.value;
}

/** The formatted errors of a file that must not load, each checked for a position. */
function errors(text: string): string[] {
  return refused(loadScenario(text, "t.yaml"));
}

function refused(r: ReturnType<typeof loadScenario>): string[] {
  assert.ok(!r.ok, "expected the scenario to be refused");
  for (const e of r.error) assert.ok(e.line >= 1 && e.col >= 1, formatScenarioError(e));
  return r.error.map(formatScenarioError);
}

const dir = mkdtempSync(join(tmpdir(), "cmdqv-scen-hostile-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array | string): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const BOOTED = "name: t\nguest:\n  - boot: {}\n";
const NO_BOOT = "a workload needs the guest driver, so boot first (- boot: {})";

describe("a workload needs a booted guest", () => {
  it("refuses a workload step before any boot step, at that step", () => {
    assert.deepEqual(errors("name: t\nguest:\n  - workload: {invalidations: 100}\n"), [
      `t.yaml:3:15: guest[0].workload: no boot step before it: ${NO_BOOT}`,
    ]);
  });

  it("refuses a workload after a reset until the guest boots again", () => {
    assert.deepEqual(
      errors(`${BOOTED}  - reset: {}\n  - workload: {invalidations: 10}\n  - boot: {}\n`),
      [
        "t.yaml:5:15: guest[2].workload: the guest is reset before it and not booted again: boot after the reset (- boot: {})",
      ],
    );
    const s = load(`${BOOTED}  - reset: {}\n  - boot: {}\n  - workload: {invalidations: 10}\n`);
    assert.equal(s.guest[3]?.kind, "workload");
  });

  it("refuses each of the odd workloads that used to spin for a minute without a boot", () => {
    const noBoot = `t.yaml:3:15: guest[0].workload: no boot step before it: ${NO_BOOT}`;
    for (const [w, expected] of [
      // A value out of range is reported first: the order of steps is checked once every
      // value parses.
      [
        "{invalidations: 1e9}",
        `t.yaml:3:31: guest[0].workload.invalidations: must be from 0 to ${MAX_WORKLOAD_INVALIDATIONS} (got 1e9)`,
      ],
      ["{invalidations: '1_000'}", noBoot],
      ["{invalidations: 100, mix: {cfgi_cd: 1}}", noBoot],
      ["{invalidations: 100, mix: {tlbi_nh_all: 1}}", noBoot],
    ] as const)
      assert.deepEqual(errors(`name: t\nguest:\n  - workload: ${w}\n`), [expected], w);
  });
});

describe("a workload's values", () => {
  it(`refuses more than MAX_WORKLOAD_INVALIDATIONS (${MAX_WORKLOAD_INVALIDATIONS}) invalidations in one step, 1e9 included`, () => {
    assert.deepEqual(errors(`${BOOTED}  - workload: {invalidations: 1e9}\n`), [
      `t.yaml:4:31: guest[1].workload.invalidations: must be from 0 to ${MAX_WORKLOAD_INVALIDATIONS} (got 1e9)`,
    ]);
    assert.deepEqual(
      errors(`${BOOTED}  - workload: {invalidations: ${MAX_WORKLOAD_INVALIDATIONS + 1}}\n`),
      [
        `t.yaml:4:31: guest[1].workload.invalidations: must be from 0 to ${MAX_WORKLOAD_INVALIDATIONS} (got ${MAX_WORKLOAD_INVALIDATIONS + 1})`,
      ],
    );
    const s = load(`${BOOTED}  - workload: {invalidations: ${MAX_WORKLOAD_INVALIDATIONS}}\n`);
    assert.deepEqual(
      s.guest[1] && "invalidations" in s.guest[1] && s.guest[1].invalidations,
      MAX_WORKLOAD_INVALIDATIONS,
    );
  });

  it("refuses a program whose workloads together issue more than MAX_WORKLOAD_INVALIDATIONS", () => {
    const half = MAX_WORKLOAD_INVALIDATIONS / 2;
    const step = `  - workload: {invalidations: ${half}}\n`;
    load(`${BOOTED}${step}${step}`);
    assert.deepEqual(errors(`${BOOTED}${step}${step}${step}${step}`), [
      `t.yaml:6:31: guest[3].workload.invalidations: the guest program issues at most ${MAX_WORKLOAD_INVALIDATIONS} invalidations in all, and this step brings it to ${3 * half} (got ${half})`,
    ]);
  });

  it("reads invalidations written as text with _ between digits, as it does every number", () => {
    const s = load(
      `${BOOTED}  - workload: {invalidations: '1_000'}\n  - workload: {invalidations: 1_000}\n`,
    );
    for (const step of s.guest.slice(1))
      assert.equal(step.kind === "workload" && step.invalidations, 1000);
  });

  it("takes a mix of only the kinds that go to the trapped main CMDQ: they are documented kinds", () => {
    const s = load(
      `${BOOTED}  - workload: {invalidations: 10, mix: {cfgi_cd: 1}}\n  - workload: {invalidations: 10, mix: {tlbi_nh_all: 1}}\n`,
    );
    assert.deepEqual(
      s.guest.slice(1).map((st) => st.kind === "workload" && st.mix),
      [{ CFGI_CD: 1 }, { TLBI_NH_ALL: 1 }],
    );
  });

  it(`refuses a mix weight above MAX_MIX_WEIGHT (${MAX_MIX_WEIGHT})`, () => {
    assert.deepEqual(
      errors(`${BOOTED}  - workload: {invalidations: 10, mix: {atc_inv: 1000000}}\n`),
      [
        `t.yaml:4:50: guest[1].workload.mix.atc_inv: must be from 0 to ${MAX_MIX_WEIGHT} (got 1000000)`,
      ],
    );
  });
});

describe("a big file", () => {
  it("reports the first 20 of 20 000 unknown keys, then counts the rest, within seconds", {
    timeout: 15_000,
  }, () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `  unknown_key_${i}: 1\n`).join("");
    const errs = errors(`name: t\nmachine:\n${keys}guest:\n  - boot: {}\n`);
    assert.equal(errs.length, SCENARIO_LIMITS.errors + 1);
    assert.equal(
      errs[0],
      "t.yaml:3:3: machine.unknown_key_0: unknown key (expected profile, ram, vcmdqs, vcpus, seed, cmdqv, timing)",
    );
    assert.equal(
      errs.at(-1),
      "t.yaml:23:3: … and 19980 more problems from here on (only the first 20 are listed)",
    );
  });

  it("resolves 12 000 anchors and 12 000 aliases in one pass, within seconds", {
    timeout: 15_000,
  }, () => {
    const n = 12_000;
    const anchors = Array.from({ length: n }, (_, i) => `  k${i}: &a${i} ${i}\n`).join("");
    const aliases = Array.from({ length: n }, (_, i) => `  j${i}: *a${n - 1 - i}\n`).join("");
    const errs = errors(`name: t\nmachine:\n${anchors}${aliases}guest:\n  - boot: {}\n`);
    assert.equal(errs.length, SCENARIO_LIMITS.errors + 1);
    assert.match(errs.at(-1)!, /… and 23980 more problems/);
    // An alias names the last anchor of its name before it.
    const tail = "machine: { vcpus: *n }\nname: t\nguest: [boot: {}]\n";
    assert.deepEqual(errors(`x: &n 100\ny: &n 2\n${tail}`), [
      "t.yaml:1:1: x: unknown key (expected name, description, machine, faults, guest)",
      "t.yaml:2:1: y: unknown key (expected name, description, machine, faults, guest)",
    ]);
    assert.match(
      errors(`y: &n 2\nx: &n 100\n${tail}`)[2]!,
      /machine\.vcpus: must be from 1 to 64 \(got \*n\)/,
    );
  });

  it(`refuses a file over SCENARIO_LIMITS.fileBytes (${SCENARIO_LIMITS.fileBytes}) with its size`, () => {
    const text = `${BOOTED}# ${"x".repeat(SCENARIO_LIMITS.fileBytes)}\n`;
    const size = Buffer.byteLength(text);
    const msg = `the file is too large (${size} bytes): a scenario file is at most 1 MiB (1048576 bytes)`;
    assert.deepEqual(errors(text), [`t.yaml:1:1: ${msg}`]);
    const path = file("big.yaml", text);
    assert.deepEqual(refused(loadScenarioFile(path)), [`${path}:1:1: ${msg}`]);
  });

  it("reads no more than the limit of a file that never ends", { timeout: 15_000 }, () => {
    // A device (or a pipe) has no size to check first: reading stops past the limit.
    const path = existsSync("/dev/zero") ? "/dev/zero" : file("zero.yaml", new Uint8Array(2 << 20));
    assert.match(
      refused(loadScenarioFile(path))[0]!,
      /:1:1: the file is too large \((more than 1048576|2097152) bytes\): a scenario file is at most 1 MiB/,
    );
  });

  it(`refuses more than SCENARIO_LIMITS.nodes (${SCENARIO_LIMITS.nodes}) YAML nodes as such, not as an alias expansion`, () => {
    // 100 000 steps of `- boot:` (3 nodes each) in under 1 MiB.
    const text = `name: t\nguest:\n${"  - boot:\n".repeat(100_000)}`;
    assert.ok(Buffer.byteLength(text) < SCENARIO_LIMITS.fileBytes);
    const errs = errors(text);
    assert.deepEqual(errs, [
      `t.yaml:16668:5: more than ${SCENARIO_LIMITS.nodes} YAML nodes (mappings, lists and values): a scenario file holds at most ${SCENARIO_LIMITS.nodes}`,
    ]);
  });

  it("still refuses a billion laughs once its aliases are expanded, and quickly", {
    timeout: 15_000,
  }, () => {
    let text = "name: t\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
    for (let i = 1; i < 10; i++)
      text += `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(", ")}]\n`;
    const errs = errors(`${text}guest:\n  - boot: {}\n`);
    assert.equal(errs.length, 1);
    assert.match(
      errs[0]!,
      new RegExp(
        `^t\\.yaml:\\d+:\\d+: too large once its aliases are expanded \\(more than ${SCENARIO_LIMITS.expandedNodes} nodes\\)$`,
      ),
    );
  });
});

describe("nesting", () => {
  const deep = `nested more than ${SCENARIO_LIMITS.depth} levels deep`;

  it(`refuses nesting past SCENARIO_LIMITS.depth (${SCENARIO_LIMITS.depth}) levels with that limit, not a stack overflow`, () => {
    const flow = `name: t\nguest: ${"[".repeat(1000)}${"]".repeat(1000)}\n`;
    const block = `name: t\nguest:\n${Array.from({ length: 1000 }, (_, i) => `${" ".repeat(i + 1)}-\n`).join("")}`;
    const maps = `name: t\nmachine:\n${Array.from({ length: 1000 }, (_, i) => `${" ".repeat(2 * i + 2)}a:\n`).join("")}`;
    for (const text of [flow, block, maps]) {
      const errs = errors(text);
      assert.equal(errs.length, 1, errs.join("\n"));
      assert.match(errs[0]!, new RegExp(`^t\\.yaml:\\d+:\\d+: ${deep}$`));
    }
    // A megabyte of `[` stops at the limit, not at the end of the file.
    assert.match(errors("[".repeat(SCENARIO_LIMITS.fileBytes - 1))[0]!, /^t\.yaml:1:\d\d: nested/);
  });

  it("keeps the nesting limit where it was: a list 64 levels below the top-level mapping loads, 65 does not", () => {
    const nest = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
    // The top-level mapping is level 0, guest 1, a step 2, x's list 3: n lists end at n + 2.
    const at = (n: number) =>
      loadScenario(`name: t\nguest: [boot: {}, {x: ${nest(n)}}]\n`, "t.yaml");
    const r64 = at(62);
    assert.ok(!r64.ok);
    assert.doesNotMatch(r64.error.map(formatScenarioError).join("\n"), /nested/);
    const r65 = at(63);
    assert.ok(!r65.ok);
    assert.deepEqual(r65.error.map(formatScenarioError), [`t.yaml:2:${23 + 62}: ${deep}`]);
  });
});

describe("an error line", () => {
  it(`quotes at most about ${SHOWN_CHARS} characters of an offending value and says how long it was`, () => {
    const errs = errors(`name: ${"X".repeat(300_000)}\nguest:\n  - boot: {}\n`);
    assert.deepEqual(errs, [
      `t.yaml:1:7: name: use lower-case letters, digits and - only (got "${"X".repeat(SHOWN_CHARS)}"… (300000 characters))`,
    ]);
    const key = "k".repeat(100_000);
    const [e] = errors(`name: t\n${key}: 1\nguest:\n  - boot: {}\n`);
    assert.ok(e!.length < 300, e);
    assert.equal(quoted("\0".repeat(1000)).length < 2 * SHOWN_CHARS, true);
    assert.equal(quoted('a"b'), '"a\\"b"');
    assert.equal(quoted("😀".repeat(2)), '"😀😀"');
  });

  it("names a NUL character rather than quoting a file of them", () => {
    const text = "\0".repeat(500_000);
    const msg =
      "a NUL character: a scenario is UTF-8 text (UTF-16 without a byte order mark? save the file as UTF-8)";
    assert.deepEqual(errors(text), [`t.yaml:1:1: ${msg}`]);
    assert.deepEqual(errors(`${BOOTED}description: a\0b\n`), [`t.yaml:4:15: ${msg}`]);
  });

  it("names UTF-16 and UTF-32 byte order marks, and bytes that are not UTF-8, as encoding problems", () => {
    const text = "name: t\nguest:\n  - boot: {}\n";
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
    const be = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, "utf16le").swap16()]);
    for (const [name, bytes] of [
      ["le.yaml", le],
      ["be.yaml", be],
    ] as const) {
      const path = file(name, bytes);
      assert.deepEqual(refused(loadScenarioFile(path)), [
        `${path}:1:1: UTF-16 byte order mark: save the file as UTF-8`,
      ]);
    }
    const utf32 = file("32.yaml", Buffer.from([0xff, 0xfe, 0, 0, 0x6e, 0, 0, 0]));
    assert.deepEqual(refused(loadScenarioFile(utf32)), [
      `${utf32}:1:1: UTF-32 byte order mark: save the file as UTF-8`,
    ]);
    const latin1 = file("l1.yaml", Buffer.from(`${BOOTED}description: café\n`, "latin1"));
    assert.deepEqual(refused(loadScenarioFile(latin1)), [
      `${latin1}:4:17: not UTF-8: byte 0xe9 cannot be read as text here (save the file as UTF-8)`,
    ]);
    // A UTF-8 byte order mark is UTF-8.
    const bom = file(
      "bom.yaml",
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]),
    );
    assert.ok(loadScenarioFile(bom).ok);
  });

  it("finds the first byte that is not UTF-8 exactly where a strict decoder stops", () => {
    const strict = new TextDecoder("utf-8", { fatal: true });
    const decodes = (b: Uint8Array) => {
      try {
        strict.decode(b);
        return true;
      } catch {
        return false;
      }
    };
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 12 }),
          fc.string({ unit: "binary" }).map((s) => Buffer.from(s)),
        ),
        (b) => {
          const at = firstNonUtf8(b);
          assert.equal(at === -1, decodes(b));
          if (at >= 0) {
            // Everything before it is text, and no character starts at it.
            assert.ok(decodes(b.subarray(0, at)));
            for (let k = 1; k <= 4 && at + k <= b.length; k++)
              assert.ok(!decodes(b.subarray(at, at + k)));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("has a position on every hostile file's every error", () => {
    const all: ScenarioError[] = [];
    for (const text of [
      "\0",
      "[".repeat(200),
      `name: t\nguest:\n${"  - boot:\n".repeat(20_000)}`,
      `x: &a [${"*a, ".repeat(10)}]\nname: t\nguest: [boot: {}]\n`,
    ]) {
      const r = loadScenario(text, "t.yaml");
      assert.ok(!r.ok);
      all.push(...r.error);
    }
    for (const e of all) assert.ok(e.line >= 1 && e.col >= 1, formatScenarioError(e));
  });
});

describe("an error quoting a control character", () => {
  it("stays one line: a carriage return inside a token yaml cannot read is shown escaped", () => {
    const r = loadScenario("name: x\nguest:\n  - boot: {}\n  }\r\u0019 x\n", "f.yaml");
    assert.equal(r.ok, false);
    if (r.ok) return;
    for (const e of r.error) {
      const line = formatScenarioError(e);
      assert.ok(![...line].some((ch) => ch.charCodeAt(0) < 0x20), JSON.stringify(line));
    }
  });
});
