import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DEFAULT_MACHINE } from "../machine/config.js";
import { formatScenarioError, loadScenario, loadScenarioFile, type ScenarioError } from "./load.js";
import { DEFAULT_WORKLOAD_MIX, type Scenario } from "./schema.js";

function load(text: string): Scenario {
  const r = loadScenario(text, "test.yaml");
  assert.ok(r.ok, r.ok ? "" : r.error.map(formatScenarioError).join("\n"));
  return r.value;
}

/** The formatted errors of a file that must not load. */
function errors(text: string, file = "review.yaml"): string[] {
  const r = loadScenario(text, file);
  assert.ok(!r.ok, "expected the scenario to be refused");
  return r.error.map(formatScenarioError);
}

/** The one error of a file whose single mistake is under test. */
function only(text: string): ScenarioError {
  const r = loadScenario(text, "t.yaml");
  assert.ok(!r.ok, "expected the scenario to be refused");
  assert.equal(r.error.length, 1, r.error.map(formatScenarioError).join("\n"));
  return r.error[0]!;
}

const HEAD = "name: t\nguest:\n";

describe("a minimal scenario", () => {
  it("gets DEFAULT_MACHINE, no fault plan, and driver defaults for boot", () => {
    const s = load("name: smallest\nguest:\n  - boot: {}\n");
    assert.equal(s.name, "smallest");
    assert.equal(s.file, "test.yaml");
    assert.equal(s.description, undefined);
    assert.deepEqual(s.machine, DEFAULT_MACHINE);
    assert.deepEqual(s.guest, [
      { kind: "boot", vcmdqRings: [], cmdqMaxSzShift: 19, at: { line: 3, col: 5 } },
    ]);
  });

  it("fills a workload's vCPUs from the machine and its mix from the default run", () => {
    const s = load(
      "name: w\nmachine: { vcpus: 4 }\nguest:\n  - boot: {}\n  - workload: { invalidations: 10 }\n",
    );
    assert.deepEqual(s.guest[1], {
      kind: "workload",
      invalidations: 10,
      vcpus: 4,
      mix: DEFAULT_WORKLOAD_MIX,
      at: { line: 5, col: 5 },
    });
  });

  it("fills an access size of 4 and a mask of the whole access", () => {
    const s = load(`${HEAD}  - read: { addr: cmdqv+0x4, expect: 0x4011 }\n`);
    assert.deepEqual(s.guest[0], {
      kind: "read",
      addr: { region: "cmdqv", offset: 4 },
      size: 4,
      expect: 0x4011n,
      mask: 0xffff_ffffn,
      at: { line: 3, col: 5 },
    });
  });
});

