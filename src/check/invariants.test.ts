// The teardown side of no-leak: QEMU 11.1.3 exits without a destroy call, so the VMM's
// host objects are judged after its files are closed and the kernel's release has run.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createTestbed } from "../machine/testbed.js";
import { linuxBringUp } from "../vmm/tegra241-cmdqv/guest-steps.js";
import { InvariantChecker } from "./invariants.js";

function twoQueues() {
  const tb = createTestbed({ profile: "qemu-v7" });
  linuxBringUp(tb, [
    { gpa: 0x4020_0000, log2size: 8 },
    { gpa: 0x4040_0000, log2size: 8 },
  ]);
  assert.equal(tb.host.iommufd.hwQueues().length, 2);
  return tb;
}

describe("no-leak at exit", () => {
  it("finds nothing when the VMM exits as QEMU does: no destroy, its files close, the kernel's release takes all", () => {
    const tb = twoQueues();
    const checker = new InvariantChecker(tb.machine);
    const from = tb.host.iommufd.log.size();
    const problems = tb.machine.teardown();
    assert.deepEqual(problems, []);
    assert.equal(checker.checkTeardown(problems), 0, JSON.stringify(checker.violations()));
    const calls = tb.host.iommufd.log.entries().filter((e) => e.seq >= from);
    assert.deepEqual(
      calls.map((e) => e.call),
      ["close(veventq)", "munmap", "close(vfio-device)", "close", "release"],
    );
    const release = calls.at(-1)?.result as { destroyed: { kind: string }[]; leaked: unknown[] };
    assert.deepEqual(
      release.destroyed.map((o) => o.kind).filter((k) => k === "hw_queue" || k === "viommu"),
      ["hw_queue", "hw_queue", "viommu"],
    );
    assert.deepEqual(release.leaked, []);
    assert.equal(tb.host.iommufd.isReleased, true);
    assert.ok(!tb.log.text("error").some((l) => l.startsWith("Failed to free id")));
  });

  it("reports a VMM whose vEVENTQ fd and page0 mapping outlive it: the file is never released", () => {
    const tb = twoQueues();
    const checker = new InvariantChecker(tb.machine);
    // Exit without the device's files: only the VFIO device and iommufd close.
    const k = tb.host.iommufd;
    assert.ok(k.unbindDevice(tb.devId).ok);
    assert.ok(k.close().ok);
    assert.equal(checker.checkTeardown([]), 1);
    const v = checker.violations()[0];
    assert.equal(v?.invariant, "no-leak");
    assert.match(
      v?.message ?? "",
      /iommufd file is not released \(2 references left\); it still holds .*hw_queue/,
    );
  });
});
