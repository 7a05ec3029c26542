// Named fault sites: each fallible kernel step fails with the errno the kernel would
// return, and an ioctl that fails leaves nothing behind (no object, no pin, no VINTF, no
// mmap region, no VMID), as iommufd's abort paths guarantee (spec: linux §6.5). The
// fail_nth sweep at the end is the model's iommufd_fail_nth.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VirtualClock } from "../../util/clock.js";
import type { FaultSite } from "../faults.js";
import { createHost } from "../host.js";
import { errnoName } from "./errno.js";
import { PAGE, PSID, RAM_BASE, type Rig, rig, tegraData, unwrap } from "./testkit.js";
import { HW_QUEUE_TYPE, HWPT_ALLOC_NEST_PARENT, MAP, PROT, VIOMMU_TYPE } from "./uapi.js";

/** Everything an aborted ioctl must leave as it was. */
function footprint(r: Rig) {
  const s = r.host.state();
  return {
    objects: r.host.liveObjects(),
    pins: r.k.pins(),
    mmaps: s.iommufd.mmaps,
    vintfs: s.driver.vintfs.map((v) => ({ idx: v.idx, lvcmdqs: v.lvcmdqs.length, sids: v.sids })),
    vmids: s.smmu.vmids,
  };
}

function expectFault(
  r: Rig,
  site: FaultSite,
  errno: string,
  call: () => { ok: boolean; error?: unknown },
): void {
  const before = footprint(r);
  r.host.faults.arm(site, 1);
  const res = call();
  const got = res.ok ? "ok" : errnoName(res.error as number);
  assert.equal(got, errno, `${site}`);
  assert.deepEqual(footprint(r), before, `${site} left something behind`);
  assert.ok(
    r.host.faults.injectedFaults().some((f) => f.site === site),
    `${site} was reached`,
  );
  // Without the fault the same call goes through.
  assert.equal(call().ok, true, `${site}: the retry succeeds`);
}

const viommuCall = (r: Rig) => () =>
  r.k.viommuAlloc({
    flags: 0,
    type: VIOMMU_TYPE.TEGRA241_CMDQV,
    devId: r.devId,
    hwptId: r.hwptId,
    dataLen: 16,
    data: tegraData(),
  });

const hwQueueCall = (r: Rig) => () =>
  r.k.hwQueueAlloc({
    flags: 0,
    viommuId: r.viommuId,
    type: HW_QUEUE_TYPE.TEGRA241_CMDQV,
    index: 0,
    iova: RAM_BASE,
    length: PAGE,
  });

describe("fault sites of IOMMU_VIOMMU_ALLOC", () => {
  const cases: [FaultSite, string][] = [
    ["viommu_alloc:obj_alloc", "ENOMEM"],
    ["viommu_alloc:copy_from_user", "EFAULT"],
    ["viommu_alloc:vintf_alloc", "ENOMEM"],
    ["viommu_alloc:vintf_enable", "ETIMEDOUT"],
    ["viommu_alloc:mmap_alloc", "ENOMEM"],
    ["viommu_alloc:copy_to_user", "EFAULT"],
    ["viommu_alloc:respond", "EFAULT"],
  ];
  for (const [site, errno] of cases) {
    it(`fails at ${site} with ${errno} and leaves no object, VINTF or mmap region`, () => {
      const r = rig({ viommu: false });
      expectFault(r, site, errno, viommuCall(r));
    });
  }
});

describe("fault sites of IOMMU_HW_QUEUE_ALLOC", () => {
  const cases: [FaultSite, string][] = [
    ["hw_queue_alloc:obj_alloc", "ENOMEM"],
    ["hw_queue_alloc:pages_alloc", "ENOMEM"],
    ["hw_queue_alloc:access_alloc", "ENOMEM"],
    ["hw_queue_alloc:pin", "ENOMEM"],
    ["hw_queue_alloc:copy_to_user", "EFAULT"],
  ];
  for (const [site, errno] of cases) {
    it(`fails at ${site} with ${errno} and leaves no object, pin or LVCMDQ`, () => {
      const r = rig();
      expectFault(r, site, errno, hwQueueCall(r));
    });
  }
});

