// The allocation lifecycle of spec qemu §3: every trigger of the §3.2 table, in every
// profile where it differs, all 120 orders of the gating writes, and the orderings that
// the kernel's ascending-allocation / descending-destroy rules make interesting.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BITS, VCMDQ0, VCMDQ1 } from "../regs/cmdqv.js";
import {
  allocMapValue,
  gateWrites,
  linuxBringUp,
  OFF,
  qBase,
} from "../vmm/tegra241-cmdqv/guest-steps.js";
import type { ProfileName } from "../vmm/tegra241-cmdqv/profile.js";
import { createTestbed, type Testbed } from "./testbed.js";

const Q0 = 0x4020_0000; // 2 MiB aligned: one 2 MiB backing page
const Q1 = 0x4040_0000;
const LOG2 = 12; // 4096 entries = 64 KiB

function liveHwQueues(tb: Testbed): { index: number; gpa: number; length: number }[] {
  return tb.dev.hwQueues().map(({ index, gpa, length }) => ({ index, gpa, length }));
}

function hostHwQueueCount(tb: Testbed): number {
  return tb.host.liveObjects().filter((o) => o.kind === "hw_queue").length;
}

/** Start from a guest that disabled CMDQV (Linux R2), so every gate is open. */
function fresh(
  profile: ProfileName,
  extra: Partial<Parameters<typeof createTestbed>[0]> = {},
): Testbed {
  const tb = createTestbed({ profile, ...extra });
  tb.w32(OFF.CONFIG, tb.r32(OFF.CONFIG) & ~BITS.CMDQV_EN);
  return tb;
}

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [xs.slice()];
  const out: T[][] = [];
  xs.forEach((x, i) => {
    for (const rest of permutations([...xs.slice(0, i), ...xs.slice(i + 1)]))
      out.push([x, ...rest]);
  });
  return out;
}

