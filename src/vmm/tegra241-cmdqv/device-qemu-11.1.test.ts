// The device model against what QEMU 11.1.3 (Debian 1:11.1.3+ds-2~bpo13+1) does, on a
// fake host: a page0 mapping whose every word names its offset, and a vEVENTQ fd that
// hands out exactly the records (or errors) a test queues. Expected texts are QEMU's own
// format strings, as the real binary prints them.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VEVENT_FLAG_LOST_EVENTS } from "../../host/kernel/uapi.js";
import { AddressSpace } from "../../mem/address-space.js";
import type { SmallSize } from "../../mem/types.js";
import { APERTURE, CFG, VCMDQ0, VCMDQ1, VINTF } from "../../regs/cmdqv.js";
import { RecordingTracer } from "../../trace/trace.js";
import { VirtualClock } from "../../util/clock.js";
import { CountingIrq } from "../../util/irq.js";
import { err, OK_VOID, ok, type Result } from "../../util/result.js";
import { IommufdBackend } from "../iommufd-backend.js";
import type { IommufdPort, MappingPort, VeventqFdPort } from "../iommufd-port.js";
import { VmmLog } from "../log.js";
import { Tegra241CmdqvDevice } from "./device.js";
import { FakeSmmu } from "./fake-smmu.js";
import { OverlayPage0Window } from "./page0-window.js";
import { PROFILES, type ProfileName } from "./profile.js";
import { CMDQV_TRACE, qemuTraceLine } from "./trace-events.js";

/** The host VINTF page0 as mapped: each word reads 0xA000_0000 + its offset. */
class FakePage implements MappingPort {
  readonly name = "fake-vintf-page0";
  readonly writes: [number, number][] = [];
  reads = 0;
  read(offset: number, _size: SmallSize): number {
    this.reads++;
    return (0xa000_0000 + offset) >>> 0;
  }
  write(offset: number, _size: SmallSize, value: number): void {
    this.writes.push([offset, value]);
  }
  read64(): bigint {
    return 0n;
  }
  write64(): void {}
  unmap(): Result<undefined, number> {
    return OK_VOID;
  }
}

/** The vEVENTQ fd: read() hands out the queued results in order; empty means EAGAIN. */
class FakeFd implements VeventqFdPort {
  readonly queue: Result<Uint8Array, number>[] = [];
  closed = false;
  read(_bufLen: number): Result<Uint8Array, number> {
    return this.queue.shift() ?? ok(new Uint8Array(0));
  }
  readable(): boolean {
    return this.queue.length > 0;
  }
  close(): void {
    this.closed = true;
  }
}

const VEVENTQ_ID = 9;

/** A 24-byte Tegra241 vEVENT: header {flags, sequence}, then lvcmdq_err_map[2] as four u32. */
function vevent(seq: number, words: readonly [number, number, number, number]): Uint8Array {
  const b = new Uint8Array(24);
  const dv = new DataView(b.buffer);
  dv.setUint32(4, seq, true);
  words.forEach((w, k) => {
    dv.setUint32(8 + 4 * k, w, true);
  });
  return b;
}

/** The 8-byte header the kernel queues when events were lost. */
function lostHeader(seq: number): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, VEVENT_FLAG_LOST_EVENTS, true);
  dv.setUint32(4, seq, true);
  return b;
}

function rig(profile: ProfileName = "qemu-v7") {
  const clock = new VirtualClock();
  const log = new VmmLog(clock);
  const tracer = new RecordingTracer(clock);
  const irq = new CountingIrq();
  const page = new FakePage();
  const fd = new FakeFd();
  let nextQueue = 20;
  const port = {
    viommuAlloc: () => ok({ viommuId: 7, vintfMmapOffset: 0x1000, vintfMmapLength: 0x1_0000 }),
    mmap: () => ok(page),
    veventqAlloc: () => ok({ veventqId: VEVENTQ_ID, fd }),
    hwQueueAlloc: () => ok({ hwQueueId: nextQueue++ }),
    destroy: () => OK_VOID,
    getHwInfo: () => err(95),
  } as unknown as IommufdPort;
  const dev = new Tegra241CmdqvDevice({
    profile: PROFILES[profile],
    backend: new IommufdBackend(port, log),
    log,
    irq,
    page0: new OverlayPage0Window(new AddressSpace(), "page0", APERTURE.VINTF_PAGE0),
    smmu: new FakeSmmu(19, 0x20_0000),
    isRam: () => true,
    tracer,
  });
  assert.ok(dev.allocViommu(1, 2).ok);
  /** Allocate VCMDQ i: ALLOC, VINTF enable, then BASE (CMDQV_EN is on from reset). */
  const allocate = (i: number) => {
    dev.write(CFG.CMDQ_ALLOC_0 + 4 * i, 4, 1);
    dev.write(CFG.VINTF_0 + VINTF.CONFIG, 4, 1);
    dev.write64(APERTURE.VCMDQ_PAGE1 + APERTURE.VCMDQ_STRIDE * i + VCMDQ1.BASE_L, 0x4010_0008n);
    assert.equal(dev.hwQueues().length > 0, true);
  };
  const lines = (name?: string) =>
    tracer.events
      .filter((e) => e.actor === "vmm.cmdqv" && (name === undefined || e.name === name))
      .map((e) => qemuTraceLine(e.name, e.args));
  return { dev, log, tracer, irq, page, fd, allocate, lines };
}