describe("a full scenario", () => {
  it("normalises every kind of value: sizes, durations, addresses, 64-bit values, words", () => {
    const s = load(`name: full
description: every key
machine:
  profile: qemu-v5
  ram: { base: 0x8000_0000, size: 512M, page: 64K }
  vcmdqs: 4
  vcpus: 3
  seed: 0xdeadbeef
  cmdqv: auto
  timing: { trap: 3us, direct: 50ns, ram: 5 }
faults: { probability: { "hw_queue_alloc:pin": 0.25 } }
guest:
  - boot: { vcmdq_rings: [auto, ram+0x600000, 0x80601000], cmdq_max_sz_shift: 12 }
  - write: { addr: cmdqv+0x20000, value: 0xffffffffffffffff, size: 8 }
  - read: { addr: 0x0c080008, size: 4, expect: 1, mask: 0x1 }
  - workload: { invalidations: 1000, vcpus: 2, mix: { tlbi_nh_asid: 1, cfgi_cd: 0, tlbi_nh_all: 2 } }
  - advance: 1.5ms
  - reset:
  - expect:
      dmesg_contains: [a]
      dmesg_not_contains: [b]
      vmm_log_contains: [c]
      vmm_log_not_contains: [d]
      hw_queues: 2
      invariants: violated
      violated: [no-silent-hang]
`);
    assert.equal(s.description, "every key");
    assert.deepEqual(s.machine, {
      ...DEFAULT_MACHINE,
      profile: "qemu-v5",
      ramBase: 0x8000_0000,
      ramSize: 512 * 2 ** 20,
      ramPage: "64K",
      vcmdqs: 4,
      vcpus: 3,
      seed: 0xdead_beef,
      cmdqv: "auto",
      timing: { trapNs: 3_000, directNs: 50, ramNs: 5 },
      // The probability plan's seed defaults to the machine's.
      faultPlan: { kind: "probability", seed: 0xdead_beef, p: { "hw_queue_alloc:pin": 0.25 } },
    });
    const steps = s.guest.map(({ at: _at, ...step }) => step);
    assert.deepEqual(steps, [
      {
        kind: "boot",
        vcmdqRings: ["auto", { region: "ram", offset: 0x60_0000 }, 0x8060_1000],
        cmdqMaxSzShift: 12,
      },
      {
        kind: "write",
        addr: { region: "cmdqv", offset: 0x2_0000 },
        size: 8,
        value: 2n ** 64n - 1n,
      },
      { kind: "read", addr: 0x0c08_0008, size: 4, expect: 1n, mask: 1n },
      {
        kind: "workload",
        invalidations: 1000,
        vcpus: 2,
        mix: { TLBI_NH_ASID: 1, CFGI_CD: 0, TLBI_NH_ALL: 2 },
      },
      { kind: "advance", ns: 1_500_000 },
      { kind: "reset" },
      {
        kind: "expect",
        dmesgContains: ["a"],
        dmesgNotContains: ["b"],
        vmmLogContains: ["c"],
        vmmLogNotContains: ["d"],
        hwQueues: 2,
        invariants: "violated",
        violated: ["no-silent-hang"],
      },
    ]);
    assert.deepEqual(
      s.guest.map((g) => g.at.line),
      [13, 14, 15, 16, 17, 18, 19],
    );
  });

  it("takes one text where a list of texts goes", () => {
    const s = load(`${HEAD}  - expect: { dmesg_contains: failed to reset impl }\n`);
    assert.deepEqual(s.guest[0]?.kind === "expect" && s.guest[0].dmesgContains, [
      "failed to reset impl",
    ]);
  });

  it("reads the three fault plan forms", () => {
    const plan = (f: string) => load(`faults: ${f}\n${HEAD}  - boot: {}\n`).machine.faultPlan;
    assert.deepEqual(plan("{ site: hw_queue_alloc:pin }"), {
      kind: "site",
      site: "hw_queue_alloc:pin",
      nth: 1,
    });
    assert.deepEqual(plan("{ site: mmap:vma_alloc, nth: 2 }"), {
      kind: "site",
      site: "mmap:vma_alloc",
      nth: 2,
    });
    assert.deepEqual(plan("{ nth: 3 }"), { kind: "nth", nth: 3 });
    assert.deepEqual(plan('{ seed: 7, probability: { "report_event:alloc": 1 } }'), {
      kind: "probability",
      seed: 7,
      p: { "report_event:alloc": 1 },
    });
  });

  it("takes cmdqv: on as the word (YAML 1.2), and a boolean as on/off", () => {
    const cmdqv = (v: string) => load(`machine: { cmdqv: ${v} }\n${HEAD}  - boot:\n`).machine.cmdqv;
    assert.equal(cmdqv("on"), "on");
    assert.equal(cmdqv("off"), "off");
    assert.equal(cmdqv("true"), "on");
    assert.equal(cmdqv("false"), "off");
  });
});

