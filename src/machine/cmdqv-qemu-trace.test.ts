// The model's Tegra241 CMDQV trace and log lines, next to what real QEMU 11.1.3 printed for
// the same qtest lines on the same simulated host (`-trace enable=tegra241_cmdqv*
// -d guest_errors,unimp`; every expected line below was copied from that console).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FaultPlan } from "../host/faults.js";
import { qemuTraceLine } from "../vmm/tegra241-cmdqv/trace-events.js";
import { machineConfig } from "./config.js";
import { createMachine } from "./machine.js";

function traced(faultPlan?: FaultPlan) {
  const cfg = machineConfig({
    profile: "qemu-v7",
    cmdqv: "on",
    ...(faultPlan ? { faultPlan } : {}),
  });
  const built = createMachine(cfg, { trace: true });
  assert.ok(built.ok);
  const m = built.value;
  const base = cfg.cmdqvBase;
  let seen = 0;
  /** The trace lines QEMU would have printed since the last call. */
  const lines = () => {
    const evs = m.traceEvents.slice(seen).filter((e) => e.actor === "vmm.cmdqv");
    seen = m.traceEvents.length;
    return evs.map((e) => qemuTraceLine(e.name, e.args));
  };
  return {
    m,
    lines,
    readl: (off: number) => m.as.read(base + off, 4),
    writel: (off: number, v: number) => m.as.write(base + off, 4, v),
    readq: (off: number) => m.as.read64(base + off),
    writeq: (off: number, v: bigint) => m.as.write64(base + off, v),
  };
}

