// The machine without its guest: the simulated host, guest RAM, the VMM's address space
// with QEMU virt's SMMUv3 (accel) and, when selected, the Tegra241 CMDQV device model,
// set up as QEMU does when a VFIO device is cold-plugged behind the SMMU: bind the device,
// map guest RAM into an IOAS, allocate the nest-parent HWPT, pick the CMDQV on the first
// attach (off/auto/on), allocate the vIOMMU through it, and a vDEVICE for the vSID.

import { createHost, type Host } from "../host/host.js";
import { HWPT_ALLOC_NEST_PARENT, VIOMMU_TYPE } from "../host/kernel/uapi.js";
import { AddressSpace } from "../mem/address-space.js";
import type { GuestRam } from "../mem/guest-ram.js";
import { PAGE_SIZES } from "../mem/types.js";
import { APERTURE } from "../regs/cmdqv.js";
import { SMMUV3_MMIO_SIZE } from "../regs/smmuv3.js";
import { NULL_TRACER, RecordingTracer, type TraceEvent, type Tracer } from "../trace/trace.js";
import { VirtualClock } from "../util/clock.js";
import { CountingIrq } from "../util/irq.js";
import { err, ok, type Result } from "../util/result.js";
import { IommufdBackend } from "../vmm/iommufd-backend.js";
import { VmmLog } from "../vmm/log.js";
import { checkCmdqvColdPlug, selectCmdqv } from "../vmm/smmuv3/cmdqv-select.js";
import { Smmuv3Accel } from "../vmm/smmuv3/smmuv3.js";
import { viommuInvalidatePort } from "../vmm/smmuv3/viommu-port.js";
import { probeCmdqv, Tegra241CmdqvDevice } from "../vmm/tegra241-cmdqv/device.js";
import { OverlayPage0Window } from "../vmm/tegra241-cmdqv/page0-window.js";
import { PROFILES } from "../vmm/tegra241-cmdqv/profile.js";
import type { MachineConfig } from "./config.js";

export interface Machine {
  readonly config: MachineConfig;
  readonly host: Host;
  readonly ram: GuestRam;
  readonly as: AddressSpace;
  readonly smmu: Smmuv3Accel;
  /** The CMDQV device model, or null when `cmdqv` selection gave none. */
  readonly cmdqv: Tegra241CmdqvDevice | null;
  readonly log: VmmLog;
  /** The machine's virtual clock: host, VMM and guest all read time from it. */
  readonly clock: VirtualClock;
  readonly tracer: Tracer;
  /** What the tracer recorded (empty unless built with `trace`). */
  readonly traceEvents: readonly TraceEvent[];
  readonly cmdqvIrq: CountingIrq;
  /** The SMMUv3's wired interrupts (QEMU virt SPIs 74–77). */
  readonly smmuIrqs: {
    readonly eventq: CountingIrq;
    readonly priq: CountingIrq;
    readonly cmdSync: CountingIrq;
    readonly gerror: CountingIrq;
  };
  readonly devId: number;
  readonly viommuId: number;
  /** Run the VMM main loop's vEVENTQ fd handler if the fd is readable; events handled. */
  pollEvents(): number;
  /** True when the vEVENTQ fd has something to read. */
  eventsPending(): boolean;
  /** System reset (the SMMU and the CMDQV device reset hooks). */
  reset(): void;
  /** QEMU exits: no destroy call; its files close (fds, mmaps), so the kernel releases all. */
  teardown(): string[];
}

export interface MachineOptions {
  /** Record trace events (machine.traceEvents), stamped by the machine's clock. */
  readonly trace?: boolean;
}

/**
 * The one place the machine is built: the virtual clock, the host on it, guest RAM, the
 * VMM's address space and devices, and QEMU's cold-plug of the VFIO device.
 */
