// The ioctl log: every call with virtual time, JSON-able arguments and the result or errno.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VirtualClock } from "../../util/clock.js";
import { IoctlLog, toJson } from "./ioctl-log.js";
import { PAGE, RAM_BASE, rig, unwrap } from "./testkit.js";
import { invalidateWords } from "./uapi.js";

describe("the ioctl log", () => {
  it("condenses a HW queue allocation and a refusal into one line each", () => {
    const r = rig();
    const a = {
      flags: 0,
      viommuId: r.viommuId,
      type: 1,
      index: 0,
      iova: RAM_BASE + 0x20_0000,
      length: 0x10000,
    };
    const id = unwrap(r.k.hwQueueAlloc(a)).hwQueueId;
    r.k.hwQueueAlloc({ ...a, index: 1, iova: RAM_BASE + 0x40_0000 });
    r.k.hwQueueAlloc({ ...a, index: 0 });
    const lines = r.k.condensedLog().slice(-3);
    assert.deepEqual(lines, [
      `IOMMU_HW_QUEUE_ALLOC viommu=4 type=1 index=0 iova=0x40200000 len=0x10000 → hw_queue=${id}`,
      `IOMMU_HW_QUEUE_ALLOC viommu=4 type=1 index=1 iova=0x40400000 len=0x10000 → hw_queue=${id + 1}`,
      "IOMMU_HW_QUEUE_ALLOC viommu=4 type=1 index=0 iova=0x40200000 len=0x10000 → EEXIST",
    ]);
  });

  it("records sequence, virtual time, call name, arguments and result as plain JSON", () => {
    const r = rig();
    const before = r.k.ioctlLog().length;
    r.k.hwQueueAlloc({
      flags: 0,
      viommuId: r.viommuId,
      type: 1,
      index: 1,
      iova: BigInt(RAM_BASE),
      length: PAGE,
    });
    const e = r.k.ioctlLog()[before]!;
    assert.equal(e.seq, before);
    assert.equal(e.t, r.host.clock.now());
    assert.equal(e.call, "IOMMU_HW_QUEUE_ALLOC");
    assert.equal(e.errno, "EIO");
    assert.equal((e.args as { iova: string }).iova, "0x40000000");
    assert.doesNotThrow(() => JSON.stringify(r.k.ioctlLog()));
  });

  it("logs the vIOMMU's outputs, the invalidation's entry_num on failure, and mmap/munmap", () => {
    const r = rig();
    const l = r.k.condensedLog();
    assert.ok(
      l.some((x) =>
        /^IOMMU_VIOMMU_ALLOC .* → viommu=4 mmap_offset=0x1000 mmap_len=0x10000$/.test(x),
      ),
    );
    r.k.hwptInvalidate({
      hwptId: r.viommuId,
      dataType: 1,
      entryLen: 16,
      words: invalidateWords([[0x03n, 0n]]),
    });
    assert.equal(
      r.k.condensedLog().at(-1),
      "IOMMU_HWPT_INVALIDATE hwpt=4 data_type=1 entry_len=16 entries=1 → EIO entry_num=0",
    );
    const m = unwrap(r.k.mmap({ offset: 0x1000, length: 0x10000, prot: 3, flags: 1 }));
    m.unmap();
    assert.deepEqual(r.k.condensedLog().slice(-2), [
      "mmap offset=0x1000 len=0x10000 prot=0x3 flags=0x1 → offset=0x1000 len=0x10000",
      "munmap offset=0x1000 len=0x10000 → 0",
    ]);
  });

  it("turns bigints into hex strings, byte arrays into hex, and objects into their class name", () => {
    assert.deepEqual(
      toJson({ a: 10n, b: new Uint8Array([1, 0xab]), c: new IoctlLog({ now: () => 0 }) }),
      {
        a: "0xa",
        b: "0x01ab",
        c: "<IoctlLog>",
      },
    );
  });
});

describe("IoctlLog limit", () => {
  it("keeps the most recent calls up to its limit and says how many it dropped", () => {
    const log = new IoctlLog(new VirtualClock(), null, 8);
    for (let i = 0; i < 25; i++)
      log.record("IOMMU_DESTROY", { id: i }, { ok: true, value: undefined });
    const e = log.entries();
    assert.ok(e.length >= 8 && e.length <= 10, `${e.length} kept`);
    assert.equal(e.at(-1)?.seq, 24, "the newest call is kept, with its absolute sequence number");
    assert.equal(log.dropped() + e.length, 25);
    assert.equal(log.size(), 25);
    assert.match(log.condensed()[0]!, /^… \d+ earlier calls not kept$/);
  });

  it("still reports every refused destroy however many calls it dropped", () => {
    const log = new IoctlLog(new VirtualClock(), null, 4);
    log.record("IOMMU_DESTROY", { id: 7 }, { ok: false, error: 16 });
    for (let i = 0; i < 20; i++)
      log.record("IOMMU_HWPT_INVALIDATE", { hwptId: 4 }, { ok: true, value: { entryNum: 1 } });
    assert.deepEqual(log.refusedDestroys(), [{ seq: 0, id: 7, errno: "EBUSY" }]);
  });
});