describe("trace and log lines as QEMU 11.1.3 prints them", () => {
  it("prints init_regs at realize, then each access's page helper line before write_mmio", () => {
    const q = traced();
    assert.deepEqual(q.lines(), ["tegra241_cmdqv_init_regs register init, param=0x00004011"]);
    q.writeq(0x10084, 0x7_0000_0005n);
    assert.deepEqual(q.lines(), [
      "tegra241_cmdqv_write_vcmdq_page0 vcmdq[1] direct (cache) offset0: 0x10004 val: 0x5",
      "tegra241_cmdqv_write_mmio offset: 0x10084 val: 0x5 size: 0x4",
      "tegra241_cmdqv_write_vcmdq_page0 vcmdq[1] direct (cache) offset0: 0x10008 val: 0x7",
      "tegra241_cmdqv_write_mmio offset: 0x10088 val: 0x7 size: 0x4",
    ]);
    assert.equal(q.readq(0x10084), 0x7_0000_0005n);
    assert.deepEqual(q.lines(), [
      "tegra241_cmdqv_read_vcmdq_page0 vcmdq[1] direct (cache) offset0: 0x10004 val: 0x5",
      "tegra241_cmdqv_read_vcmdq_page0 vcmdq[1] direct (cache) offset0: 0x10008 val: 0x7",
    ]);
  });

  it("prints page1 reads with the whole 64-bit BASE, whatever the access size", () => {
    const q = traced();
    q.lines();
    q.writel(0x20004, 0x12);
    q.writel(0x20000, 0x40000c);
    assert.equal(q.readq(0x20000), 0x12_0040_000cn);
    assert.equal(q.readl(0x20000), 0x40000c);
    assert.equal(q.readq(0x20004), 0x12n);
    assert.equal(q.readl(0x40000), 0x40000c);
    assert.deepEqual(q.lines(), [
      "tegra241_cmdqv_write_vcmdq_page1 vcmdq[0] direct offset0: 0x20004 val: 0x12",
      "tegra241_cmdqv_write_mmio offset: 0x20004 val: 0x12 size: 0x4",
      "tegra241_cmdqv_write_vcmdq_page1 vcmdq[0] direct offset0: 0x20000 val: 0x40000c",
      "tegra241_cmdqv_write_mmio offset: 0x20000 val: 0x40000c size: 0x4",
      "tegra241_cmdqv_read_vcmdq_page1 vcmdq[0] direct offset0: 0x20000 val: 0x120040000c",
      "tegra241_cmdqv_read_vcmdq_page1 vcmdq[0] direct offset0: 0x20000 val: 0x120040000c",
      "tegra241_cmdqv_read_vcmdq_page1 vcmdq[0] direct offset0: 0x20004 val: 0x12",
      "tegra241_cmdqv_read_vcmdq_page1 vcmdq[0] direct offset0: 0x20008 val: 0x0",
      "tegra241_cmdqv_read_vcmdq_page1 vcmdq[0] vi offset0: 0x20000 val: 0x120040000c",
    ]);
  });

  it("prints read_mmio only for the config page, and write_mmio for every write, with upstream's LOG_UNIMP lines", () => {
    const q = traced();
    q.lines();
    q.writeq(0x10008, 1n);
    q.writel(0x8, 1);
    q.readl(0x100c);
    q.readq(0x18);
    q.readq(0x1c);
    q.writeq(0x20010, 1n);
    q.writeq(0x20004, 0x1111_1111_2222_2222n);
    assert.deepEqual(q.lines(), [
      "tegra241_cmdqv_write_mmio offset: 0x10008 val: 0x1 size: 0x8",
      "tegra241_cmdqv_write_mmio offset: 0x8 val: 0x1 size: 0x4",
      "tegra241_cmdqv_read_mmio offset: 0x100c val: 0x0 size: 0x4",
      "tegra241_cmdqv_read_mmio offset: 0x18 val: 0x0 size: 0x8",
      "tegra241_cmdqv_read_mmio offset: 0x1c val: 0x0 size: 0x4",
      "tegra241_cmdqv_read_mmio offset: 0x20 val: 0x0 size: 0x4",
      "tegra241_cmdqv_write_vcmdq_page1 vcmdq[0] direct offset0: 0x20010 val: 0x1",
      "tegra241_cmdqv_write_mmio offset: 0x20010 val: 0x1 size: 0x8",
      "tegra241_cmdqv_write_vcmdq_page1 vcmdq[0] direct offset0: 0x20004 val: 0x22222222",
      "tegra241_cmdqv_write_mmio offset: 0x20004 val: 0x22222222 size: 0x4",
      "tegra241_cmdqv_write_vcmdq_page1 vcmdq[0] direct offset0: 0x20008 val: 0x11111111",
      "tegra241_cmdqv_write_mmio offset: 0x20008 val: 0x11111111 size: 0x4",
    ]);
    assert.deepEqual(q.m.log.text("unimp"), [
      "tegra241_cmdqv_writell_mmio unhandled 64-bit write at 0x10008 (WI)",
      "tegra241_cmdqv_writel_mmio unhandled write access at 0x8",
      "tegra241_cmdqv_config_vintf_read unhandled read access at 0x100c",
      "tegra241_cmdqv_write_vcmdq_page1_64 unhandled 64-bit write at 0x20010",
    ]);
  });

  it("prints a failed HW_QUEUE_ALLOC with strerror, and the cached GERROR.CMDQ_INIT_ERR read after it", () => {
    const q = traced({ kind: "site", site: "hw_queue_alloc:obj_alloc", nth: 1 });
    q.writel(0x200, 1);
    q.writel(0x1000, 1);
    q.lines();
    q.writeq(0x20000, 0x4010_0008n);
    assert.deepEqual(q.m.log.text("error"), [
      "IOMMU_HW_QUEUE_ALLOC failed: Cannot allocate memory",
    ]);
    assert.equal(q.readl(0x10010), 4);
    assert.deepEqual(q.lines(), [
      "tegra241_cmdqv_write_vcmdq_page1 vcmdq[0] direct offset0: 0x20000 val: 0x40100008",
      "tegra241_cmdqv_write_mmio offset: 0x20000 val: 0x40100008 size: 0x8",
      "tegra241_cmdqv_read_vcmdq_page0 vcmdq[0] direct (cache) offset0: 0x10010 val: 0x4",
    ]);
  });
});
