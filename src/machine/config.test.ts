import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LAYOUTS, type MachineConfig, machineConfig, machineProblems } from "./config.js";
import { createMachine } from "./machine.js";

/** The first problem of a machine, as `field: message`, or "" when it has none. */
function firstProblem(over: Partial<MachineConfig>): string {
  const p = machineProblems(machineConfig(over))[0];
  return p === undefined ? "" : `${p.field}: ${p.message}`;
}

describe("the machine validator", () => {
  it("finds nothing wrong with the default machine or either layout", () => {
    assert.deepEqual(machineProblems(machineConfig()), []);
    for (const layout of Object.values(LAYOUTS))
      assert.deepEqual(machineProblems(machineConfig(layout)), []);
  });

  it("accepts the extremes each limit allows", () => {
    for (const over of [
      { vcmdqs: 1 },
      { vcmdqs: 128 },
      { vcpus: 1 },
      { vcpus: 64 },
      { seed: 0xffff_ffff },
      { ramPage: "1G", ramBase: 2 ** 30, ramSize: 2 ** 30 },
      { ramBase: 2 ** 52 - 2 ** 21, ramSize: 2 ** 21 },
      { ramSize: 2 ** 46 },
    ] as Partial<MachineConfig>[])
      assert.equal(firstProblem(over), "", JSON.stringify(over));
  });

  it("refuses a VCMDQ count that is not a power of two from 1 to 128", () => {
    for (const n of [0, 3, 6, 256])
      assert.equal(
        firstProblem({ vcmdqs: n }),
        `vcmdqs: expected a power of two from 1 to 128, got ${n}`,
      );
  });

  it("refuses no RAM, RAM that is not a whole number of pages, and an unaligned RAM base", () => {
    assert.equal(
      firstProblem({ ramSize: 0 }),
      "ramSize: expected 1 byte to 2^46 bytes of RAM, got 0",
    );
    assert.equal(
      firstProblem({ ramSize: 1 }),
      "ramSize: RAM size 0x1 is not a multiple of the 2M page",
    );
    assert.equal(
      firstProblem({ ramBase: 0x4000_1000 }),
      "ramBase: RAM base 0x40001000 is not aligned to the 2M page",
    );
    assert.equal(
      firstProblem({ ramBase: 2 ** 52 - 2 ** 21, ramSize: 2 ** 22 }),
      "ramSize: RAM [0xfffffffe00000, 0x10000000200000) ends above 2^52",
    );
  });

  it("refuses RAM over the SMMUv3 window and the CMDQV window on the SMMUv3's", () => {
    assert.equal(
      firstProblem({ ramBase: 0x0c00_0000 }),
      "smmuBase: the SMMUv3 window [0xc000000, 0xc020000) overlaps RAM [0xc000000, 0x4c000000)",
    );
    assert.equal(
      firstProblem({ cmdqvBase: 0x0c00_0000 }),
      "cmdqvBase: the CMDQV window [0xc000000, 0xc050000) overlaps the SMMUv3 window [0xc000000, 0xc020000)",
    );
  });

  it("refuses two interrupts wired to one SPI", () => {
    assert.equal(
      firstProblem({ spis: { ...LAYOUTS["qemu-11.1"].spis, cmdqv: 112 } }),
      "spis: eventq and cmdqv are both wired to SPI 112",
    );
  });

  it("makes createMachine answer a description that does not fit with an error, never a throw", () => {
    for (const over of [
      { vcmdqs: 3 },
      { ramSize: 0 },
      { ramSize: 1 },
      { ramBase: 0x4000_0001 },
      { smmuBase: 0x0c08_0000 },
      { vcpus: 0 },
    ] as Partial<MachineConfig>[]) {
      const m = createMachine(machineConfig(over));
      assert.equal(m.ok, false, JSON.stringify(over));
      assert.match(m.ok ? "" : m.error, /^machine\.\w+: /);
    }
  });
});
