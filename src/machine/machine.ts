// The machine without its guest: the simulated host, guest RAM, the VMM's address space
// with QEMU virt's SMMUv3 (accel) and, when selected, the Tegra241 CMDQV device model,
// set up as QEMU 11.1.3 does when a VFIO device is cold-plugged behind the SMMU. VFIO:
// bind the device, an IOAS, the nest-parent HWPT the device is attached to, guest RAM
// mapped. Then the SMMU's accel core (accel-core.ts) checks the host SMMU, picks the CMDQV
// (off/auto/on), allocates the vIOMMU through it with the abort and bypass HWPTs and
// attaches the device to the GBPA one; QEMU's reset at start attaches it again. The
// vDEVICE (vSID) comes later, when the guest installs the device's STE (CFGI_STE*).

import { createHost, type Host } from "../host/host.js";
import { HWPT_ALLOC_NEST_PARENT } from "../host/kernel/uapi.js";
import { AddressSpace } from "../mem/address-space.js";
import type { GuestRam } from "../mem/guest-ram.js";
import { PAGE_SIZES } from "../mem/types.js";
import { APERTURE } from "../regs/cmdqv.js";
import { SMMUV3_MMIO_SIZE } from "../regs/smmuv3.js";
import { CONSOLE_TRACE } from "../trace/events.js";
import {
  NULL_TRACER,
  RecordingTracer,
  StreamingTracer,
  type TraceEvent,
  type Tracer,
  type TraceSink,
} from "../trace/trace.js";
import { VirtualClock } from "../util/clock.js";
import { CountingIrq } from "../util/irq.js";
import { err, ok, type Result } from "../util/result.js";
import { IommufdBackend } from "../vmm/iommufd-backend.js";
import { VmmLog } from "../vmm/log.js";
import { type CmdqvViommuOps, Smmuv3AccelCore } from "../vmm/smmuv3/accel-core.js";
import { checkCmdqvColdPlug, selectCmdqv } from "../vmm/smmuv3/cmdqv-select.js";
import { QEMU_ACCEL } from "../vmm/smmuv3/profile.js";
import { Smmuv3Accel } from "../vmm/smmuv3/smmuv3.js";
import { probeCmdqv, Tegra241CmdqvDevice } from "../vmm/tegra241-cmdqv/device.js";
import { OverlayPage0Window } from "../vmm/tegra241-cmdqv/page0-window.js";
import { PROFILES } from "../vmm/tegra241-cmdqv/profile.js";
import { type MachineConfig, machineProblems } from "./config.js";

