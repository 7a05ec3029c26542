import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ERRNO } from "../../host/kernel/errno.js";
import { SMMU_REG as R, SMMU_CMDQS } from "../../regs/smmuv3.js";
import { encode } from "../../smmu/commands.js";
import { QEMU_7_2, QEMU_ACCEL } from "./profile.js";
import { RAM_BASE, type Rig, rig } from "./testing.js";

const CMDQEN = 1 << 3;
const ERR_SHIFT = 24;

/** Raw command words. */
const tlbiNhAsid = (vmid: number, asid: number) => [0x11, ((asid << 16) | vmid) >>> 0, 0, 0];
const sync = (cs: number, msidata = 0, msiaddr = 0) => [0x46 | (cs << 12), msidata, msiaddr, 0];

/** A queue of 2^log2 entries at RAM_BASE, enabled. */
function enableQueue(r: Rig, log2: number, base = RAM_BASE): void {
  r.smmu.write64(R.CMDQ_BASE, BigInt(base) | BigInt(log2));
  r.smmu.write(R.CR0, 4, CMDQEN);
}

/** Put raw words at entry `idx` of the ring at RAM_BASE. */
function put(r: Rig, idx: number, words: readonly number[]): void {
  r.mem.putWords(RAM_BASE + 16 * idx, words[0] ?? 0, words[1], words[2], words[3]);
}

const rd = (r: Rig, off: number) => r.smmu.read(off, 4);

describe("SMMUv3 registers after reset", () => {
  it("reads QEMU 7.2's ID registers and queue bases under the qemu-7.2 profile", () => {
    const r = rig({ profile: QEMU_7_2 });
    assert.equal(rd(r, R.IDR0), 0x0d40_101a);
    assert.equal(rd(r, R.IDR1), 0x0273_0010);
    assert.equal(rd(r, R.IDR2), 0);
    assert.equal(rd(r, R.IDR3), 0x1404);
    assert.equal(rd(r, R.IDR4), 0);
    assert.equal(rd(r, R.IDR5), 0x74);
    assert.equal(rd(r, R.IIDR), 0);
    assert.equal(rd(r, R.AIDR), 1);
    assert.equal(rd(r, R.CMDQ_BASE), 0x13);
    assert.equal(rd(r, R.EVENTQ_BASE), 0x13);
    for (const off of [R.CR0, R.CR0ACK, R.IRQ_CTRL, R.GERROR, R.GERRORN, R.CMDQ_PROD])
      assert.equal(rd(r, off), 0);
    const ids = [0x04, 0, 0, 0, 0x84, 0xb4, 0xf0, 0x10, 0x0d, 0xf0, 0x05, 0xb1];
    for (const [i, v] of ids.entries()) assert.equal(rd(r, R.IDREGS + 4 * i), v);
  });

  it("adds IDR0.VMID16 and GBPA=0x1000 under the accel profile", () => {
    const r = rig();
    assert.equal(rd(r, R.IDR0), 0x0d44_101a);
    assert.equal(rd(r, R.GBPA), 0x1000);
  });

  it("has no GBPA in 7.2: RAZ/WI with an unimp line", () => {
    const r = rig({ profile: QEMU_7_2 });
    r.smmu.write(R.GBPA, 4, 0x8010_0000);
    assert.equal(rd(r, R.GBPA), 0);
    assert.ok(r.log.text("unimp").includes("smmu_readl unhandled 32-bit access at 0x44 (RAZ)"));
  });

  it("stores GBPA only when UPDATE is set, without the UPDATE bit", () => {
    const r = rig();
    r.smmu.write(R.GBPA, 4, 0x0010_0000);
    assert.equal(rd(r, R.GBPA), 0x1000);
    r.smmu.write(R.GBPA, 4, 0x8010_0000);
    assert.equal(rd(r, R.GBPA), 0x0010_0000);
  });

  it("takes IDR overrides from the options", () => {
    const r = rig({ idrs: { 5: 0x75 } });
    assert.equal(rd(r, R.IDR5), 0x75);
  });

  it("resets control and queue pointers but keeps CR1, STRTAB and the queue address", () => {
    const r = rig();
    enableQueue(r, 2);
    r.smmu.write(R.CR1, 4, 0x55);
    r.smmu.write(R.IRQ_CTRL, 4, 5);
    r.smmu.write64(R.STRTAB_BASE, 0x4100_0000n);
    put(r, 0, [0x7f]);
    r.smmu.write(R.CMDQ_PROD, 4, 1);
    assert.equal(rd(r, R.GERROR), 1);
    r.smmu.reset();
    assert.equal(rd(r, R.CR0), 0);
    assert.equal(rd(r, R.CR0ACK), 0);
    assert.equal(rd(r, R.IRQ_CTRL), 0);
    assert.equal(rd(r, R.GERROR), 0);
    assert.equal(rd(r, R.CMDQ_PROD), 0);
    assert.equal(rd(r, R.CMDQ_CONS), 0);
    assert.equal(rd(r, R.CR1), 0x55);
    assert.equal(r.smmu.read64(R.STRTAB_BASE), 0x4100_0000n);
    assert.equal(r.smmu.read64(R.CMDQ_BASE), BigInt(RAM_BASE) | BigInt(SMMU_CMDQS));
    // log2size is not re-derived by reset (QEMU 7.2): PROD=8 is still "empty" for 4 entries.
    put(r, 0, sync(0));
    r.smmu.write(R.CR0, 4, CMDQEN);
    r.smmu.write(R.CMDQ_PROD, 4, 8);
    assert.equal(rd(r, R.CMDQ_CONS), 0);
    assert.equal(r.smmu.state().cmdq.log2size, 2);
  });
});

