// A hostile guest: random accesses of every size anywhere in the SMMUv3 and CMDQV windows
// (and RAM), interleaved with time steps and resets. Nothing may throw, in any profile.
// Under the reference design no invariant may break, whatever the guest does.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DEFAULT_MACHINE, machineConfig } from "../machine/config.js";
import { createMachine } from "../machine/machine.js";
import type { ProfileName } from "../vmm/tegra241-cmdqv/profile.js";
import { MachineTarget } from "./machine-target.js";
import { QtestSession } from "./protocol.js";

const CMDQV = DEFAULT_MACHINE.cmdqvBase;
const SMMU = DEFAULT_MACHINE.smmuBase;

/** Offsets that matter: the config page, VINTF0, each page's first slots, and anything. */
const cmdqvOffset = fc.oneof(
  fc.constantFrom(0x0, 0x8, 0x1c, 0x200, 0x204, 0x1000, 0x1040, 0x10c0),
  fc.constantFrom(
    0x10000,
    0x10008,
    0x10014,
    0x10080,
    0x10088,
    0x30000,
    0x30004,
    0x30008,
    0x30014,
    0x30084,
    0x30088,
  ),
  fc.constantFrom(0x20000, 0x20004, 0x20080, 0x40000, 0x40004, 0x40080, 0x40008),
  fc.integer({ min: 0, max: 0x5_0003 }),
);
const value = fc.oneof(
  fc.constantFrom(0, 1, 0xffff_ffff, 0x2_0001, 0x4020_000c, 0x4040_000c, 0x0002_0083, 0x0002_0082),
  fc.nat({ max: 0xffff_ffff }),
);
const op = fc.oneof(
  fc.record({
    k: fc.constant("w" as const),
    off: cmdqvOffset,
    size: fc.constantFrom(1, 2, 4, 8),
    v: value,
  }),
  fc.record({ k: fc.constant("r" as const), off: cmdqvOffset, size: fc.constantFrom(1, 2, 4, 8) }),
  fc.record({
    k: fc.constant("smmu" as const),
    off: fc.integer({ min: 0, max: 0x2_0003 }),
    v: value,
  }),
  fc.record({
    k: fc.constant("ram" as const),
    off: fc.integer({ min: 0, max: 0x7f_ffff }),
    v: value,
  }),
  fc.record({
    k: fc.constant("step" as const),
    ns: fc.constantFrom(1, 1_000, 100_000, 10_000_000),
  }),
  fc.record({ k: fc.constant("reset" as const) }),
);

function play(
  profile: ProfileName,
  ops: readonly fc.Arbitrary<never>[] | readonly ReturnType<typeof op.generate>["value"][],
) {
  const m = createMachine(machineConfig({ profile }));
  assert.ok(m.ok);
  const t = new MachineTarget(m.value);
  for (const o of ops as readonly {
    k: string;
    off?: number;
    size?: number;
    v?: number;
    ns?: number;
  }[]) {
    switch (o.k) {
      case "w":
        if (o.size === 8) t.write64(CMDQV + o.off!, BigInt(o.v!) | (BigInt(o.v!) << 32n));
        else t.write(CMDQV + o.off!, o.size as 1 | 2 | 4, o.v!);
        break;
      case "r":
        if (o.size === 8) t.read64(CMDQV + o.off!);
        else t.read(CMDQV + o.off!, o.size as 1 | 2 | 4);
        break;
      case "smmu":
        t.write(SMMU + (o.off! & ~3), 4, o.v!);
        break;
      case "ram":
        t.write(0x4000_0000 + (o.off! & ~3), 4, o.v!);
        break;
      case "step":
        t.clockStep(o.ns!);
        break;
      case "reset":
        t.extension("cmdqv_reset", []);
        break;
    }
  }
  return t;
}

/** Meaningful writes in any order and number: what a confused or hostile driver does. */
const meaningful = fc.constantFrom(
  [0x200, 1],
  [0x204, 3],
  [0x200, 0],
  [0x204, 2],
  [0x1000, 1],
  [0x1000, 0],
  [0x0, 0x0002_0083],
  [0x0, 0x0002_0082],
  [0x40000, 0x4020_000c],
  [0x40080, 0x4040_000c],
  [0x40000, 0x4060_000c],
  [0x40000, 0],
  [0x40080, 0],
  [0x30008, 1],
  [0x30088, 1],
  [0x30008, 0],
  [0x30004, 2],
  [0x30084, 2],
  [0x10008, 1],
  [0x30014, 0],
);

function playMeaningful(ops: readonly (readonly number[])[]) {
  const m = createMachine(machineConfig({ profile: "reference" }));
  assert.ok(m.ok);
  const t = new MachineTarget(m.value);
  let most = 0;
  for (const [off, v] of ops) {
    t.write(CMDQV + off!, 4, v!);
    t.clockStep(2_000);
    most = Math.max(most, m.value.cmdqv?.hwQueues().length ?? 0);
  }
  return { t, most };
}

describe("a hostile guest", () => {
  it("cannot break an invariant of the reference design with meaningful writes in any order", () => {
    let twoQueues = 0;
    fc.assert(
      fc.property(fc.array(meaningful, { minLength: 10, maxLength: 60, size: "max" }), (ops) => {
        const { t, most } = playMeaningful(ops);
        if (most === 2) twoQueues++;
        const v = t.checker.violations();
        assert.deepEqual(v, [], v.map((x) => `${x.invariant}: ${x.message}`).join("\n"));
      }),
      { numRuns: 400, seed: 11 },
    );
    assert.ok(twoQueues > 20, `only ${twoQueues} runs had both queues live`);
  });

  for (const profile of ["qemu-v5", "qemu-v7", "qemu-latest", "reference"] as const) {
    it(`cannot make the machine throw (${profile})`, () => {
      fc.assert(
        fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
          play(profile, ops);
        }),
        { numRuns: 60, seed: 42 },
      );
    });
  }

  it("cannot break an invariant of the reference design", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const t = play("reference", ops);
        const v = t.checker.violations();
        assert.deepEqual(v, [], v.map((x) => `${x.invariant}: ${x.message}`).join("\n"));
      }),
      { numRuns: 200, seed: 7 },
    );
  });
});

describe("the qtest clock at its end", () => {
  it("never carries the clock past 2^53 - 1 ns: a bare clock_step stays put when the next deadline is beyond it", () => {
    const m = createMachine({ ...DEFAULT_MACHINE, profile: "reference" });
    assert.ok(m.ok);
    const t = new MachineTarget(m.value);
    const out: string[] = [];
    const s = new QtestSession(t, (l) => out.push(l));
    // A hardware deadline far in the future (2^60 ns), then the clock near its end.
    const far = 2 ** 60;
    m.value.host.hw.nextEventTime = () => far;
    s.handleLine(`clock_set ${Number.MAX_SAFE_INTEGER - 10}`);
    s.handleLine("clock_step");
    s.handleLine("clock_step 5");
    s.handleLine("clock_step 100");
    assert.deepEqual(out, [
      `OK ${Number.MAX_SAFE_INTEGER - 10}`,
      `OK ${Number.MAX_SAFE_INTEGER - 10}`,
      `OK ${Number.MAX_SAFE_INTEGER - 5}`,
      "FAIL clock_step: NS '100' out of range",
    ]);
  });
});
