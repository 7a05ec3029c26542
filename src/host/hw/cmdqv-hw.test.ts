import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HostMemory } from "../../mem/host-memory.js";
import { F, V_CONFIG_RESET, VINTF } from "../../regs/cmdqv.js";
import { fieldValue } from "../../regs/regdef.js";
import { OPCODE } from "../../smmu/commands.js";
import { VirtualClock } from "../../util/clock.js";
import { CmdqvHardware } from "./cmdqv-hw.js";
import {
  alloc,
  allocValue,
  CFG,
  gp0,
  gp1,
  putCmd,
  RING,
  rig,
  setupQueue,
  VCMDQ0,
  VCMDQ1,
  vintf,
  vintfConfig,
  vp0,
  vp1,
} from "./test-fixture.js";
import { DEFAULT_HW_CONFIG } from "./types.js";

describe("CMDQV hardware registers", () => {
  test("PARAM by default decodes to VER=1 NUM_CMDQ_LOG2=7 NUM_VI_LOG2=6 NUM_SID_PER_VI_LOG2=4", () => {
    const { hw } = rig();
    const p = hw.read(CFG.PARAM, 4);
    assert.equal(fieldValue(p, F.PARAM.VER), 1n);
    assert.equal(fieldValue(p, F.PARAM.NUM_VCMDQ_LOG2), 7n);
    assert.equal(fieldValue(p, F.PARAM.NUM_VINTF_LOG2), 6n);
    assert.equal(fieldValue(p, F.PARAM.NUM_SID_PER_VINTF_LOG2), 4n);
    assert.deepEqual(hw.geometry, {
      numVcmdqs: 128,
      numVintfs: 64,
      lvcmdqsPerVintf: 2,
      numSids: 16,
      param: p,
    });
    assert.equal(hw.size, 0x30000 + 0x20000 * 64);
  });

  test("PARAM is read-only: a write is ignored and counted as a bad access", () => {
    const { hw } = rig();
    const before = hw.read(CFG.PARAM, 4);
    hw.write(CFG.PARAM, 4, 0xffff_ffff);
    assert.equal(hw.read(CFG.PARAM, 4), before);
    assert.equal(hw.stats().badReadOnlyWrite, 1);
  });

  test("power-on values are QEMU's: CONFIG 0x00020083, STATUS 1, everything else 0", () => {
    const { hw } = rig();
    assert.equal(hw.read(CFG.CONFIG, 4), 0x0002_0083);
    assert.equal(hw.read(CFG.STATUS, 4), 1);
    for (const off of [0x14, 0x18, 0x1c, 0x20, 0x24, 0x28, 0x2c, 0x30, alloc(0), alloc(127)])
      assert.equal(hw.read(off, 4), 0, `config+0x${off.toString(16)}`);
    for (const r of [0x00, 0x04, 0x0c, 0x10, 0x40, 0x7c, 0x80, 0xbc, 0xc0, 0xcc]) {
      assert.equal(hw.read(vintf(0, r), 4), 0);
      assert.equal(hw.read(vintf(63, r), 4), 0);
    }
    for (const q of [0, 77, 127]) {
      for (const r of [0x00, 0x04, 0x08, 0x0c, 0x10, 0x14]) assert.equal(hw.read(gp0(q, r), 4), 0);
      assert.equal(hw.read64(gp1(q, VCMDQ1.BASE_L)), 0n);
      assert.equal(hw.read64(gp1(q, VCMDQ1.CONS_INDX_BASE_L)), 0n);
    }
    assert.equal(hw.stats().badAccesses, 0);
  });

  test("reset() restores power-on values after the registers were programmed", () => {
    const r = rig();
    setupQueue(r, { v: 1, l: 0, q: 2, vmid: 5 });
    r.hw.write(CFG.VI_INT_MASK_0, 4, 0xff);
    r.hw.write(vintf(1, VINTF.SID_MATCH_0), 4, 0x21);
    r.hw.reset();
    assert.equal(r.hw.read(CFG.CONFIG, 4), V_CONFIG_RESET);
    assert.equal(r.hw.read(CFG.STATUS, 4), 1);
    assert.equal(r.hw.read(CFG.VI_INT_MASK_0, 4), 0);
    assert.equal(r.hw.read(alloc(2), 4), 0);
    assert.equal(r.hw.read(vintf(1, 0), 4), 0);
    assert.equal(r.hw.read(vintf(1, VINTF.SID_MATCH_0), 4), 0);
    assert.equal(r.hw.read(gp0(2, VCMDQ0.CONFIG), 4), 0);
    assert.equal(r.hw.read(gp0(2, VCMDQ0.STATUS), 4), 0);
    assert.equal(r.hw.read64(gp1(2, VCMDQ1.BASE_L)), 0n);
    assert.equal(r.hw.vcmdqOf(1, 0), -1);
  });

  test("the reset CONFIG is a HwConfig option; STATUS follows its EN bit", () => {
    const { hw } = rig({ configReset: 0x0002_0082 });
    assert.equal(hw.read(CFG.CONFIG, 4), 0x0002_0082);
    assert.equal(hw.read(CFG.STATUS, 4), 0);
  });

  test("VINTF CONFIG is stored as written, HYP_OWN included (the VMM masks it, not the hardware)", () => {
    const { hw } = rig();
    hw.write(vintf(3, VINTF.CONFIG), 4, vintfConfig(0, 0x1234, 1));
    assert.equal(hw.read(vintf(3, VINTF.CONFIG), 4), vintfConfig(0, 0x1234, 1));
  });

  test("GLB_FILT, SID_MATCH and SID_REPLACE are stored; VI_INT_MASK is read/write", () => {
    const { hw } = rig();
    hw.write(vintf(2, VINTF.GLB_FILT_CFG), 4, 0xaaaa);
    hw.write(vintf(2, VINTF.GLB_FILT_DATA), 4, 0xbbbb);
    hw.write(vintf(2, VINTF.SID_MATCH_0 + 4 * 15), 4, (0x123 << 1) | 1);
    hw.write(vintf(2, VINTF.SID_REPLACE_0 + 4 * 15), 4, 0x456);
    hw.write(CFG.VI_INT_MASK_1, 4, 0x8000_0001);
    assert.equal(hw.read(vintf(2, VINTF.GLB_FILT_CFG), 4), 0xaaaa);
    assert.equal(hw.read(vintf(2, VINTF.GLB_FILT_DATA), 4), 0xbbbb);
    assert.equal(hw.read(vintf(2, VINTF.SID_MATCH_0 + 60), 4), (0x123 << 1) | 1);
    assert.equal(hw.read(vintf(2, VINTF.SID_REPLACE_0 + 60), 4), 0x456);
    assert.equal(hw.read(CFG.VI_INT_MASK_1, 4), 0x8000_0001);
  });

  test("SID slots beyond 1 << NUM_SID_PER_VI_LOG2 do not decode", () => {
    const { hw } = rig({ numSidLog2: 2 });
    hw.write(vintf(0, VINTF.SID_MATCH_0 + 4 * 4), 4, 3);
    assert.equal(hw.read(vintf(0, VINTF.SID_MATCH_0 + 4 * 4), 4), 0);
    assert.equal(hw.stats().badUnknownOffset, 2);
  });
});

