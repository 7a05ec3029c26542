// The accel core against the simulated host kernel alone (no machine, no CMDQV): the host
// SMMU check and the auto properties, the unwinding of a failed vIOMMU allocation, and the
// SMMUv3 front's STE lookup (smmu_find_ste) that the STE installs read through.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createHost, type Host } from "../../host/host.js";
import { DEFAULT_HOST_SMMU } from "../../host/kernel/host-smmu.js";
import { HWPT_ALLOC_NEST_PARENT } from "../../host/kernel/uapi.js";
import { SMMU_REG as R } from "../../regs/smmuv3.js";
import { VirtualClock } from "../../util/clock.js";
import { CountingIrq } from "../../util/irq.js";
import { ok } from "../../util/result.js";
import { IommufdBackend } from "../iommufd-backend.js";
import { VmmLog } from "../log.js";
import { Smmuv3AccelCore } from "./accel-core.js";
import { QEMU_ACCEL } from "./profile.js";
import { Smmuv3Accel } from "./smmuv3.js";
import { RAM_BASE, TestGuestMemory } from "./testing.js";

const SID = 8;
const NAME = { name: "vfio0", fd: 101, iommufdFd: 100 };

interface Rig {
  readonly host: Host;
  readonly smmu: Smmuv3Accel;
  readonly core: Smmuv3AccelCore;
  readonly mem: TestGuestMemory;
  readonly log: VmmLog;
  readonly devId: number;
  readonly s2: number;
}

function rig(hostIdr?: readonly number[]): Rig {
  const clock = new VirtualClock();
  const idr = (hostIdr ?? DEFAULT_HOST_SMMU.idr) as typeof DEFAULT_HOST_SMMU.idr;
  const host = createHost({ clock, smmu: { idr } });
  const k = host.iommufd;
  const log = new VmmLog(clock);
  const core = new Smmuv3AccelCore({
    backend: new IommufdBackend(k, log),
    port: k,
    log,
    profile: QEMU_ACCEL,
  });
  const mem = new TestGuestMemory(RAM_BASE, 0x10_0000);
  const irq = new CountingIrq();
  const smmu = new Smmuv3Accel({
    mem,
    host: core,
    accel: core,
    log,
    irqs: { eventq: irq, priq: irq, cmdSync: irq, gerror: irq },
    minRamPageSize: 0x1000,
  });
  const devId = host.bindDevice(0x100);
  const ioas = k.ioasAlloc();
  assert.ok(ioas.ok);
  const hwpt = k.hwptAlloc({ flags: HWPT_ALLOC_NEST_PARENT, devId, ptId: ioas.value.ioasId });
  assert.ok(hwpt.ok);
  assert.ok(k.attachDevice({ devId, ptId: hwpt.value.hwptId }).ok);
  return { host, smmu, core, mem, log, devId, s2: hwpt.value.hwptId };
}

function attach(r: Rig) {
  return r.core.setIommuDevice(r.smmu, { devId: r.devId, s2HwptId: r.s2, sid: SID, ...NAME }, () =>
    ok(null),
  );
}

function callsSince(r: Rig, from: number): string[] {
  return r.host.iommufd.log
    .entries()
    .filter((e) => e.seq >= from)
    .map((e) => (e.errno ? `${e.call} ${e.errno}` : e.call));
}

describe("the host SMMU check at the device attach", () => {
  it("fails the attach on a linear-only host with QEMU's message, before any vIOMMU", () => {
    const idr = [...DEFAULT_HOST_SMMU.idr];
    idr[0] = idr[0]! & ~(3 << 27);
    const r = rig(idr);
    const from = r.host.iommufd.log.size();
    assert.deepEqual(attach(r), {
      ok: false,
      error: "Host SMMUv3 Stream Table format mismatch (host STLEVEL=0, QEMU STLEVEL=1)",
    });
    assert.deepEqual(callsSince(r, from), ["IOMMU_GET_HW_INFO"]);
    assert.equal(r.core.viommu(), 0);
  });

  it("takes the auto properties from the host first, so a 44-bit host gives a 44-bit vSMMU", () => {
    const idr = [...DEFAULT_HOST_SMMU.idr];
    idr[5] = (idr[5]! & ~7) | 4;
    idr[0] = idr[0]! & ~(1 << 10);
    const r = rig(idr);
    assert.ok(attach(r).ok);
    assert.equal(r.smmu.state().idr[5]! & 7, 4);
    assert.equal((r.smmu.state().idr[0]! >>> 10) & 1, 0, "no ATS");
  });

  it("checks a second device too, but finalises the auto properties and allocates the vIOMMU only for the first", () => {
    const r = rig();
    assert.ok(attach(r).ok);
    const idr = r.smmu.state().idr;
    const dev2 = r.host.bindDevice(0x200);
    const from = r.host.iommufd.log.size();
    const second = r.core.setIommuDevice(
      r.smmu,
      { devId: dev2, s2HwptId: r.s2, sid: SID + 1, ...NAME },
      () => {
        throw new Error("the CMDQV is selected once");
      },
    );
    assert.ok(second.ok);
    assert.deepEqual(callsSince(r, from), ["IOMMU_GET_HW_INFO"], "no vIOMMU, no attach");
    assert.deepEqual(r.smmu.state().idr, idr);
    assert.deepEqual(
      r.core.state().devices.map((d) => d.devId),
      [dev2, r.devId],
      "newest first (QLIST_INSERT_HEAD)",
    );
  });
});