describe("allocation triggers (spec qemu §3.2)", () => {
  for (const profile of ["qemu-v5", "qemu-v7", "qemu-latest", "reference"] as const) {
    it(`allocates VCMDQ0 on the last of BASE, ALLOC, CMDQV enable and VINTF enable (${profile})`, () => {
      const tb = fresh(profile);
      const g = gateWrites(tb, 0, Q0, LOG2);
      g.BASE_L();
      g.BASE_H();
      g.ALLOC();
      g.CMDQV_EN();
      assert.equal(hostHwQueueCount(tb), 0);
      g.VINTF_EN();
      assert.deepEqual(liveHwQueues(tb), [{ index: 0, gpa: Q0, length: 0x1_0000 }]);
      assert.equal(hostHwQueueCount(tb), 1);
    });
  }

  it("frees VCMDQ i when ALLOC goes 1→0 and allocates again on 0→1", () => {
    const tb = fresh("qemu-v7");
    const g = gateWrites(tb, 0, Q0, LOG2);
    for (const step of Object.values(g)) step();
    assert.equal(hostHwQueueCount(tb), 1);
    tb.w32(OFF.alloc(0), allocMapValue(0, false));
    assert.equal(hostHwQueueCount(tb), 0);
    tb.w32(OFF.alloc(0), allocMapValue(0, true));
    assert.equal(hostHwQueueCount(tb), 1);
  });

  it("re-runs setup on a 64-bit BASE write through the VINTF page1 alias", () => {
    const tb = fresh("qemu-v7");
    const g = gateWrites(tb, 0, Q0, LOG2);
    g.ALLOC();
    g.CMDQV_EN();
    g.VINTF_EN();
    tb.w64(OFF.page1(0, VCMDQ1.BASE_L, true), qBase(Q0, LOG2));
    assert.deepEqual(liveHwQueues(tb), [{ index: 0, gpa: Q0, length: 0x1_0000 }]);
    assert.equal(tb.r64(OFF.page1(0, VCMDQ1.BASE_L, false)), qBase(Q0, LOG2));
  });

  for (const profile of ["qemu-v7", "reference"] as const) {
    it(`frees all HW queues in descending order when CMDQV is disabled, and STATUS drops (${profile})`, () => {
      const tb = fresh(profile);
      linuxBringUp(tb, [
        { gpa: Q0, log2size: LOG2 },
        { gpa: Q1, log2size: LOG2 },
      ]);
      assert.equal(hostHwQueueCount(tb), 2);
      const before = tb.host.iommufd.log.entries().length;
      tb.w32(OFF.CONFIG, tb.r32(OFF.CONFIG) & ~BITS.CMDQV_EN);
      const destroys = tb.host.iommufd.log
        .entries()
        .slice(before)
        .filter((e) => e.call === "IOMMU_DESTROY");
      assert.equal(destroys.length, 2);
      assert.ok(destroys.every((e) => e.errno === undefined));
      assert.equal(hostHwQueueCount(tb), 0);
      assert.equal(tb.r32(OFF.STATUS) & 1, 0);
      assert.equal(tb.log.count("error"), 0);
    });
  }

  it("removes the guest page0 map on CMDQV disable in qemu-v5 only", () => {
    for (const [profile, keeps] of [
      ["qemu-v5", false],
      ["qemu-v7", true],
    ] as const) {
      const tb = fresh(profile);
      linuxBringUp(tb, [{ gpa: Q0, log2size: LOG2 }]);
      tb.w32(OFF.CONFIG, tb.r32(OFF.CONFIG) & ~BITS.CMDQV_EN);
      const overlay = tb.as.regions().find((r) => r.kind === "overlay" && r.enabled !== false);
      assert.equal(overlay !== undefined, keeps, profile);
    }
  });

  it("installs the guest page0 map at VINTF enable in v7 but only after the first allocation in v5", () => {
    const v7 = fresh("qemu-v7");
    gateWrites(v7, 0, Q0, LOG2).VINTF_EN();
    assert.ok(v7.as.regions().some((r) => r.kind === "overlay"));
    const v5 = fresh("qemu-v5");
    const g5 = gateWrites(v5, 0, Q0, LOG2);
    g5.VINTF_EN();
    assert.ok(!v5.as.regions().some((r) => r.kind === "overlay"));
    g5.CMDQV_EN();
    g5.ALLOC();
    g5.BASE_L();
    assert.ok(v5.as.regions().some((r) => r.kind === "overlay"));
  });

  it("removes the guest map, frees every queue and clears ENABLE_OK on VINTF disable", () => {
    const tb = fresh("qemu-latest");
    linuxBringUp(tb, [
      { gpa: Q0, log2size: LOG2 },
      { gpa: Q1, log2size: LOG2 },
    ]);
    tb.w32(OFF.VINTF0_CONFIG, 0);
    assert.equal(hostHwQueueCount(tb), 0);
    assert.equal(tb.r32(OFF.VINTF0_STATUS) & 1, 0);
    assert.ok(!tb.as.regions().some((r) => r.kind === "overlay" && r.enabled !== false));
  });

  it("masks HYP_OWN off every guest VINTF0_CONFIG write", () => {
    const tb = fresh("qemu-v7");
    tb.w32(OFF.VINTF0_CONFIG, BITS.VINTF_HYP_OWN | BITS.VINTF_ENABLE);
    assert.equal(tb.r32(OFF.VINTF0_CONFIG), BITS.VINTF_ENABLE);
  });

  it("does not allocate on a VCMDQ CONFIG.EN write (not a trigger)", () => {
    const tb = fresh("qemu-v7");
    tb.w32(OFF.page0(0, VCMDQ0.CONFIG, false), BITS.CMDQ_EN);
    assert.equal(hostHwQueueCount(tb), 0);
    assert.equal(
      tb.r32(OFF.page0(0, VCMDQ0.STATUS, false)),
      1,
      "the cache reports the emulated enable",
    );
  });

  it("ignores a BASE write while the VCMDQ is enabled in qemu-v5, but re-allocates in qemu-v7", () => {
    for (const [profile, moved] of [
      ["qemu-v5", false],
      ["qemu-v7", true],
    ] as const) {
      const tb = fresh(profile);
      linuxBringUp(tb, [{ gpa: Q0, log2size: LOG2 }]);
      tb.step(10_000);
      assert.equal(
        tb.r32(OFF.page0(0, VCMDQ0.STATUS, false)) & 1,
        1,
        `${profile}: enabled in hardware`,
      );
      tb.w64(OFF.page1(0, VCMDQ1.BASE_L, false), qBase(Q1, LOG2));
      assert.equal(liveHwQueues(tb)[0]?.gpa, moved ? Q1 : Q0, profile);
    }
  });

  it("re-writing CMDQV CONFIG.EN=1 frees and re-allocates every ready queue upstream, keeps them in reference", () => {
    for (const [profile, reallocated] of [
      ["qemu-v7", true],
      ["reference", false],
    ] as const) {
      const tb = fresh(profile);
      linuxBringUp(tb, [{ gpa: Q0, log2size: LOG2 }]);
      tb.step(10_000);
      assert.equal(tb.r32(OFF.page0(0, VCMDQ0.STATUS)) & 1, 1, `${profile}: enabled before`);
      const before = tb.host.iommufd.log.entries().length;
      tb.w32(OFF.CONFIG, tb.r32(OFF.CONFIG));
      const calls = tb.host.iommufd.log
        .entries()
        .slice(before)
        .map((e) => e.call);
      assert.deepEqual(
        calls,
        reallocated ? ["IOMMU_DESTROY", "IOMMU_HW_QUEUE_ALLOC"] : [],
        profile,
      );
      tb.step(10_000);
      // Upstream syncs the stale cached CONFIG (0: the guest enabled the queue through the
      // guest-mapped page0, which the cache never saw): the queue is silently disabled.
      assert.equal(
        tb.r32(OFF.page0(0, VCMDQ0.STATUS)) & 1,
        reallocated ? 0 : 1,
        `${profile}: enabled after`,
      );
    }
  });
});

