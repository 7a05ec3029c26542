import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { builtinScripts, selectScripts, TWO_QUEUE_SAMPLE } from "./catalog.js";
import { loadScript, SCRIPT_MAX_BYTES, SCRIPT_MAX_STEPS, ScriptError } from "./script.js";

const dir = mkdtempSync(join(tmpdir(), "cmdqv-script-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe("a differential script file", () => {
  it("reads a .qtest file as one step per line, comments and blank lines dropped", () => {
    const s = loadScript(
      file("a.qtest", "# bring-up\nreadl 0x0c080000\n\nwritel 0x0c080000 0x0 # off\n"),
    );
    assert.deepEqual(s.steps, ["readl 0x0c080000", "writel 0x0c080000 0x0"]);
    assert.equal(s.name, "a");
    assert.match(s.origins![1]!, /a\.qtest:4$/);
  });

  it("reads a YAML script's name, description and steps", () => {
    const s = loadScript(
      file(
        "b.yaml",
        "name: mine\ndescription: two reads\nsteps:\n  - readl 0x0\n  - system_reset\n",
      ),
    );
    assert.deepEqual(
      [s.name, s.description, s.steps],
      ["mine", "two reads", ["readl 0x0", "system_reset"]],
    );
  });

  it("names the file and line of a step that is not a string", () => {
    const p = file("c.yaml", "steps:\n  - readl 0x0\n  - {write: 1}\n");
    assert.throws(
      () => loadScript(p),
      (e: Error) =>
        e instanceof ScriptError && e.message === `${p}:3: each step is a qtest line (a string)`,
    );
  });

  it("names the file and line of an unknown key", () => {
    const p = file("d.yaml", "name: x\nstep:\n  - readl 0x0\n");
    assert.throws(
      () => loadScript(p),
      new RegExp(`${p.replace(/[.]/g, "\\.")}:2: unknown key 'step'`),
    );
  });

  it("refuses a file with no steps, and one that does not exist", () => {
    assert.throws(() => loadScript(file("e.qtest", "# nothing\n")), /no steps/);
    assert.throws(() => loadScript(join(dir, "missing.qtest")), /cannot read \(ENOENT\)/);
  });
});

describe("the built-in scripts", () => {
  const all = builtinScripts();

  it("have unique names", () => {
    assert.equal(new Set(all.map((s) => s.name)).size, all.length);
  });

  it("include all 120 orders of VCMDQ0's five gate writes, each a different order", () => {
    const gates = selectScripts(all, "gates/vcmdq0/*");
    assert.equal(gates.length, 120);
    assert.equal(new Set(gates.map((s) => s.steps.slice(2, 7).join("|"))).size, 120);
  });

  it("include the seeded sample of two-queue orders", () => {
    assert.equal(selectScripts(all, "gates/two-queues/*").length, TWO_QUEUE_SAMPLE.count);
  });

  it("read every register after reset and write each one", () => {
    const reset = selectScripts(all, "registers/reset")[0]!;
    assert.equal(selectScripts(all, "registers/write/*").length, reset.steps.length);
  });

  it("select by glob: * stays within a path segment, ** crosses them", () => {
    assert.equal(selectScripts(all, "gates/*").length, 0);
    assert.equal(selectScripts(all, "gates/**").length, 120 + TWO_QUEUE_SAMPLE.count);
  });
});

describe("a script's extension lines", () => {
  it("may arm a host fault, but not ask for either VMM's own view", () => {
    assert.deepEqual(
      loadScript(file("f.qtest", "cmdqv_fault hw_queue_alloc:obj_alloc 1\n")).steps,
      ["cmdqv_fault hw_queue_alloc:obj_alloc 1"],
    );
    assert.throws(
      () => loadScript(file("g.qtest", "readl 0x0\ncmdqv_info\n")),
      /g\.qtest:2: cmdqv_info answers differently by VMM/,
    );
  });
});

describe("a script's limits", () => {
  it("refuses a file larger than SCRIPT_MAX_BYTES before reading it", () => {
    const p = file("big.qtest", "#".repeat(SCRIPT_MAX_BYTES + 1));
    assert.throws(
      () => loadScript(p),
      new RegExp(
        `${SCRIPT_MAX_BYTES + 1} bytes, more than the ${SCRIPT_MAX_BYTES} a script may have`,
      ),
    );
  });

  it("refuses a script of more than SCRIPT_MAX_STEPS steps, naming the line", () => {
    const p = file("long.qtest", "readl 0x0\n".repeat(SCRIPT_MAX_STEPS + 1));
    assert.throws(
      () => loadScript(p),
      new RegExp(`long\\.qtest:${SCRIPT_MAX_STEPS + 1}: more than ${SCRIPT_MAX_STEPS} steps`),
    );
  });
});
