// The iommufd object model: one id space per iommufd file, objects with a `users`
// refcount, and the references each kind holds on the others (spec: linux §6.5).
//
// Ids come from an xarray with XA_FLAGS_ALLOC1 and xa_alloc(): the lowest free id from 1,
// so a destroyed object's id is handed out again (the kernel does the same). An id is
// reserved when the object is allocated and published only when the ioctl succeeds; an
// aborted ioctl frees it. A tombstone (a vDEVICE whose device was unbound first) keeps its
// id reserved but unreachable until the file is released (spec: linux §3.4).

import type { Clock } from "../../util/clock.js";
import type { Result } from "../../util/result.js";
import type { Faults } from "../faults.js";
import type { HostSmmu } from "./host-smmu.js";
import type { MmapTree } from "./mmap-tree.js";
import type { HwInfoTegra241 } from "./uapi.js";

export type ObjKind =
  | "ioas"
  | "hwpt_paging"
  | "hwpt_nested"
  | "viommu"
  | "vdevice"
  | "veventq"
  | "hw_queue"
  | "device";

/** One IOAS_MAP: an iopt_area. `numLocks` counts internal accesses (HW queues) pinning it. */
export interface IoptArea {
  readonly iova: number;
  readonly length: number;
  /** The "user VA" that backs it: a guest-physical address of the VMM's guest RAM. */
  readonly gpa: number;
  numAccesses: number;
  numLocks: number;
}

export interface IoasObj {
  readonly kind: "ioas";
  readonly id: number;
  users: number;
  /** Sorted by iova, non-overlapping. */
  readonly areas: IoptArea[];
  /** HWPTs whose domain is attached to this IOAS's io_pagetable (iopt_table_add_domain). */
  readonly domains: HwptPagingObj[];
}

export interface HwptPagingObj {
  readonly kind: "hwpt_paging";
  readonly id: number;
  users: number;
  readonly ioas: IoasObj;
  readonly nestParent: boolean;
  /** S2 VMID from the host SMMU's VMID space (0 when the domain is not stage 2). */
  readonly vmid: number;
}

/** A stage-1 HWPT on a vIOMMU: the guest's vSTE as the kernel sanitized it. */
export interface HwptNestedObj {
  readonly kind: "hwpt_nested";
  readonly id: number;
  users: number;
  readonly viommu: ViommuObj;
  readonly ste: readonly [bigint, bigint];
}

export interface DeviceObj {
  readonly kind: "device";
  readonly id: number;
  users: number;
  /** The physical StreamID (master->streams[0].id). */
  readonly sid: number;
  readonly numStreams: number;
  /** Fully coherent master (arm_smmu_master_canwbs). */
  readonly canwbs: boolean;
  vdev: VdeviceObj | null;
  /** The HWPT the device is attached to (it holds a users reference), or null. */
  hwpt: HwptPagingObj | HwptNestedObj | null;
  destroying: boolean;
}

/** Data passed to viommu_init (struct iommu_user_data). */
export interface UserData {
  readonly type: number;
  readonly len: number;
  /** The user buffer; what the driver copies out is written back here. */
  readonly bytes: Uint8Array;
}

/** struct iommufd_viommu_ops: which ops a vIOMMU has decides the core's errnos. */
export interface ViommuOps {
  readonly destroy?: (v: ViommuObj) => void;
  readonly cacheInvalidate?: true;
  /** ops->vdevice_size set (a driver-sized vDEVICE with a vdevice_init). */
  readonly vdeviceSize?: true;
  readonly vdeviceInit?: (vdev: VdeviceObj) => number;
  readonly getHwQueueSize?: (v: ViommuObj, type: number) => number;
  readonly hwQueueInitPhys?: (q: HwQueueObj, index: number, basePa: bigint) => number;
}

export interface ViommuObj {
  readonly kind: "viommu";
  readonly id: number;
  users: number;
  readonly type: number;
  readonly hwpt: HwptPagingObj;
  /** arm_vsmmu vmid = the nest parent's S2 VMID (spec: linux §3.3 step 4). */
  vmid: number;
  /** virt_id → vDEVICE (viommu->vdevs). */
  readonly vdevs: Map<bigint, VdeviceObj>;
  readonly veventqs: VeventqObj[];
  ops: ViommuOps | null;
  /** The iommufd file the vIOMMU lives in (its mmap tree). */
  readonly ctx: KernelCtx;
}