describe("any order of the gating writes (spec qemu §3.2: each precondition write retries)", () => {
  // RAM above 4 GiB makes BASE_H meaningful: a half-written BASE passes the BASE≠0 check.
  const HIGH_RAM = 0x1_0000_0000;
  const QH = HIGH_RAM + 0x20_0000;
  for (const profile of ["qemu-v7", "qemu-latest", "reference"] as const) {
    it(`ends all 120 orders of BASE_L, BASE_H, ALLOC, CMDQV_EN, VINTF_EN with exactly one HW queue (${profile})`, () => {
      const names = ["BASE_L", "BASE_H", "ALLOC", "CMDQV_EN", "VINTF_EN"] as const;
      const orders = permutations(names);
      assert.equal(orders.length, 120);
      for (const order of orders) {
        const tb = fresh(profile, { ramBase: HIGH_RAM, ramSize: 0x4000_0000 });
        const g = gateWrites(tb, 0, QH, LOG2);
        for (const n of order) g[n]();
        assert.deepEqual(
          liveHwQueues(tb),
          [{ index: 0, gpa: QH, length: 0x1_0000 }],
          order.join(","),
        );
        assert.equal(hostHwQueueCount(tb), 1, order.join(","));
        assert.equal(
          tb.r32(OFF.page0(0, VCMDQ0.GERROR, false)) & BITS.GERROR_CMDQ_INIT_ERR,
          0,
          order.join(","),
        );
      }
    });
  }
});

describe("kernel ordering rules against the device model", () => {
  it("upstream: VCMDQ1 programmed before VCMDQ0 gets the kernel's EIO, CMDQ_INIT_ERR, and is never retried", () => {
    const tb = fresh("qemu-v7");
    const g0 = gateWrites(tb, 0, Q0, LOG2);
    const g1 = gateWrites(tb, 1, Q1, LOG2);
    g1.CMDQV_EN();
    g1.VINTF_EN();
    g1.ALLOC();
    g1.BASE_L();
    assert.equal(tb.host.iommufd.log.entries().at(-1)?.errno, "EIO");
    assert.ok(tb.log.text("error").includes("IOMMU_HW_QUEUE_ALLOC failed: Input/output error"));
    assert.equal(
      tb.r32(OFF.page0(1, VCMDQ0.GERROR, false)) & BITS.GERROR_CMDQ_INIT_ERR,
      BITS.GERROR_CMDQ_INIT_ERR,
    );
    g0.ALLOC();
    g0.BASE_L();
    assert.deepEqual(
      liveHwQueues(tb).map((q) => q.index),
      [0],
      "VCMDQ1 stays unallocated although its preconditions hold",
    );
  });

  it("reference: VCMDQ1 programmed before VCMDQ0 waits, then both queues are allocated", () => {
    const tb = fresh("reference");
    const g0 = gateWrites(tb, 0, Q0, LOG2);
    const g1 = gateWrites(tb, 1, Q1, LOG2);
    g1.CMDQV_EN();
    g1.VINTF_EN();
    g1.ALLOC();
    g1.BASE_L();
    assert.equal(hostHwQueueCount(tb), 0);
    assert.ok(!tb.host.iommufd.log.entries().some((e) => e.errno !== undefined));
    g0.ALLOC();
    g0.BASE_L();
    assert.deepEqual(
      liveHwQueues(tb).map((q) => [q.index, q.gpa]),
      [
        [0, Q0],
        [1, Q1],
      ],
    );
    assert.equal(tb.log.count("error"), 0);
  });

  it("upstream: re-programming VCMDQ0's BASE while VCMDQ1 is allocated meets the kernel's EBUSY and leaks", () => {
    const tb = fresh("qemu-v7");
    linuxBringUp(tb, [
      { gpa: Q0, log2size: LOG2 },
      { gpa: Q1, log2size: LOG2 },
    ]);
    const Q0B = 0x4060_0000;
    tb.w64(OFF.page1(0, VCMDQ1.BASE_L, false), qBase(Q0B, LOG2));
    const calls = tb.host.iommufd.log.entries().slice(-2);
    assert.deepEqual(
      calls.map((e) => [e.call, e.errno]),
      [
        ["IOMMU_DESTROY", "EBUSY"],
        ["IOMMU_HW_QUEUE_ALLOC", "EEXIST"],
      ],
    );
    assert.ok(
      tb.log.text("error").some((l) => /^Failed to free id: \d+ Device or resource busy$/.test(l)),
    );
    assert.equal(tb.dev.leakedObjects().length, 1, "the VMM forgot a queue the host still holds");
    assert.equal(
      tb.r32(OFF.page0(0, VCMDQ0.GERROR, false)) & BITS.GERROR_CMDQ_INIT_ERR,
      BITS.GERROR_CMDQ_INIT_ERR,
    );
  });

  it("reference: re-programming VCMDQ0's BASE while VCMDQ1 is allocated keeps both queues live with the new BASE", () => {
    const tb = fresh("reference");
    linuxBringUp(tb, [
      { gpa: Q0, log2size: LOG2 },
      { gpa: Q1, log2size: LOG2 },
    ]);
    tb.step(10_000);
    const Q0B = 0x4060_0000;
    tb.w64(OFF.page1(0, VCMDQ1.BASE_L, false), qBase(Q0B, LOG2));
    assert.deepEqual(
      liveHwQueues(tb).map((q) => [q.index, q.gpa]),
      [
        [0, Q0B],
        [1, Q1],
      ],
    );
    assert.ok(!tb.host.iommufd.log.entries().some((e) => e.errno !== undefined), "no refused call");
    assert.equal(tb.dev.leakedObjects().length, 0);
    tb.step(10_000);
    assert.equal(tb.r32(OFF.page0(1, VCMDQ0.STATUS)) & 1, 1, "VCMDQ1 restored enabled in hardware");
  });

  it("reference: clearing ALLOC of VCMDQ0 while VCMDQ1 exists frees both in order and restores VCMDQ1 later", () => {
    const tb = fresh("reference");
    linuxBringUp(tb, [
      { gpa: Q0, log2size: LOG2 },
      { gpa: Q1, log2size: LOG2 },
    ]);
    tb.w32(OFF.alloc(0), allocMapValue(0, false));
    assert.equal(hostHwQueueCount(tb), 0);
    assert.ok(!tb.host.iommufd.log.entries().some((e) => e.errno !== undefined));
    tb.w32(OFF.alloc(0), allocMapValue(0, true));
    assert.deepEqual(
      liveHwQueues(tb).map((q) => q.index),
      [0, 1],
    );
  });
});

