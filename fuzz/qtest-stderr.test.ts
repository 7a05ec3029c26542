import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { strayStderr } from "./qtest.js";

describe("the qtest fuzzer's stderr check", () => {
  it("lets the VMM console's error_report lines through, as QEMU prints them", () => {
    assert.equal(
      strayStderr(
        "qemu-system-aarch64: IOMMU_HW_QUEUE_ALLOC failed: Cannot allocate memory\nqemu-system-aarch64: x\n",
      ),
      null,
    );
  });

  it("names anything else, a stack trace above all", () => {
    assert.equal(
      strayStderr("qemu-system-aarch64: fine\n    at Object.<anonymous> (x.ts:1:1)\n"),
      "    at Object.<anonymous> (x.ts:1:1)",
    );
  });
});
