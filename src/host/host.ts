// The simulated host on an injected virtual clock: host-physical memory, the CMDQV silicon, fault
// plan, the host SMMU, the Tegra241 driver (probed at creation: the kernel owns VINTF0)
// and an open iommufd file for the VMM. Guest RAM is carved out of host memory here and
// becomes the kernel's "user address space" for IOMMU_IOAS_MAP.

import { FrameAllocator } from "../mem/frame-allocator.js";
import { type Fragmentation, GuestRam } from "../mem/guest-ram.js";
import { HostMemory } from "../mem/host-memory.js";
import type { Tracer } from "../trace/trace.js";
import type { VirtualClock } from "../util/clock.js";
import { type FaultPlan, Faults, type FaultsState } from "./faults.js";
import { CmdqvHardware, type CmdqvHwState } from "./hw/cmdqv-hw.js";
import { DEFAULT_HW_CONFIG, type HwConfig } from "./hw/types.js";
import { Dmesg, type DmesgEntry } from "./kernel/dmesg.js";
import {
  DEFAULT_HOST_SMMU,
  HostSmmu,
  type HostSmmuConfig,
  type HostSmmuStats,
} from "./kernel/host-smmu.js";
import { IOMMUFD_DRIVER_CORE, Iommufd, type IommufdState } from "./kernel/iommufd.js";
import type { LiveObject, UserMemory } from "./kernel/objects.js";
import { type DriverState, Tegra241Driver } from "./kernel/tegra241-driver.js";

export interface HostConfig {
  /** CMDQV silicon parameters (merged over DEFAULT_HW_CONFIG). */
  readonly hw: Partial<HwConfig>;
  /** Host PAGE_SIZE: pins, mmap granularity, the iommufd mmap offsets. */
  readonly hostPageSize: number;
  /** Host SMMU ID registers and options (merged over DEFAULT_HOST_SMMU). */
  readonly smmu: Partial<HostSmmuConfig>;
  readonly faultPlan: FaultPlan;
  /** Host-physical pool the kernel's DMA memory (the VINTF0 rings) comes from. */
  readonly kernelMemBase: number;
  readonly kernelMemSize: number;
  /** Where guest RAM pools start in host-physical space. */
  readonly guestPoolBase: number;
  /** Keep dev_dbg lines in hostDmesg(). */
  readonly dmesgDebug: boolean;
  /** Record the driver's MMIO accesses (host.driver.mmioTrace()). */
  readonly traceHostMmio: boolean;
  readonly tracer: Tracer | null;
}

export const DEFAULT_HOST_CONFIG: HostConfig = {
  hw: {},
  hostPageSize: 4096,
  smmu: {},
  faultPlan: { kind: "none" },
  kernelMemBase: 0x8000_0000,
  kernelMemSize: 0x1000_0000,
  guestPoolBase: 0x40_0000_0000,
  dmesgDebug: false,
  traceHostMmio: false,
  tracer: null,
};

export interface GuestRamRequest {
  readonly gpaBase: number;
  readonly size: number;
  readonly pageSize: number;
  readonly seed: number;
  readonly fragmentation?: Fragmentation;
}

export interface HostState {
  readonly t: number;
  readonly iommufd: IommufdState;
  readonly driver: DriverState;
  readonly smmu: { readonly vmids: readonly number[]; readonly stats: HostSmmuStats };
  readonly kernelMem: ReturnType<FrameAllocator["state"]>;
  readonly guestRam: readonly ReturnType<GuestRam["config"]>[];
  readonly hw: CmdqvHwState;
  readonly faults: FaultsState;
  readonly dmesg: readonly string[];
}

/** Every GuestRam of the VMM, as one user address space. */
class UserSpace implements UserMemory {
  readonly rams: GuestRam[] = [];
  hpaOf(gpa: number): number {
    for (const r of this.rams) {
      const h = r.hpaOf(gpa);
      if (h >= 0) return h;
    }
    return -1;
  }

  /** [gpa, gpa+len) is covered by guest RAM regions (possibly several adjacent ones). */
  backs(gpa: number, len: number): boolean {
    let cur = gpa;
    const end = gpa + len;
    while (cur < end) {
      const r = this.rams.find((x) => x.contains(cur, 1));
      if (r === undefined) return false;
      cur = Math.min(end, r.gpaBase + r.size);
    }
    return true;
  }
}

export class Host {
  readonly cfg: HostConfig;
  readonly clock: VirtualClock;
  readonly mem: HostMemory;
  readonly hw: CmdqvHardware;
  readonly faults: Faults;
  readonly smmu: HostSmmu;
  readonly kmem: FrameAllocator;
  readonly driver: Tegra241Driver;
  /** The VMM's iommufd file. */
  readonly iommufd: Iommufd;
  private readonly dmesg: Dmesg;
  private readonly user = new UserSpace();
  private nextPool: number;