describe("bad input", () => {
  it("reports every mistake of a file at once, each with file:line:col, path, message and value", () => {
    const text = `name: review-case2
machine:
  profile: qemu-v6
  ram: { size: 1GG }
  vcmdqs: 3
faults: { site: hw_queue_alloc:pinn }
guest:
  - boot: {}
  - wirte: { addr: cmdqv+0x1000, value: 1 }
  - write: { addr: cmdqv+0xZZ, value: 1 }
  - advance: 1sec
  - expect: { invariants: okay }
`;
    assert.deepEqual(errors(text), [
      'review.yaml:3:12: machine.profile: expected "qemu-v5", "qemu-v7", "qemu-11.1", "qemu-latest" or "reference" (got "qemu-v6")',
      'review.yaml:4:16: machine.ram.size: not a size: a number of bytes, or one with K, M, G or T such as 64K, 2M, 1G (got "1GG")',
      "review.yaml:5:11: machine.vcmdqs: must be a power of two from 1 to 128 (got 3)",
      'review.yaml:6:17: faults.site: unknown fault site, see cmdqv explore --list-sites; did you mean "hw_queue_alloc:pin"? (got "hw_queue_alloc:pinn")',
      'review.yaml:9:5: guest[1].wirte: unknown key; did you mean "write"?',
      'review.yaml:10:20: guest[2].write.addr: not an address (got "cmdqv+0xZZ")',
      'review.yaml:11:14: guest[3].advance: not a duration: 100ns, 2us, 1ms, 1s or a number of ns (got "1sec")',
      'review.yaml:12:27: guest[4].expect.invariants: expected "ok" or "violated" (got "okay")',
    ]);
  });

  it("catches an unknown key anywhere, with the keys it could have been", () => {
    const e = only(
      `name: t\nmachine:\n  timing: { trap: 1us, exit: 2us }\nguest: [{ boot: {} }]\n`,
    );
    assert.equal(
      formatScenarioError(e),
      "t.yaml:3:24: machine.timing.exit: unknown key (expected trap, direct, ram)",
    );
  });

  it("names a bad hex value where it is written", () => {
    const e = only(`${HEAD}  - write: { addr: 0x0c081000, value: 0x1G }\n`);
    assert.deepEqual(e, {
      file: "t.yaml",
      line: 3,
      col: 39,
      path: "guest[0].write.value",
      message: "not a number",
      got: '"0x1G"',
    });
  });

  it("names a size suffix typo", () => {
    const e = only(`name: t\nmachine: { ram: { size: 1Gb } }\nguest: [{ boot: {} }]\n`);
    assert.equal(e.path, "machine.ram.size");
    assert.deepEqual([e.line, e.col, e.got], [2, 25, '"1Gb"']);
    assert.match(e.message, /^not a size/);
  });

  it("names a duration typo", () => {
    const e = only(`name: t\nmachine:\n  timing: { trap: 2 us }\nguest: [{ boot: {} }]\n`);
    assert.equal(
      formatScenarioError(e),
      't.yaml:3:19: machine.timing.trap: not a duration: 100ns, 2us, 1ms, 1s or a number of ns (got "2 us")',
    );
  });

  it("refuses a VCMDQ count that is not a power of two", () => {
    const e = only(`name: t\nmachine: { vcmdqs: 6 }\nguest: [{ boot: {} }]\n`);
    assert.equal(
      formatScenarioError(e),
      "t.yaml:2:20: machine.vcmdqs: must be a power of two from 1 to 128 (got 6)",
    );
  });

  it("refuses an unknown profile, suggesting the near one", () => {
    const e = only(`name: t\nmachine: { profile: qemu-lateset }\nguest: [{ boot: {} }]\n`);
    assert.equal(
      formatScenarioError(e),
      't.yaml:2:21: machine.profile: expected "qemu-v5", "qemu-v7", "qemu-11.1", "qemu-latest" or "reference"; did you mean "qemu-latest"? (got "qemu-lateset")',
    );
  });

  it("refuses an unknown fault site, in either fault plan form", () => {
    const site = only(`faults: { site: "hw_queue_alloc:pins" }\n${HEAD}  - boot:\n`);
    assert.deepEqual([site.path, site.line, site.col], ["faults.site", 1, 17]);
    assert.match(site.message, /^unknown fault site, see cmdqv explore --list-sites/);
    const p = only(`faults: { probability: { "hw_queue:pin": 0.5 } }\n${HEAD}  - boot:\n`);
    assert.equal(
      formatScenarioError(p),
      't.yaml:1:26: faults.probability["hw_queue:pin"]: unknown fault site, see cmdqv explore --list-sites',
    );
  });

  it("reports a YAML syntax error at its position", () => {
    assert.deepEqual(errors(`name: t\nguest:\n  - write: { addr: 1, value: [1, 2 }\n`, "s.yaml"), [
      "s.yaml:3:36: YAML: flow sequence in block collection must be sufficiently indented and end with a ]",
      "s.yaml:3:37: YAML: flow map in block collection must be sufficiently indented and end with a }",
    ]);
  });

  it("reports a wrong type with what was found instead", () => {
    assert.deepEqual(errors(`name: t\nguest:\n  boot: {}\n`, "s.yaml"), [
      "s.yaml:3:3: guest: expected a list of steps (got a mapping)",
    ]);
    assert.deepEqual(errors(`name: t\nguest:\n  - read: { addr: [1] }\n`, "s.yaml"), [
      "s.yaml:3:19: guest[0].read.addr: expected an address (got a list)",
    ]);
    assert.deepEqual(
      errors(`name: t\nguest:\n  - expect: { dmesg_contains: [ok, 3] }\n`, "s.yaml"),
      ["s.yaml:3:36: guest[0].expect.dmesg_contains[1]: expected text (got 3)"],
    );
  });

  it("says how to write a bare step name", () => {
    assert.deepEqual(errors(`${HEAD}  - boot\n`, "s.yaml"), [
      's.yaml:3:5: guest[0]: a step is a mapping: write "boot: {}" (got "boot")',
    ]);
  });

  it("reports missing required keys at the mapping that lacks them", () => {
    assert.deepEqual(errors(`description: no name\nguest:\n  - write: { addr: 0 }\n`, "s.yaml"), [
      "s.yaml:1:1: name: missing (required)",
      "s.yaml:3:12: guest[0].write.value: missing (required)",
    ]);
  });

  it("refuses a step with two actions, and one with none", () => {
    assert.deepEqual(errors(`${HEAD}  - { boot: {}, reset: {} }\n  - {}\n`, "s.yaml"), [
      "s.yaml:3:5: guest[0]: a step has exactly one of boot, write, read, workload, advance, reset or expect (found boot and reset) (got a mapping)",
      "s.yaml:4:5: guest[1]: a step is one of boot, write, read, workload, advance, reset or expect (got a mapping)",
    ]);
  });

  it("checks values against the access size and addresses against the machine", () => {
    assert.deepEqual(
      errors(
        `name: t
machine: { vcpus: 1, ram: { size: 256M } }
guest:
  - write: { addr: cmdqv+0x0, value: 0x100000000 }
  - read: { addr: ram+256M }
  - workload: { invalidations: 1, vcpus: 2 }
  - boot: { vcmdq_rings: [auto, auto, auto] }
  - boot: { vcmdq_rings: [cmdqv+0x0] }
`,
        "s.yaml",
      ),
      [
        "s.yaml:4:38: guest[0].write.value: 0x100000000 does not fit a 4-byte access (got 0x100000000)",
        's.yaml:8:27: guest[4].boot.vcmdq_rings[0]: a ring lives in RAM: use auto, ram+<offset> or an absolute address (got "cmdqv+0x0")',
      ],
    );
    // The cross checks run once every value parses on its own.
    assert.deepEqual(
      errors(
        `name: t
machine: { vcpus: 1, ram: { size: 256M } }
guest:
  - read: { addr: ram+256M }
  - workload: { invalidations: 1, vcpus: 2 }
  - boot: { vcmdq_rings: [auto, auto, auto] }
`,
        "s.yaml",
      ),
      [
        's.yaml:4:19: guest[0].read.addr: offset 0x10000000 is past the end of RAM (0x10000000 bytes) (got "ram+256M")',
        "s.yaml:5:15: guest[1].workload: no boot step before it: a workload needs the guest driver, so boot first (- boot: {})",
        "s.yaml:5:42: guest[1].workload.vcpus: the machine has 1 vCPU (got 2)",
        "s.yaml:6:26: guest[2].boot.vcmdq_rings: 3 rings for 2 VCMDQs (got a list)",
      ],
    );
  });

  it("checks the RAM layout against the page size and the device windows", () => {
    assert.deepEqual(
      errors(
        `name: t\nmachine:\n  ram: { base: 0x0, size: 1G, page: 2M }\nguest: [{ boot: {} }]\n`,
      ),
      [
        "review.yaml:3:16: machine.ram.base: RAM [0x0, 0x40000000) overlaps the SMMUv3 window at 0xc000000 (got 0x0)",
        "review.yaml:3:16: machine.ram.base: RAM [0x0, 0x40000000) overlaps the CMDQV window at 0xc080000 (got 0x0)",
      ],
    );
    assert.deepEqual(errors(`name: t\nmachine:\n  ram: { size: 3M }\nguest: [{ boot: {} }]\n`), [
      'review.yaml:3:16: machine.ram.size: RAM size 0x300000 is not a multiple of the 2M page (got "3M")',
    ]);
  });

  it("gives clean errors for an empty file, a top-level list, duplicate keys, tabs", () => {
    assert.deepEqual(errors("", "e.yaml"), [
      "e.yaml:1:1: the file is empty: a scenario needs at least name and guest",
    ]);
    assert.deepEqual(errors("# nothing but a comment\n", "e.yaml"), [
      "e.yaml:1:1: the file is empty: a scenario needs at least name and guest",
    ]);
    assert.deepEqual(errors("- boot: {}\n", "e.yaml"), [
      "e.yaml:1:1: a scenario is a mapping (name:, guest:, …) at the top level (got a list)",
    ]);
    assert.deepEqual(errors("name: a\nname: b\nguest: [{ boot: {} }]\n", "e.yaml"), [
      "e.yaml:2:1: duplicate key: each key may appear once in a mapping",
    ]);
    assert.deepEqual(errors("name: t\nguest:\n\t- boot: {}\n", "e.yaml"), [
      "e.yaml:3:1: tabs are not allowed as indentation in YAML: use spaces",
    ]);
  });

  it("refuses several documents, unknown aliases and runaway alias expansion", () => {
    assert.deepEqual(errors("name: a\n---\nname: b\n", "e.yaml"), [
      "e.yaml:2:1: more than one YAML document: a scenario file holds one",
    ]);
    assert.deepEqual(errors("name: *nope\nguest: [{ boot: {} }]\n", "e.yaml"), [
      "e.yaml:1:7: unknown alias *nope",
    ]);
    const laughs = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 8; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      laughs.push(`${cur}: &${cur} [${Array(10).fill(`*${prev}`).join(", ")}]`);
    }
    const r = loadScenario(`${laughs.join("\n")}\n`, "e.yaml");
    assert.ok(!r.ok);
    assert.match(formatScenarioError(r.error[0]!), /too large once its aliases are expanded/);
  });

  it("treats __proto__ as an ordinary unknown key", () => {
    assert.deepEqual(errors("__proto__: { x: 1 }\nname: t\nguest: [{ boot: {} }]\n", "e.yaml"), [
      "e.yaml:1:1: __proto__: unknown key (expected name, description, machine, faults, guest)",
    ]);
  });

  it("reports a file it cannot read without a position", () => {
    const r = loadScenarioFile("/nonexistent/dir/x.yaml");
    assert.ok(!r.ok);
    assert.deepEqual(r.error.map(formatScenarioError), ["/nonexistent/dir/x.yaml: no such file"]);
  });
});

