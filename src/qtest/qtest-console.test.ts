import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { DEFAULT_MACHINE } from "../machine/config.js";
import { createMachine } from "../machine/machine.js";
import {
  ALLOC_ERROR_TEXT,
  CMDQV_2BYTE,
  READW_CMDQV,
  READW_SMMU,
  REFUSED_ALLOC,
  SMMU_2BYTE,
} from "./console-testkit.js";
import { helpLines, MACHINE_EXTENSIONS, QTEST_COMMANDS } from "./help.js";
import { MachineTarget } from "./machine-target.js";
import { QtestSession } from "./protocol.js";
import { VMM_LOG_PENDING_MAX } from "./vmm-log-tail.js";

const CMDQV = 0x0c08_0000;

function machine() {
  const m = createMachine({ ...DEFAULT_MACHINE, profile: "qemu-11.1" });
  assert.ok(m.ok);
  const target = new MachineTarget(m.value);
  const replies: string[] = [];
  const session = new QtestSession(target, (l) => replies.push(l));
  const run = (line: string) => {
    replies.length = 0;
    session.handleLine(line);
    return [...replies];
  };
  return { m: m.value, target, run };
}

type VmmLogReply = { lines: { t: number; kind: string; text: string }[]; dropped: number };

function vmmLog(run: (l: string) => string[]): VmmLogReply {
  const r = run("cmdqv_vmm_log");
  assert.equal(r.length, 1, "one reply line");
  assert.match(r[0] ?? "", /^OK \{/);
  return JSON.parse((r[0] ?? "").slice(3)) as VmmLogReply;
}

describe("cmdqv_vmm_log", () => {
  it("answers the VMM console lines since the last call, on one line, whatever --log prints", () => {
    const { run } = machine();
    assert.deepEqual(vmmLog(run), { lines: [], dropped: 0 }, "a clean build said nothing");
    run(READW_CMDQV);
    run(READW_SMMU);
    const got = vmmLog(run);
    assert.deepEqual(
      got.lines.map((l) => [l.kind, l.text]),
      [
        ["invalid_mem", CMDQV_2BYTE],
        ["guest_error", SMMU_2BYTE],
      ],
    );
    assert.equal(got.dropped, 0);
    assert.deepEqual(vmmLog(run), { lines: [], dropped: 0 }, "nothing new since");
  });

  it("holds an error_report line of a refused HW queue allocation, with its virtual time", () => {
    const { run, m } = machine();
    for (const l of REFUSED_ALLOC) assert.deepEqual(run(l), ["OK"], l);
    const got = vmmLog(run);
    assert.deepEqual(got.lines, [
      {
        t: m.clock.now(),
        kind: "error",
        text: ALLOC_ERROR_TEXT,
      },
    ]);
  });

  it(`keeps at most ${VMM_LOG_PENDING_MAX} lines between calls and counts the rest as dropped`, () => {
    const { run, target } = machine();
    for (let i = 0; i < VMM_LOG_PENDING_MAX + 7; i++) target.read(CMDQV, 2);
    const got = vmmLog(run);
    assert.equal(got.lines.length, VMM_LOG_PENDING_MAX);
    assert.equal(got.dropped, 7);
    target.read(CMDQV, 2);
    const next = vmmLog(run);
    assert.equal(next.lines.length, 1, "lines past the VMM log's own cap still come");
    assert.equal(next.dropped, 0);
  });
});

describe("help", () => {
  it("is an unknown command, as QEMU answers it, unless the session was given the list", () => {
    const { target } = machine();
    const out: string[] = [];
    new QtestSession(target, (l) => out.push(l)).handleLine("help");
    assert.deepEqual(out, ["FAIL Unknown command 'help'"]);
  });

  it("lists every command, one a line, QEMU's then the extensions, when the session has it", () => {
    const { target } = machine();
    const out: string[] = [];
    const lines = helpLines(MACHINE_EXTENSIONS);
    const session = new QtestSession(target, (l) => out.push(l), { help: lines });
    session.handleLine("help");
    assert.deepEqual(out, lines);
    assert.equal(out.length, QTEST_COMMANDS.length + MACHINE_EXTENSIONS.length);
    for (const c of [...QTEST_COMMANDS, ...MACHINE_EXTENSIONS])
      assert.ok(
        out.some((l) => l.startsWith(`${c.usage} `)),
        c.usage,
      );
    out.length = 0;
    session.handleLine("help me");
    assert.deepEqual(out, ["FAIL Unknown command 'help'"]);
  });

  it("names only commands the session knows", () => {
    const { run } = machine();
    for (const c of QTEST_COMMANDS)
      assert.doesNotMatch(
        run(c.usage.split(" ")[0] ?? "").at(-1) ?? "",
        /^FAIL Unknown command/,
        c.usage,
      );
  });

  it("lists every extension the machine answers, and docs/qtest.md documents the same ones", () => {
    const { target } = machine();
    const names = MACHINE_EXTENSIONS.map((c) => c.usage.split(" ")[0] ?? "");
    for (const n of names) assert.notEqual(target.extension(n, ["x"]), undefined, n);
    assert.equal(target.extension("cmdqv_nosuch", []), undefined);
    const doc = readFileSync("docs/qtest.md", "utf8");
    const section = doc.slice(doc.indexOf("## Extension commands"));
    const documented = [...section.matchAll(/^\| `(cmdqv_\w+)/gm)].map((m) => m[1]);
    assert.deepEqual([...new Set(documented)].sort(), [...names].sort());
  });
});