describe("IDR1.CMDQS and the SmmuPort", () => {
  it("sets IDR1.CMDQS without touching the other IDR1 fields", () => {
    const r = rig({ minRamPageSize: 0x1_0000 });
    assert.equal(r.smmu.getCmdqs(), 19);
    r.smmu.setCmdqs(12);
    assert.equal(r.smmu.getCmdqs(), 12);
    assert.equal(rd(r, R.IDR1), (0x0273_0010 & ~(0x1f << 21)) | (12 << 21));
    assert.equal(r.smmu.minRamPageSize(), 0x1_0000);
  });

  it("keeps the clamp across reset in the accel era and drops it in 7.2", () => {
    const accel = rig();
    accel.smmu.setCmdqs(8);
    accel.smmu.reset();
    assert.equal(accel.smmu.getCmdqs(), 8);
    const old = rig({ profile: QEMU_7_2 });
    old.smmu.setCmdqs(8);
    old.smmu.reset();
    assert.equal(old.smmu.getCmdqs(), 19);
  });

  it("rejects a CMDQS outside the 5-bit field as a model bug", () => {
    assert.throws(() => rig().smmu.setCmdqs(32), RangeError);
  });

  it("still clamps a guest's CMDQ_BASE.LOG2SIZE to 19, not to IDR1.CMDQS", () => {
    const r = rig();
    r.smmu.setCmdqs(8);
    r.smmu.write(R.CMDQ_BASE, 4, RAM_BASE | 0x1f);
    assert.equal(r.smmu.state().cmdq.log2size, 19);
    assert.equal(rd(r, R.CMDQ_BASE), (RAM_BASE | 0x1f) >>> 0);
  });
});

describe("CR0 and CR0ACK", () => {
  it("acknowledges CR0 without the reserved bits and keeps CR0 raw", () => {
    const r = rig();
    r.smmu.write(R.CR0, 4, 0xffff_ffff);
    assert.equal(rd(r, R.CR0), 0xffff_ffff);
    assert.equal(rd(r, R.CR0ACK), 0x3df);
    r.smmu.write(R.CR0, 4, 0xd);
    assert.equal(rd(r, R.CR0ACK), 0xd);
  });

  it("reads IRQ_CTRL back through IRQ_CTRLACK", () => {
    const r = rig();
    r.smmu.write(R.IRQ_CTRL, 4, 5);
    assert.equal(rd(r, R.IRQ_CTRLACK), 5);
  });
});