describe("CMDQV enable handshakes", () => {
  test("CMDQV STATUS follows CONFIG.EN only after handshakeNs", () => {
    const { hw, clock } = rig();
    hw.write(CFG.CONFIG, 4, V_CONFIG_RESET & ~1);
    clock.advance(499);
    assert.equal(hw.read(CFG.STATUS, 4), 1);
    clock.advance(1);
    assert.equal(hw.read(CFG.STATUS, 4), 0);
    hw.write(CFG.CONFIG, 4, V_CONFIG_RESET);
    clock.advance(499);
    assert.equal(hw.read(CFG.STATUS, 4), 0);
    clock.advance(1);
    assert.equal(hw.read(CFG.STATUS, 4), 1);
  });

  test("a read sees the new STATUS at writeTime + handshakeNs even if advanceTo was not called", () => {
    const clock = new VirtualClock();
    const hw = new CmdqvHardware(DEFAULT_HW_CONFIG, new HostMemory(), clock);
    hw.write(CFG.CONFIG, 4, 0);
    clock.advance(500); // not subscribed: the read itself catches up with clock.now()
    assert.equal(hw.read(CFG.STATUS, 4), 0);
  });

  test("VINTF ENABLE_OK follows ENABLE after handshakeNs", () => {
    const { hw, clock } = rig();
    hw.write(vintf(5, VINTF.CONFIG), 4, vintfConfig(1, 9, 0));
    clock.advance(499);
    assert.equal(hw.read(vintf(5, VINTF.STATUS), 4) & 1, 0);
    clock.advance(1);
    assert.equal(hw.read(vintf(5, VINTF.STATUS), 4) & 1, 1);
    hw.write(vintf(5, VINTF.CONFIG), 4, vintfConfig(0, 9, 0));
    clock.advance(499);
    assert.equal(hw.read(vintf(5, VINTF.STATUS), 4) & 1, 1);
    clock.advance(1);
    assert.equal(hw.read(vintf(5, VINTF.STATUS), 4) & 1, 0);
  });

  test("VCMDQ CMDQ_EN_OK follows CMDQ_EN after handshakeNs", () => {
    const { hw, clock } = rig();
    hw.write(gp0(9, VCMDQ0.CONFIG), 4, 1);
    clock.advance(499);
    assert.equal(hw.read(gp0(9, VCMDQ0.STATUS), 4), 0);
    clock.advance(1);
    assert.equal(hw.read(gp0(9, VCMDQ0.STATUS), 4), 1);
    hw.write(gp0(9, VCMDQ0.CONFIG), 4, 0);
    clock.advance(499);
    assert.equal(hw.read(gp0(9, VCMDQ0.STATUS), 4), 1);
    clock.advance(1);
    assert.equal(hw.read(gp0(9, VCMDQ0.STATUS), 4), 0);
  });

  test("[inf] a VINTF cannot become enabled while CMDQV is disabled, and rises a handshake after CMDQV does", () => {
    const { hw, clock } = rig({ configReset: 0x0002_0082 });
    hw.write(vintf(1, VINTF.CONFIG), 4, vintfConfig(1, 0, 1));
    clock.advance(10_000);
    assert.equal(hw.read(vintf(1, VINTF.STATUS), 4) & 1, 0);
    hw.write(CFG.CONFIG, 4, 0x0002_0083);
    clock.advance(500);
    assert.equal(hw.read(CFG.STATUS, 4), 1);
    assert.equal(hw.read(vintf(1, VINTF.STATUS), 4) & 1, 0);
    clock.advance(500);
    assert.equal(hw.read(vintf(1, VINTF.STATUS), 4) & 1, 1);
  });

  test("[inf] when CMDQV status drops, VINTF and VCMDQ status bits drop with it, at once", () => {
    const r = rig();
    setupQueue(r, { v: 1, l: 0, q: 2 });
    r.hw.write(gp0(100, VCMDQ0.CONFIG), 4, 1); // an unmapped queue too
    r.clock.advance(500);
    assert.equal(r.hw.read(vp0(1, 0, VCMDQ0.STATUS), 4), 1);
    assert.equal(r.hw.read(gp0(100, VCMDQ0.STATUS), 4), 1);
    r.hw.write(CFG.CONFIG, 4, 0);
    r.clock.advance(499);
    assert.equal(r.hw.read(vintf(1, VINTF.STATUS), 4) & 1, 1);
    r.clock.advance(1);
    assert.equal(r.hw.read(CFG.STATUS, 4), 0);
    assert.equal(r.hw.read(vintf(1, VINTF.STATUS), 4) & 1, 0);
    assert.equal(r.hw.read(vp0(1, 0, VCMDQ0.STATUS), 4), 0);
    assert.equal(r.hw.read(gp0(100, VCMDQ0.STATUS), 4), 0);
    // CONFIG registers keep what software wrote.
    assert.equal(r.hw.read(vintf(1, VINTF.CONFIG), 4) & 1, 1);
    assert.equal(r.hw.read(gp0(2, VCMDQ0.CONFIG), 4), 1);
  });

  test("[inf] a mapped VCMDQ needs its VINTF enabled; an unmapped one only needs CMDQV", () => {
    const { hw, clock } = rig();
    hw.write(alloc(4), 4, allocValue(2, 0));
    hw.write(gp0(4, VCMDQ0.CONFIG), 4, 1);
    hw.write(gp0(5, VCMDQ0.CONFIG), 4, 1);
    clock.advance(5_000);
    assert.equal(hw.read(gp0(4, VCMDQ0.STATUS), 4), 0, "VINTF2 not enabled");
    assert.equal(hw.read(gp0(5, VCMDQ0.STATUS), 4), 1, "unmapped: hypervisor-owned");
    hw.write(vintf(2, VINTF.CONFIG), 4, vintfConfig(1, 0, 0));
    clock.advance(500);
    assert.equal(hw.read(gp0(4, VCMDQ0.STATUS), 4), 0);
    clock.advance(500);
    assert.equal(hw.read(gp0(4, VCMDQ0.STATUS), 4), 1);
    // VINTF disable: the queue drops when the VINTF's ENABLE_OK drops.
    hw.write(vintf(2, VINTF.CONFIG), 4, vintfConfig(0, 0, 0));
    clock.advance(500);
    assert.equal(hw.read(gp0(4, VCMDQ0.STATUS), 4), 0);
  });

  test("re-enabling before a disable handshake completes leaves STATUS set throughout", () => {
    const { hw, clock } = rig();
    hw.write(gp0(3, VCMDQ0.CONFIG), 4, 1);
    clock.advance(500);
    hw.write(gp0(3, VCMDQ0.CONFIG), 4, 0);
    clock.advance(300);
    hw.write(gp0(3, VCMDQ0.CONFIG), 4, 1);
    clock.advance(1000);
    assert.equal(hw.read(gp0(3, VCMDQ0.STATUS), 4), 1);
  });

  test("a zero handshake latency completes within the write", () => {
    const { hw } = rig({ handshakeNs: 0 });
    hw.write(gp0(0, VCMDQ0.CONFIG), 4, 1);
    assert.equal(hw.read(gp0(0, VCMDQ0.STATUS), 4), 1);
  });
});

