// Object lifetime (spec: linux §6.5): users refcounts, IOMMU_DESTROY only from 1, the
// references each kind holds, id reuse, tombstones, and the file's release.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VINTF } from "../../regs/cmdqv.js";
import { expectErrno, PAGE, RAM_BASE, type Rig, rig, unwrap } from "./testkit.js";
import { HW_QUEUE_TYPE, HWPT_ALLOC_NEST_PARENT, MAP, PROT } from "./uapi.js";

function hwq(r: Rig, index: number): number {
  return unwrap(
    r.k.hwQueueAlloc({
      flags: 0,
      viommuId: r.viommuId,
      type: HW_QUEUE_TYPE.TEGRA241_CMDQV,
      index,
      iova: RAM_BASE + index * 0x10_0000,
      length: PAGE,
    }),
  ).hwQueueId;
}

function users(r: Rig, id: number): number {
  return r.host.liveObjects().find((o) => o.id === id)?.users ?? 0;
}

describe("iommufd object lifetime", () => {
  it("allocates ids from 1 upward and hands a freed id out again (lowest free)", () => {
    const r = rig();
    assert.deepEqual(
      r.host.liveObjects().map((o) => [o.id, o.kind]),
      [
        [1, "device"],
        [2, "ioas"],
        [3, "hwpt_paging"],
        [4, "viommu"],
      ],
    );
    const a = unwrap(r.k.ioasAlloc()).ioasId;
    const b = unwrap(r.k.ioasAlloc()).ioasId;
    assert.deepEqual([a, b], [5, 6]);
    unwrap(r.k.destroy(a));
    assert.equal(unwrap(r.k.ioasAlloc()).ioasId, 5);
  });

  it("counts the references of §6.5: the vIOMMU holds the HWPT, which holds the IOAS", () => {
    const r = rig();
    assert.equal(users(r, r.hwptId), 2);
    assert.equal(users(r, r.ioasId), 2);
    assert.equal(users(r, r.viommuId), 1);
    assert.equal(users(r, r.devId), 2, "VFIO holds the bound device");
  });

  it("refuses to destroy HW queue 0 while HW queue 1 exists with EBUSY", () => {
    const r = rig();
    const q0 = hwq(r, 0);
    const q1 = hwq(r, 1);
    assert.equal(users(r, q0), 2, "queue 1 depends on queue 0");
    assert.equal(users(r, r.viommuId), 3);
    // Each queue's access pins its area and holds the IOAS [inf: iommufd_access_change_ioas].
    assert.equal(users(r, r.ioasId), 4);
    expectErrno(r.k.destroy(q0), "EBUSY");
    unwrap(r.k.destroy(q1));
    assert.equal(users(r, q0), 1);
    unwrap(r.k.destroy(q0));
    assert.equal(users(r, r.viommuId), 1);
    assert.equal(users(r, r.ioasId), 2);
  });

  it("tears a vIOMMU's VINTF down on destroy and gives its index to the next vIOMMU", () => {
    const r = rig();
    unwrap(r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: r.devId, virtId: 8n }));
    const vd = r.host.liveObjects().find((o) => o.kind === "vdevice")!.id;
    unwrap(r.k.destroy(vd));
    unwrap(r.k.destroy(r.viommuId));
    assert.equal(r.host.hw.read(0x1100 + VINTF.CONFIG, 4), 0);
    assert.equal(r.host.hw.read(0x1100 + VINTF.STATUS, 4) & 1, 0);
    assert.deepEqual(r.k.state().mmaps, []);
    assert.equal(r.host.driver.state().vintfs.length, 1);
    unwrap(r.k.destroy(r.hwptId));
    assert.deepEqual(r.host.state().smmu.vmids, [], "the VMID went with the nest parent");
  });

  it("refuses to bind the same StreamID twice with EINVAL (a VFIO cdev opens once) [inf]", () => {
    const r = rig({ viommu: false });
    const res = r.k.bindDevice({ sid: 0x100 });
    assert.equal(res.ok ? "ok" : res.error, 22);
    assert.throws(() => r.host.bindDevice(0x100));
  });

  it("leaves a tombstone when the device is unbound first: destroying the vDEVICE id is ENOENT", () => {
    const r = rig();
    const vd = unwrap(
      r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: r.devId, virtId: 8n }),
    ).vdeviceId;
    unwrap(r.k.unbindDevice(r.devId));
    assert.equal(r.host.hw.read(0x1100 + VINTF.SID_MATCH_0, 4), 0, "the SID pair was cleared");
    expectErrno(r.k.destroy(vd), "ENOENT");
    assert.deepEqual(r.k.state().tombstones, [vd]);
    // The tombstone keeps its id out of circulation.
    assert.notEqual(unwrap(r.k.ioasAlloc()).ioasId, vd);
    // And the vIOMMU is free to go.
    unwrap(r.k.destroy(r.viommuId));
  });
});