describe("the main command queue", () => {
  it("consumes a TLBI_NH_ASID + CMD_SYNC batch up to PROD on the PROD write", () => {
    const r = rig();
    enableQueue(r, 4);
    put(r, 0, tlbiNhAsid(1, 5));
    put(r, 1, sync(2));
    r.smmu.write(R.CMDQ_PROD, 4, 2);
    assert.equal(rd(r, R.CMDQ_CONS), 2);
    assert.equal(rd(r, R.GERROR), 0);
    const c = r.smmu.counters();
    assert.equal(c.consumed, 2);
    assert.equal(c.forwarded, 1);
    assert.deepEqual(c.byOpcode, { "0x11": 1, "0x46": 1 });
  });

  it("does nothing on PROD while CMDQEN is clear and consumes when CR0 enables it", () => {
    const r = rig();
    r.smmu.write64(R.CMDQ_BASE, BigInt(RAM_BASE) | 2n);
    put(r, 0, sync(0));
    r.smmu.write(R.CMDQ_PROD, 4, 1);
    assert.equal(rd(r, R.CMDQ_CONS), 0);
    r.smmu.write(R.CR0, 4, CMDQEN);
    assert.equal(rd(r, R.CMDQ_CONS), 1);
  });

  it("pulses the CMD_SYNC wire for CS=IRQ and writes nothing at MSIADDR, as QEMU does", () => {
    const r = rig();
    enableQueue(r, 2);
    const msiaddr = RAM_BASE + 0x1000;
    put(r, 0, sync(1, 0xdead_beef, msiaddr));
    r.smmu.write(R.CMDQ_PROD, 4, 1);
    assert.equal(rd(r, R.CMDQ_CONS), 1);
    assert.equal(r.irqs.cmdSync.raises, 1);
    assert.equal(r.irqs.cmdSync.lowers, 1);
    assert.equal(r.mem.read(msiaddr, 4), 0);
  });

  it("completes CS=SEV and CS=NONE syncs without an interrupt", () => {
    const r = rig();
    enableQueue(r, 2);
    put(r, 0, sync(2));
    put(r, 1, sync(0));
    r.smmu.write(R.CMDQ_PROD, 4, 2);
    assert.equal(rd(r, R.CMDQ_CONS), 2);
    assert.equal(r.irqs.cmdSync.raises, 0);
  });

  it("stops at an illegal opcode with CONS.ERR=ILL at its index and GERROR.CMDQ_ERR toggled", () => {
    const r = rig();
    enableQueue(r, 2);
    put(r, 0, sync(0));
    put(r, 1, [0x7f]);
    put(r, 2, tlbiNhAsid(0, 1));
    r.smmu.write(R.CMDQ_PROD, 4, 3);
    assert.equal(rd(r, R.CMDQ_CONS), ((1 << ERR_SHIFT) | 1) >>> 0);
    assert.equal(rd(r, R.GERROR), 1);
    assert.equal(r.host.calls.length, 0);
    assert.equal(r.irqs.gerror.raises, 0, "GERROR_IRQEN is clear");
    assert.ok(r.log.text("guest_error").includes("Illegal command type: 127"));
    // Nothing moves while the error is pending, even on another PROD write.
    r.smmu.write(R.CMDQ_PROD, 4, 3);
    assert.equal(rd(r, R.CMDQ_CONS), ((1 << ERR_SHIFT) | 1) >>> 0);
    assert.equal(r.smmu.counters().cmdqErrors, 1);
  });

  it("pulses the GERROR wire only when IRQ_CTRL.GERROR_IRQEN was set at the error", () => {
    const r = rig();
    enableQueue(r, 2);
    r.smmu.write(R.IRQ_CTRL, 4, 1);
    put(r, 0, [0x00]);
    r.smmu.write(R.CMDQ_PROD, 4, 1);
    assert.equal(r.irqs.gerror.raises, 1);
    assert.equal(r.irqs.gerror.lowers, 1);
  });

  it("resumes at once on the GERRORN ack and keeps CONS.ERR, as QEMU does", () => {
    const r = rig();
    enableQueue(r, 2);
    put(r, 0, [0x7f]);
    put(r, 1, sync(0));
    r.smmu.write(R.CMDQ_PROD, 4, 2);
    assert.equal(rd(r, R.CMDQ_CONS), (1 << ERR_SHIFT) >>> 0);
    // The guest replaces the bad command (Linux writes a CMD_SYNC) and acks.
    put(r, 0, sync(0));
    r.smmu.write(R.GERRORN, 4, rd(r, R.GERROR));
    assert.equal(rd(r, R.CMDQ_CONS), ((1 << ERR_SHIFT) | 2) >>> 0);
    put(r, 2, sync(0));
    r.smmu.write(R.CMDQ_PROD, 4, 3);
    assert.equal(rd(r, R.CMDQ_CONS), ((1 << ERR_SHIFT) | 3) >>> 0);
    assert.equal(r.log.count("guest_error"), 1);
  });

  it("logs a GERRORN toggle of a bit that is not pending as a guest error", () => {
    const r = rig();
    r.smmu.write(R.GERRORN, 4, 2);
    assert.ok(r.log.text("guest_error").includes("guest toggles non pending errors = 0x2"));
    assert.equal(rd(r, R.GERRORN), 2);
  });

  it("wraps a 4-entry queue twice around with the wrap bit at bit 2", () => {
    const r = rig();
    enableQueue(r, 2);
    for (let i = 0; i < 4; i++) put(r, i, sync(0));
    let prod = 0;
    const expected = [3, 6, 2, 7, 0];
    for (const step of [3, 3, 4, 5, 1]) {
      prod = (prod + step) & 7;
      r.smmu.write(R.CMDQ_PROD, 4, prod);
      assert.equal(rd(r, R.CMDQ_CONS), prod);
      assert.equal(prod, expected.shift());
    }
    // A full queue (same index, other wrap) is 4 entries to consume.
    r.smmu.write(R.CMDQ_PROD, 4, prod ^ 4);
    assert.equal(rd(r, R.CMDQ_CONS), prod ^ 4);
    assert.equal(r.smmu.counters().consumed, 20);
  });

  it("reports CERROR_ABT for a fetch from unmapped guest memory", () => {
    const r = rig();
    enableQueue(r, 2, 0x1_0000_0000);
    r.smmu.write(R.CMDQ_PROD, 4, 1);
    assert.equal(rd(r, R.CMDQ_CONS), (2 << ERR_SHIFT) >>> 0);
    assert.equal(rd(r, R.GERROR), 1);
  });

  it("ignores CMDQ_BASE bit 5 and bits above 51, as SMMU_BASE_ADDR_MASK does", () => {
    const r = rig();
    put(r, 0, sync(0));
    put(r, 2, [0x7f]);
    r.smmu.write64(R.CMDQ_BASE, (1n << 52n) | BigInt(RAM_BASE + 0x20) | 2n);
    r.smmu.write(R.CR0, 4, CMDQEN);
    r.smmu.write(R.CMDQ_PROD, 4, 1);
    assert.equal(rd(r, R.CMDQ_CONS), 1);
  });

  it("takes log2size only from the low half of CMDQ_BASE", () => {
    const r = rig();
    r.smmu.write(R.CMDQ_BASE, 4, RAM_BASE | 3);
    r.smmu.write(R.CMDQ_BASE + 4, 4, 0x12);
    assert.equal(r.smmu.read64(R.CMDQ_BASE), 0x12_4000_0003n);
    assert.equal(r.smmu.state().cmdq.log2size, 3);
  });

  it("stores PROD and CONS raw, above the index bits too", () => {
    const r = rig();
    r.smmu.write(R.CMDQ_PROD, 4, 0xffff_ffff);
    r.smmu.write(R.CMDQ_CONS, 4, 0xffff_ffff);
    assert.equal(rd(r, R.CMDQ_PROD), 0xffff_ffff);
    assert.equal(rd(r, R.CMDQ_CONS), 0xffff_ffff);
  });
});