describe("reset (spec qemu §2.7)", () => {
  it("frees everything in descending order and restores the reset values, keeping the vIOMMU", () => {
    const tb = fresh("qemu-v7");
    linuxBringUp(tb, [
      { gpa: Q0, log2size: LOG2 },
      { gpa: Q1, log2size: LOG2 },
    ]);
    tb.w32(OFF.VI_INT_MASK_0, 1);
    tb.w32(0x1040, (VIRT_SID_T << 1) | 1);
    const before = tb.host.iommufd.log.entries().length;
    tb.dev.reset();
    const destroys = tb.host.iommufd.log
      .entries()
      .slice(before)
      .filter((e) => e.call === "IOMMU_DESTROY");
    const ids = tb.host.iommufd.log
      .entries()
      .filter((e) => e.call === "IOMMU_HW_QUEUE_ALLOC" && e.errno === undefined)
      .map((e) => (e.result as { hwQueueId: number }).hwQueueId);
    assert.deepEqual(
      destroys.map((e) => (e.args as { id: number }).id),
      [ids[1], ids[0]],
      "descending index order",
    );
    assert.equal(tb.r32(OFF.CONFIG), 0x0002_0083);
    assert.equal(tb.r32(0x004), 0x4011);
    assert.equal(tb.r32(OFF.STATUS), 1);
    assert.equal(tb.r32(OFF.VI_INT_MASK_0), 0);
    assert.equal(tb.r32(OFF.VINTF0_CONFIG), 0);
    assert.equal(tb.r32(OFF.alloc(1)), 0);
    assert.equal(tb.r64(OFF.page1(1, VCMDQ1.BASE_L, false)), 0n);
    assert.equal(tb.r32(0x1040), (VIRT_SID_T << 1) | 1, "SID_MATCH is not reset");
    assert.ok(!tb.as.regions().some((r) => r.kind === "overlay" && r.enabled !== false));
    assert.equal(tb.dev.viommu(), tb.viommuId, "the vIOMMU survives reset");
    assert.equal(hostHwQueueCount(tb), 0);
  });

  it("clamps IDR1.CMDQS to the RAM backing page size", () => {
    for (const [page, cmdqs] of [
      ["4K", 8],
      ["64K", 12],
      ["2M", 17],
      ["1G", 19],
    ] as const) {
      const tb = createTestbed({ profile: "qemu-v7", ramPage: page });
      assert.equal(tb.smmu.getCmdqs(), cmdqs, page);
      tb.smmu.setCmdqs(19);
      tb.dev.reset();
      assert.equal(tb.smmu.getCmdqs(), cmdqs, `${page} after reset`);
    }
  });
});

const VIRT_SID_T = 0x8;
