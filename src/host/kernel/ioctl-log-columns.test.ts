// The ioctl log's columns for single-entry IOMMU_HWPT_INVALIDATE calls: the trapped main
// CMDQ hands the kernel one reused argument object per command, and the log must keep
// what each call was, built exactly as a generic record would be.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { err, ok } from "../../util/result.js";
import { ERRNO } from "./errno.js";
import { IoctlLog } from "./ioctl-log.js";
import { rig } from "./testkit.js";
import { invalidateWords } from "./uapi.js";

const clock = { now: () => 7 };

describe("single-entry invalidations in the ioctl log", () => {
  it("keep each call's command when the caller reuses its arguments", () => {
    const r = rig();
    const words = invalidateWords([[0x11n, 0x22n]]);
    const a = { hwptId: r.viommuId, dataType: 1, entryLen: 16, words };
    const before = r.k.ioctlLog().length;
    r.k.hwptInvalidate(a);
    words.set(invalidateWords([[0x0000_0007_0000_0012n, 0xffff_ffff_ffff_f000n]]));
    a.hwptId = 0xdead;
    r.k.hwptInvalidate(a);
    const got = r.k.ioctlLog().slice(before);
    assert.deepEqual(
      got.map((e) => e.args),
      [
        { hwptId: r.viommuId, dataType: 1, entryLen: 16, entries: [["0x11", "0x22"]] },
        {
          hwptId: 0xdead,
          dataType: 1,
          entryLen: 16,
          entries: [["0x700000012", "0xfffffffffffff000"]],
        },
      ],
    );
    assert.equal(got[1]!.errno, "ENOENT");
  });

  it("read back as the generic record of the same call would, success or failure", () => {
    fc.assert(
      fc.property(
        fc.option(fc.nat({ max: 0xffff_ffff }), { nil: undefined }),
        fc.nat({ max: 0xffff_ffff }),
        fc.nat({ max: 0xffff_ffff }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.constantFrom(0, ERRNO.EIO, ERRNO.EFAULT, ERRNO.ENOENT),
        fc.nat({ max: 1 }),
        (size, hwptId, entryLen, d0, d1, errno, entryNum) => {
          const generic = new IoctlLog(clock);
          const columns = new IoctlLog(clock);
          const args = {
            ...(size !== undefined ? { size } : {}),
            hwptId,
            dataType: 1,
            entryLen,
            entries: [[d0, d1]],
          };
          generic.record(
            "IOMMU_HWPT_INVALIDATE",
            args,
            errno === 0 ? ok({ entryNum }) : err({ errno, entryNum }),
          );
          const words = invalidateWords([[d0, d1]]);
          columns.recordInvalidate1(size, hwptId, 1, entryLen, words, errno, entryNum);
          assert.deepEqual(columns.entries(), generic.entries());
          assert.deepEqual(columns.condensed(), generic.condensed());
        },
      ),
    );
  });

  it("stay in order among other calls and survive trimming past their columns' capacity", () => {
    const log = new IoctlLog(clock, null, 8);
    for (let i = 0; i < 100; i++) {
      if (i % 3 === 0) log.record("IOMMU_DESTROY", { id: i }, ok(undefined));
      else {
        const words = invalidateWords([[BigInt(i), BigInt(1000 + i)]]);
        log.recordInvalidate1(undefined, 4, 1, 16, words, 0, 1);
      }
      // Read now and then, as a report would mid-run.
      if (i % 17 === 0) log.entries();
    }
    const kept = log.entries();
    assert.equal(kept.length + log.dropped(), 100);
    assert.ok(kept.length <= 10, `kept ${kept.length}`);
    for (const e of kept) {
      if (e.seq % 3 === 0) assert.deepEqual(e.args, { id: e.seq });
      else
        assert.deepEqual(e.args, {
          hwptId: 4,
          dataType: 1,
          entryLen: 16,
          entries: [[`0x${e.seq.toString(16)}`, `0x${(1000 + e.seq).toString(16)}`]],
        });
    }
    assert.deepEqual(
      kept.map((e) => e.seq),
      Array.from({ length: kept.length }, (_, i) => 100 - kept.length + i),
    );
  });
});
