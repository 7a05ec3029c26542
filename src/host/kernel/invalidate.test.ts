// IOMMU_HWPT_INVALIDATE on a vIOMMU: the trapped main-CMDQ path (spec: linux §3.10).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PSID, type Rig, rig, unwrap } from "./testkit.js";
import { type HwptInvalidateArgs, invalidateWords } from "./uapi.js";

type Entry = readonly [bigint, bigint];

function inv(r: Rig, entries: readonly Entry[], over: Partial<HwptInvalidateArgs> = {}) {
  return r.k.hwptInvalidate({
    hwptId: r.viommuId,
    dataType: 1,
    entryLen: 16,
    words: invalidateWords(entries),
    ...over,
  });
}

/** A vIOMMU (VMID 1) with vSID 8 → pSID 0x100. */
function setup(): Rig {
  const r = rig();
  unwrap(r.k.vdeviceAlloc({ viommuId: r.viommuId, devId: r.devId, virtId: 8n }));
  return r;
}

function mainEffects(r: Rig) {
  return r.host.hw.effects.entries().filter((e) => e.source === "main-cmdq");
}

describe("IOMMU_HWPT_INVALIDATE through a vIOMMU", () => {
  it("rewrites TLBI_NSNH_ALL as TLBI_NH_ALL with the vIOMMU's VMID", () => {
    const r = setup();
    assert.deepEqual(unwrap(inv(r, [[0x30n, 0xdeadn]])), { entryNum: 1 });
    const fx = mainEffects(r);
    assert.equal(fx.length, 1);
    assert.equal(fx[0]!.opcode, 0x10);
    assert.equal(fx[0]!.vmid, 1);
  });

  it("overwrites the VMID of TLBI_NH_VA/VAA/ALL/ASID and keeps the rest", () => {
    const r = setup();
    const va = 0x12n | (0x77n << 32n) | (5n << 48n);
    unwrap(
      inv(r, [
        [va, 0x4000_1000n],
        [0x13n, 0n],
        [0x10n | (9n << 32n), 0n],
        [0x11n | (3n << 48n), 0n],
      ]),
    );
    const fx = mainEffects(r);
    assert.deepEqual(
      fx.map((e) => [e.opcode, e.vmid]),
      [
        [0x12, 1],
        [0x13, 1],
        [0x10, 1],
        [0x11, 1],
      ],
    );
    assert.equal(fx[0]!.asid, 5);
    assert.equal(fx[0]!.addr, 0x4000_1000n);
  });

  it("translates the vSID of ATC_INV, CFGI_CD and CFGI_CD_ALL to the physical SID", () => {
    const r = setup();
    const vsid = 8n << 32n;
    unwrap(
      inv(r, [
        [0x40n | vsid, 0n],
        [0x05n | vsid, 1n],
        [0x06n | vsid, 0n],
      ]),
    );
    assert.deepEqual(
      mainEffects(r).map((e) => e.sid),
      [PSID, PSID, PSID],
    );
  });

  it("fails an unknown vSID with EIO and reports how many entries were handled", () => {
    const r = setup();
    const res = inv(r, [
      [0x10n, 0n],
      [0x40n | (9n << 32n), 0n],
      [0x10n, 0n],
    ]);
    assert.deepEqual(res, { ok: false, error: { errno: 5, entryNum: 1 } });
  });

  it("fails any other opcode with EIO (CFGI_STE, CMD_SYNC, TLBI_S12_VMALL)", () => {
    for (const op of [0x03n, 0x46n, 0x28n, 0x7fn]) {
      const r = setup();
      assert.deepEqual(inv(r, [[op, 0n]]), { ok: false, error: { errno: 5, entryNum: 0 } });
    }
  });

  it("issues batches of 63 and counts converted-but-unissued entries in entry_num on failure", () => {
    const r = setup();
    const good: Entry = [0x10n, 0n];
    const entries: Entry[] = Array.from({ length: 66 }, () => good);
    entries[65] = [0x03n, 0n];
    const res = inv(r, entries);
    assert.deepEqual(res, { ok: false, error: { errno: 5, entryNum: 65 } });
    // Only the first full batch reached the main CMDQ.
    assert.equal(mainEffects(r).length, 63);
    assert.equal(r.host.smmu.stats().mainSyncs > 0, true);
  });

  it("refuses a data type other than ARM_SMMUV3 with EINVAL and entry_num 0", () => {
    const r = setup();
    assert.deepEqual(inv(r, [[0x10n, 0n]], { dataType: 2 }), {
      ok: false,
      error: { errno: 22, entryNum: 0 },
    });
  });

  it("refuses entry_len 0 with entries with EINVAL, and accepts no entries at all", () => {
    const r = setup();
    assert.equal(inv(r, [[0x10n, 0n]], { entryLen: 0 }).ok, false);
    assert.deepEqual(unwrap(inv(r, [], { entryLen: 0 })), { entryNum: 0 });
  });

  it("zero-extends entries shorter than 16 bytes (copy_struct_from_user)", () => {
    const r = setup();
    // With entry_len 4 only dword0[31:0] arrives: the VMID/SID words read as zero.
    unwrap(inv(r, [[0x12n | (0x55n << 32n), 0xffff_f000n]], { entryLen: 4 }));
    const fx = mainEffects(r);
    assert.equal(fx[0]!.opcode, 0x12);
    assert.equal(fx[0]!.addr, 0n);
  });

  it("refuses an unknown id with ENOENT and a paging HWPT with EINVAL", () => {
    const r = setup();
    assert.deepEqual(inv(r, [[0x10n, 0n]], { hwptId: 99 }), {
      ok: false,
      error: { errno: 2, entryNum: 0 },
    });
    assert.deepEqual(inv(r, [[0x10n, 0n]], { hwptId: r.hwptId }), {
      ok: false,
      error: { errno: 22, entryNum: 0 },
    });
  });

  it("reports entry_num = the request when the command array cannot be allocated (ENOMEM)", () => {
    const r = setup();
    r.host.faults.arm("hwpt_invalidate:cmds_alloc", 1);
    assert.deepEqual(
      inv(r, [
        [0x10n, 0n],
        [0x10n, 0n],
      ]),
      { ok: false, error: { errno: 12, entryNum: 2 } },
    );
    assert.equal(mainEffects(r).length, 0);
  });
});