describe("loadScenario never throws", () => {
  const example = readFileSync(
    new URL("../../scenarios/review-case2.yaml", import.meta.url),
    "utf8",
  );

  function check(text: string): void {
    const r = loadScenario(text, "f.yaml");
    if (r.ok) return;
    assert.ok(r.error.length > 0);
    for (const e of r.error) {
      assert.ok(e.line >= 1 && e.col >= 1, formatScenarioError(e));
      assert.ok(e.message.length > 0);
      assert.doesNotMatch(formatScenarioError(e), /undefined|\[object Object\]/);
    }
  }

  it("for arbitrary strings", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 400 }), check), {
      numRuns: 500,
    });
  });

  it("for strings made of YAML and scenario fragments", () => {
    const tokens = [
      "name: t\n",
      "guest:\n",
      "  - boot: {}\n",
      "  - ",
      "- ",
      "write: ",
      "read: ",
      "expect: ",
      "{ addr: cmdqv+0x10, value: 1 }",
      "machine:\n",
      "  ram: ",
      "faults: ",
      "{ site: hw_queue_alloc:pin }",
      "probability: ",
      ": ",
      ", ",
      "{",
      "}",
      "[",
      "]",
      "&a ",
      "*a",
      "\t",
      "\n",
      "  ",
      '"',
      "'",
      "# c\n",
      "---\n",
      "? ",
      "!!int ",
      "!!map ",
      "0x",
      "1G",
      "2us",
      "__proto__",
      "null",
      "~",
      "|\n",
      "0xFFFFFFFFFFFFFFFFFF",
      "1e400",
      "-1",
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...tokens), { maxLength: 40 }), (parts) =>
        check(parts.join("")),
      ),
      { numRuns: 1500 },
    );
  });

  it("for an example file with characters replaced", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(example.length - 1), fc.string({ maxLength: 3 })), {
          maxLength: 6,
        }),
        (edits) => {
          let t = example;
          for (const [at, s] of edits) t = t.slice(0, at) + s + t.slice(at + 1);
          check(t);
        },
      ),
      { numRuns: 500 },
    );
  });
});