describe("vEVENTQ handler as QEMU 11.1.3's tegra241_cmdqv_event_read", () => {
  it("ignores a vEVENT whose two error maps are zero: no map written, no VI_ERR_MAP bit, no IRQ, no trace", () => {
    const r = rig();
    r.fd.queue.push(ok(vevent(0, [0x2, 0, 0, 0])), ok(vevent(1, [0, 0, 0, 0])));
    r.dev.handleVeventq();
    assert.equal(r.dev.read(CFG.VINTF_0 + VINTF.LVCMDQ_ERR_MAP_0, 4), 0x2, "not cleared");
    assert.equal(r.dev.read(CFG.CMDQ_ERR_MAP_0, 4), 0x2);
    assert.equal(r.irq.raises, 1, "one pulse, for the first event");
    assert.equal(r.lines(CMDQV_TRACE.ERR_MAP).length, 1);

    const z = rig();
    z.fd.queue.push(ok(vevent(0, [0, 0, 0, 0])));
    z.dev.handleVeventq();
    assert.equal(z.dev.read(CFG.VI_ERR_MAP_0, 4), 0, "VI_ERR_MAP stays clear");
    assert.equal(z.irq.raises, 0);
    assert.deepEqual(z.lines(CMDQV_TRACE.ERR_MAP), []);
  });

  it("applies a non-zero vEVENT and traces err_map with the words highest first, as QEMU prints it", () => {
    const r = rig();
    r.fd.queue.push(ok(vevent(0, [0x1, 0, 0x8000_0000, 0])));
    assert.equal(r.dev.handleVeventq(), 1);
    assert.equal(r.dev.read(CFG.VI_ERR_MAP_0, 4), 1);
    assert.equal(r.dev.read(CFG.VINTF_0 + VINTF.LVCMDQ_ERR_MAP_0 + 8, 4), 0x8000_0000);
    assert.equal(r.irq.raises, 1);
    assert.deepEqual(r.lines(CMDQV_TRACE.ERR_MAP), [
      "tegra241_cmdqv_err_map hw irq received. error (hex) maps: 0000:80000000:0000:0001",
    ]);
  });

  it("warns 'lost %u event(s)' on every sequence gap, not once, and still uses the record", () => {
    const r = rig();
    r.fd.queue.push(
      ok(vevent(5, [1, 0, 0, 0])), // the first record: no sequence to compare with
      ok(vevent(8, [2, 0, 0, 0])),
      ok(vevent(9, [3, 0, 0, 0])),
      ok(vevent(11, [4, 0, 0, 0])),
    );
    r.dev.handleVeventq();
    assert.deepEqual(r.log.text("warn"), [
      `warning: vEVENTQ(type 2 id ${VEVENTQ_ID}): lost 2 event(s)`,
      `warning: vEVENTQ(type 2 id ${VEVENTQ_ID}): lost 1 event(s)`,
    ]);
    assert.equal(r.dev.read(CFG.VINTF_0 + VINTF.LVCMDQ_ERR_MAP_0, 4), 4);
    assert.equal(r.irq.raises, 4);
  });

  it("counts the gap in u32, as upstream's unsigned subtraction does, across the kernel's sequence wrap", () => {
    const r = rig();
    r.fd.queue.push(ok(vevent(0x7fff_ffff, [1, 0, 0, 0])), ok(vevent(0, [1, 0, 0, 0])));
    r.dev.handleVeventq();
    assert.deepEqual(r.log.text("warn"), [
      `warning: vEVENTQ(type 2 id ${VEVENTQ_ID}): lost 2147483648 event(s)`,
    ]);
  });

  it("reports an overflow, and then does not check the next record's sequence", () => {
    const r = rig();
    r.fd.queue.push(
      ok(vevent(0, [1, 0, 0, 0])),
      ok(lostHeader(1)),
      ok(vevent(40, [2, 0, 0, 0])),
      ok(vevent(41, [3, 0, 0, 0])),
    );
    // The handler stops at the failed record; the main loop calls it again.
    while (r.dev.eventsPending()) r.dev.handleVeventq();
    assert.deepEqual(r.log.text("warn"), [`warning: vEVENTQ(type 2 id ${VEVENTQ_ID}): overflowed`]);
    assert.equal(r.dev.read(CFG.VINTF_0 + VINTF.LVCMDQ_ERR_MAP_0, 4), 3);
  });

  it("prints only the first validate failure: warn_report_err_once has one flag for all of them", () => {
    const r = rig();
    r.fd.queue.push(ok(new Uint8Array(8)), err(14), ok(lostHeader(3)));
    while (r.dev.eventsPending()) r.dev.handleVeventq();
    assert.deepEqual(r.log.text("warn"), [
      `warning: vEVENTQ(type 2 id ${VEVENTQ_ID}): short read(8/24 bytes)`,
    ]);

    const f = rig();
    f.fd.queue.push(err(14));
    f.dev.handleVeventq();
    assert.deepEqual(f.log.text("warn"), [
      `warning: vEVENTQ(type 2 id ${VEVENTQ_ID}): read failed (Bad address)`,
    ]);
  });

  it("reads one 24-byte record per handler call, as upstream's stack buffer holds one", () => {
    const r = rig();
    let asked = 0;
    const read = r.fd.read.bind(r.fd);
    r.fd.read = (n) => {
      assert.equal(n, 24);
      asked++;
      return read(n);
    };
    r.fd.queue.push(ok(vevent(0, [1, 0, 0, 0])), ok(vevent(1, [1, 0, 0, 0])));
    assert.equal(r.dev.handleVeventq(), 2);
    assert.equal(asked, 2);
  });
});

