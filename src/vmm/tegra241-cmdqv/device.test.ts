// Probe and vIOMMU allocation with its reverse unwind (spec qemu §1.3, §1.5); the MMIO
// access rules on the whole machine are in machine/cmdqv-mmio.test.ts.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createHost, type HostConfig } from "../../host/host.js";
import { HW_INFO_TYPE, HWPT_ALLOC_NEST_PARENT } from "../../host/kernel/uapi.js";
import { AddressSpace } from "../../mem/address-space.js";
import { APERTURE } from "../../regs/cmdqv.js";
import { VirtualClock } from "../../util/clock.js";
import { CountingIrq } from "../../util/irq.js";
import { ok } from "../../util/result.js";
import { IommufdBackend } from "../iommufd-backend.js";
import type { IommufdPort } from "../iommufd-port.js";
import { VmmLog } from "../log.js";
import { probeCmdqv, Tegra241CmdqvDevice } from "./device.js";
import { FakeSmmu } from "./fake-smmu.js";
import { OverlayPage0Window } from "./page0-window.js";
import { PROFILES } from "./profile.js";

// The device on its own, with fakes: any StreamID does, and the device sits at 0.
const PHYS_SID = 0x100;
const PAGE0_WINDOW = APERTURE.VINTF_PAGE0;

function hostWith(cfg: Partial<HostConfig>) {
  const host = createHost({ clock: new VirtualClock(), ...cfg });
  const ram = host.allocGuestRam({
    gpaBase: 0x4000_0000,
    size: 0x4000_0000,
    pageSize: 0x20_0000,
    seed: 1,
  });
  const devId = host.bindDevice(PHYS_SID);
  const log = new VmmLog(host.clock);
  const backend = new IommufdBackend(host.iommufd, log);
  return { host, ram, devId, log, backend };
}

function deviceOn(h: ReturnType<typeof hostWith>) {
  const as = new AddressSpace();
  return new Tegra241CmdqvDevice({
    profile: PROFILES["qemu-v7"],
    backend: h.backend,
    log: h.log,
    irq: new CountingIrq(),
    page0: new OverlayPage0Window(as, "page0", PAGE0_WINDOW),
    smmu: new FakeSmmu(19, 0x20_0000),
    isRam: () => true,
  });
}

function nestParent(h: ReturnType<typeof hostWith>): number {
  const k = h.host.iommufd;
  const ioas = k.ioasAlloc();
  assert.ok(ioas.ok);
  assert.ok(
    k.ioasMap({
      ioasId: ioas.value.ioasId,
      iova: h.ram.gpaBase,
      length: h.ram.size,
      gpa: h.ram.gpaBase,
    }).ok,
  );
  const hwpt = k.hwptAlloc({
    flags: HWPT_ALLOC_NEST_PARENT,
    devId: h.devId,
    ptId: ioas.value.ioasId,
  });
  assert.ok(hwpt.ok);
  return hwpt.value.hwptId;
}

