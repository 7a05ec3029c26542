import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseGuestMarker, parseKernelLine, parseQemuLine } from "./console-lines.js";

describe("QEMU's trace lines", () => {
  test("a CMDQV register store is read with its offset, value and size", () => {
    assert.deepEqual(
      parseQemuLine("tegra241_cmdqv_write_mmio offset: 0x10000 val: 0x80000001 size: 0x4"),
      { kind: "write", write: { device: "cmdqv", offset: 0x10000, value: 0x80000001n, size: 4 } },
    );
  });

  test("the pid@time prefix of timestamped logs is accepted", () => {
    const l = parseQemuLine(
      "4242@1733241600.123456:smmuv3_write_mmio addr: 0x20 val:0x1 size: 0x4(0)",
    );
    assert.equal(l.kind, "write");
    assert.equal(l.kind === "write" && l.write.device, "smmuv3");
  });

  test("a trapped main-CMDQ command names its opcode", () => {
    assert.deepEqual(parseQemuLine("smmuv3_cmdq_opcode <--- SMMU_CMD_CFGI_STE"), {
      kind: "cmdq-opcode",
      opcode: "SMMU_CMD_CFGI_STE",
    });
  });

  test("anything else is kept as text", () => {
    assert.equal(parseQemuLine("qemu-system-aarch64: warning: x").kind, "other");
  });
});

describe("the guest's lines", () => {
  test("a marker splits into its key, k=v fields and free text", () => {
    assert.deepEqual(parseGuestMarker("cmdqv-guest: error cannot set group 3 type=DMA"), {
      key: "error",
      fields: { type: "DMA" },
      text: "cannot set group 3",
    });
  });

  test("a line that is not a marker is null", () => {
    assert.equal(parseGuestMarker("[ 1.0] cmdqv-guest: no"), null);
  });

  test("a kernel line gives its time stamp and text", () => {
    assert.deepEqual(parseKernelLine("[    2.500000] arm-smmu-v3 x: ok"), {
      t: 2.5,
      text: "arm-smmu-v3 x: ok",
    });
  });
});
