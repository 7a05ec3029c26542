// The command line and scenario files read sizes and integers with the same parsers
// (util/parse.ts): a spelling one accepts, the other accepts, and both refuse the same ones.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { loadScenario } from "../scenario/load.js";
import { machineFromFlags } from "./machine-flags.js";
import { UsageError } from "./options.js";

function cliAccepts(flags: Parameters<typeof machineFromFlags>[0]): boolean {
  try {
    machineFromFlags(flags);
    return true;
  } catch (e) {
    if (e instanceof UsageError) return false;
    throw e;
  }
}

function scenarioAccepts(machine: string): boolean {
  return loadScenario(`name: t\nmachine: ${machine}\nguest:\n  - boot: {}\n`, "t.yaml").ok;
}

const sizeOnBoth = (s: string): [boolean, boolean] => [
  cliAccepts({ ramSize: s }),
  scenarioAccepts(`{ ram: { size: ${JSON.stringify(s)} } }`),
];
const vcpusOnBoth = (s: string): [boolean, boolean] => [
  cliAccepts({ vcpus: s }),
  scenarioAccepts(`{ vcpus: ${JSON.stringify(s)} }`),
];
const pageOnBoth = (s: string): [boolean, boolean] => [
  cliAccepts({ ramPage: s }),
  scenarioAccepts(`{ ram: { page: ${JSON.stringify(s)}, size: 1G } }`),
];

/** Text built from the pieces a size or an integer is made of, well-formed or not. */
const numberish = fc
  .tuple(
    fc.constantFrom("", "0x", "0o", "0b", "-", " "),
    fc.stringMatching(/^[0-9a-fA-F_]{0,6}$/),
    fc.constantFrom("", "K", "k", "M", "m", "G", "T", "KiB", "KB", "Kb", "Mib", "B", "Q", ".5"),
  )
  .map(([p, d, u]) => p + d + u);

describe("CLI flags and scenario files spell values the same way", () => {
  it("accept the sizes the docs promise, in both places", () => {
    for (const s of [
      "1G",
      "1g",
      "1024M",
      "1GiB",
      "1GB",
      "0x40000000",
      "1073741824",
      "1_073_741_824",
    ])
      assert.deepEqual(sizeOnBoth(s), [true, true], s);
  });

  it("refuse the same size typos, gigabits included", () => {
    for (const s of ["1Gb", "1GG", "1.5G", "", "G", "-1G", "ten", "1T0"])
      assert.deepEqual(sizeOnBoth(s), [false, false], s);
  });

  it("agree on every size spelling (property)", () => {
    fc.assert(
      fc.property(numberish, (s) => {
        const [cli, file] = sizeOnBoth(s);
        assert.equal(cli, file, JSON.stringify(s));
      }),
      { numRuns: 300 },
    );
  });

  it("agree on every integer spelling (property)", () => {
    fc.assert(
      fc.property(numberish, (s) => {
        const [cli, file] = vcpusOnBoth(s);
        assert.equal(cli, file, JSON.stringify(s));
      }),
      { numRuns: 300 },
    );
    for (const s of ["4", "0x4", "0o4", "0b100", "0_4"])
      assert.deepEqual(vcpusOnBoth(s), [true, true], s);
    for (const s of ["0", "65", "4.0", "4x", "-4"])
      assert.deepEqual(vcpusOnBoth(s), [false, false], s);
  });

  it("agree on RAM page sizes, by name or in bytes", () => {
    for (const s of ["4K", "64k", "2M", "2MiB", "0x200000", "1G"])
      assert.deepEqual(pageOnBoth(s), [true, true], s);
    for (const s of ["8K", "2Mb", "3M", "page"]) assert.deepEqual(pageOnBoth(s), [false, false], s);
  });
});