describe("fault sites of the other calls", () => {
  it("fails IOAS, HWPT, vDEVICE and vEVENTQ allocation at each of their sites cleanly", () => {
    const cases: [FaultSite, string, (r: Rig) => () => { ok: boolean; error?: unknown }][] = [
      ["ioas_alloc:obj_alloc", "ENOMEM", (r) => () => r.k.ioasAlloc()],
      ["ioas_alloc:copy_to_user", "EFAULT", (r) => () => r.k.ioasAlloc()],
      [
        "hwpt_alloc:obj_alloc",
        "ENOMEM",
        (r) => () =>
          r.k.hwptAlloc({ flags: HWPT_ALLOC_NEST_PARENT, devId: r.devId, ptId: r.ioasId }),
      ],
      [
        "hwpt_alloc:domain_alloc",
        "ENOMEM",
        (r) => () =>
          r.k.hwptAlloc({ flags: HWPT_ALLOC_NEST_PARENT, devId: r.devId, ptId: r.ioasId }),
      ],
      [
        "hwpt_alloc:copy_to_user",
        "EFAULT",
        (r) => () =>
          r.k.hwptAlloc({ flags: HWPT_ALLOC_NEST_PARENT, devId: r.devId, ptId: r.ioasId }),
      ],
      [
        "vdevice_alloc:obj_alloc",
        "ENOMEM",
        (r) => () => r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: r.devId, virtId: 8n }),
      ],
      [
        "vdevice_alloc:sid_alloc",
        "ENOMEM",
        (r) => () => r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: r.devId, virtId: 8n }),
      ],
      [
        "vdevice_alloc:copy_to_user",
        "EFAULT",
        (r) => () => r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: r.devId, virtId: 8n }),
      ],
      [
        "veventq_alloc:obj_alloc",
        "ENOMEM",
        (r) => () => r.k.veventqAlloc({ flags: 0, viommuId: r.viommuId, type: 2, depth: 2 }),
      ],
      [
        "veventq_alloc:fd_alloc",
        "ENOMEM",
        (r) => () => r.k.veventqAlloc({ flags: 0, viommuId: r.viommuId, type: 2, depth: 2 }),
      ],
      [
        "veventq_alloc:copy_to_user",
        "EFAULT",
        (r) => () => r.k.veventqAlloc({ flags: 0, viommuId: r.viommuId, type: 2, depth: 2 }),
      ],
    ];
    for (const [site, errno, make] of cases) {
      const r = rig();
      expectFault(r, site, errno, make(r));
    }
  });

  it("fails IOAS_MAP's pin into an attached domain with ENOMEM and maps nothing", () => {
    const r = rig({ mapRam: false });
    expectFault(r, "ioas_map:pin", "ENOMEM", () =>
      r.k.ioasMap({ ioasId: r.ioasId, iova: RAM_BASE, length: PAGE, gpa: RAM_BASE }),
    );
  });

  it("fails GET_HW_INFO's copy-out with EFAULT", () => {
    const r = rig();
    r.host.faults.arm("get_hw_info:copy_to_user", 1);
    const res = r.k.getHwInfo({ flags: 1, devId: r.devId, dataLen: 8, inDataType: 3 });
    assert.equal(res.ok ? "ok" : errnoName(res.error), "EFAULT");
  });

  it("fails a vEVENTQ read's copy-out with EFAULT and keeps the record", () => {
    // A queue with an event in it, via the hardware.
    const r = rig();
    const q = unwrap(r.k.veventqAlloc({ flags: 0, viommuId: r.viommuId, type: 2, depth: 2 }));
    unwrap(hwQueueCall(r)());
    const m = unwrap(
      r.k.mmap({
        offset: r.mmapOffset,
        length: r.mmapLength,
        prot: PROT.READ | PROT.WRITE,
        flags: MAP.SHARED,
      }),
    );
    r.host.mem.write64(r.ram.hpaOf(RAM_BASE), 0x03n);
    m.write(0x08, 4, 1);
    r.host.clock.advance(10_000);
    m.write(0x04, 4, 1);
    r.host.clock.advance(10_000);
    assert.equal(q.fd.pending(), 1);
    r.host.faults.arm("veventq_read:copy_to_user", 1);
    const res = q.fd.read(64);
    assert.equal(res.ok ? "ok" : errnoName(res.error), "EFAULT");
    assert.equal(q.fd.pending(), 1);
    assert.equal(unwrap(q.fd.read(64)).length, 24);
  });
});