describe("accel forwarding", () => {
  it("sends TLBIs, CFGI_CD and ATC_INV to the host unchanged, one per call", () => {
    const r = rig();
    enableQueue(r, 3);
    const cmds = [
      encode({ op: "TLBI_NH_ASID", vmid: 3, asid: 7 }),
      encode({
        op: "TLBI_NH_VA",
        vmid: 3,
        asid: 7,
        addr: 0x4000_1000n,
        num: 1,
        scale: 2,
        leaf: 1,
        ttl: 3,
        tg: 1,
      }),
      encode({ op: "TLBI_NH_ALL", vmid: 3 }),
      encode({ op: "TLBI_NSNH_ALL" }),
      encode({ op: "CFGI_CD", sid: 8, ssid: 0, leaf: 1 }),
      encode({
        op: "ATC_INV",
        sid: 8,
        ssv: 0,
        ssid: 0,
        global: 0,
        addr: 0n,
        size: 52,
      }),
    ];
    cmds.forEach(([d0, d1], i) => {
      r.mem.putWords(
        RAM_BASE + 16 * i,
        Number(d0 & 0xffff_ffffn),
        Number(d0 >> 32n),
        Number(d1 & 0xffff_ffffn),
        Number(d1 >> 32n),
      );
    });
    r.smmu.write(R.CMDQ_PROD, 4, cmds.length);
    assert.equal(rd(r, R.CMDQ_CONS), cmds.length);
    assert.equal(r.host.calls.length, cmds.length);
    assert.ok(r.host.calls.every((c) => c.length === 1));
    assert.deepEqual(r.host.commands(), cmds);
    assert.equal(r.smmu.counters().forwarded, cmds.length);
  });

  it("accepts CFGI_STE, CFGI_STE_RANGE and prefetches locally", () => {
    const r = rig();
    enableQueue(r, 2);
    put(r, 0, [0x03, 8, 1, 0]);
    put(r, 1, [0x04, 0, 31, 0]);
    put(r, 2, [0x01, 8, 0, 0]);
    r.smmu.write(R.CMDQ_PROD, 4, 3);
    assert.equal(rd(r, R.CMDQ_CONS), 3);
    assert.equal(r.host.calls.length, 0);
  });

  it("rejects a CFGI_* with SSEC set as CERROR_ILL", () => {
    const r = rig({ profile: QEMU_7_2 });
    enableQueue(r, 2);
    put(r, 0, [0x03 | (1 << 10), 8, 0, 0]);
    r.smmu.write(R.CMDQ_PROD, 4, 1);
    assert.equal(rd(r, R.CMDQ_CONS), (1 << ERR_SHIFT) >>> 0);
    // 7.2 logs "Illegal command type" only from its default case.
    assert.equal(r.log.count("guest_error"), 0);
  });

  it("stops at a command the host fails, with CERROR_ILL and the backend's message", () => {
    const r = rig();
    enableQueue(r, 2);
    put(r, 0, tlbiNhAsid(0, 1));
    put(r, 1, tlbiNhAsid(0, 2));
    put(r, 2, sync(0));
    r.host.fail = null;
    r.smmu.write(R.CMDQ_PROD, 4, 1);
    r.host.fail = { errno: ERRNO.EIO, entryNum: 0 };
    r.smmu.write(R.CMDQ_PROD, 4, 3);
    assert.equal(rd(r, R.CMDQ_CONS), ((1 << ERR_SHIFT) | 1) >>> 0);
    assert.equal(rd(r, R.GERROR), 1);
    assert.equal(r.host.calls.length, 2);
    assert.deepEqual(r.log.text("error"), [
      "IOMMU_HWPT_INVALIDATE failed: total 1 entries, processed 0 entries: Input/output error",
    ]);
    assert.deepEqual(r.log.text("guest_error"), ["Illegal command type: 17"]);
    assert.equal(r.smmu.counters().forwardErrors, 1);
  });

  it("treats a short entry_num from a successful call as a failure", () => {
    const r = rig();
    enableQueue(r, 2);
    put(r, 0, tlbiNhAsid(0, 1));
    r.host.invalidate = () => ({ ok: true, entryNum: 0 });
    r.smmu.write(R.CMDQ_PROD, 4, 1);
    assert.equal(rd(r, R.CMDQ_CONS), (1 << ERR_SHIFT) >>> 0);
    assert.match(r.log.text("error")[0] ?? "", /unprocessed entries.*Kernel BUG/);
  });

  it("accepts invalidations locally while no vIOMMU exists or the SID has no vDEVICE", () => {
    const r = rig();
    enableQueue(r, 2);
    r.host.viommu = false;
    put(r, 0, tlbiNhAsid(0, 1));
    r.smmu.write(R.CMDQ_PROD, 4, 1);
    r.host.viommu = true;
    r.host.vdevSids = new Set([8]);
    put(r, 1, [0x05, 9, 1, 0]);
    put(r, 2, [0x40, 9, 0, 0]);
    put(r, 3, [0x05, 8, 1, 0]);
    r.smmu.write(R.CMDQ_PROD, 4, 4);
    assert.equal(rd(r, R.CMDQ_CONS), 4);
    assert.deepEqual(r.host.commands(), [[0x8_0000_0005n, 1n]]);
  });

  it("makes stage-2 TLBIs illegal on a stage-1 accel SMMU but accepts them in 7.2", () => {
    const accel = rig({ profile: QEMU_ACCEL });
    enableQueue(accel, 2);
    put(accel, 0, [0x28, 1, 0, 0]);
    accel.smmu.write(R.CMDQ_PROD, 4, 1);
    assert.equal(rd(accel, R.CMDQ_CONS), (1 << ERR_SHIFT) >>> 0);
    assert.deepEqual(accel.log.text("guest_error"), ["Illegal command type: 40"]);
    const old = rig({ profile: QEMU_7_2 });
    enableQueue(old, 2);
    put(old, 0, [0x28, 1, 0, 0]);
    put(old, 1, [0x2a, 1, 0, 0]);
    old.smmu.write(R.CMDQ_PROD, 4, 2);
    assert.equal(rd(old, R.CMDQ_CONS), 2);
    assert.equal(old.host.calls.length, 0, "7.2 has no accel mode");
  });
});

