import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { hi32, lo32 } from "../../bits/u64.js";
import { encode, OPCODE } from "../../smmu/commands.js";
import { EffectsLog } from "./effects-log.js";
import { putCmd, RING, rig, setupQueue, VCMDQ0, vp0 } from "./test-fixture.js";

describe("effects log", () => {
  test("the ring overwrites old entries while totals keep counting", () => {
    const log = new EffectsLog(4);
    for (let i = 0; i < 10; i++) log.record("vcmdq", i, 0, -1, OPCODE.TLBI_NH_ASID, 1, i, 0, 0, 0);
    log.record("main-cmdq", 10, -1, 2, OPCODE.TLBI_NH_ALL, 7, 0, 0, 0, 0);
    assert.equal(log.count(), 11);
    assert.equal(log.retained(), 4);
    assert.equal(log.oldestSeq(), 7);
    assert.deepEqual(
      log.entries().map((e) => [e.seq, e.asid]),
      [
        [7, 7],
        [8, 8],
        [9, 9],
        [10, 0],
      ],
    );
    assert.deepEqual(log.totals(), {
      all: 11,
      vcmdq: 10,
      mainCmdq: 1,
      byOpcode: { TLBI_NH_ALL: 1, TLBI_NH_ASID: 10 },
    });
    assert.equal(log.totalFor(OPCODE.TLBI_NH_ASID), 10);
  });

  test("entries(from) returns only what is new since a sequence number", () => {
    const log = new EffectsLog(8);
    for (let i = 0; i < 5; i++) log.record("vcmdq", i, 0, 0, OPCODE.ATC_INV, 0, 0, i, 0, 0);
    assert.deepEqual(
      log.entries(3).map((e) => e.sid),
      [3, 4],
    );
    assert.deepEqual(log.entries(5), []);
  });

  test("recordWords decodes the fields the opcode carries and tags the source", () => {
    const log = new EffectsLog(8);
    const record = (t: number, d0: bigint, d1: bigint) =>
      log.recordWords("main-cmdq", t, -1, 1, lo32(d0), hi32(d0), lo32(d1), hi32(d1));
    const [d0, d1] = encode({
      op: "TLBI_NH_VA",
      vmid: 0x33,
      asid: 0x44,
      addr: 0xffff_ffff_f000_0000n,
      num: 0,
      scale: 0,
      leaf: 1,
      ttl: 0,
      tg: 0,
    });
    record(5, d0, d1);
    const [ipa0, ipa1] = encode({
      op: "TLBI_S2_IPA",
      vmid: 2,
      ipa: 0x000f_ffff_ffff_f000n,
      num: 0,
      scale: 0,
      leaf: 0,
      ttl: 0,
      tg: 0,
    });
    record(6, ipa0, ipa1 | (0xfffn << 52n));
    const [cd0, cd1] = encode({ op: "CFGI_CD", sid: 0x99, ssid: 3, leaf: 1 });
    record(7, cd0, cd1);
    const e = log.entries();
    assert.deepEqual(
      e.map(({ source, t, vcmdq, vintf, opcode, vmid, asid, sid, addr }) => ({
        source,
        t,
        vcmdq,
        vintf,
        opcode,
        vmid,
        asid,
        sid,
        addr,
      })),
      [
        {
          source: "main-cmdq",
          t: 5,
          vcmdq: -1,
          vintf: 1,
          opcode: OPCODE.TLBI_NH_VA,
          vmid: 0x33,
          asid: 0x44,
          sid: 0,
          addr: 0xffff_ffff_f000_0000n,
        },
        {
          source: "main-cmdq",
          t: 6,
          vcmdq: -1,
          vintf: 1,
          opcode: OPCODE.TLBI_S2_IPA,
          vmid: 2,
          asid: 0,
          sid: 0,
          addr: 0x000f_ffff_ffff_f000n,
        },
        {
          source: "main-cmdq",
          t: 7,
          vcmdq: -1,
          vintf: 1,
          opcode: OPCODE.CFGI_CD,
          vmid: 0,
          asid: 0,
          sid: 0x99,
          addr: 0n,
        },
      ],
    );
  });

  test("clear() forgets entries and totals", () => {
    const log = new EffectsLog(2);
    log.record("vcmdq", 0, 0, 0, OPCODE.TLBI_NH_ALL, 0, 0, 0, 0, 0);
    log.clear();
    assert.equal(log.count(), 0);
    assert.deepEqual(log.entries(), []);
    assert.deepEqual(log.totals().byOpcode, {});
  });

  test("the hardware's log overwrites like any other: totals count every executed invalidation", () => {
    const r = rig({ effectsCapacity: 4 });
    setupQueue(r, { v: 0, l: 0, q: 0, hypOwn: 1 });
    for (let i = 0; i < 10; i++) putCmd(r.mem, RING, i, { op: "TLBI_NH_ALL", vmid: i });
    r.hw.write(vp0(0, 0, VCMDQ0.PROD), 4, 10);
    r.clock.advance(100);
    assert.equal(r.hw.effects.count(), 10);
    assert.deepEqual(
      r.hw.effects.entries().map((e) => e.vmid),
      [6, 7, 8, 9],
    );
    assert.equal(r.hw.effects.totals().vcmdq, 10);
  });
});