describe("LVCMDQ aliasing through CMDQ_ALLOC", () => {
  test("a PROD write through VINTF v page0 slot l is seen at the global VCMDQ q page0, and back", () => {
    const { hw } = rig();
    hw.write(alloc(17), 4, allocValue(3, 1));
    assert.equal(hw.vcmdqOf(3, 1), 17);
    hw.write(vp0(3, 1, VCMDQ0.PROD), 4, 0x5);
    assert.equal(hw.read(gp0(17, VCMDQ0.PROD), 4), 0x5);
    hw.write(gp0(17, VCMDQ0.PROD), 4, 0x9);
    assert.equal(hw.read(vp0(3, 1, VCMDQ0.PROD), 4), 0x9);
    hw.write64(vp1(3, 1, VCMDQ1.BASE_L), 0x1234_5678_9a00n | 7n);
    assert.equal(hw.read64(gp1(17, VCMDQ1.BASE_L)), 0x1234_5678_9a00n | 7n);
    assert.equal(hw.read(gp1(17, VCMDQ1.BASE_H), 4), 0x1234);
  });

  test("an LVCMDQ slot with no mapped VCMDQ reads 0 and drops writes", () => {
    const { hw } = rig();
    hw.write(alloc(6), 4, allocValue(0, 0) & ~1); // fields set, ALLOC=0 (Linux reset R4)
    hw.write(vp0(0, 0, VCMDQ0.PROD), 4, 3);
    hw.write(vp0(0, 0, VCMDQ0.CONFIG), 4, 1);
    assert.equal(hw.read(vp0(0, 0, VCMDQ0.PROD), 4), 0);
    assert.equal(hw.read(gp0(6, VCMDQ0.PROD), 4), 0);
    assert.equal(hw.read(gp0(6, VCMDQ0.CONFIG), 4), 0);
    const s = hw.stats();
    assert.equal(s.unmappedSlotAccesses, 3);
    assert.equal(s.badAccesses, 0);
  });

  test("unmapping makes the slot read 0 again while the global registers keep their values", () => {
    const { hw } = rig();
    hw.write(alloc(10), 4, allocValue(4, 0));
    hw.write(vp0(4, 0, VCMDQ0.PROD), 4, 2);
    hw.write(alloc(10), 4, allocValue(4, 0) & ~1);
    assert.equal(hw.read(vp0(4, 0, VCMDQ0.PROD), 4), 0);
    assert.equal(hw.read(gp0(10, VCMDQ0.PROD), 4), 2);
  });

  test("VI_NUM_LVCMDQ counts the LVCMDQs mapped to the VINTF", () => {
    const { hw } = rig();
    hw.write(alloc(0), 4, allocValue(7, 0));
    hw.write(alloc(1), 4, allocValue(7, 1));
    const st = hw.read(vintf(7, VINTF.STATUS), 4);
    assert.equal(fieldValue(st, F.VINTF_STATUS.VI_NUM_LVCMDQ), 2n);
    hw.write(alloc(1), 4, allocValue(7, 1) & ~1);
    assert.equal(fieldValue(hw.read(vintf(7, VINTF.STATUS), 4), F.VINTF_STATUS.VI_NUM_LVCMDQ), 1n);
  });

  test("mapping out of ascending order or unmapping out of descending order is counted (linux §2.5)", () => {
    const { hw } = rig();
    hw.write(alloc(1), 4, allocValue(0, 1)); // l=1 before l=0
    hw.write(alloc(0), 4, allocValue(0, 0));
    hw.write(alloc(0), 4, 0); // unmap l=0 while l=1 is mapped
    assert.equal(hw.stats().mapOrderViolations, 2);
  });

  test("[inf] two VCMDQs allocated to one slot: the slot aliases the lower-numbered one", () => {
    const { hw } = rig();
    hw.write(alloc(9), 4, allocValue(1, 0));
    hw.write(alloc(3), 4, allocValue(1, 0));
    assert.equal(hw.vcmdqOf(1, 0), 3);
    hw.write(alloc(3), 4, 0);
    assert.equal(hw.vcmdqOf(1, 0), 9);
  });

  test("LVCMDQ_ERR_MAP reads as a pair with a 64-bit access at 0xC0 and 0xC8", () => {
    const r = rig();
    // A bad command on LVCMDQ 33 of VINTF 1 sets bit 33 of its map (word 1, bit 1).
    setupQueue(r, { v: 1, l: 33, q: 40, hypOwn: 1 });
    putCmd(r.mem, RING, 0, { op: "UNKNOWN", opcode: 0x7f, dw0: 0x7fn, dw1: 0n });
    r.hw.write(vp0(1, 33, VCMDQ0.PROD), 4, 1);
    r.clock.advance(10);
    assert.equal(r.hw.read64(vintf(1, VINTF.LVCMDQ_ERR_MAP_0)), 1n << 33n);
    assert.equal(r.hw.read64(vintf(1, VINTF.LVCMDQ_ERR_MAP_0 + 8)), 0n);
    assert.equal(r.hw.read(vintf(1, VINTF.LVCMDQ_ERR_MAP_0 + 4), 4), 2);
  });
});