describe("MMIO access rules", () => {
  it("never throws for 1/2-byte, unaligned or unknown accesses, and reads them as 0", () => {
    const r = rig();
    r.smmu.write(R.CR0, 4, 0xd);
    for (const size of [1, 2] as const) {
      for (let off = 0; off < 0x100; off++) {
        assert.equal(r.smmu.read(off, size), 0);
        r.smmu.write(off, size, 0xff);
      }
    }
    for (const off of [0x30, 0x22, 0x1234, 0x1_ff00, 0x2_0000, 0xfff_fffc])
      assert.equal(r.smmu.read(off, 4), 0);
    assert.equal(r.smmu.read64(0x31), 0n);
    r.smmu.write64(0x5, 0xffn);
    assert.equal(rd(r, R.CR0), 0xd, "small writes never reach the device");
    assert.ok(
      r.log
        .text("guest_error")
        .includes(
          "Invalid read at addr 0x22, size 2, region 'arm-smmuv3', reason: invalid size (min:4 max:8)",
        ),
    );
  });

  it("splits a 4-aligned 8-byte access into two 32-bit registers", () => {
    const r = rig();
    r.smmu.write(R.CMDQ_BASE + 4, 4, 0x12);
    r.smmu.write(R.CMDQ_PROD, 4, 0x34);
    assert.equal(r.smmu.read64(R.CMDQ_BASE + 4), 0x34_0000_0012n);
  });

  it("serves page 1 as an alias of page 0, EVENTQ_PROD/CONS included", () => {
    const r = rig();
    r.smmu.write(R.EVENTQ_PROD_PAGE1, 4, 0x5);
    r.smmu.write(R.EVENTQ_CONS_PAGE1, 4, 0x3);
    assert.equal(rd(r, R.EVENTQ_PROD), 5);
    assert.equal(rd(r, R.EVENTQ_CONS_PAGE1), 3);
    assert.equal(rd(r, 0x1_0000 + R.IDR0), rd(r, R.IDR0));
  });

  it("reads 64-bit registers whole and RAZ any other offset at 64 bits", () => {
    const r = rig();
    r.smmu.write64(R.GERROR_IRQ_CFG0, 0x0123_4567_89ab_cdefn);
    assert.equal(r.smmu.read64(R.GERROR_IRQ_CFG0), 0x0123_4567_89ab_cdefn);
    assert.equal(rd(r, R.GERROR_IRQ_CFG0 + 4), 0x0123_4567);
    assert.equal(r.smmu.read64(R.IDR0), 0n);
    assert.ok(r.log.text("unimp").includes("smmu_readll Unexpected 64-bit access to 0x0 (RAZ)"));
    r.smmu.write64(R.CMDQ_PROD, 5n);
    assert.equal(rd(r, R.CMDQ_PROD), 0);
    assert.ok(r.log.text("unimp").includes("smmu_writell Unexpected 64-bit access to 0x98 (WI)"));
  });

  it("stores EVENTQ_IRQ_CFG* but reads them as zero, as QEMU does", () => {
    const r = rig();
    r.smmu.write64(R.EVENTQ_IRQ_CFG0, 0x1234n);
    r.smmu.write(R.EVENTQ_IRQ_CFG1, 4, 7);
    assert.equal(r.smmu.read64(R.EVENTQ_IRQ_CFG0), 0n);
    assert.equal(rd(r, R.EVENTQ_IRQ_CFG1), 0);
    assert.equal(r.smmu.state().eventqIrqCfg0, 0x1234n);
    assert.equal(r.smmu.state().eventqIrqCfg1, 7);
  });

  it("keeps the event queue to registers with wrap-clamped log2size", () => {
    const r = rig();
    r.smmu.write64(R.EVENTQ_BASE, BigInt(RAM_BASE) | 0x1fn);
    assert.equal(r.smmu.state().eventq.log2size, 19);
    assert.equal(r.irqs.eventq.raises, 0);
  });

  it("counts every trapped access once", () => {
    const r = rig();
    r.smmu.read(R.IDR0, 4);
    r.smmu.read(0x22, 4);
    r.smmu.write64(R.CMDQ_BASE, 0n);
    assert.equal(r.smmu.counters().trapped, 3);
  });
});