export function createMachine(
  cfg: MachineConfig,
  opts: MachineOptions = {},
): Result<Machine, string> {
  const pageSize = PAGE_SIZES[cfg.ramPage];
  const clock = new VirtualClock();
  const recording = opts.trace ? new RecordingTracer(clock) : null;
  const tracer: Tracer = recording ?? NULL_TRACER;
  const host = createHost({
    clock,
    faultPlan: cfg.faultPlan,
    tracer: tracer.enabled ? tracer : null,
    ...(cfg.hostHw !== undefined ? { hw: cfg.hostHw } : {}),
  });
  const ram = host.allocGuestRam({
    gpaBase: cfg.ramBase,
    size: cfg.ramSize,
    pageSize,
    seed: cfg.seed,
  });
  const as = new AddressSpace();
  const ramMap = as.addRam("ram", ram);
  if (!ramMap.ok) return err(ramMap.error.message);
  const log = new VmmLog(host.clock);
  const k = host.iommufd;
  const backend = new IommufdBackend(k, log, tracer);

  let viommuId = 0;
  const vsids = new Set<number>();
  const hostPort = viommuInvalidatePort(
    k,
    () => viommuId,
    (sid) => vsids.has(sid),
  );
  const smmuIrqs = {
    eventq: new CountingIrq(),
    priq: new CountingIrq(),
    cmdSync: new CountingIrq(),
    gerror: new CountingIrq(),
  };
  const smmu = new Smmuv3Accel({
    mem: as,
    host: hostPort,
    log,
    tracer,
    irqs: smmuIrqs,
    minRamPageSize: pageSize,
  });
  const smmuMap = as.addMmio("smmuv3", cfg.smmuBase, SMMUV3_MMIO_SIZE, smmu);
  if (!smmuMap.ok) return err(smmuMap.error.message);

  // The cold-plugged VFIO device attaches: what QEMU's VFIO/iommufd and accel code do.
  const devId = host.bindDevice(cfg.physSid);
  const ioas = k.ioasAlloc();
  if (!ioas.ok) return err(`IOMMU_IOAS_ALLOC failed: errno ${ioas.error}`);
  const map = k.ioasMap({
    ioasId: ioas.value.ioasId,
    iova: ram.gpaBase,
    length: ram.size,
    gpa: ram.gpaBase,
  });
  if (!map.ok) return err(`IOMMU_IOAS_MAP failed: errno ${map.error}`);
  const hwpt = k.hwptAlloc({ flags: HWPT_ALLOC_NEST_PARENT, devId, ptId: ioas.value.ioasId });
  if (!hwpt.ok) return err(`IOMMU_HWPT_ALLOC failed: errno ${hwpt.error}`);

  const coldPlug = checkCmdqvColdPlug(cfg.cmdqv, 1);
  if (!coldPlug.ok) return err(coldPlug.error);
  const cmdqvIrq = new CountingIrq();
  const selection = selectCmdqv(cfg.cmdqv, () => probeCmdqv(backend, devId));
  if (!selection.ok) return err(selection.error);
  let cmdqv: Tegra241CmdqvDevice | null = null;
  if (selection.cmdqv) {
    cmdqv = new Tegra241CmdqvDevice({
      profile: PROFILES[cfg.profile],
      backend,
      log,
      irq: cmdqvIrq,
      page0: new OverlayPage0Window(
        as,
        "tegra241-cmdqv vintf-page0",
        cfg.cmdqvBase + APERTURE.VINTF_PAGE0,
      ),
      smmu,
      isRam: (gpa, size) => ram.contains(gpa, size),
      tracer,
      numVcmdqs: cfg.vcmdqs,
    });
    const mmio = as.addMmio("tegra241-cmdqv", cfg.cmdqvBase, cmdqv.size, cmdqv);
    if (!mmio.ok) return err(mmio.error.message);
    const v = cmdqv.allocViommu(devId, hwpt.value.hwptId);
    if (!v.ok) return err(v.error);
    viommuId = v.value;
  } else {
    const v = backend.allocViommu(
      devId,
      VIOMMU_TYPE.ARM_SMMUV3,
      hwpt.value.hwptId,
      new Uint8Array(0),
    );
    if (!v.ok) return err(v.error.message);
    viommuId = v.value.viommuId;
  }
  const vdev = k.vdeviceAlloc({ viommuId, devId, virtId: BigInt(cfg.virtSid) });
  if (!vdev.ok) return err(`IOMMU_VDEVICE_ALLOC failed: errno ${vdev.error}`);
  vsids.add(cfg.virtSid);

  const machine: Machine = {
    config: cfg,
    host,
    ram,
    as,
    smmu,
    cmdqv,
    log,
    clock,
    tracer,
    traceEvents: recording?.events ?? [],
    cmdqvIrq,
    smmuIrqs,
    devId,
    viommuId,
    pollEvents: () => (cmdqv ? cmdqv.handleVeventq() : 0),
    eventsPending: () => (cmdqv ? cmdqv.eventsPending() : false),
    reset() {
      smmu.reset();
      cmdqv?.reset();
    },
    teardown() {
      // QEMU's exit issues no IOMMU_DESTROY (11.1.3, seen over QMP `quit`): devices are not
      // unrealized at exit, the CMDQV has no unrealize, and free_viommu only unwinds a
      // failed allocation. The process's files close as it exits: the vEVENTQ fd and the
      // page0 mapping, the VFIO device, then iommufd, whose release (the last reference)
      // destroys every object in dependency order (spec linux §6.5). The invariants judge
      // the host after that.
      const problems: string[] = [];
      cmdqv?.closeFilesAtExit();
      const unbound = k.unbindDevice(devId);
      if (!unbound.ok) problems.push(`close(vfio-device ${devId}): errno ${unbound.error}`);
      const closed = k.close();
      if (!closed.ok) problems.push(`close(iommufd): errno ${closed.error}`);
      return problems;
    },
  };
  return ok(machine);
}