describe("CMDQV MMIO robustness", () => {
  test("1/2-byte reads return the bytes of the containing u32", () => {
    const { hw } = rig();
    assert.equal(hw.read(CFG.CONFIG, 1), 0x83);
    assert.equal(hw.read(CFG.CONFIG + 2, 1), 0x02);
    assert.equal(hw.read(CFG.CONFIG + 2, 2), 0x0002);
    assert.equal(hw.read(CFG.PARAM, 2), hw.read(CFG.PARAM, 4) & 0xffff);
    assert.equal(hw.stats().narrowReads, 4);
    assert.equal(hw.stats().badAccesses, 0);
  });

  test("1/2-byte writes are ignored and counted as bad accesses", () => {
    const { hw } = rig();
    hw.write(gp0(0, VCMDQ0.PROD), 1, 0xff);
    hw.write(gp0(0, VCMDQ0.PROD), 2, 0xffff);
    assert.equal(hw.read(gp0(0, VCMDQ0.PROD), 4), 0);
    assert.equal(hw.stats().badBySize, 2);
  });

  test("unknown offsets read 0, ignore writes and are counted", () => {
    const { hw } = rig();
    const offsets = [0x00c, 0x034, 0x1ff, 0x0600, 0x5000, 0xfffc, gp0(0, 0x18), gp1(0, 0x10)];
    for (const off of offsets) {
      hw.write(off & ~3, 4, 0xffff_ffff);
      assert.equal(hw.read(off & ~3, 4), 0);
    }
    assert.equal(hw.stats().badUnknownOffset, 2 * offsets.length);
  });

  test("no offset, size or value throws", () => {
    const { hw } = rig();
    const offs = [
      -4,
      -1,
      0.5,
      1,
      3,
      0x7fff_ffff,
      hw.size,
      hw.size - 4,
      2 ** 40,
      Number.NaN,
      Infinity,
    ];
    for (const off of offs) {
      for (const size of [1, 2, 4, 3, 8] as const) {
        hw.read(off, size as 1);
        hw.write(off, size as 1, 0xdead_beef);
        hw.write(off, size as 1, -1);
        hw.write(off, size as 1, Number.NaN);
      }
      hw.read64(off);
      hw.write64(off, -1n);
      hw.write64(off, 1n << 80n);
    }
    for (let off = 0; off < 0x400; off += 4) hw.read(off, 4);
    assert.ok(hw.stats().badAccesses > 0);
  });

  test("misaligned 32-bit and 64-bit accesses read 0 and are counted", () => {
    const { hw } = rig();
    assert.equal(hw.read(CFG.CONFIG + 2, 4), 0);
    assert.equal(hw.read64(CFG.PARAM), 0n);
    hw.write64(gp1(0, 4), 0xffn);
    assert.equal(hw.read64(gp1(0, 0)), 0n);
    assert.equal(hw.stats().badBySize, 3);
  });

  test("a 64-bit read of two 32-bit registers returns them as a pair", () => {
    const { hw } = rig();
    assert.equal(hw.read64(CFG.CONFIG), (1n << 32n) * BigInt(hw.read(CFG.PARAM, 4)) + 0x20083n);
  });

  test("[inf] CONS and BASE are locked while the queue is enabled; writable again once disabled", () => {
    const r = rig();
    setupQueue(r, { v: 0, l: 0, q: 0, hypOwn: 1 });
    r.hw.write(vp0(0, 0, VCMDQ0.CONS), 4, 5);
    r.hw.write64(vp1(0, 0, VCMDQ1.BASE_L), 0n);
    assert.equal(r.hw.read(vp0(0, 0, VCMDQ0.CONS), 4), 0);
    assert.equal(r.hw.read64(vp1(0, 0, VCMDQ1.BASE_L)), BigInt(RING) | 4n);
    assert.equal(r.hw.stats().badLockedWrite, 3);
    // CONS_INDX_BASE is stored only, at any time.
    r.hw.write64(vp1(0, 0, VCMDQ1.CONS_INDX_BASE_L), 0xabcd_0000_1234n);
    assert.equal(r.hw.read64(vp1(0, 0, VCMDQ1.CONS_INDX_BASE_L)), 0xabcd_0000_1234n);
    // Linux deinit (linux §4.4 D1–D4): disable, wait, then zero PROD/CONS/BASE.
    r.hw.write(vp0(0, 0, VCMDQ0.CONFIG), 4, 0);
    r.clock.advance(500);
    r.hw.write(vp0(0, 0, VCMDQ0.CONS), 4, 0x0100_0003);
    r.hw.write64(vp1(0, 0, VCMDQ1.BASE_L), 0n);
    assert.equal(r.hw.read(vp0(0, 0, VCMDQ0.CONS), 4), 0x0100_0003);
    assert.equal(r.hw.read64(vp1(0, 0, VCMDQ1.BASE_L)), 0n);
  });

  test("page0 registers keep only their defined fields; STATUS and GERROR ignore writes", () => {
    const { hw } = rig();
    hw.write(gp0(1, VCMDQ0.PROD), 4, 0xffff_ffff);
    hw.write(gp0(1, VCMDQ0.CONS), 4, 0xffff_ffff);
    hw.write(gp0(1, VCMDQ0.GERROR), 4, 1);
    hw.write(gp0(1, VCMDQ0.STATUS), 4, 1);
    assert.equal(hw.read(gp0(1, VCMDQ0.PROD), 4), 0xf_ffff);
    assert.equal(hw.read(gp0(1, VCMDQ0.CONS), 4), 0x7f0f_ffff);
    assert.equal(hw.read(gp0(1, VCMDQ0.GERROR), 4), 0);
    assert.equal(hw.read(gp0(1, VCMDQ0.STATUS), 4), 0);
    assert.equal(hw.stats().badReadOnlyWrite, 2);
  });
});