describe("accel ID registers", () => {
  const hostIdr = [0x0d44_101a, 0x0273_0010, 0, 0x1404, 0, 0x74];

  it("accepts a compatible host without changing any register", () => {
    const r = rig();
    const before = r.smmu.state().idr;
    assert.deepEqual(r.smmu.applyHostIdrs(hostIdr), { ok: true, value: undefined });
    assert.deepEqual(r.smmu.state().idr, before);
  });

  it("fails the attach with QEMU's message for a mismatching host", () => {
    const r = rig();
    const noRil = [...hostIdr];
    noRil[3] = 0x1004;
    const res = r.smmu.applyHostIdrs(noRil);
    assert.deepEqual(res, { ok: false, error: "Host SMMUv3 doesn't support Range Invalidation" });
    const linear = [...hostIdr];
    linear[0] = hostIdr[0]! & ~(3 << 27);
    assert.match(
      (r.smmu.applyHostIdrs(linear) as { error: string }).error,
      /Stream Table format mismatch \(host STLEVEL=0, QEMU STLEVEL=1\)/,
    );
  });

  it("applies the accel properties to IDR0.ATS, IDR1.SSIDSIZE, IDR3.RIL and IDR5.OAS", () => {
    const r = rig();
    r.smmu.setCmdqs(12);
    r.smmu.applyAccelProps({ ril: false, ats: true, oas48: true, ssidsize: 20 });
    assert.equal(rd(r, R.IDR0) & (1 << 10), 1 << 10);
    assert.equal((rd(r, R.IDR1) >>> 6) & 0x1f, 20);
    assert.equal(r.smmu.getCmdqs(), 12);
    assert.equal(rd(r, R.IDR3) & (1 << 10), 0);
    assert.equal(rd(r, R.IDR5) & 7, 5);
  });
});

describe("re-entrancy", () => {
  it("finishes a GERRORN ack made from inside the GERROR interrupt", () => {
    const r = rig();
    enableQueue(r, 2);
    r.smmu.write(R.IRQ_CTRL, 4, 1);
    put(r, 0, [0x7f]);
    put(r, 1, sync(0));
    r.irqs.gerror.raise = () => {
      put(r, 0, sync(0));
      r.smmu.write(R.GERRORN, 4, r.smmu.read(R.GERROR, 4));
    };
    r.smmu.write(R.CMDQ_PROD, 4, 2);
    assert.equal(rd(r, R.CMDQ_CONS), ((1 << ERR_SHIFT) | 2) >>> 0);
    assert.equal(rd(r, R.GERROR), rd(r, R.GERRORN));
  });
});
