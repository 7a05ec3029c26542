// A minimal machine for device-model tests: the simulated host (kernel + hardware), guest
// RAM mapped into an IOAS with a nest-parent HWPT and a vDEVICE as QEMU's accel SMMUv3
// sets them up, the guest address space with the CMDQV MMIO region, and the device model
// with recording ports. The test plays the guest, as QEMU's qtests do.

import type { FaultPlan } from "../../host/faults.js";
import { createHost, type Host } from "../../host/host.js";
import { HWPT_ALLOC_NEST_PARENT } from "../../host/kernel/uapi.js";
import { AddressSpace } from "../../mem/address-space.js";
import type { GuestRam } from "../../mem/guest-ram.js";
import { PAGE_SIZES, type PageSizeName } from "../../mem/types.js";
import { APERTURE } from "../../regs/cmdqv.js";
import { RecordingTracer } from "../../trace/trace.js";
import { CountingIrq } from "../../util/irq.js";
import { IommufdBackend } from "../iommufd-backend.js";
import { VmmLog } from "../log.js";
import { probeCmdqv, Tegra241CmdqvDevice } from "./device.js";
import { OverlayPage0Window } from "./page0-window.js";
import type { SmmuPort } from "./ports.js";
import { PROFILES, type ProfileName } from "./profile.js";

export { OverlayPage0Window };

export const CMDQV_BASE = 0x0c00_0000;
export const PAGE0_WINDOW = CMDQV_BASE + APERTURE.VINTF_PAGE0;
/** The physical StreamID of the passed-through device and the vSID the guest sees. */
export const PHYS_SID = 0x100;
export const VIRT_SID = 0x8;

export interface TestbedOptions {
  readonly profile: ProfileName;
  readonly ramBase?: number;
  readonly ramSize?: number;
  readonly ramPage?: PageSizeName;
  readonly seed?: number;
  readonly numVcmdqs?: number;
  readonly faultPlan?: FaultPlan;
  /** IDR1.CMDQS of the host SMMU (default 19). */
  readonly hostCmdqs?: number;
}

export class FakeSmmu implements SmmuPort {
  cmdqs: number;
  readonly pageSize: number;
  constructor(cmdqs: number, pageSize: number) {
    this.cmdqs = cmdqs;
    this.pageSize = pageSize;
  }
  getCmdqs(): number {
    return this.cmdqs;
  }
  setCmdqs(v: number): void {
    this.cmdqs = v;
  }
  minRamPageSize(): number {
    return this.pageSize;
  }
}

export interface Testbed {
  readonly host: Host;
  readonly ram: GuestRam;
  readonly as: AddressSpace;
  readonly dev: Tegra241CmdqvDevice;
  readonly log: VmmLog;
  readonly irq: CountingIrq;
  readonly smmu: FakeSmmu;
  readonly tracer: RecordingTracer;
  readonly devId: number;
  readonly viommuId: number;
  /** Guest accesses to the CMDQV window (offsets from its base). */
  w32(off: number, v: number): void;
  r32(off: number): number;
  w64(off: number, v: bigint): void;
  r64(off: number): bigint | undefined;
  /** Advance virtual time (hardware handshakes and consumption) and run the VMM's vEVENTQ handler. */
  step(ns: number): void;
}

export function createTestbed(o: TestbedOptions): Testbed {
  const pageName = o.ramPage ?? "2M";
  const pageSize = PAGE_SIZES[pageName];
  const host = createHost(o.faultPlan ? { faultPlan: o.faultPlan } : {});
  const ram = host.allocGuestRam({
    gpaBase: o.ramBase ?? 0x4000_0000,
    size: o.ramSize ?? 0x4000_0000,
    pageSize,
    seed: o.seed ?? 1,
  });
  const devId = host.bindDevice(PHYS_SID);
  const k = host.iommufd;
  // What QEMU's VFIO/iommufd code and the accel SMMUv3 do before the CMDQV model runs.
  const ioas = unwrap(k.ioasAlloc()).ioasId;
  unwrap(k.ioasMap({ ioasId: ioas, iova: ram.gpaBase, length: ram.size, gpa: ram.gpaBase }));
  const hwpt = unwrap(k.hwptAlloc({ flags: HWPT_ALLOC_NEST_PARENT, devId, ptId: ioas })).hwptId;

  const as = new AddressSpace();
  const ramMap = as.addRam("ram", ram);
  if (!ramMap.ok) throw new Error(ramMap.error.message);
  const log = new VmmLog(host.clock);
  const tracer = new RecordingTracer(host.clock);
  const backend = new IommufdBackend(k, log, tracer);
  const probe = probeCmdqv(backend, devId);
  if (!probe.ok) throw new Error(probe.error);
  const irq = new CountingIrq();
  const smmu = new FakeSmmu(o.hostCmdqs ?? 19, pageSize);
  const dev = new Tegra241CmdqvDevice({
    profile: PROFILES[o.profile],
    backend,
    log,
    irq,
    page0: new OverlayPage0Window(as, "tegra241-cmdqv vintf-page0", PAGE0_WINDOW),
    smmu,
    isRam: (gpa, size) => ram.contains(gpa, size),
    tracer,
    ...(o.numVcmdqs !== undefined ? { numVcmdqs: o.numVcmdqs } : {}),
  });
  const mmio = as.addMmio("tegra241-cmdqv", CMDQV_BASE, dev.size, dev);
  if (!mmio.ok) throw new Error(mmio.error.message);
  const viommu = dev.allocViommu(devId, hwpt);
  if (!viommu.ok) throw new Error(viommu.error);
  unwrap(k.vdeviceAlloc({ viommuId: viommu.value, devId, virtId: BigInt(VIRT_SID) }));

  return {
    host,
    ram,
    as,
    dev,
    log,
    irq,
    smmu,
    tracer,
    devId,
    viommuId: viommu.value,
    w32: (off, v) => {
      as.write(CMDQV_BASE + off, 4, v);
    },
    r32: (off) => as.read(CMDQV_BASE + off, 4),
    w64: (off, v) => {
      as.write64(CMDQV_BASE + off, v);
    },
    r64: (off) => as.read64(CMDQV_BASE + off),
    step: (ns) => {
      host.clock.advance(ns);
      dev.handleVeventq();
    },
  };
}

function unwrap<T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T {
  if (!r.ok) throw new Error(`testbed setup failed: ${JSON.stringify(r.error)}`);
  return r.value;
}