describe("closing the iommufd file", () => {
  it("releases everything in dependency order: leaves first, pass after pass", () => {
    const r = rig();
    const q = unwrap(r.k.veventqAlloc({ flags: 0, viommuId: r.viommuId, type: 2, depth: 2 }));
    q.fd.close();
    const q0 = hwq(r, 0);
    const q1 = hwq(r, 1);
    unwrap(r.k.unbindDevice(r.devId));
    const out = unwrap(r.k.close());
    assert.equal(out.released, true);
    assert.deepEqual(r.host.liveObjects(), []);
    const rel = r.k.ioctlLog().at(-1)!;
    assert.equal(rel.call, "release");
    assert.deepEqual(
      (rel.result as { destroyed: { id: number }[] }).destroyed.map((d) => d.id),
      [q.veventqId, q1, q0, r.viommuId, r.hwptId, r.ioasId],
    );
    assert.equal(r.host.hw.stats().mapOrderViolations, 0);
    assert.deepEqual(
      r.host.driver.state().vintfs.map((v) => v.idx),
      [0],
    );
    assert.deepEqual(r.k.pins(), []);
  });

  it("refuses to release while page0 is mapped, and releases at munmap", () => {
    const r = rig();
    const m = unwrap(
      r.k.mmap({
        offset: r.mmapOffset,
        length: r.mmapLength,
        prot: PROT.READ | PROT.WRITE,
        flags: MAP.SHARED,
      }),
    );
    unwrap(r.k.unbindDevice(r.devId));
    const out = unwrap(r.k.close());
    assert.equal(out.released, false);
    assert.equal(out.fileRefs, 1);
    expectErrno(r.k.ioasAlloc(), "EBADF");
    assert.equal(r.host.liveObjects().length, 3, "IOAS, HWPT, vIOMMU still live");
    unwrap(m.unmap());
    assert.equal(r.k.isReleased, true);
    assert.deepEqual(r.host.liveObjects(), []);
  });

  it("waits for an open vEVENTQ fd and a bound device before releasing", () => {
    const r = rig();
    const q = unwrap(r.k.veventqAlloc({ flags: 0, viommuId: r.viommuId, type: 2, depth: 2 }));
    assert.equal(unwrap(r.k.close()).released, false);
    q.fd.close();
    assert.equal(r.k.isReleased, false, "the device still holds the file");
    unwrap(r.k.unbindDevice(r.devId));
    assert.equal(r.k.isReleased, true);
    assert.deepEqual(r.host.liveObjects(), []);
  });

  it("answers EBADF to a second close", () => {
    const r = rig({ viommu: false });
    unwrap(r.k.close());
    expectErrno(r.k.close(), "EBADF");
  });

  it("unmaps a pinned range only after its HW queue is gone, and a fresh file starts again at id 1", () => {
    const r = rig();
    const q0 = hwq(r, 0);
    expectErrno(r.k.ioasUnmap({ ioasId: r.ioasId, iova: RAM_BASE, length: r.ram.size }), "EBUSY");
    unwrap(r.k.destroy(q0));
    assert.equal(
      unwrap(r.k.ioasUnmap({ ioasId: r.ioasId, iova: RAM_BASE, length: r.ram.size })).length,
      r.ram.size,
    );
    expectErrno(r.k.ioasUnmap({ ioasId: r.ioasId, iova: RAM_BASE, length: PAGE }), "ENOENT");
    const k2 = r.host.openIommufd();
    assert.equal(unwrap(k2.ioasAlloc()).ioasId, 1);
    // Another file does not see this file's device.
    expectErrno(k2.hwptAlloc({ flags: HWPT_ALLOC_NEST_PARENT, devId: 1, ptId: 1 }), "ENOENT");
  });
});