  constructor(cfg: HostConfig, clock: VirtualClock) {
    this.cfg = cfg;
    this.clock = clock;
    this.mem = new HostMemory();
    this.hw = new CmdqvHardware(
      { ...DEFAULT_HW_CONFIG, ...cfg.hw },
      this.mem,
      this.clock,
      cfg.tracer ?? undefined,
    );
    this.clock.subscribe(this.hw);
    this.faults = new Faults(cfg.faultPlan);
    this.kmem = new FrameAllocator(this.mem, cfg.kernelMemBase, cfg.kernelMemSize);
    const effects = this.hw.effects;
    this.smmu = new HostSmmu({ ...DEFAULT_HOST_SMMU, ...cfg.smmu }, (w0, w1, w2, w3) =>
      effects.recordWords("main-cmdq", clock.now(), -1, -1, w0, w1, w2, w3),
    );
    this.dmesg = new Dmesg(this.clock, cfg.dmesgDebug);
    this.driver = new Tegra241Driver({
      hw: this.hw,
      mem: this.mem,
      clock: this.clock,
      faults: this.faults,
      dmesg: this.dmesg,
      kmem: this.kmem,
      smmu: this.smmu,
      pageSize: cfg.hostPageSize,
      traceMmio: cfg.traceHostMmio,
    });
    // The threaded ISR runs after the hardware's step in the same clock tick.
    this.clock.subscribe(this.driver);
    this.driver.attachCore(IOMMUFD_DRIVER_CORE);
    this.iommufd = this.openIommufd();
    this.nextPool = cfg.guestPoolBase;
  }

  /** open("/dev/iommu"): another iommufd file sharing the host and its guest RAM. */
  openIommufd(): Iommufd {
    return new Iommufd({
      hw: this.hw,
      driver: this.driver,
      smmu: this.smmu,
      faults: this.faults,
      clock: this.clock,
      pageSize: this.cfg.hostPageSize,
      user: this.user,
      tracer: this.cfg.tracer,
    });
  }

  /**
   * Bind a physical device with StreamID `sid` to the VMM's iommufd (VFIO cdev bind);
   * returns its dev_id. A failure here is a broken setup (a SID bound twice), so it throws.
   */
  bindDevice(sid: number, opts?: { canwbs?: boolean; numStreams?: number }): number {
    const r = this.iommufd.bindDevice({ sid, ...opts });
    if (!r.ok) throw new Error(`bindDevice(${sid}): errno ${r.error}`);
    return r.value.devId;
  }

  /** Guest RAM in a fresh host pool, registered as the kernel's user memory. */
  allocGuestRam(o: GuestRamRequest): GuestRam {
    const align = Math.max(o.pageSize, 0x4000_0000);
    const base = Math.ceil(this.nextPool / align) * align;
    const ram = new GuestRam({
      gpaBase: o.gpaBase,
      size: o.size,
      pageSize: o.pageSize,
      seed: o.seed,
      host: this.mem,
      hostPoolBase: base,
      ...(o.fragmentation !== undefined ? { fragmentation: o.fragmentation } : {}),
    });
    this.nextPool = base + o.size;
    this.user.rams.push(ram);
    return ram;
  }

  guestRams(): readonly GuestRam[] {
    return this.user.rams;
  }

  liveObjects(): LiveObject[] {
    return this.iommufd.liveObjects();
  }

  hostDmesg(): string[] {
    return this.dmesg.lines();
  }

  hostDmesgEntries(): readonly DmesgEntry[] {
    return this.dmesg.entries();
  }

  state(): HostState {
    return {
      t: this.clock.now(),
      iommufd: this.iommufd.state(),
      driver: this.driver.state(),
      smmu: { vmids: this.smmu.liveVmids(), stats: this.smmu.stats() },
      kernelMem: this.kmem.state(),
      guestRam: this.user.rams.map((r) => r.config()),
      hw: this.hw.state(),
      faults: this.faults.state(),
      dmesg: this.dmesg.lines(),
    };
  }
}

/**
 * The host on its own: kernel, CMDQV hardware and host memory on the given clock, with no
 * VMM or guest. The machine builds one for the model; `cmdqv host` serves one to QEMU.
 */
export function createHost(o: { readonly clock: VirtualClock } & Partial<HostConfig>): Host {
  const { clock, ...cfg } = o;
  return new Host({ ...DEFAULT_HOST_CONFIG, ...cfg }, clock);
}