export interface VdeviceObj {
  readonly kind: "vdevice";
  readonly id: number;
  users: number;
  readonly viommu: ViommuObj;
  readonly dev: DeviceObj;
  readonly virtId: bigint;
  /** vdev->destroy, installed by the driver's vdevice_init on success. */
  destroy: ((v: VdeviceObj) => void) | null;
  /** Whether xa_cmpxchg put it in viommu.vdevs (so abort removes only what it added). */
  inVdevs: boolean;
}

export interface VeventqObj {
  readonly kind: "veventq";
  readonly id: number;
  users: number;
  readonly viommu: ViommuObj;
  readonly type: number;
  readonly depth: number;
  /** The deliver list, oldest first; the lost-events header may sit at the tail. */
  readonly deliver: Vevent[];
  numEvents: number;
  /** The next sequence number to hand out (0..INT_MAX, then 0). */
  sequence: number;
  readonly lostHeader: Vevent;
  /** The anon-inode file is open (it holds a users ref and a ref on the iommufd file). */
  fdOpen: boolean;
}

/** An internal iommufd_access pinning a HW queue's pages (spec: linux §3.5). */
export interface InternalAccess {
  readonly ioas: IoasObj;
  /** PAGE_ALIGN_DOWN(iova) and the page-rounded length that was pinned. */
  readonly iova: number;
  readonly length: number;
  readonly areas: IoptArea[];
}

export interface HwQueueObj {
  readonly kind: "hw_queue";
  readonly id: number;
  users: number;
  viommu: ViommuObj | null;
  readonly type: number;
  readonly index: number;
  baseAddr: bigint;
  length: bigint;
  access: InternalAccess | null;
  /** hw_queue->destroy, installed by the driver only on success. */
  destroy: ((q: HwQueueObj) => void) | null;
}

export type KernelObject =
  | IoasObj
  | HwptPagingObj
  | HwptNestedObj
  | DeviceObj
  | ViommuObj
  | VdeviceObj
  | VeventqObj
  | HwQueueObj;

type KindMap = {
  ioas: IoasObj;
  hwpt_paging: HwptPagingObj;
  hwpt_nested: HwptNestedObj;
  device: DeviceObj;
  viommu: ViommuObj;
  vdevice: VdeviceObj;
  veventq: VeventqObj;
  hw_queue: HwQueueObj;
};

/** One row of liveObjects(). */
export interface LiveObject {
  readonly id: number;
  readonly kind: ObjKind;
  readonly users: number;
}

/** xa_limit_31b: ids are 1..INT_MAX. */
const ID_MAX = 0x7fff_ffff;
const RESERVED = 0;
const TOMBSTONE = 1;
type Slot = KernelObject | typeof RESERVED | typeof TOMBSTONE;

/** The per-file object xarray. */
export class ObjectTable {
  private readonly slots = new Map<number, Slot>();
  /**
   * any()'s one-entry cache (the trapped main CMDQ looks its vIOMMU up once per command):
   * the id last found published, and its object. Every change to the table drops it.
   */
  private hitId = -1;
  private hitObj: KernelObject | undefined = undefined;

  /** xa_alloc(XA_ZERO_ENTRY): reserve the lowest free id, or 0 when the space is full. */
  reserve(): number {
    for (let id = 1; id <= ID_MAX; id++) {
      if (!this.slots.has(id)) {
        this.forgetHit();
        this.slots.set(id, RESERVED);
        return id;
      }
    }
    return 0;
  }

  /** iommufd_object_finalize: publish the object at its reserved id. */
  publish(obj: KernelObject): void {
    if (this.slots.get(obj.id) !== RESERVED) throw new Error(`publish: id ${obj.id} not reserved`);
    this.forgetHit();
    this.slots.set(obj.id, obj);
  }

  /** iommufd_object_abort: give the reserved id back. */
  unreserve(id: number): void {
    if (this.slots.get(id) !== RESERVED) throw new Error(`unreserve: id ${id} not reserved`);
    this.forgetHit();
    this.slots.delete(id);
  }

  /** xa_load + type check: a missing, reserved, tombstoned or other-kind id is undefined. */
  get<K extends ObjKind>(id: number, kind: K): KindMap[K] | undefined {
    const s = this.slots.get(id);
    if (s === undefined || typeof s === "number" || s.kind !== kind) return undefined;
    return s as KindMap[K];
  }

