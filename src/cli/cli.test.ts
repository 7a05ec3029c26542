// The cmdqv command end to end, as a user runs it: through bin/cmdqv.js in a child process.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { cmdqv, scratchDirs } from "./cli-testkit.js";

const scratch = scratchDirs("cli");

describe("the cmdqv command", () => {
  it("runs the built-in default job and prints a summary with every section", () => {
    const dir = scratch();
    const perfetto = join(dir, "run.json");
    const r = cmdqv(["run", "--invalidations", "500", "--perfetto", perfetto]);
    assert.equal(r.code, 0, r.err);
    for (const section of [
      "guest dmesg:",
      "VMM console:",
      "host ioctl log (condensed):",
      "host HW queues:",
      "where commands went:",
      "VM exits per 1 000 invalidations:",
      "invariants:",
    ])
      assert.ok(r.out.includes(section), section);
    assert.match(r.out, /VCMDQ path\s+0\s/);
    assert.ok(!r.out.includes("VIOLATED"));
    const doc = JSON.parse(readFileSync(perfetto, "utf8")) as { traceEvents: unknown[] };
    assert.ok(doc.traceEvents.length > 10);
  });

  it("runs a scenario file and says whether it passed", () => {
    const r = cmdqv(["run", "scenarios/review-case2.yaml"]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /scenario review-case2 \(scenarios\/review-case2\.yaml\): passed/);
    assert.match(r.out, /no-silent-hang\s+VIOLATED/);
  });

  it("names file:line:col and the offending value for a bad scenario, with exit status 2", () => {
    const dir = scratch();
    const f = join(dir, "bad.yaml");
    writeFileSync(f, "name: bad\nmachine:\n  vcmdqs: 3\nguest:\n  - boot: {}\n");
    const r = cmdqv(["run", f]);
    assert.equal(r.code, 2);
    assert.ok(r.err.includes(`${f}:3:11: machine.vcmdqs:`), r.err);
    assert.ok(r.err.includes("(got 3)"), r.err);
  });

  it("explores with --json and exits 1 when an invariant is violated", () => {
    const r = cmdqv([
      "explore",
      "--profile",
      "qemu-v5",
      "--queues",
      "1",
      "--json",
      "--out",
      scratch(),
    ]);
    assert.equal(r.code, 1);
    const o = JSON.parse(r.out) as {
      paths: number;
      states: number;
      distinct_states: number;
      elapsed_s: number;
      violations: { invariant: string; replay: string }[];
    };
    assert.ok(o.paths > 0 && o.states >= o.distinct_states && o.elapsed_s >= 0);
    const v = o.violations.find((x) => x.invariant === "no-silent-hang");
    assert.ok(v);
    const replay = cmdqv(["run", "--replay", v.replay]);
    assert.equal(replay.code, 1);
    assert.match(replay.out, /reproduced: no-silent-hang/);
  });

  it("serves qtest over stdio", () => {
    const r = cmdqv(["qtest"], {
      input: "readl 0x0c080004\nbogus\nwritel 0x0c08001c 0x1\nreadl 0x0c08001c\n",
    });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out.trim().split("\n"), [
      "OK 0x0000000000004011",
      "FAIL Unknown command 'bogus'",
      "OK",
      "OK 0x0000000000000001",
    ]);
  });

  it("answers a bad flag value with one line naming it, never a stack trace", () => {
    const r = cmdqv(["run", "--ram-page", "8K"]);
    assert.equal(r.code, 2);
    assert.equal(r.err.trim(), 'cmdqv: --ram-page: expected one of 4K, 64K, 2M, 1G, got "8K"');
  });
});