export interface Machine {
  readonly config: MachineConfig;
  readonly host: Host;
  readonly ram: GuestRam;
  readonly as: AddressSpace;
  readonly smmu: Smmuv3Accel;
  /** The SMMU's accel core: the vIOMMU, its HWPTs, the device's vDEVICE and stage-1 HWPT. */
  readonly accel: Smmuv3AccelCore;
  /** The CMDQV device model, or null when `cmdqv` selection gave none. */
  readonly cmdqv: Tegra241CmdqvDevice | null;
  readonly log: VmmLog;
  /** The machine's virtual clock: host, VMM and guest all read time from it. */
  readonly clock: VirtualClock;
  readonly tracer: Tracer;
  /** What the tracer recorded (empty unless built with `trace: true`). */
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

/**
 * How QEMU names the VFIO device and its files in messages: the -device id and the fds the
 * command line passes (fd=101 for the VFIO cdev, fd=100 for iommufd, as
 * src/real-qemu/qemu-launch.ts starts QEMU).
 */
export const VFIO_DEVICE_NAME = { name: "vfio0", fd: 101, iommufdFd: 100 } as const;

/** IOMMU_GET_HW_INFO's buffer as QEMU's VFIO passes it: one ARM SMMUv3 info struct. */
const VFIO_HW_INFO_LEN = 40;

export interface MachineOptions {
  /**
   * Trace events, stamped by the machine's clock: `true` keeps them (machine.traceEvents),
   * a sink gets each as it happens and nothing is kept.
   */
  readonly trace?: boolean | TraceSink;
}

/**
 * The one place the machine is built: the virtual clock, the host on it, guest RAM, the
 * VMM's address space and devices, and QEMU's cold-plug of the VFIO device.
 */
export function createMachine(
  cfg: MachineConfig,
  opts: MachineOptions = {},
): Result<Machine, string> {
  // A description whose fields do not fit together is refused here, as an error value,
  // before any part of the machine could throw on it.
  const problem = machineProblems(cfg)[0];
  if (problem !== undefined) return err(`machine.${problem.field}: ${problem.message}`);
  const pageSize = PAGE_SIZES[cfg.ramPage];
  const clock = new VirtualClock();
  const recording = opts.trace === true ? new RecordingTracer(clock) : null;
  const sink = typeof opts.trace === "object" ? opts.trace : null;
  const tracer: Tracer = recording ?? (sink ? new StreamingTracer(clock, sink) : NULL_TRACER);
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
  if (tracer.enabled)
    log.onLine((l) =>
      tracer.emit("vmm.console", CONSOLE_TRACE.VMM, { kind: l.kind, text: l.text }),
    );
  const k = host.iommufd;
  const backend = new IommufdBackend(k, log, tracer);

  const smmuIrqs = {
    eventq: new CountingIrq(),
    priq: new CountingIrq(),
    cmdSync: new CountingIrq(),
    gerror: new CountingIrq(),
  };
  const accel = new Smmuv3AccelCore({ backend, port: k, log, profile: QEMU_ACCEL, tracer });
  const smmu = new Smmuv3Accel({
    mem: as,
    host: accel,
    accel,
    log,
    tracer,
    irqs: smmuIrqs,
    minRamPageSize: pageSize,
    profile: QEMU_ACCEL,
  });
  const smmuMap = as.addMmio("smmuv3", cfg.smmuBase, SMMUV3_MMIO_SIZE, smmu);
  if (!smmuMap.ok) return err(smmuMap.error.message);

  // The cold-plugged VFIO device, as QEMU's VFIO/iommufd code attaches it: bind, an IOAS,
  // the nest parent the accel SMMU asks for (the device's capabilities read first) with
  // the device attached to it, guest RAM mapped, and the host IOMMU device's capabilities
  // read. facts: order seen on QEMU 11.1.3 (cmdqv_ioctls); its IOAS_CHANGE_PROCESS,
  // IOAS_IOVA_RANGES and IOAS_MAP_FILE are one IOAS_MAP here.
  const devId = host.bindDevice(cfg.physSid);
  const ioas = k.ioasAlloc();
  if (!ioas.ok) return err(`IOMMU_IOAS_ALLOC failed: errno ${ioas.error}`);
  const vfioInfo = () => k.getHwInfo({ flags: 0, devId, dataLen: VFIO_HW_INFO_LEN, inDataType: 0 });
  const caps = vfioInfo();
  if (!caps.ok) return err(`IOMMU_GET_HW_INFO failed: errno ${caps.error}`);
  const hwpt = k.hwptAlloc({
    flags: HWPT_ALLOC_NEST_PARENT,
    devId,
    ptId: ioas.value.ioasId,
    dataType: 0,
    dataLen: 0,
  });
  if (!hwpt.ok) return err(`IOMMU_HWPT_ALLOC failed: errno ${hwpt.error}`);
  const s2 = k.attachDevice({ devId, ptId: hwpt.value.hwptId });
  if (!s2.ok) return err(`VFIO_DEVICE_ATTACH_IOMMUFD_PT failed: errno ${s2.error}`);
  const map = k.ioasMap({
    ioasId: ioas.value.ioasId,
    iova: ram.gpaBase,
    length: ram.size,
    gpa: ram.gpaBase,
  });
  if (!map.ok) return err(`IOMMU_IOAS_MAP failed: errno ${map.error}`);
  const hiod = vfioInfo();
  if (!hiod.ok) return err(`IOMMU_GET_HW_INFO failed: errno ${hiod.error}`);

  const coldPlug = checkCmdqvColdPlug(cfg.cmdqv, 1);
  if (!coldPlug.ok) return err(coldPlug.error);
  const cmdqvIrq = new CountingIrq();
  let cmdqv: Tegra241CmdqvDevice | null = null;
  // pci_device_set_iommu_device → smmuv3_accel_set_iommu_device: the CMDQV is selected
  // (probed) once the host SMMU passed the check, just before the vIOMMU is allocated.
  const select = (): Result<CmdqvViommuOps | null, string> => {
    const selection = selectCmdqv(cfg.cmdqv, () => probeCmdqv(backend, devId));
    if (!selection.ok) return err(selection.error);
    if (!selection.cmdqv) return ok(null);
    const dev = new Tegra241CmdqvDevice({
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
    const mmio = as.addMmio("tegra241-cmdqv", cfg.cmdqvBase, dev.size, dev);
    if (!mmio.ok) return err(mmio.error.message);
    cmdqv = dev;
    return ok({
      allocViommu: (d, s2HwptId) => dev.allocViommu(d, s2HwptId),
      freeViommu: () => dev.freeViommu(),
    });
  };
  const attached = accel.setIommuDevice(
    smmu,
    { devId, s2HwptId: hwpt.value.hwptId, sid: cfg.virtSid, ...VFIO_DEVICE_NAME },
    select,
  );
  if (!attached.ok)
    return err(`vfio ${VFIO_DEVICE_NAME.name}: Failed to set vIOMMU: ${attached.error}`);
  const viommuId = accel.viommu();
  // QEMU's system reset at start (smmu_reset_exit): the GBPA HWPT is attached again.
  smmu.reset();

  const machine: Machine = {
    config: cfg,
    host,
    ram,
    as,
    smmu,
    accel,
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
      accel.closeFilesAtExit();
      const unbound = k.unbindDevice(devId);
      if (!unbound.ok) problems.push(`close(vfio-device ${devId}): errno ${unbound.error}`);
      const closed = k.close();
      if (!closed.ok) problems.push(`close(iommufd): errno ${closed.error}`);
      return problems;
    },
  };
  return ok(machine);
}
