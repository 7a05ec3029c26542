// The simulated host's wiring: clock → hardware → threaded ISR, guest RAM as the
// kernel's user memory, plain-data state.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VirtualClock } from "../util/clock.js";
import { createHost } from "./host.js";
import { HWPT_ALLOC_NEST_PARENT } from "./kernel/uapi.js";

describe("createHost", () => {
  it("probes the driver at creation: VINTF0 is the kernel's and the clock moved through the handshakes", () => {
    const host = createHost({ clock: new VirtualClock() });
    assert.ok(host.clock.now() > 0);
    assert.equal(host.hw.time(), host.clock.now(), "the hardware follows the clock");
    assert.deepEqual(
      host.driver.state().vintfs.map((v) => [v.idx, v.hypOwn, v.enabled]),
      [[0, true, true]],
    );
    assert.deepEqual(host.liveObjects(), []);
  });

  it("registers guest RAM as the kernel's user memory: mapping unbacked GPAs into a domain is EFAULT", () => {
    const host = createHost({ clock: new VirtualClock() });
    const ram = host.allocGuestRam({
      gpaBase: 0x4000_0000,
      size: 0x40_0000,
      pageSize: 0x1000,
      seed: 1,
    });
    const k = host.iommufd;
    const dev = host.bindDevice(0x10);
    const ioas = k.ioasAlloc();
    assert.ok(ioas.ok);
    const ioasId = ioas.value.ioasId;
    assert.ok(k.hwptAlloc({ flags: HWPT_ALLOC_NEST_PARENT, devId: dev, ptId: ioasId }).ok);
    assert.ok(k.ioasMap({ ioasId, iova: 0, length: ram.size, gpa: ram.gpaBase }).ok);
    const bad = k.ioasMap({ ioasId, iova: 0x1000_0000, length: 0x1000, gpa: 0x1_0000_0000 });
    assert.deepEqual(bad, { ok: false, error: 14 });
    // A second RAM region lands in its own host pool.
    const ram2 = host.allocGuestRam({
      gpaBase: 0x1_0000_0000,
      size: 0x20_0000,
      pageSize: 0x20_0000,
      seed: 2,
    });
    assert.notEqual(ram2.hostPoolBase, ram.hostPoolBase);
    assert.ok(k.ioasMap({ ioasId, iova: 0x1000_0000, length: 0x1000, gpa: 0x1_0000_0000 }).ok);
  });

  it("keeps dev_dbg lines only with dmesgDebug", () => {
    const quiet = createHost({ clock: new VirtualClock() });
    const loud = createHost({ clock: new VirtualClock(), dmesgDebug: true });
    assert.equal(quiet.hostDmesg().length, 2);
    assert.ok(loud.hostDmesg().includes("tegra241_cmdqv: VINTF0: VCMDQ1/LVCMDQ1: inited"));
  });

  it("exposes its state as plain data", () => {
    const host = createHost({ clock: new VirtualClock() });
    const s = host.state();
    const json = JSON.stringify(s, (_k, v) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v));
    assert.ok(json.length > 0);
    assert.equal(s.driver.vintfs.length, 1);
    assert.deepEqual(s.smmu.vmids, []);
  });

  it("runs the threaded handler once for edges raised before it runs (they coalesce)", () => {
    const host = createHost({ clock: new VirtualClock() });
    const page0 = 0x30000;
    const page1 = 0x40000;
    const base = Number(host.hw.read64(page1) & 0xffff_ffff_ffe0n);
    const base1 = Number(host.hw.read64(page1 + 0x80) & 0xffff_ffff_ffe0n);
    host.mem.write64(base, 0xffn);
    host.mem.write64(base1, 0xffn);
    // Both kernel queues fail in the same hardware step: one edge each, one handler run.
    host.hw.write(page0 + 0x04, 4, 1);
    host.hw.write(page0 + 0x80 + 0x04, 4, 1);
    host.clock.advance(10_000);
    const s = host.driver.isrStats();
    assert.equal(s.runs, 1);
    assert.equal(s.vintf0Errors, 2);
  });
});
