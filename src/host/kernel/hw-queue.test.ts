// HW queues on the Tegra241 driver: physical contiguity of the pinned guest pages, the
// BASE the driver programs, and the destroy hook (spec: linux §3.5, §3.6).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CFG, VCMDQ0 } from "../../regs/cmdqv.js";
import { expectErrno, RAM_BASE, rig, unwrap } from "./testkit.js";
import { HW_QUEUE_TYPE } from "./uapi.js";

const Q64K = 0x10000;

function alloc(r: ReturnType<typeof rig>, index: number, iova: number, length: number) {
  return r.k.hwQueueAlloc({
    flags: 0,
    viommuId: r.viommuId,
    type: HW_QUEUE_TYPE.TEGRA241_CMDQV,
    index,
    iova,
    length,
  });
}

describe("HW queue allocation and destroy", () => {
  it("refuses a 64 KiB queue on scattered 4 KiB guest pages with EFAULT", () => {
    const r = rig({ ramPage: 0x1000, seed: 11 });
    assert.equal(r.ram.isHostContiguous(RAM_BASE, Q64K), false);
    expectErrno(alloc(r, 0, RAM_BASE, Q64K), "EFAULT");
  });

  it("accepts the same 64 KiB queue on 2 MiB backing and points BASE at its host PA", () => {
    const r = rig({ ramPage: 0x20_0000, seed: 11 });
    unwrap(alloc(r, 0, RAM_BASE, Q64K));
    const page1 = 0x30000 + 0x20000 + 0x10000;
    const base = r.host.hw.read64(page1);
    assert.equal(base & 0xffff_ffff_ffe0n, BigInt(r.ram.hpaOf(RAM_BASE)));
    assert.equal(base & 0x1fn, 12n, "log2(64 KiB / 16)");
  });

  it("maps LVCMDQ index i of VINTF v to global VCMDQ v·N + i and leaves enabling to the guest", () => {
    const r = rig();
    unwrap(alloc(r, 0, RAM_BASE, 0x1000));
    unwrap(alloc(r, 1, RAM_BASE + 0x10_0000, 0x1000));
    const hw = r.host.hw;
    assert.equal(hw.read(CFG.CMDQ_ALLOC_0 + 4 * 2, 4), (1 << 15) | 1);
    assert.equal(hw.read(CFG.CMDQ_ALLOC_0 + 4 * 3, 4), (1 << 15) | (1 << 1) | 1);
    const page0 = 0x30000 + 0x20000;
    assert.equal(hw.read(page0 + VCMDQ0.CONFIG, 4), 0);
    assert.equal(hw.read(page0 + VCMDQ0.STATUS, 4), 0);
  });

  it("disables, resets and unmaps the LVCMDQ on destroy, and undoes the dependency", () => {
    const r = rig({ host: { traceHostMmio: true } });
    const q0 = unwrap(alloc(r, 0, RAM_BASE, 0x1000)).hwQueueId;
    const page0 = 0x30000 + 0x20000;
    r.host.hw.write(page0 + VCMDQ0.CONFIG, 4, 1);
    r.host.clock.advance(10_000);
    assert.equal(r.host.hw.read(page0 + VCMDQ0.STATUS, 4) & 1, 1);
    r.host.driver.clearMmioTrace();
    const syncs = r.host.smmu.stats().mainSyncs;
    unwrap(r.k.destroy(q0));
    const w = r.host.driver.mmioTrace().filter((a) => a.op === "w32" || a.op === "w64");
    assert.deepEqual(
      w.map((a) => a.off),
      [
        page0 + 0x08,
        page0 + 0x04,
        page0 + 0x00,
        page0 + 0x10000,
        page0 + 0x10008,
        CFG.CMDQ_ALLOC_0 + 8,
      ],
    );
    assert.ok(r.host.smmu.stats().mainSyncs > syncs, "the ATC-timeout flush ran on the main CMDQ");
    assert.equal(r.host.hw.read(page0 + VCMDQ0.STATUS, 4) & 1, 0);
    assert.equal(r.host.hw.read(CFG.CMDQ_ALLOC_0 + 8, 4) & 1, 0);
    // Index 0 can be allocated again.
    unwrap(alloc(r, 0, RAM_BASE, 0x1000));
  });
});