describe("CMDQV snapshots", () => {
  function scenario(r: ReturnType<typeof rig>): void {
    setupQueue(r, { v: 1, l: 0, q: 2, vmid: 0x42 });
    setupQueue(r, { v: 2, l: 0, q: 4, hypOwn: 1, base: RING + 0x1000 });
    for (let i = 0; i < 12; i++) putCmd(r.mem, RING, i, { op: "TLBI_NH_ASID", vmid: 0, asid: i });
    putCmd(r.mem, RING, 12, { op: "TLBI_NH_ALL", vmid: 0 }); // disallowed → error
    for (let i = 0; i < 8; i++) putCmd(r.mem, RING + 0x1000, i, { op: "TLBI_S12_VMALL", vmid: i });
    r.hw.write(vp0(1, 0, VCMDQ0.PROD), 4, 14);
    r.hw.write(vp0(2, 0, VCMDQ0.PROD), 4, 8);
  }

  test("the outcome does not depend on how time is sliced", () => {
    const a = rig();
    const b = rig();
    scenario(a);
    scenario(b);
    const end = a.clock.now() + 1000;
    a.clock.advance(1000);
    while (b.clock.now() + 3 <= end) b.clock.advance(3);
    b.clock.set(end);
    assert.equal(b.clock.now(), a.clock.now());
    assert.deepEqual(b.hw.state(), a.hw.state());
    // Effects are in time order, queues in index order at equal times.
    const ts = a.hw.effects.entries().map((e) => e.t);
    assert.deepEqual(
      ts,
      [...ts].sort((x, y) => x - y),
    );
    assert.equal(a.hw.effects.totalFor(OPCODE.TLBI_NH_ASID), 12);
  });
});
