// The guest's passed-through device after the SMMU probe: its STE and default DMA domain
// as Linux's arm-smmu-v3 writes them (L2 table of abort STEs, the L1 descriptor, a CD
// table, the CD and a stage-1 STE, each written hitlessly with CFGI_CD / CFGI_STE +
// CMD_SYNC), and what the accel VMM does on the host meanwhile: the vDEVICE at the
// probe's CFGI_ALL, the abort HWPT at the STE's first step, the stage-1 nested HWPT at its
// second, as QEMU 11.1.3 does.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { delay } from "../guest/actor.js";
import { abortSte, cdtableSte, steUsed, writeEntry } from "../guest/arm-smmu-v3-entries.js";
import { VIRT_SID } from "../machine/testbed.js";
import { GuestRig } from "./guest-rig.js";

function ram64(rig: GuestRig, gpa: number): bigint {
  const lo = BigInt(rig.as.read(gpa, 4) >>> 0);
  const hi = BigInt(rig.as.read(gpa + 4, 4) >>> 0);
  return (hi << 32n) | lo;
}

describe("the guest attaches its device's default domain after the probe", () => {
  it("installs a stage-1 STE pointing at its CD table, in the L2 table the L1 descriptor names", () => {
    const rig = new GuestRig({ profile: "qemu-11.1" });
    assert.equal(rig.boot(), 0);
    const master = rig.smmu.masters.get(VIRT_SID);
    assert.ok(master, "the vSID's master is attached");
    const l1 = ram64(rig, rig.smmu.strtabDma + 8 * Math.floor(VIRT_SID / 256));
    assert.equal(Number(l1 & 0x1fn), 9, "L1 span: 256 STEs");
    assert.equal(Number(l1 & ~0x3fn) + 64 * (VIRT_SID % 256), master.ste);
    const want = cdtableSte(master.cdTable);
    for (let q = 0; q < 8; q++) assert.equal(ram64(rig, master.ste + 8 * q), want[q]);
    const cd0 = ram64(rig, master.cdTable);
    assert.equal((cd0 >> 31n) & 1n, 1n, "CD.V");
    assert.equal(Number(cd0 >> 48n), master.asid);
    assert.equal(ram64(rig, master.cdTable + 8) & ~0xfn, BigInt(master.pgd), "TTB0");
  });

  it("makes the host allocate the vDEVICE at the probe's CFGI_ALL, then attach abort and a stage-1 nested HWPT", () => {
    const rig = new GuestRig({ profile: "qemu-11.1" });
    const from = rig.host.iommufd.log.size();
    assert.equal(rig.boot(), 0);
    const calls = rig.host.iommufd.log
      .entries()
      .filter((e) => e.seq >= from)
      .map((e) => e.call)
      .filter((c) => c !== "IOMMU_HW_QUEUE_ALLOC" && c !== "IOMMU_HWPT_INVALIDATE");
    // The guest enabling its event queue (CR0.EVTQEN) makes the VMM allocate the vEVENTQ,
    // after the vDEVICE and before the HW queues, as in a real Linux 7.3 boot's ioctl log.
    assert.deepEqual(calls, [
      "IOMMU_VDEVICE_ALLOC",
      "IOMMU_VEVENTQ_ALLOC",
      "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
      "IOMMU_HWPT_ALLOC",
      "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
    ]);
    const s = rig.machine.accel.state();
    assert.notEqual(s.devices[0]?.vdevId, 0);
    assert.notEqual(s.devices[0]?.s1HwptId, 0);
    const nested = rig.host
      .liveObjects()
      .filter((o) => o.kind === "hwpt_nested")
      .map((o) => o.id);
    assert.deepEqual(
      nested.sort((a, b) => a - b),
      [s.abortHwptId, s.bypassHwptId, s.devices[0]!.s1HwptId].sort((a, b) => a - b),
    );
    assert.deepEqual(rig.machine.log.text(), []);
  });
});

describe("the hitless entry writer (arm_smmu_write_entry)", () => {
  function record(start: bigint[], target: readonly bigint[]) {
    const mem = new Map<number, bigint>(start.map((v, i) => [8 * i, v]));
    const steps: bigint[][] = [];
    const body = writeEntry(
      {
        addr: 0,
        used: steUsed,
        vBit: 1n,
        read: (gpa) => mem.get(gpa) ?? 0n,
        write: (gpa, v) => mem.set(gpa, v),
        *sync() {
          steps.push(Array.from({ length: 8 }, (_, i) => mem.get(8 * i) ?? 0n));
          yield delay(0);
          return 0;
        },
      },
      target,
    );
    for (let r = body.next(); !r.done; r = body.next());
    return steps;
  }

  it("moves an abort STE to stage 1 in two synced steps: the other words, then word 0", () => {
    const target = cdtableSte(0x4180_0000);
    const steps = record(abortSte(), target);
    assert.equal(steps.length, 2);
    assert.equal(steps[0]![0], abortSte()[0], "word 0 untouched: still abort");
    assert.equal(steps[0]![1], target[1]);
    assert.deepEqual(steps[1], target);
  });

  it("writes an STE whose used bits do not change in one step, and an identical one not at all", () => {
    const t = cdtableSte(0x4180_0000);
    assert.equal(record(t.slice(), t).length, 0);
    const moved = cdtableSte(0x4190_0000);
    const steps = record(t.slice(), moved);
    assert.equal(steps.length, 1, "a new CD pointer: word 0 alone, one sync");
    assert.deepEqual(steps[0], moved);
  });
});