describe("probe (spec qemu §1.3)", () => {
  it("accepts the default host: version 1, two vCMDQs per VINTF, 16 SIDs", () => {
    const h = hostWith({});
    const r = probeCmdqv(h.backend, h.devId);
    assert.deepEqual(r, { ok: true, value: { version: 1, log2vcmdqs: 1, log2vsids: 4 } });
  });

  it("rejects an unsupported version with upstream's message, the expected version included", () => {
    const h = hostWith({ hw: { version: 2 } });
    assert.deepEqual(probeCmdqv(h.backend, h.devId), {
      ok: false,
      error: "Host CMDQV: unsupported version 2 (expected 1)",
    });
  });

  it("rejects a host with one vCMDQ per VINTF", () => {
    const h = hostWith({ hw: { numVcmdqLog2: 6, numVintfLog2: 6 } });
    assert.deepEqual(probeCmdqv(h.backend, h.devId), {
      ok: false,
      error: "Host CMDQV: insufficient vCMDQs log2=0 (need >= 1)",
    });
  });

  it("rejects a host with fewer than 16 SIDs per VINTF", () => {
    const h = hostWith({ hw: { numSidLog2: 3 } });
    assert.deepEqual(probeCmdqv(h.backend, h.devId), {
      ok: false,
      error: "Host CMDQV: insufficient SIDs log2=3 (need >= 4)",
    });
  });

  it("rejects a host that answers with another data type, naming both types", () => {
    const clock = new VirtualClock();
    const port = {
      getHwInfo: () =>
        ok({
          outDataType: HW_INFO_TYPE.ARM_SMMUV3,
          dataLen: 40,
          data: { flags: 0, idr: [0, 0, 0, 0, 0, 0], iidr: 0, aidr: 0 },
          outCapabilities: 0n,
          outMaxPasidLog2: 0,
        }),
    } as unknown as IommufdPort;
    assert.deepEqual(probeCmdqv(new IommufdBackend(port, new VmmLog(clock)), 1), {
      ok: false,
      error: `Host CMDQV: unexpected data type ${HW_INFO_TYPE.ARM_SMMUV3} (expected 3)`,
    });
  });

  it("passes on the kernel's error for an unknown device", () => {
    const h = hostWith({});
    const r = probeCmdqv(h.backend, 999);
    assert.deepEqual(r, {
      ok: false,
      error: "IOMMU_GET_HW_INFO failed: No such file or directory",
    });
  });
});

describe("vIOMMU allocation (spec qemu §1.5)", () => {
  it("allocates the vIOMMU, maps page0 and allocates a vEVENTQ of depth 2^19", () => {
    const h = hostWith({});
    const dev = deviceOn(h);
    const r = dev.allocViommu(h.devId, nestParent(h));
    assert.ok(r.ok);
    const calls = h.host.iommufd.log.entries().map((e) => e.call);
    assert.deepEqual(calls.slice(-3), ["IOMMU_VIOMMU_ALLOC", "mmap", "IOMMU_VEVENTQ_ALLOC"]);
    const vq = h.host.iommufd.log.entries().at(-1)?.args as {
      depth?: number;
      veventq_depth?: number;
    };
    assert.equal(vq.depth ?? vq.veventq_depth, 1 << 19);
    assert.equal(dev.page0Mapped(), true);
  });

  it("unwinds in reverse when the vEVENTQ allocation fails: munmap page0, then free the vIOMMU", () => {
    const h = hostWith({ faultPlan: { kind: "site", site: "veventq_alloc:obj_alloc", nth: 1 } });
    const dev = deviceOn(h);
    const before = h.host.liveObjects().length;
    const hwpt = nestParent(h);
    const r = dev.allocViommu(h.devId, hwpt);
    assert.equal(r.ok, false);
    assert.match(r.ok ? "" : r.error, /Tegra241 CMDQV: failed to alloc veventq$/);
    const calls = h.host.iommufd.log.entries().map((e) => [e.call, e.errno ?? "ok"]);
    assert.deepEqual(calls.slice(-3), [
      ["IOMMU_VEVENTQ_ALLOC", "ENOMEM"],
      ["munmap", "ok"],
      ["IOMMU_DESTROY", "ok"],
    ]);
    assert.equal(h.host.liveObjects().length, before + 2, "only the IOAS and HWPT remain");
    assert.equal(dev.page0Mapped(), false);
  });

  it("frees the vIOMMU when mapping page0 fails", () => {
    const h = hostWith({ faultPlan: { kind: "site", site: "mmap:vma_alloc", nth: 1 } });
    const dev = deviceOn(h);
    const r = dev.allocViommu(h.devId, nestParent(h));
    assert.equal(r.ok, false);
    assert.match(r.ok ? "" : r.error, /Tegra241 CMDQV: failed to mmap VINTF page0$/);
    assert.deepEqual(
      h.host.iommufd.log
        .entries()
        .slice(-2)
        .map((e) => e.call),
      ["mmap", "IOMMU_DESTROY"],
    );
    assert.ok(!h.host.liveObjects().some((o) => o.kind === "viommu"));
  });
});
