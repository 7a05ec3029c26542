import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CMDQV_TRACE, qemuTraceLine } from "../vmm/tegra241-cmdqv/trace-events.js";
import { parseQemuTraceLine, qemuName, qtestAccess } from "./qemu-replay-report.js";

describe("a replay on real QEMU, read for its report", () => {
  it("reads QEMU's tegra241_cmdqv trace lines back into the model's event arguments", () => {
    const events = [
      { name: CMDQV_TRACE.WRITE_MMIO, args: { offset: "0x0", val: "0x3", size: "0x4" } },
      {
        name: CMDQV_TRACE.WRITE_VCMDQ_PAGE0,
        args: { index: 1, aperture: "vi", source: "hw", offset0: "0x10004", val: "0x2" },
      },
      {
        name: CMDQV_TRACE.READ_VCMDQ_PAGE1,
        args: { index: 0, aperture: "direct", offset0: "0x20000", val: "0x4020000c" },
      },
      { name: CMDQV_TRACE.ERR_MAP, args: { map3: 0, map2: 0, map1: 0, map0: 1 } },
    ];
    for (const e of events) {
      const line = qemuTraceLine(e.name, e.args);
      assert.ok(line !== null, e.name);
      for (const prefix of ["", "12345@1700000000.123456:"]) {
        const got = parseQemuTraceLine(`${prefix}${line}`);
        assert.equal(got?.name, e.name, line);
        assert.deepEqual({ ...got?.args }, e.args, line);
      }
    }
    assert.equal(parseQemuTraceLine("qemu-system-aarch64: IOMMU_HW_QUEUE_ALLOC failed"), null);
  });

  it("reads a qtest line and its reply as the guest access the model's guest traces", () => {
    assert.deepEqual(qtestAccess("writel 0xc081000 0x20001", "OK"), {
      name: "write",
      addr: 0xc081000,
      size: 4,
      value: "0x20001",
    });
    assert.deepEqual(qtestAccess("readq 0xc0b0000", "OK 0x0000000000000002"), {
      name: "read64",
      addr: 0xc0b0000,
      size: 8,
      value: "0x2",
    });
    assert.equal(qtestAccess("write 0x40200000 16 0x11", "OK")?.size, 16);
    assert.equal(qtestAccess("clock_step 1000", "OK 1000"), null);
  });

  it("names the fetched QEMU by its upstream version", () => {
    assert.equal(qemuName("QEMU 1:11.1.3+ds-2~bpo13+1 (Debian)"), "real QEMU 11.1.3");
    assert.equal(
      qemuName("/opt/qemu/bin/qemu-system-aarch64"),
      "real QEMU (/opt/qemu/bin/qemu-system-aarch64)",
    );
  });
});
