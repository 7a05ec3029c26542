// What no-silent-hang promises a booted guest (docs/findings.md, "What no-silent-hang
// promises"): a queue it saw enabled consumes its commands or shows an error, unless the
// guest itself took the queue away (and has not booted again). Both sides of that rule.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { guestRevocation } from "../check/invariants.js";
import { machineConfig } from "../machine/config.js";
import { APERTURE, CFG, VCMDQ0, VCMDQ1 } from "../regs/cmdqv.js";
import type { ProfileName } from "../vmm/tegra241-cmdqv/profile.js";
import { World, type WorldStep } from "./world.js";

const CMDQV = machineConfig().cmdqvBase;
const write = (off: number, value: number | bigint, size: 4 | 8 = 4): WorldStep => ({
  kind: "write",
  addr: CMDQV + off,
  size,
  value: `0x${value.toString(16)}`,
});

function booted(profile: ProfileName, extra: Partial<Parameters<typeof World.create>[0]> = {}) {
  const w = World.create({ machine: machineConfig({ profile }), ...extra });
  assert.ok(w.ok, w.ok ? "" : w.error);
  return w.value;
}

const statusOf = (w: World, i: number) =>
  w.machine.as.read(CMDQV + APERTURE.VINTF_PAGE0 + APERTURE.VCMDQ_STRIDE * i + VCMDQ0.STATUS, 4);

/** What a guest can do behind its driver's back to take a queue away. */
const MISUSE: Record<string, WorldStep> = {
  "clears CMDQV_EN": write(CFG.CONFIG, 0),
  "disables VINTF0": write(CFG.VINTF_0, 0),
  "re-writes VCMDQ0's BASE": write(APERTURE.VINTF_PAGE1 + VCMDQ1.BASE_L, 0x7f40_000cn, 8),
  "clears VCMDQ0's CONFIG.EN": write(APERTURE.VINTF_PAGE0 + VCMDQ0.CONFIG, 0),
  "clears VCMDQ0's ALLOC": write(CFG.CMDQ_ALLOC_0, 0),
  "is reset without booting again": { kind: "reset" },
};

describe("no-silent-hang after the guest takes its own queue away", () => {
  for (const [what, step] of Object.entries(MISUSE))
    for (const trapNs of [2_000, 1_000_000_000])
      it(`under reference, a guest that ${what} hangs by its own doing, is told so by STATUS, and violates nothing (trap ${trapNs} ns)`, () => {
        const w = booted("reference", {
          machine: machineConfig({
            profile: "reference",
            timing: { ...machineConfig().timing, trapNs },
          }),
        });
        assert.equal(w.boot(), 0);
        w.apply(step);
        w.apply({ kind: "workload", invalidations: 20, vcpus: 2 });
        assert.ok(
          w.dmesg.messages().some((l) => l.includes("CMD_SYNC timeout")),
          "the guest's commands were not consumed",
        );
        assert.equal(
          statusOf(w, 0) & 1,
          0,
          "VCMDQ0's STATUS.CMDQ_EN_OK reads 0: the guest was told",
        );
        assert.deepEqual(w.checker.violations(), []);
      });
});

describe("no-silent-hang still holds the VMM to account", () => {
  // qemu-v5 and the review's Case 2: VCMDQ0's ring is misaligned, both allocations fail,
  // the register cache says EN_OK, and the guest's CMD_SYNCs time out in silence.
  const case2 = { vcmdqRingOffsets: [0x1000, 0], cmdqMaxSzShift: 12 } as const;

  it("when the guest took away only another queue", () => {
    const w = booted("qemu-v5", case2);
    assert.equal(w.boot(), 0);
    w.apply(write(APERTURE.VINTF_PAGE1 + APERTURE.VCMDQ_STRIDE + VCMDQ1.BASE_L, 0x7f40_000cn, 8));
    w.apply({ kind: "workload", invalidations: 2, vcpus: 1 });
    assert.deepEqual(
      w.checker.violations().map((v) => [v.invariant, v.message.split(" timed out")[0]]),
      [["no-silent-hang", "the guest's CMD_SYNC on VCMDQ0"]],
    );
  });

  it("once the guest boots again after taking its queues away", () => {
    const w = booted("qemu-v5", case2);
    assert.equal(w.boot(), 0);
    w.apply(write(CFG.CONFIG, 0));
    w.apply({ kind: "workload", invalidations: 2, vcpus: 2 });
    assert.deepEqual(w.checker.violations(), [], "its own doing so far");
    assert.equal(w.boot(), 0);
    w.apply({ kind: "workload", invalidations: 2, vcpus: 2 });
    assert.deepEqual(w.checker.violated(), ["no-silent-hang"]);
  });

  it("when the guest re-writes a register with the value it holds (CONFIG.EN=1 again)", () => {
    // Finding 3's shape: a CONFIG write that keeps CMDQV_EN takes nothing away.
    assert.equal(guestRevocation(CFG.CONFIG, 4, 0x20083n, 2), null);
    assert.equal(guestRevocation(CFG.VINTF_0, 4, 0x1n, 2), null);
    assert.equal(guestRevocation(APERTURE.VINTF_PAGE0 + VCMDQ0.CONFIG, 4, 1n, 2), null);
    assert.equal(guestRevocation(CFG.CMDQ_ALLOC_0, 4, 0x1n, 2), null);
  });
});

describe("guestRevocation", () => {
  it("names the queues a write takes away, by register and by the bytes written", () => {
    const n = 4;
    assert.equal(guestRevocation(CFG.CONFIG, 4, 0x20082n, n), "all");
    assert.equal(guestRevocation(CFG.CONFIG, 1, 0x0n, n), "all", "a byte write clearing bit 0");
    assert.equal(guestRevocation(CFG.CONFIG + 1, 1, 0x0n, n), null, "bit 0 not written");
    assert.equal(guestRevocation(CFG.VINTF_0, 4, 0x0n, n), "all");
    assert.deepEqual(guestRevocation(CFG.CMDQ_ALLOC_0 + 4, 4, 0x2n, n), [1, 2, 3]);
    assert.deepEqual(
      guestRevocation(APERTURE.VCMDQ_PAGE0 + 2 * APERTURE.VCMDQ_STRIDE + VCMDQ0.CONFIG, 4, 0n, n),
      [2],
    );
    assert.deepEqual(
      guestRevocation(APERTURE.VCMDQ_PAGE1 + 3 * APERTURE.VCMDQ_STRIDE + VCMDQ1.BASE_H, 4, 0n, n),
      [3],
    );
    assert.equal(guestRevocation(APERTURE.VINTF_PAGE0 + VCMDQ0.PROD, 4, 0xfffffn, n), null);
    assert.equal(guestRevocation(CFG.STATUS, 4, 0n, n), null);
  });
});
