import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { F, VINTF } from "../../regs/cmdqv.js";
import { fieldValue } from "../../regs/regdef.js";
import { CS, OPCODE } from "../../smmu/commands.js";
import { CMDQ_ERR, consErr, withConsErr } from "../../smmu/errors.js";
import {
  alloc,
  allocValue,
  CFG,
  gp0,
  putCmd,
  RING,
  rig,
  setupGlobalQueue,
  setupQueue,
  VCMDQ0,
  vintf,
  vp0,
} from "./test-fixture.js";

const sync = { op: "CMD_SYNC", cs: CS.NONE, msh: 0, msiattr: 0, msidata: 0, msiaddr: 0n } as const;

describe("VCMDQ consumer", () => {
  test("commands are consumed as time advances, cmdNs each", () => {
    const r = rig();
    setupQueue(r, { v: 1, l: 0, q: 2, hypOwn: 1 });
    for (let i = 0; i < 5; i++) putCmd(r.mem, RING, i, { op: "TLBI_NH_ASID", vmid: 1, asid: i });
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 5);
    const cons = () => r.hw.read(vp0(1, 0, VCMDQ0.CONS), 4);
    r.clock.advance(9);
    assert.equal(cons(), 0);
    r.clock.advance(1);
    assert.equal(cons(), 1);
    r.clock.advance(39);
    assert.equal(cons(), 4);
    r.clock.advance(1);
    assert.equal(cons(), 5);
    r.clock.advance(1000);
    assert.equal(cons(), 5);
    const s = r.hw.stats();
    assert.equal(s.commands, 5);
    assert.equal(s.commandsPerQueue[2], 5);
    assert.deepEqual(
      r.hw.effects.entries().map((e) => e.t - r.hw.effects.entries()[0]!.t),
      [0, 10, 20, 30, 40],
    );
  });

  test("a queue that is not enabled does not consume", () => {
    const r = rig();
    r.hw.write(gp0(0, VCMDQ0.PROD), 4, 3);
    r.clock.advance(10_000);
    assert.equal(r.hw.read(gp0(0, VCMDQ0.CONS), 4), 0);
  });

  test("CONS wraps with the wrap bit over a full ring", () => {
    const r = rig();
    setupQueue(r, { v: 0, l: 0, q: 0, hypOwn: 1, log2: 2 });
    for (let i = 0; i < 4; i++) putCmd(r.mem, RING, i, sync);
    const p0 = (o: number) => vp0(0, 0, o);
    r.hw.write(p0(VCMDQ0.PROD), 4, 3);
    r.clock.advance(100);
    assert.equal(r.hw.read(p0(VCMDQ0.CONS), 4), 3);
    r.hw.write(p0(VCMDQ0.PROD), 4, 0b110); // wrap 1, idx 2
    r.clock.advance(100);
    assert.equal(r.hw.read(p0(VCMDQ0.CONS), 4), 0b110);
    r.hw.write(p0(VCMDQ0.PROD), 4, 0b001); // wrap 0, idx 1
    r.clock.advance(100);
    assert.equal(r.hw.read(p0(VCMDQ0.CONS), 4), 0b001);
    assert.equal(r.hw.stats().commands, 3 + 3 + 3);
  });

  test("a full queue (PROD = CONS with the wrap bit different) is consumed completely", () => {
    const r = rig();
    setupQueue(r, { v: 0, l: 0, q: 0, hypOwn: 1, log2: 3 });
    for (let i = 0; i < 8; i++) putCmd(r.mem, RING, i, { op: "TLBI_NH_ALL", vmid: i });
    r.hw.write(vp0(0, 0, VCMDQ0.PROD), 4, 0b1000);
    r.clock.advance(79);
    assert.equal(r.hw.read(vp0(0, 0, VCMDQ0.CONS), 4), 7);
    r.clock.advance(1);
    assert.equal(r.hw.read(vp0(0, 0, VCMDQ0.CONS), 4), 0b1000);
    assert.equal(r.hw.effects.count(), 8);
  });

  test("[inf] LOG2SIZE above 19 is treated as 19 (the index fields are 20 bits)", () => {
    const r = rig();
    setupQueue(r, { v: 0, l: 0, q: 0, hypOwn: 1, log2: 25 });
    putCmd(r.mem, RING, 0, sync);
    r.hw.write(vp0(0, 0, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    assert.equal(r.hw.read(vp0(0, 0, VCMDQ0.CONS), 4), 1);
  });

  test("queues progress in parallel, each at cmdNs per command", () => {
    const r = rig();
    setupQueue(r, { v: 0, l: 0, q: 0, hypOwn: 1 });
    setupQueue(r, { v: 0, l: 1, q: 1, hypOwn: 1, base: RING + 0x1000 });
    for (let i = 0; i < 4; i++) {
      putCmd(r.mem, RING, i, sync);
      putCmd(r.mem, RING + 0x1000, i, sync);
    }
    r.hw.write(vp0(0, 0, VCMDQ0.PROD), 4, 4);
    r.hw.write(vp0(0, 1, VCMDQ0.PROD), 4, 4);
    r.clock.advance(20);
    assert.equal(r.hw.read(vp0(0, 0, VCMDQ0.CONS), 4), 2);
    assert.equal(r.hw.read(vp0(0, 1, VCMDQ0.CONS), 4), 2);
  });
});

describe("guest-owned VINTF (HYP_OWN=0)", () => {
  test("[inf] the VINTF's VMID replaces the guest's in TLBI_NH_ASID and TLBI_NH_VA", () => {
    const r = rig();
    setupQueue(r, { v: 1, l: 0, q: 2, vmid: 0x42 });
    putCmd(r.mem, RING, 0, { op: "TLBI_NH_ASID", vmid: 7, asid: 3 });
    putCmd(r.mem, RING, 1, {
      op: "TLBI_NH_VA",
      vmid: 0xffff,
      asid: 9,
      addr: 0xdead_b000n,
      num: 1,
      scale: 2,
      leaf: 1,
      ttl: 0,
      tg: 1,
    });
    putCmd(r.mem, RING, 2, sync);
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 3);
    r.clock.advance(30);
    const e = r.hw.effects.entries();
    assert.equal(e.length, 2);
    assert.deepEqual(
      e.map(({ opcode, vmid, asid, vcmdq, vintf: v, addr, source }) => ({
        opcode,
        vmid,
        asid,
        vcmdq,
        vintf: v,
        addr,
        source,
      })),
      [
        {
          opcode: OPCODE.TLBI_NH_ASID,
          vmid: 0x42,
          asid: 3,
          vcmdq: 2,
          vintf: 1,
          addr: 0n,
          source: "vcmdq",
        },
        {
          opcode: OPCODE.TLBI_NH_VA,
          vmid: 0x42,
          asid: 9,
          vcmdq: 2,
          vintf: 1,
          addr: 0xdead_b000n,
          source: "vcmdq",
        },
      ],
    );
    assert.equal(r.hw.stats().syncs, 1);
  });

  test("[inf] ATC_INV's vSID is translated through SID_MATCH/SID_REPLACE", () => {
    const r = rig();
    setupQueue(r, { v: 1, l: 0, q: 2, vmid: 1 });
    // As the kernel's vdevice_init: SID_REPLACE first, then SID_MATCH = vSID<<1 | 1.
    r.hw.write(vintf(1, VINTF.SID_REPLACE_0 + 4 * 3), 4, 0x777);
    r.hw.write(vintf(1, VINTF.SID_MATCH_0 + 4 * 3), 4, (0x10 << 1) | 1);
    putCmd(r.mem, RING, 0, {
      op: "ATC_INV",
      sid: 0x10,
      ssv: 0,
      ssid: 0,
      global: 0,
      addr: 0x4000_0000n,
      size: 52,
    });
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    const [e] = r.hw.effects.entries();
    assert.equal(e?.opcode, OPCODE.ATC_INV);
    assert.equal(e?.sid, 0x777);
    assert.equal(e?.addr, 0x4000_0000n);
  });

  test("an ATC_INV whose vSID matches no enabled slot fails with unmatchedSidError (default ILL_ACCESS)", () => {
    const r = rig();
    setupQueue(r, { v: 1, l: 0, q: 2 });
    r.hw.write(vintf(1, VINTF.SID_REPLACE_0), 4, 0x777);
    r.hw.write(vintf(1, VINTF.SID_MATCH_0), 4, 0x10 << 1); // ENABLE = 0
    putCmd(r.mem, RING, 0, {
      op: "ATC_INV",
      sid: 0x10,
      ssv: 0,
      ssid: 0,
      global: 0,
      addr: 0n,
      size: 52,
    });
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    assert.equal(consErr(r.hw.read(vp0(1, 0, VCMDQ0.CONS), 4)), CMDQ_ERR.ILL_ACCESS);
    assert.equal(r.hw.effects.count(), 0);
  });

  for (const [name, cmd] of [
    ["TLBI_NH_ALL", { op: "TLBI_NH_ALL", vmid: 0 }],
    ["CFGI_STE", { op: "CFGI_STE", sid: 1, leaf: 1 }],
  ] as const) {
    test(`a disallowed opcode (${name}) stops the queue with CONS.ERR=ILL at its index, GERROR toggled, maps set, one IRQ edge`, () => {
      const r = rig();
      setupQueue(r, { v: 3, l: 1, q: 7, vmid: 5 });
      putCmd(r.mem, RING, 0, { op: "TLBI_NH_ASID", vmid: 0, asid: 1 });
      putCmd(r.mem, RING, 1, cmd);
      putCmd(r.mem, RING, 2, { op: "TLBI_NH_ASID", vmid: 0, asid: 2 });
      putCmd(r.mem, RING, 3, sync);
      const p0 = (o: number) => vp0(3, 1, o);
      r.hw.write(p0(VCMDQ0.PROD), 4, 4);
      r.clock.advance(20);
      const cons = r.hw.read(p0(VCMDQ0.CONS), 4);
      assert.equal(cons & 0xfffff, 1, "CONS points at the bad command");
      assert.equal(consErr(cons), CMDQ_ERR.ILL);
      assert.equal(r.hw.read(p0(VCMDQ0.GERROR), 4), 1);
      assert.equal(r.hw.read(p0(VCMDQ0.GERRORN), 4), 0);
      assert.equal(r.hw.read(CFG.CMDQ_ERR_MAP_0, 4), 1 << 7);
      assert.equal(r.hw.read(CFG.VI_ERR_MAP_0, 4), 1 << 3);
      assert.equal(r.hw.read(vintf(3, VINTF.LVCMDQ_ERR_MAP_0), 4), 1 << 1);
      const st = r.hw.read(vintf(3, VINTF.STATUS), 4);
      assert.equal(fieldValue(st, F.VINTF_STATUS.STATUS), 1n);
      assert.equal(fieldValue(st, F.VINTF_STATUS.ENABLE_OK), 1n);
      assert.equal(r.irq.count, 1);
      assert.equal(r.hw.effects.count(), 1, "only the command before it");
      assert.equal(r.hw.effects.totalFor(OPCODE[name]), 0);
      r.clock.advance(100_000);
      assert.equal(r.hw.read(p0(VCMDQ0.CONS), 4) & 0xfffff, 1, "consumption stopped");
      assert.equal(r.hw.effects.count(), 1);
      assert.equal(r.irq.count, 1);
    });
  }

  test("after the ack, an unfixed bad command is re-fetched and fails again", () => {
    const r = rig();
    setupQueue(r, { v: 1, l: 0, q: 2 });
    putCmd(r.mem, RING, 0, { op: "TLBI_NH_ALL", vmid: 0 });
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    r.hw.write(vp0(1, 0, VCMDQ0.GERRORN), 4, r.hw.read(vp0(1, 0, VCMDQ0.GERROR), 4));
    r.clock.advance(10);
    assert.equal(r.hw.read(vp0(1, 0, VCMDQ0.GERROR), 4), 0, "toggled back");
    assert.equal(r.hw.read(vp0(1, 0, VCMDQ0.GERRORN), 4), 1);
    assert.equal(r.irq.count, 2);
    assert.equal(r.hw.stats().errors, 2);
  });

  test("after Linux's fix-up (bad entry → CMD_SYNC CS=NONE) and the GERRORN ack, consumption resumes and maps clear", () => {
    const r = rig();
    setupQueue(r, { v: 1, l: 0, q: 2, vmid: 3 });
    putCmd(r.mem, RING, 0, { op: "CFGI_CD_ALL", sid: 4 });
    putCmd(r.mem, RING, 1, { op: "TLBI_NH_ASID", vmid: 0, asid: 8 });
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 2);
    r.clock.advance(50);
    assert.equal(r.hw.read(CFG.VI_ERR_MAP_0, 4), 2);
    // linux §4.6: skip_err rewrites the entry at CONS, then GERRORN = GERROR.
    putCmd(r.mem, RING, 0, sync);
    r.hw.write(vp0(1, 0, VCMDQ0.GERRORN), 4, r.hw.read(vp0(1, 0, VCMDQ0.GERROR), 4));
    assert.equal(r.hw.read(CFG.VI_ERR_MAP_0, 4), 0);
    assert.equal(r.hw.read(CFG.CMDQ_ERR_MAP_0, 4), 0);
    assert.equal(r.hw.read(vintf(1, VINTF.LVCMDQ_ERR_MAP_0), 4), 0);
    assert.equal(fieldValue(r.hw.read(vintf(1, VINTF.STATUS), 4), F.VINTF_STATUS.STATUS), 0n);
    r.clock.advance(20);
    const cons = r.hw.read(vp0(1, 0, VCMDQ0.CONS), 4);
    assert.equal(cons & 0xfffff, 2);
    // [inf] CONS.ERR is not cleared by the ack (UNKNOWN while no error is active in SMMUv3).
    assert.equal(consErr(cons), CMDQ_ERR.ILL);
    assert.deepEqual(
      r.hw.effects.entries().map((e) => [e.opcode, e.vmid, e.asid]),
      [[OPCODE.TLBI_NH_ASID, 3, 8]],
    );
  });

  test("VINTF_ERR_MAP keeps bit v while another LVCMDQ of v still has its error", () => {
    const r = rig();
    setupQueue(r, { v: 1, l: 0, q: 2 });
    setupQueue(r, { v: 1, l: 1, q: 3, base: RING + 0x1000 });
    putCmd(r.mem, RING, 0, { op: "TLBI_NH_ALL", vmid: 0 });
    putCmd(r.mem, RING + 0x1000, 0, { op: "TLBI_NH_ALL", vmid: 0 });
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 1);
    r.hw.write(vp0(1, 1, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    assert.equal(r.hw.read(vintf(1, VINTF.LVCMDQ_ERR_MAP_0), 4), 0b11);
    assert.equal(r.irq.count, 1, "two edges in one step coalesce into one delivery");
    assert.equal(r.hw.stats().irqEdges, 2);
    r.hw.write(vp0(1, 0, VCMDQ0.GERRORN), 4, 1);
    assert.equal(r.hw.read(vintf(1, VINTF.LVCMDQ_ERR_MAP_0), 4), 0b10);
    assert.equal(r.hw.read(CFG.VI_ERR_MAP_0, 4), 0b10);
    r.hw.write(vp0(1, 1, VCMDQ0.GERRORN), 4, 1);
    assert.equal(r.hw.read(CFG.VI_ERR_MAP_0, 4), 0);
  });

  test("with errMapsClearOnAck=false the error maps stay set after the ack", () => {
    const r = rig({}, { errMapsClearOnAck: false });
    setupQueue(r, { v: 1, l: 0, q: 2 });
    putCmd(r.mem, RING, 0, { op: "TLBI_NH_ALL", vmid: 0 });
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    putCmd(r.mem, RING, 0, sync);
    r.hw.write(vp0(1, 0, VCMDQ0.GERRORN), 4, 1);
    r.clock.advance(10);
    assert.equal(r.hw.read(vp0(1, 0, VCMDQ0.CONS), 4) & 0xfffff, 1);
    assert.equal(r.hw.read(CFG.VI_ERR_MAP_0, 4), 2);
    assert.equal(r.hw.read(CFG.CMDQ_ERR_MAP_0, 4), 4);
    // STATUS.STATUS follows the active error, not the sticky maps.
    assert.equal(fieldValue(r.hw.read(vintf(1, VINTF.STATUS), 4), F.VINTF_STATUS.STATUS), 0n);
  });

  test("guestFilterError=4 reports a disallowed opcode as ILL_ACCESS", () => {
    const r = rig({}, { guestFilterError: 4 });
    setupQueue(r, { v: 1, l: 0, q: 2 });
    putCmd(r.mem, RING, 0, { op: "TLBI_S12_VMALL", vmid: 1 });
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    assert.equal(consErr(r.hw.read(vp0(1, 0, VCMDQ0.CONS), 4)), 4);
  });

  test("[inf] a GERRORN write that makes it differ from GERROR stalls the queue without touching the maps", () => {
    const r = rig();
    setupQueue(r, { v: 1, l: 0, q: 2 });
    putCmd(r.mem, RING, 0, sync);
    r.hw.write(vp0(1, 0, VCMDQ0.GERRORN), 4, 1);
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 1);
    r.clock.advance(100);
    assert.equal(r.hw.read(vp0(1, 0, VCMDQ0.CONS), 4), 0);
    assert.equal(r.hw.read(CFG.VI_ERR_MAP_0, 4), 0);
    assert.equal(r.irq.count, 0);
    r.hw.write(vp0(1, 0, VCMDQ0.GERRORN), 4, 0);
    r.clock.advance(10);
    assert.equal(r.hw.read(vp0(1, 0, VCMDQ0.CONS), 4), 1);
  });
});

