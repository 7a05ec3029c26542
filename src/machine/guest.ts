// The Linux-like guest put on a machine: its dmesg, DMA memory from the top of RAM (at
// most 256 MiB, or half of RAM), the context its actors use, and the two drivers the ACPI
// tables announce (arm-smmu-v3 at the SMMUv3 base, with the passed-through device behind
// it at the machine's vSID; tegra241-cmdqv at the CMDQV base when the machine has one).
// The world and the guest test rig both get their guest here.

import type { GuestContext } from "../guest/actor.js";
import { ArmSmmuV3 } from "../guest/arm-smmu-v3.js";
import { guestContext } from "../guest/context.js";
import { DmaAllocator } from "../guest/dma.js";
import { GuestDmesg } from "../guest/dmesg.js";
import { Tegra241Cmdqv, type Tegra241CmdqvOptions } from "../guest/tegra241-cmdqv.js";
import type { Machine } from "./machine.js";

export interface LinuxGuestOptions {
  /** tegra241-cmdqv driver options (module parameters; test-only ring placement). */
  readonly cmdqv?: Omit<Tegra241CmdqvOptions, "base">;
  /** The arm-smmu-v3 driver's cap on queue size (log2 entries). */
  readonly cmdqMaxSzShift?: number;
  /** Keep dev_dbg lines. */
  readonly dmesgDebug?: boolean;
}

export interface LinuxGuest {
  readonly dmesg: GuestDmesg;
  readonly dma: DmaAllocator;
  readonly ctx: GuestContext;
  readonly smmu: ArmSmmuV3;
  /** null when the machine has no CMDQV (nothing in ACPI for the driver to probe). */
  readonly cmdqv: Tegra241Cmdqv | null;
}

export function attachLinuxGuest(m: Machine, o: LinuxGuestOptions = {}): LinuxGuest {
  const dmesg = new GuestDmesg(m.clock, { debug: o.dmesgDebug ?? false, tracer: m.tracer });
  const ramTop = m.ram.gpaBase + m.ram.size;
  const dma = new DmaAllocator(ramTop - Math.min(0x1000_0000, m.ram.size / 2), ramTop);
  const ctx = guestContext(m.as, m.clock, dmesg, dma);
  const cmdqv = m.cmdqv ? new Tegra241Cmdqv({ base: m.config.cmdqvBase, ...o.cmdqv }) : null;
  const smmu = new ArmSmmuV3(
    ctx,
    dmesg,
    {
      base: m.config.smmuBase,
      // The passed-through device, at its vSID.
      masters: [m.config.virtSid],
      ...(o.cmdqMaxSzShift !== undefined ? { cmdqMaxSzShift: o.cmdqMaxSzShift } : {}),
    },
    cmdqv ?? undefined,
  );
  return { dmesg, dma, ctx, smmu, cmdqv };
}
