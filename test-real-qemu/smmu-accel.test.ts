// The SMMUv3 accel core, model against real QEMU 11.1.3 on the same simulated host, step
// by step: the calls at realize, the vDEVICE at the first STE install, abort / bypass /
// stage-1 nested HWPTs as the guest's STE says, the vEVENTQ at EVENTQEN, GBPA updates,
// reset, and the failures (a vDEVICE, an attach, a GBPA attach) with their messages.
// The script is the differential catalog's `main-cmdq/ste-install`; under qtest QEMU's VFIO
// device sits at SID 0 (its buses are not enumerated), which the differential's model
// machine matches.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { builtinScripts, selectScripts } from "../src/differential/catalog.js";
import { MASKS } from "../src/differential/masks.js";
import { describeAll } from "../src/differential/report.js";
import { runScript } from "../src/differential/runner.js";
import { modelSide, QEMU_11_1_PROFILE, qemuSide } from "../src/differential/sides.js";

describe("the SMMUv3 accel core under real QEMU 11.1.3 and in the model", () => {
  it("makes the same host calls at every step, with the same console lines", async () => {
    const [script] = selectScripts(builtinScripts(), "main-cmdq/ste-install");
    const o = await runScript(
      script!,
      { model: () => modelSide(QEMU_11_1_PROFILE), qemu: () => qemuSide() },
      MASKS,
    );
    assert.deepEqual(o.comparison.differences, [], describeAll(o, 2).join("\n"));
    const calls = o.qemu.flatMap((x) =>
      x.ioctls.map((e) => `${e.call}${e.errno ? ` ${e.errno}` : ""}`),
    );
    assert.deepEqual(
      calls.filter((c) => c.startsWith("IOMMU_VDEVICE") || c.startsWith("IOMMU_DESTROY")),
      [
        "IOMMU_VDEVICE_ALLOC ENOMEM",
        "IOMMU_VDEVICE_ALLOC",
        "IOMMU_DESTROY",
        "IOMMU_DESTROY",
        "IOMMU_DESTROY",
      ],
      "the vDEVICE retried after its failure; the HWPT of the failed attach, then the two stage-1 HWPTs replaced",
    );
    assert.equal(
      calls.filter((c) => c === "IOMMU_VEVENTQ_ALLOC").length,
      2,
      "type 2 at realize, type 1 once",
    );
    assert.match(o.qemu.at(-2)?.reply ?? "", /^OK/);
  });
});