describe("command errors on any VCMDQ", () => {
  test("a fetch from unbacked memory stops the queue with CONS.ERR=ABT", () => {
    const r = rig();
    setupQueue(r, { v: 1, l: 0, q: 2, base: 0x4_0000_0000 });
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    const cons = r.hw.read(vp0(1, 0, VCMDQ0.CONS), 4);
    assert.equal(consErr(cons), CMDQ_ERR.ABT);
    assert.equal(cons & 0xfffff, 0);
    assert.equal(r.hw.read(vp0(1, 0, VCMDQ0.GERROR), 4), 1);
    assert.equal(r.irq.count, 1);
    assert.deepEqual(r.hw.stats().errorsByCode, { 2: 1 });
  });

  test("CMD_SYNC with CS=IRQ is an error on a hypervisor-owned queue too (VCMDQs support CS_NONE only)", () => {
    const r = rig();
    setupQueue(r, { v: 0, l: 0, q: 0, hypOwn: 1 });
    putCmd(r.mem, RING, 0, { ...sync, cs: CS.IRQ });
    r.hw.write(vp0(0, 0, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    assert.equal(consErr(r.hw.read(vp0(0, 0, VCMDQ0.CONS), 4)), 1);
  });

  test("syncCsError=4 reports CS≠NONE as ILL_ACCESS", () => {
    const r = rig({}, { syncCsError: 4 });
    setupQueue(r, { v: 1, l: 0, q: 2 });
    putCmd(r.mem, RING, 0, { ...sync, cs: CS.SEV });
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    assert.equal(consErr(r.hw.read(vp0(1, 0, VCMDQ0.CONS), 4)), 4);
  });

  test("[inf] VI_INT_MASK bit v suppresses the IRQ edge; the error is still reported in the registers", () => {
    const r = rig();
    setupQueue(r, { v: 33, l: 0, q: 66 });
    r.hw.write(CFG.VI_INT_MASK_1, 4, 1 << 1);
    putCmd(r.mem, RING, 0, { op: "TLBI_NH_ALL", vmid: 0 });
    r.hw.write(vp0(33, 0, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    assert.equal(r.irq.count, 0);
    assert.equal(r.hw.stats().irqMasked, 1);
    assert.equal(r.hw.read(CFG.VI_ERR_MAP_1, 4), 1 << 1);
    assert.equal(r.hw.read(CFG.CMDQ_ERR_MAP_0 + 8, 4), 1 << 2);
  });

  test("[inf] clearing VI_INT_MASK later does not replay the suppressed edge", () => {
    const r = rig();
    setupQueue(r, { v: 1, l: 0, q: 2 });
    r.hw.write(CFG.VI_INT_MASK_0, 4, 1 << 1);
    putCmd(r.mem, RING, 0, { op: "TLBI_NH_ALL", vmid: 0 });
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    r.hw.write(CFG.VI_INT_MASK_0, 4, 0);
    r.clock.advance(1000);
    assert.equal(r.irq.count, 0);
  });

  test("the IRQ sink runs after the step, and sees the error in the registers", () => {
    const r = rig();
    setupQueue(r, { v: 2, l: 1, q: 5 });
    putCmd(r.mem, RING, 0, { op: "PREFETCH_CFG", sid: 1 });
    const seen: number[] = [];
    r.hw.onIrq({
      edge() {
        seen.push(
          r.hw.read(CFG.VI_ERR_MAP_0, 4),
          Number(r.hw.read64(vintf(2, VINTF.LVCMDQ_ERR_MAP_0))),
          consErr(r.hw.read(vp0(2, 1, VCMDQ0.CONS), 4)),
          r.hw.read(vp0(2, 1, VCMDQ0.GERROR), 4),
        );
      },
    });
    r.hw.write(vp0(2, 1, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    assert.deepEqual(seen, [1 << 2, 1 << 1, CMDQ_ERR.ILL, 1]);
  });

  test("an unmapped queue errors only in CMDQ_ERR_MAP and still raises an edge", () => {
    const r = rig();
    setupGlobalQueue(r, 100);
    putCmd(r.mem, RING, 0, { op: "UNKNOWN", opcode: 0x7f, dw0: 0x7fn, dw1: 0n });
    r.hw.write(gp0(100, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    assert.equal(consErr(r.hw.read(gp0(100, VCMDQ0.CONS), 4)), CMDQ_ERR.ILL);
    assert.equal(r.hw.read(CFG.CMDQ_ERR_MAP_0 + 12, 4), 1 << 4);
    assert.equal(r.hw.read(CFG.VI_ERR_MAP_0, 4), 0);
    assert.equal(r.irq.count, 1);
  });
});

describe("hypervisor-owned queues", () => {
  test("a HYP_OWN=1 VINTF's queue executes TLBI_NH_ALL unchanged", () => {
    const r = rig();
    setupQueue(r, { v: 0, l: 0, q: 0, hypOwn: 1, vmid: 0x11 });
    putCmd(r.mem, RING, 0, { op: "TLBI_NH_ALL", vmid: 0x99 });
    r.hw.write(vp0(0, 0, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    const [e] = r.hw.effects.entries();
    assert.equal(e?.opcode, OPCODE.TLBI_NH_ALL);
    assert.equal(e?.vmid, 0x99);
    assert.equal(e?.vintf, 0);
  });

  test("an unmapped queue is hypervisor-owned through the global page: invalidations unchanged, CFGI/PREFETCH no-ops", () => {
    const r = rig();
    setupGlobalQueue(r, 127);
    putCmd(r.mem, RING, 0, { op: "CFGI_STE", sid: 3, leaf: 1 });
    putCmd(r.mem, RING, 1, { op: "PREFETCH_CFG", sid: 3 });
    putCmd(r.mem, RING, 2, { op: "TLBI_S12_VMALL", vmid: 0x55 });
    putCmd(r.mem, RING, 3, {
      op: "ATC_INV",
      sid: 0x1234,
      ssv: 0,
      ssid: 0,
      global: 0,
      addr: 0n,
      size: 52,
    });
    r.hw.write(gp0(127, VCMDQ0.PROD), 4, 4);
    r.clock.advance(40);
    assert.equal(r.hw.read(gp0(127, VCMDQ0.CONS), 4), 4);
    assert.deepEqual(
      r.hw.effects.entries().map((e) => [e.opcode, e.vmid, e.sid, e.vintf]),
      [
        [OPCODE.TLBI_S12_VMALL, 0x55, 0, -1],
        [OPCODE.ATC_INV, 0, 0x1234, -1],
      ],
    );
    assert.equal(r.hw.stats().noops, 2);
  });

  test("[inf] a queue unmapped while still enabled keeps running, as hypervisor-owned", () => {
    const r = rig();
    setupQueue(r, { v: 1, l: 0, q: 2, vmid: 5 });
    r.hw.write(alloc(2), 4, 0);
    assert.equal(r.hw.read(gp0(2, VCMDQ0.STATUS), 4), 1);
    putCmd(r.mem, RING, 0, { op: "TLBI_NH_ALL", vmid: 9 });
    r.hw.write(gp0(2, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    const [e] = r.hw.effects.entries();
    assert.deepEqual([e?.opcode, e?.vmid, e?.vintf], [OPCODE.TLBI_NH_ALL, 9, -1]);
  });

  test("[inf] a VIRT_INTF_INDX beyond the advertised VINTFs maps nowhere", () => {
    const r = rig({ numVintfLog2: 1 });
    r.hw.write(alloc(0), 4, allocValue(5, 0));
    assert.equal(r.hw.vcmdqOf(1, 0), -1);
    assert.equal(r.hw.vcmdq(0).vintf, -1);
  });

  test("the counters and the device time are right however a burst stops: time slice, error, empty queue", () => {
    const r = rig();
    const cmdNs = r.cfg.cmdNs;
    setupGlobalQueue(r, 1);
    putCmd(r.mem, RING, 0, { op: "TLBI_S12_VMALL", vmid: 1 });
    putCmd(r.mem, RING, 1, { op: "CFGI_STE", sid: 3, leaf: 1 });
    putCmd(r.mem, RING, 2, sync);
    putCmd(r.mem, RING, 3, { op: "TLBI_S12_VMALL", vmid: 2 });
    putCmd(r.mem, RING, 4, { op: "UNKNOWN", opcode: 0x50, dw0: 0x50n, dw1: 0n });
    const t0 = r.hw.time();
    r.hw.write(gp0(1, VCMDQ0.PROD), 4, 5);
    // Stopped by time after two commands.
    r.clock.advance(2 * cmdNs);
    let s = r.hw.stats();
    assert.deepEqual([s.commands, s.invalidations, s.noops, s.syncs], [2, 1, 1, 0]);
    assert.equal(r.hw.read(gp0(1, VCMDQ0.CONS), 4), 2);
    assert.equal(r.hw.time(), t0 + 2 * cmdNs);
    // Stopped by the illegal command at index 4, after two more.
    r.clock.advance(10 * cmdNs);
    s = r.hw.stats();
    assert.deepEqual([s.commands, s.invalidations, s.noops, s.syncs, s.errors], [4, 2, 1, 1, 1]);
    assert.equal(s.commandsPerQueue[1], 4);
    assert.equal(r.hw.read(gp0(1, VCMDQ0.CONS), 4), withConsErr(4, CMDQ_ERR.ILL));
    // Fixed and acked: the queue empties after the re-fetched entry.
    putCmd(r.mem, RING, 4, sync);
    r.hw.write(gp0(1, VCMDQ0.GERRORN), 4, r.hw.read(gp0(1, VCMDQ0.GERROR), 4));
    r.clock.advance(10 * cmdNs);
    s = r.hw.stats();
    assert.deepEqual([s.commands, s.syncs, s.errors], [5, 2, 1]);
    assert.equal(r.hw.read(gp0(1, VCMDQ0.CONS), 4), withConsErr(5, CMDQ_ERR.ILL));
    assert.equal(r.hw.vcmdq(1).busy, false);
    assert.equal(r.hw.effects.count(), 2);
  });

  test("an opcode that is not architected is an illegal command", () => {
    const r = rig();
    setupGlobalQueue(r, 1);
    putCmd(r.mem, RING, 0, { op: "UNKNOWN", opcode: 0x50, dw0: 0x50n, dw1: 0n });
    r.hw.write(gp0(1, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    assert.equal(consErr(r.hw.read(gp0(1, VCMDQ0.CONS), 4)), CMDQ_ERR.ILL);
  });

  test("switching HYP_OWN changes the filter for the next command", () => {
    const r = rig();
    setupQueue(r, { v: 4, l: 0, q: 8, hypOwn: 1 });
    r.hw.write(alloc(8), 4, allocValue(4, 0));
    putCmd(r.mem, RING, 0, { op: "TLBI_NH_ALL", vmid: 1 });
    putCmd(r.mem, RING, 1, { op: "TLBI_NH_ALL", vmid: 1 });
    r.hw.write(vp0(4, 0, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    r.hw.write(vintf(4, VINTF.CONFIG), 4, 1); // EN=1, HYP_OWN=0
    r.hw.write(vp0(4, 0, VCMDQ0.PROD), 4, 2);
    r.clock.advance(10);
    assert.equal(r.hw.effects.count(), 1);
    assert.equal(consErr(r.hw.read(vp0(4, 0, VCMDQ0.CONS), 4)), CMDQ_ERR.ILL);
  });
});