describe("page0 slots as QEMU 11.1.3's tegra241_cmdqv_read_vcmdq_page0 / write_vcmdq_page0", () => {
  const P0 = APERTURE.VCMDQ_PAGE0;
  const STRIDE = APERTURE.VCMDQ_STRIDE;

  it("reads an allocated queue's slot at every offset 0x00–0x7C from the host page, in the direct aperture", () => {
    const r = rig();
    r.allocate(0);
    for (const reg of [0x00, 0x14, 0x18, 0x40, 0x7c])
      assert.equal(r.dev.read(P0 + reg, 4), (0xa000_0000 + reg) >>> 0, `slot offset 0x${reg}`);
    assert.deepEqual(r.log.text("unimp"), []);
    assert.equal(
      r.lines(CMDQV_TRACE.READ_VCMDQ_PAGE0).at(-1),
      "tegra241_cmdqv_read_vcmdq_page0 vcmdq[0] direct (hw) offset0: 0x1007c val: 0xa000007c",
    );
  });

  it("reads an unallocated queue's offsets 0x18–0x7C as 0 from the cache, with LOG_UNIMP", () => {
    const r = rig();
    assert.equal(r.dev.read(P0 + 0x18, 4), 0);
    assert.equal(r.dev.read(P0 + STRIDE + 0x14, 4), 0); // VCMDQ1 GERRORN: the cache has it
    assert.equal(r.page.reads, 0);
    assert.deepEqual(r.log.text("unimp"), [
      "tegra241_cmdqv_read_vcmdq_page0 unhandled read access at 0x10018",
    ]);
    assert.deepEqual(r.lines(CMDQV_TRACE.READ_VCMDQ_PAGE0), [
      "tegra241_cmdqv_read_vcmdq_page0 vcmdq[0] direct (cache) offset0: 0x10018 val: 0x0",
      "tegra241_cmdqv_read_vcmdq_page0 vcmdq[1] direct (cache) offset0: 0x10014 val: 0x0",
    ]);
  });

  it("leaves the last queue's offsets past GERRORN to read_mmio's default, allocated or not", () => {
    const r = rig();
    r.allocate(0);
    r.allocate(1);
    const reads = r.page.reads;
    assert.equal(r.dev.read(P0 + STRIDE + 0x18, 4), 0);
    assert.equal(r.page.reads, reads, "the host page is not read");
    assert.deepEqual(r.log.text("unimp"), [
      "tegra241_cmdqv_read_mmio unhandled read access at 0x10098",
    ]);
  });

  it("reads the trapped VINTF aperture the same way, traced as vi, with the offset translated", () => {
    const r = rig();
    assert.equal(r.dev.read(APERTURE.VINTF_PAGE0 + 0x18, 4), 0);
    assert.deepEqual(r.log.text("unimp"), [
      "tegra241_cmdqv_read_vcmdq_page0 unhandled read access at 0x10018",
    ]);
    assert.deepEqual(r.lines(CMDQV_TRACE.READ_VCMDQ_PAGE0), [
      "tegra241_cmdqv_read_vcmdq_page0 vcmdq[0] vi (cache) offset0: 0x10018 val: 0x0",
    ]);
  });

  it("writes only CONS, PROD, CONFIG and GERRORN of an allocated queue to the host page; STATUS, GERROR and the rest are LOG_UNIMP", () => {
    const r = rig();
    r.allocate(0);
    const before = r.page.writes.length;
    r.dev.write(P0 + VCMDQ0.PROD, 4, 3);
    r.dev.write(P0 + VCMDQ0.STATUS, 4, 1);
    r.dev.write(P0 + 0x18, 4, 1);
    assert.deepEqual(r.page.writes.slice(before), [[VCMDQ0.PROD, 3]]);
    assert.deepEqual(r.log.text("unimp"), [
      "tegra241_cmdqv_write_vcmdq_page0 unhandled write access at 0x1000c",
      "tegra241_cmdqv_write_vcmdq_page0 unhandled write access at 0x10018",
    ]);
    assert.deepEqual(r.lines(CMDQV_TRACE.WRITE_VCMDQ_PAGE0), [
      "tegra241_cmdqv_write_vcmdq_page0 vcmdq[0] direct (hw) offset0: 0x10004 val: 0x3",
      "tegra241_cmdqv_write_vcmdq_page0 vcmdq[0] direct (cache) offset0: 0x1000c val: 0x1",
      "tegra241_cmdqv_write_vcmdq_page0 vcmdq[0] direct (cache) offset0: 0x10018 val: 0x1",
    ]);
  });
});