describe("a failed vIOMMU allocation", () => {
  it("frees the abort HWPT and the vIOMMU when the bypass HWPT fails, and says which device", () => {
    const r = rig();
    r.host.faults.arm("hwpt_nested:copy_from_user", 2);
    const from = r.host.iommufd.log.size();
    const a = attach(r);
    assert.deepEqual(a, {
      ok: false,
      error: `Failed to allocate hwpt: Bad addressUnable to alloc vIOMMU: hiodi devid 0x${r.devId.toString(16)}: `,
    });
    assert.deepEqual(callsSince(r, from), [
      "IOMMU_GET_HW_INFO",
      "IOMMU_VIOMMU_ALLOC",
      "IOMMU_HWPT_ALLOC",
      "IOMMU_HWPT_ALLOC EFAULT",
      "IOMMU_DESTROY",
      "IOMMU_DESTROY",
    ]);
    assert.deepEqual(
      r.host.liveObjects().map((o) => o.kind),
      ["device", "ioas", "hwpt_paging"],
    );
  });
});

describe("the STE lookup (smmu_find_ste)", () => {
  const out = new Uint32Array(4);

  it("reads a linear table's STE at base + 64 × SID, within 2^LOG2SIZE", () => {
    const r = rig();
    r.smmu.write64(R.STRTAB_BASE, BigInt(RAM_BASE));
    r.smmu.write(R.STRTAB_BASE_CFG, 4, 4);
    r.mem.putWords(RAM_BASE + 64 * SID, 0xb, 0, 0xd6, 0);
    assert.equal(r.smmu.findSte(SID, out), true);
    assert.deepEqual(Array.from(out), [0xb, 0, 0xd6, 0]);
    assert.equal(r.smmu.findSte(16, out), false, "SID past 2^4");
  });

  it("walks a 2-level table: no STE for a span-0 descriptor, a guest error past the span", () => {
    const r = rig();
    const l2 = RAM_BASE + 0x1_0000;
    r.smmu.write64(R.STRTAB_BASE, BigInt(RAM_BASE));
    r.smmu.write(R.STRTAB_BASE_CFG, 4, (1 << 16) | (8 << 6) | 16);
    assert.equal(r.smmu.findSte(SID, out), false, "L1 descriptor 0: nothing");
    assert.deepEqual(r.log.text(), []);
    r.mem.putWords(RAM_BASE, l2 | 3, 0);
    r.mem.putWords(l2 + 64 * SID, 0x9, 0, 0, 0);
    assert.equal(r.smmu.findSte(SID, out), false, "span 3: 8 STEs, SID 8 is past it");
    assert.deepEqual(r.log.text(), ["l2_ste_offset=8 > max_l2_ste=7"]);
    r.mem.putWords(RAM_BASE, l2 | 9, 0);
    assert.equal(r.smmu.findSte(SID, out), true);
    assert.equal(out[0], 0x9);
  });

  it("aligns the base down to the table's size and reports a fetch outside guest memory", () => {
    const r = rig();
    // 2^16 STEs of 64 bytes: a 4 MiB table, so a base of 0x1000 is taken as 0.
    r.smmu.write64(R.STRTAB_BASE, 0x1000n);
    r.smmu.write(R.STRTAB_BASE_CFG, 4, 16);
    assert.equal(r.smmu.findSte(SID, out), false);
    assert.deepEqual(r.log.text(), [`Cannot fetch pte at address=0x${(64 * SID).toString(16)}`]);
  });
});
