import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeSmmuAccess, SMMU_REG as R, smmuv3Block } from "../../regs/smmuv3.js";
import { RecordingTracer } from "../../trace/trace.js";
import { VirtualClock } from "../../util/clock.js";
import { CountingIrq } from "../../util/irq.js";
import { VmmLog } from "../log.js";
import { QEMU_7_2, QEMU_ACCEL } from "./profile.js";
import { Smmuv3Accel } from "./smmuv3.js";
import { RAM_BASE, RAM_SIZE, RecordingHost, TestGuestMemory } from "./testing.js";

describe("the SMMUv3 register table", () => {
  const b = smmuv3Block({ idr: QEMU_ACCEL.idr, gbpa: true });

  it("decodes a register write into its fields for traces", () => {
    assert.equal(decodeSmmuAccess(b, R.CR0, 0xd), "CR0: SMMUEN=1 EVENTQEN=1 CMDQEN=1");
    assert.equal(decodeSmmuAccess(b, R.IDR1, 0x0273_0010).includes("CMDQS=0x13"), true);
    assert.equal(decodeSmmuAccess(b, R.CMDQ_CONS, 0x0100_0003), "CMDQ_CONS: ERR=0x1 RSVD=0x3");
  });

  it("names page-1 aliases, the page-1 event queue pointers and 64-bit high halves", () => {
    assert.equal(decodeSmmuAccess(b, 0x1_0098, 2), "CMDQ_PROD (page1 alias): CMDQ_PROD=0x2");
    assert.equal(
      decodeSmmuAccess(b, R.EVENTQ_PROD_PAGE1, 1),
      "EVENTQ_PROD(page1): EVENTQ_PROD(page1)=0x1",
    );
    assert.equal(decodeSmmuAccess(b, R.CMDQ_BASE + 4, 0x12), "CMDQ_BASE[63:32] = 0x12");
    assert.equal(decodeSmmuAccess(b, 0x30, 1), "smmuv3+0x30 (unknown) = 0x1");
  });

  it("has GBPA only when the profile has it, with QEMU's reset values", () => {
    const old = smmuv3Block({ idr: QEMU_7_2.idr, gbpa: false });
    assert.equal(
      old.regs.some((r) => r.name === "GBPA"),
      false,
    );
    const gbpa = b.regs.find((r) => r.name === "GBPA");
    assert.equal(gbpa?.reset, 0x1000n);
    assert.equal(b.regs.find((r) => r.name === "CMDQ_BASE")?.reset, 19n);
  });
});

describe("SMMUv3 tracing", () => {
  it("emits decoded MMIO accesses and queue events only when a tracer is on", () => {
    const clock = new VirtualClock();
    const tracer = new RecordingTracer(clock);
    const mem = new TestGuestMemory(RAM_BASE, RAM_SIZE);
    const smmu = new Smmuv3Accel({
      mem,
      host: new RecordingHost(),
      log: new VmmLog(clock),
      tracer,
      irqs: {
        eventq: new CountingIrq(),
        priq: new CountingIrq(),
        cmdSync: new CountingIrq(),
        gerror: new CountingIrq(),
      },
      minRamPageSize: 0x1000,
    });
    smmu.write64(R.CMDQ_BASE, BigInt(RAM_BASE) | 2n);
    smmu.write(R.CR0, 4, 8);
    mem.putWords(RAM_BASE, 0x46);
    smmu.write(R.CMDQ_PROD, 4, 1);
    const writes = tracer.named("smmuv3_write_mmio");
    assert.equal(writes[1]?.args["reg"], "CR0: SMMUEN=0 EVENTQEN=0 CMDQEN=1");
    assert.equal(tracer.named("smmuv3_cmdq_opcode")[0]?.args["opcode"], 0x46);
    assert.deepEqual(tracer.named("smmuv3_cmdq_consume_out").at(-1)?.args, {
      prod: 1,
      cons: 1,
      prodWrap: 0,
      consWrap: 0,
    });
  });
});
