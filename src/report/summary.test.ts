// The run summary of the default job: both VCMDQs up, invalidations split between the
// VCMDQ path (no VM exit) and the trapped main CMDQ, hardware consumption, a clean exit.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { machineConfig } from "../machine/config.js";
import { World } from "../sim/world.js";
import { exitBaseline, summarize } from "./summary.js";

function world(profile: "qemu-v7" | "qemu-latest" | "reference"): World {
  const w = World.create({ machine: machineConfig({ profile }) });
  assert.ok(w.ok, w.ok ? "" : w.error);
  return w.value;
}

describe("the default run", () => {
  for (const profile of ["qemu-v7", "qemu-latest", "reference"] as const) {
    it(`boots, brings up both VCMDQs and invalidates with no invariant violated (${profile})`, () => {
      const w = world(profile);
      assert.equal(w.boot(), 0);
      const before = exitBaseline(w);
      w.apply({
        kind: "workload",
        invalidations: 3000,
        vcpus: 2,
        weights: { TLBI_NH_VA: 6, TLBI_NH_ASID: 2, ATC_INV: 1, CFGI_CD: 1 },
      });
      const s = summarize(w, before);
      w.teardown();
      assert.deepEqual(w.checker.violations(), []);
      assert.equal(s.hwQueues.length, 2);
      assert.ok(s.vcmdqPath.invalidations > 0 && s.mainPath.invalidations > 0);
      assert.equal(s.vcmdqPath.exits, 0, "no VM exit on the VCMDQ path");
      assert.ok(s.mainPath.exitsPer1000 >= 1000, "the main CMDQ traps");
      assert.equal(s.vcmdqPath.invalidations + s.mainPath.invalidations, 3000);
      assert.ok(
        s.hwConsumed >= s.vcmdqPath.invalidations,
        "hardware consumed the VCMDQ commands (and their syncs)",
      );
      assert.equal(
        w.machine.host.iommufd.liveObjects().filter((o) => o.kind !== "device").length,
        0,
      );
    });
  }
});