  /** Any published object at id. */
  any(id: number): KernelObject | undefined {
    if (id === this.hitId) return this.hitObj;
    const s = this.slots.get(id);
    if (s === undefined || typeof s === "number") return undefined;
    this.hitId = id;
    this.hitObj = s;
    return s;
  }

  private forgetHit(): void {
    this.hitId = -1;
    this.hitObj = undefined;
  }

  /** Remove a published object; with `tombstone` the id stays reserved. */
  erase(id: number, tombstone = false): void {
    this.forgetHit();
    if (tombstone) this.slots.set(id, TOMBSTONE);
    else this.slots.delete(id);
  }

  /** Published objects in id order (xa_for_each skips reserved entries and tombstones). */
  objects(): KernelObject[] {
    const out: KernelObject[] = [];
    for (const id of [...this.slots.keys()].sort((a, b) => a - b)) {
      const s = this.slots.get(id)!;
      if (typeof s !== "number") out.push(s);
    }
    return out;
  }

  /** Ids kept by tombstones. */
  tombstones(): number[] {
    return [...this.slots.entries()]
      .filter(([, s]) => s === TOMBSTONE)
      .map(([id]) => id)
      .sort((a, b) => a - b);
  }

  /** xa_destroy at release: forget everything, tombstones included. */
  clear(): void {
    this.forgetHit();
    this.slots.clear();
  }

  live(): LiveObject[] {
    return this.objects().map((o) => ({ id: o.id, kind: o.kind, users: o.users }));
  }
}

/** What every per-kind call needs: the file's state and the host services. */
export interface KernelCtx {
  readonly objs: ObjectTable;
  readonly faults: Faults;
  readonly clock: Clock;
  /** Host PAGE_SIZE (4 KiB by default). */
  readonly pageSize: number;
  readonly smmu: HostSmmu;
  readonly driver: IommuDriver;
  /** The per-file mmap maple tree (ictx->mt_mmap). */
  readonly mmaps: MmapTree<ViommuObj>;
  /** The "user address space" IOAS_MAP pins from: the VMM's guest RAM. */
  user: UserMemory | null;
}

/** struct iommufd_vevent. */
export interface Vevent {
  readonly flags: number;
  sequence: number;
  /** Event data; empty for the lost-events header. */
  readonly data: Uint8Array;
}

/** The kernel's view of the VMM's memory (GuestRam satisfies it). */
export interface UserMemory {
  /** Host-physical address backing `gpa`, or -1 when nothing backs it. */
  hpaOf(gpa: number): number;
  /** Optional fast path: true when every byte of [gpa, gpa+len) is backed. */
  backs?(gpa: number, len: number): boolean;
}

// The interface between the core and a vendor IOMMU driver, both ways, as Linux splits
// it: the core calls the driver's ops (hw_info, get_viommu_size, viommu_init) and the
// driver calls back into the core (iommufd's driver.c). The core never names a vendor
// type; the driver keeps its per-object state (VINTFs, SID slots, LVCMDQs) to itself.

/** What the core calls in the driver. */
export interface IommuDriver {
  /** ops->hw_info for a vendor input type: the driver's info block, or an errno. */
  hwInfo(inType: number): Result<HwInfoTegra241, number>;
  /** ops->get_viommu_size: non-zero for the vIOMMU types the driver backs itself. */
  getViommuSize(type: number): number;
  /** ops->viommu_init: 0 or a positive errno; on success it sets `viommu.ops`. */
  viommuInit(viommu: ViommuObj, userData: UserData | null): number;
  /** Index of the hardware interface backing a vIOMMU (a VINTF), or -1: for invariants. */
  viommuHwIndex(viommu: ViommuObj): number;
}

/** Core services the driver calls back into (iommufd's driver.c). */
export interface DriverCore {
  /** iommufd_viommu_alloc_mmap: the offset, or an errno. */
  allocMmap(owner: ViommuObj, mmioAddr: number, length: number): Result<number, number>;
  destroyMmap(owner: ViommuObj, offset: number): void;
  /** iommufd_viommu_report_event: 0 or a positive errno. */
  reportEvent(viommu: ViommuObj, type: number, data: Uint8Array): number;
}
