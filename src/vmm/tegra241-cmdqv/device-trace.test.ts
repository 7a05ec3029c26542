// The device's MMIO trace events name the register and decode its fields from the
// regs/cmdqv.ts tables, as the SMMUv3's do.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AddressSpace } from "../../mem/address-space.js";
import { APERTURE, CFG, VCMDQ0, VCMDQ1 } from "../../regs/cmdqv.js";
import { RecordingTracer } from "../../trace/trace.js";
import { VirtualClock } from "../../util/clock.js";
import { CountingIrq } from "../../util/irq.js";
import type { IommufdBackend } from "../iommufd-backend.js";
import { VmmLog } from "../log.js";
import { Tegra241CmdqvDevice } from "./device.js";
import { OverlayPage0Window } from "./page0-window.js";
import { PROFILES } from "./profile.js";

function tracedDevice() {
  const clock = new VirtualClock();
  const tracer = new RecordingTracer(clock);
  const dev = new Tegra241CmdqvDevice({
    profile: PROFILES["qemu-v7"],
    // No access below reaches the host: nothing is allocated.
    backend: {} as IommufdBackend,
    log: new VmmLog(clock),
    irq: new CountingIrq(),
    page0: new OverlayPage0Window(new AddressSpace(), "page0", APERTURE.VINTF_PAGE0),
    smmu: { getCmdqs: () => 19, setCmdqs: () => {}, minRamPageSize: () => 0x1000 },
    isRam: () => true,
    tracer,
  });
  return { dev, tracer };
}

describe("tegra241-cmdqv MMIO trace", () => {
  it("names and decodes the register of each read and write", () => {
    const { dev, tracer } = tracedDevice();
    dev.read(CFG.PARAM, 4);
    dev.write(APERTURE.VCMDQ_PAGE0 + APERTURE.VCMDQ_STRIDE + VCMDQ0.PROD, 4, 3);
    dev.write(APERTURE.VINTF_PAGE0 + VCMDQ0.PROD, 4, 5);
    const reads = tracer.named("tegra241_cmdqv_read_mmio");
    assert.equal(
      reads[0]?.args["reg"],
      "PARAM: CMDQV_VER=0x1 NUM_CMDQ_LOG2=0x1 NUM_VI_LOG2=0x0 NUM_SID_PER_VI_LOG2=0x4",
    );
    const writes = tracer.named("tegra241_cmdqv_write_mmio").map((e) => e.args["reg"]);
    assert.deepEqual(writes, ["VCMDQ1_PROD_INDX: WR=0x3", "VINTF0 LVCMDQ0_PROD_INDX: WR=0x5"]);
  });

  it("decodes both halves of an 8-byte BASE write", () => {
    const { dev, tracer } = tracedDevice();
    dev.write64(APERTURE.VCMDQ_PAGE1 + VCMDQ1.BASE_L, 0x1_4000_000cn);
    assert.equal(
      tracer.named("tegra241_cmdqv_write_mmio")[0]?.args["reg"],
      "VCMDQ0_BASE_L: LOG2SIZE=0xc ADDR=0x2000000; VCMDQ0_BASE_H: ADDR=0x1",
    );
  });
});
