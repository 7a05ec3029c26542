// The device-model testbed: the production machine (createMachine), seen the way QEMU's
// qtests see a device: the test plays the guest with raw accesses to the CMDQV window and
// advances virtual time by hand. Nothing here builds a machine of its own.

import type { FaultPlan } from "../host/faults.js";
import type { Host } from "../host/host.js";
import type { AddressSpace } from "../mem/address-space.js";
import type { GuestRam } from "../mem/guest-ram.js";
import type { PageSizeName } from "../mem/types.js";
import { APERTURE } from "../regs/cmdqv.js";
import type { CountingIrq } from "../util/irq.js";
import type { VmmLog } from "../vmm/log.js";
import type { Smmuv3Accel } from "../vmm/smmuv3/smmuv3.js";
import type { Tegra241CmdqvDevice } from "../vmm/tegra241-cmdqv/device.js";
import type { ProfileName } from "../vmm/tegra241-cmdqv/profile.js";
import { DEFAULT_MACHINE, machineConfig } from "./config.js";
import { createMachine, type Machine } from "./machine.js";

/** The default machine's addresses and StreamIDs, named for tests. */
export const CMDQV_BASE = DEFAULT_MACHINE.cmdqvBase;
export const SMMU_BASE = DEFAULT_MACHINE.smmuBase;
export const PAGE0_WINDOW = CMDQV_BASE + APERTURE.VINTF_PAGE0;
export const PHYS_SID = DEFAULT_MACHINE.physSid;
export const VIRT_SID = DEFAULT_MACHINE.virtSid;

export interface TestbedOptions {
  readonly profile: ProfileName;
  readonly ramBase?: number;
  readonly ramSize?: number;
  readonly ramPage?: PageSizeName;
  readonly seed?: number;
  readonly numVcmdqs?: number;
  readonly faultPlan?: FaultPlan;
}

export interface Testbed {
  readonly machine: Machine;
  readonly host: Host;
  readonly ram: GuestRam;
  readonly as: AddressSpace;
  readonly dev: Tegra241CmdqvDevice;
  readonly log: VmmLog;
  readonly irq: CountingIrq;
  /** The accel SMMUv3 the device model extends (its IDR1.CMDQS is what the guest reads). */
  readonly smmu: Smmuv3Accel;
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
  const cfg = machineConfig({
    profile: o.profile,
    cmdqv: "on",
    ...(o.ramBase !== undefined ? { ramBase: o.ramBase } : {}),
    ...(o.ramSize !== undefined ? { ramSize: o.ramSize } : {}),
    ...(o.ramPage !== undefined ? { ramPage: o.ramPage } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.numVcmdqs !== undefined ? { vcmdqs: o.numVcmdqs } : {}),
    ...(o.faultPlan !== undefined ? { faultPlan: o.faultPlan } : {}),
  });
  const built = createMachine(cfg);
  if (!built.ok) throw new Error(`testbed: the machine could not be built: ${built.error}`);
  const m = built.value;
  const dev = m.cmdqv;
  if (dev === null) throw new Error("testbed: the machine has no CMDQV");
  const base = cfg.cmdqvBase;
  const as = m.as;
  return {
    machine: m,
    host: m.host,
    ram: m.ram,
    as,
    dev,
    log: m.log,
    irq: m.cmdqvIrq,
    smmu: m.smmu,
    devId: m.devId,
    viommuId: m.viommuId,
    w32: (off, v) => {
      as.write(base + off, 4, v);
    },
    r32: (off) => as.read(base + off, 4),
    w64: (off, v) => {
      as.write64(base + off, v);
    },
    r64: (off) => as.read64(base + off),
    step: (ns) => {
      m.clock.advance(ns);
      m.pollEvents();
    },
  };
}