describe("fail_nth over a VMM's setup sequence", () => {
  /** QEMU-like bring-up, stopping at the first failure. */
  function bringUp(nth: number) {
    const host = createHost({ clock: new VirtualClock(), faultPlan: { kind: "nth", nth } });
    const ram = host.allocGuestRam({
      gpaBase: RAM_BASE,
      size: 0x40_0000,
      pageSize: 0x20_0000,
      seed: 1,
    });
    const k = host.iommufd;
    const devId = host.bindDevice(PSID);
    const closers: (() => void)[] = [];
    const steps = (): boolean => {
      const ioas = k.ioasAlloc();
      if (!ioas.ok) return false;
      const ioasId = ioas.value.ioasId;
      if (!k.ioasMap({ ioasId, iova: RAM_BASE, length: ram.size, gpa: RAM_BASE }).ok) return false;
      const hwpt = k.hwptAlloc({ flags: HWPT_ALLOC_NEST_PARENT, devId, ptId: ioasId });
      if (!hwpt.ok) return false;
      const v = k.viommuAlloc({
        flags: 0,
        type: 2,
        devId,
        hwptId: hwpt.value.hwptId,
        dataLen: 16,
        data: tegraData(),
      });
      if (!v.ok) return false;
      const viommuId = v.value.viommuId;
      const m = k.mmap({
        offset: v.value.vintfMmapOffset,
        length: v.value.vintfMmapLength,
        prot: PROT.READ | PROT.WRITE,
        flags: MAP.SHARED,
      });
      if (!m.ok) return false;
      closers.push(() => m.value.unmap());
      const q = k.veventqAlloc({ flags: 0, viommuId, type: 2, depth: 2 });
      if (!q.ok) return false;
      closers.push(() => q.value.fd.close());
      if (!k.vdeviceAlloc({ viommuId, devId, virtId: 8n }).ok) return false;
      for (let i = 0; i < 2; i++) {
        const hq = k.hwQueueAlloc({
          flags: 0,
          viommuId,
          type: 1,
          index: i,
          iova: RAM_BASE + i * 0x10_0000,
          length: PAGE,
        });
        if (!hq.ok) return false;
      }
      return true;
    };
    const completed = steps();
    return { host, k, closers, devId, completed };
  }

  it("tears down to an empty host whichever step failed", () => {
    let n = 1;
    for (; n < 100; n++) {
      const { host, k, closers, devId, completed } = bringUp(n);
      const injected = host.faults.injectedFaults().length;
      for (const c of closers) c();
      unwrap(k.unbindDevice(devId));
      const closed = unwrap(k.close());
      assert.equal(closed.released, true, `nth=${n}`);
      assert.deepEqual(host.liveObjects(), [], `nth=${n}`);
      assert.deepEqual(host.state().smmu.vmids, [], `nth=${n}`);
      assert.deepEqual(
        host.driver.state().vintfs.map((v) => v.idx),
        [0],
        `nth=${n}: only the kernel's VINTF0 remains`,
      );
      if (injected === 0) {
        assert.equal(completed, true);
        break;
      }
    }
    assert.ok(n > 10, "every fallible step was swept");
  });
});