describe("exit as QEMU 11.1.3 exits", () => {
  it("issues no destroy: closing the files at exit closes the vEVENTQ fd and unmaps page0, nothing else", () => {
    const clock = new VirtualClock();
    const log = new VmmLog(clock);
    const page = new FakePage();
    let unmapped = 0;
    page.unmap = () => {
      unmapped++;
      return OK_VOID;
    };
    const fd = new FakeFd();
    const destroyed: number[] = [];
    const port = {
      viommuAlloc: () => ok({ viommuId: 7, vintfMmapOffset: 0x1000, vintfMmapLength: 0x1_0000 }),
      mmap: () => ok(page),
      veventqAlloc: () => ok({ veventqId: VEVENTQ_ID, fd }),
      hwQueueAlloc: () => ok({ hwQueueId: 20 }),
      destroy: (id: number) => {
        destroyed.push(id);
        return OK_VOID;
      },
    } as unknown as IommufdPort;
    const dev = new Tegra241CmdqvDevice({
      profile: PROFILES["qemu-v7"],
      backend: new IommufdBackend(port, log),
      log,
      irq: new CountingIrq(),
      page0: new OverlayPage0Window(new AddressSpace(), "page0", APERTURE.VINTF_PAGE0),
      smmu: new FakeSmmu(19, 0x20_0000),
      isRam: () => true,
    });
    assert.ok(dev.allocViommu(1, 2).ok);
    dev.write(CFG.CMDQ_ALLOC_0, 4, 1);
    dev.write(CFG.VINTF_0 + VINTF.CONFIG, 4, 1);
    dev.write64(APERTURE.VCMDQ_PAGE1 + VCMDQ1.BASE_L, 0x4010_0008n);
    assert.equal(dev.hwQueues().length, 1);
    dev.closeFilesAtExit();
    assert.deepEqual(destroyed, []);
    assert.equal(fd.closed, true);
    assert.equal(unmapped, 1);
    assert.deepEqual(log.text("error"), []);
  });
});
