// One open /dev/iommu file: the ioctls a VMM makes, IOMMU_DESTROY, mmap, and release.
// Each call checks in the kernel's order and returns the kernel's errno as a value; each
// is recorded in the ioctl log. The per-kind work lives in ioas.ts, hwpt.ts, viommu.ts,
// vdevice.ts, veventq.ts, hw-queue.ts, invalidate.ts and mmap.ts (spec: linux §3, §6).
//
// File lifetime (spec: linux §6.5): the file is released when its last reference goes:
// the fd itself, every mmap VMA, every open vEVENTQ fd (iommufd_ctx_get) and every VFIO
// device bound to it (VFIO holds the iommufd file). Release destroys, pass after pass in
// id order, every object whose users count is 1, until none is left.

import type { MmioDevice } from "../../mem/types.js";
import type { Tracer } from "../../trace/trace.js";
import type { Clock } from "../../util/clock.js";
import { err, OK_VOID, ok, type Result } from "../../util/result.js";
import type { Faults } from "../faults.js";
import { deviceAttach, deviceDetach } from "./attach.js";
import { ERRNO } from "./errno.js";
import type { HostSmmu } from "./host-smmu.js";
import { hwQueueAlloc, hwQueueDestroy } from "./hw-queue.js";
import { hwptAlloc, hwptDestroy } from "./hwpt.js";
import { hwptNestedDestroy } from "./hwpt-nested.js";
import { hwptInvalidate } from "./invalidate.js";
import {
  type IovaRangesError,
  ioasAlloc,
  ioasAreas,
  ioasChangeProcess,
  ioasDestroy,
  ioasIovaRanges,
  ioasMap,
  ioasUnmap,
} from "./ioas.js";
import { IoctlLog, type IoctlLogEntry } from "./ioctl-log.js";
import { type Mapping, mmapRegion } from "./mmap.js";
import { MmapTree } from "./mmap-tree.js";
import {
  type DeviceObj,
  type DriverCore,
  type IommuDriver,
  type KernelCtx,
  type KernelObject,
  type LiveObject,
  ObjectTable,
  type UserMemory,
} from "./objects.js";
import {
  type DeviceAttachArgs,
  HW_INFO_FLAG_INPUT_TYPE,
  HW_INFO_TYPE,
  type HwInfoArgs,
  type HwInfoArmSmmuv3,
  type HwInfoOut,
  type HwInfoTegra241,
  type HwptAllocArgs,
  type HwptAllocOut,
  type HwptInvalidateArgs,
  type HwptInvalidateError,
  type HwptInvalidateOut,
  type HwQueueAllocArgs,
  type HwQueueAllocOut,
  INVALIDATE_ENTRY_WORDS,
  IOAS_MAP_FLAG,
  type IoasAllocOut,
  type IoasIovaRangesArgs,
  type IoasIovaRangesOut,
  type IoasMapArgs,
  type IoasMapFileArgs,
  type IoasMapOut,
  type IoasUnmapArgs,
  type IoasUnmapOut,
  type IoctlName,
  invalidateEntry,
  type MmapArgs,
  STRUCT_SIZE,
  type VdeviceAllocArgs,
  type VdeviceAllocOut,
  type VeventqAllocArgs,
  type ViommuAllocArgs,
  type ViommuAllocOut,
} from "./uapi.js";
import { vdeviceAlloc, vdeviceDestroy } from "./vdevice.js";
import {
  reportEvent,
  type VeventqAllocOut,
  type VeventqFd,
  type VeventqFdHooks,
  veventqAlloc,
  veventqDestroy,
} from "./veventq.js";
import { viommuAlloc, viommuDestroy } from "./viommu.js";

/** The CMDQV aperture as the iommufd file maps it. */
export interface MmioAperture extends MmioDevice {
  readonly basePhys: number;
}

export interface IommufdDeps {
  readonly hw: MmioAperture;
  readonly driver: IommuDriver;
  readonly smmu: HostSmmu;
  readonly faults: Faults;
  readonly clock: Clock;
  /** Host PAGE_SIZE. */
  readonly pageSize: number;
  readonly user?: UserMemory | null;
  readonly tracer?: Tracer | null;
}

/** VFIO cdev bind of a physical device (one StreamID by default). */
export interface BindDeviceArgs {
  readonly sid: number;
  /** arm_smmu_master_canwbs: a fully coherent master (default true). */
  readonly canwbs?: boolean;
  /** master->num_streams (default 1). */
  readonly numStreams?: number;
}

export interface CloseOut {
  /** False while a VMA, a vEVENTQ fd or a bound device still holds the file. */
  readonly released: boolean;
  readonly fileRefs: number;
}

export interface IommufdState {
  readonly closed: boolean;
  readonly released: boolean;
  readonly fileRefs: number;
  readonly objects: readonly LiveObject[];
  readonly tombstones: readonly number[];
  readonly ioas: readonly {
    readonly id: number;
    readonly areas: readonly { iova: number; length: number; gpa: number; locks: number }[];
  }[];
  readonly mmaps: readonly {
    readonly offset: number;
    readonly length: number;
    readonly mmioAddr: number;
    readonly owner: number;
  }[];
  readonly vmas: number;
  readonly openVeventqFds: number;
  readonly veventqs: readonly {
    readonly id: number;
    readonly viommu: number;
    readonly type: number;
    readonly depth: number;
    readonly numEvents: number;
    readonly sequence: number;
    readonly queued: number;
    readonly fdOpen: boolean;
  }[];
}

/** The core side of the driver interface (iommufd's driver.c); stateless per file. */
export const IOMMUFD_DRIVER_CORE: DriverCore = {
  allocMmap(owner, mmioAddr, length) {
    const ctx = owner.ctx;
    if (mmioAddr % ctx.pageSize !== 0 || length % ctx.pageSize !== 0) return err(ERRNO.EINVAL);
    if (ctx.faults.check("viommu_alloc:mmap_alloc")) return err(ERRNO.ENOMEM);
    return ctx.mmaps.alloc(owner, mmioAddr, length);
  },
  destroyMmap(owner, offset) {
    owner.ctx.mmaps.erase(owner, offset);
  },
  reportEvent(viommu, type, data) {
    return reportEvent(viommu.ctx.faults, viommu, type, data);
  },
};

/** Serialise the type-specific hw_info struct as the kernel lays it out (§6.3). */
function hwInfoBytes(data: HwInfoTegra241 | HwInfoArmSmmuv3): Uint8Array {
  if ("idr" in data) {
    const b = new Uint8Array(40);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, data.flags, true);
    for (let i = 0; i < 6; i++) dv.setUint32(8 + 4 * i, data.idr[i] ?? 0, true);
    dv.setUint32(32, data.iidr, true);
    dv.setUint32(36, data.aidr, true);
    return b;
  }
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, data.flags, true);
  b[4] = data.version;
  b[5] = data.log2vcmdqs;
  b[6] = data.log2vsids;
  return b;
}

const u32 = (x: number): boolean => x >>> 0 === x;

/** The commands of one IOMMU_HWPT_INVALIDATE the ioctl log keeps (the count of the rest too). */
export const LOGGED_INVALIDATE_ENTRIES = 64;

const ALL_MAP_FLAGS = IOAS_MAP_FLAG.FIXED_IOVA | IOAS_MAP_FLAG.WRITEABLE | IOAS_MAP_FLAG.READABLE;

export class Iommufd {
  private readonly ctx: KernelCtx;
  private readonly hw: MmioAperture;
  /** Every call on this file, in order. */
  readonly log: IoctlLog;
  private fileRefs = 1;
  private closed = false;
  private released = false;
  private readonly vmas = new Set<Mapping>();
  private readonly fds = new Set<VeventqFd>();
  private readonly fdHooks: VeventqFdHooks;

  constructor(deps: IommufdDeps) {
    this.hw = deps.hw;
    this.ctx = {
      objs: new ObjectTable(),
      faults: deps.faults,
      clock: deps.clock,
      pageSize: deps.pageSize,
      smmu: deps.smmu,
      driver: deps.driver,
      mmaps: new MmapTree(deps.pageSize),
      user: deps.user ?? null,
    };
    this.log = new IoctlLog(deps.clock, deps.tracer ?? null);
    this.fdHooks = {
      onOpen: (fd) => {
        this.fds.add(fd);
        this.fileRefs++;
      },
      onRead: (fd, bufLen, r) => {
        this.log.record(
          "read(veventq)",
          { veventqId: fd.veventqId, bufLen },
          r.ok ? ok({ bytes: r.value.length }) : r,
        );
      },
      onClose: (fd, byUser) => {
        this.fds.delete(fd);
        if (byUser) this.log.record("close(veventq)", { veventqId: fd.veventqId }, OK_VOID);
        this.putFile();
      },
    };
  }

  /** The kernel's user address space: the VMM's guest RAM (GuestRam satisfies it). */
  setUserMemory(user: UserMemory | null): void {
    this.ctx.user = user;
  }

  // ---- dispatch ----------------------------------------------------------------------

  private call<T>(
    name: IoctlName | "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
    args: unknown,
    size: number | undefined,
    sz: { readonly min: number } | null,
    fn: () => Result<T, number>,
  ): Result<T, number> {
    let r: Result<T, number>;
    if (this.closed) r = err(ERRNO.EBADF);
    else if (sz !== null && size !== undefined && size < sz.min) r = err(ERRNO.EINVAL);
    else r = fn();
    this.log.record(name, args, r);
    return r;
  }

  // ---- VFIO side ---------------------------------------------------------------------

  /**
   * VFIO_DEVICE_BIND_IOMMUFD (iommufd_device_bind) for a physical device with StreamID
   * `sid`: a device object, held by VFIO (users 2), which also holds this file.
   */
  bindDevice(a: BindDeviceArgs): Result<{ readonly devId: number }, number> {
    let r: Result<{ readonly devId: number }, number>;
    const sid = a.sid;
    if (this.closed) r = err(ERRNO.EBADF);
    else if (!Number.isInteger(sid) || sid < 0 || sid > 0xffff_ffff) r = err(ERRNO.EINVAL);
    else if (this.ctx.objs.objects().some((o) => o.kind === "device" && o.sid === sid))
      // cdev supports a single open of a device [inf: vfio_df_open].
      r = err(ERRNO.EINVAL);
    else {
      const id = this.ctx.objs.reserve();
      const dev: DeviceObj = {
        kind: "device",
        id,
        users: 2,
        sid,
        numStreams: a.numStreams ?? 1,
        canwbs: a.canwbs ?? true,
        vdev: null,
        hwpt: null,
        destroying: false,
      };
      this.ctx.objs.publish(dev);
      this.fileRefs++;
      r = ok({ devId: id });
    }
    this.log.record("VFIO_DEVICE_BIND_IOMMUFD", a, r);
    return r;
  }

  /**
   * Closing the VFIO device (iommufd_device_unbind): a live vDEVICE is destroyed and left
   * as a tombstone (IOMMU_DESTROY on its id is then ENOENT), then the device object goes.
   */
  unbindDevice(devId: number): Result<undefined, number> {
    let r: Result<undefined, number> = OK_VOID;
    const dev = this.ctx.objs.get(devId, "device");
    if (!dev) r = err(ERRNO.ENOENT);
    else {
      dev.destroying = true;
      deviceDetach(dev);
      const vdev = dev.vdev;
      if (vdev !== null) {
        this.ctx.objs.erase(vdev.id, true);
        vdeviceDestroy(vdev);
      }
      this.ctx.objs.erase(dev.id);
      dev.users = 0;
    }
    this.log.record("close(vfio-device)", { devId }, r);
    if (r.ok) this.putFile();
    return r;
  }

  /** VFIO_DEVICE_ATTACH_IOMMUFD_PT (iommufd_device_attach or _replace). */
  attachDevice(a: DeviceAttachArgs): Result<undefined, number> {
    return this.call("VFIO_DEVICE_ATTACH_IOMMUFD_PT", a, undefined, null, () => {
      const dev = this.ctx.objs.get(a.devId, "device");
      if (!dev) return err(ERRNO.ENOENT);
      return deviceAttach(this.ctx, dev, a.ptId);
    });
  }

  // ---- ioctls ------------------------------------------------------------------------

  ioasAlloc(): Result<IoasAllocOut, number> {
    return this.call("IOMMU_IOAS_ALLOC", {}, undefined, null, () => {
      const r = ioasAlloc(this.ctx);
      if (r.ok && this.ctx.faults.check("ioas_alloc:copy_to_user")) {
        this.removeObject(r.value.ioasId);
        return err(ERRNO.EFAULT);
      }
      return r;
    });
  }

  ioasMap(a: IoasMapArgs): Result<IoasMapOut, number> {
    return this.call("IOMMU_IOAS_MAP", a, undefined, null, () => ioasMap(this.ctx, a));
  }

  /**
   * IOMMU_IOAS_MAP_FILE: the same checks and pinning as IOAS_MAP, over a memfd the host
   * registered as user memory at `fileBase`. Not a memfd (fileBase < 0): EBADF [I: the
   * kernel's fget fails for a bad fd and memfd_pin_folios refuses other files].
   */
  ioasMapFile(a: IoasMapFileArgs): Result<IoasMapOut, number> {
    return this.call("IOMMU_IOAS_MAP_FILE", a, undefined, null, () => {
      if (a.fileBase < 0) return err(ERRNO.EBADF);
      if ((a.flags & ~ALL_MAP_FLAGS) !== 0) return err(ERRNO.EOPNOTSUPP);
      // The model places mappings only at a fixed IOVA (what a VMM mapping guest RAM does).
      if ((a.flags & IOAS_MAP_FLAG.FIXED_IOVA) === 0) return err(ERRNO.EOPNOTSUPP);
      if (a.start + a.length > a.fileSize) return err(ERRNO.EINVAL);
      return ioasMap(this.ctx, {
        ioasId: a.ioasId,
        iova: a.iova,
        length: a.length,
        gpa: a.fileBase + a.start,
      });
    });
  }

  /** IOMMU_IOAS_IOVA_RANGES: EMSGSIZE (with the count) when the caller's array is short. */
  ioasIovaRanges(a: IoasIovaRangesArgs): Result<IoasIovaRangesOut, IovaRangesError> {
    let r: Result<IoasIovaRangesOut, IovaRangesError>;
    if (this.closed) r = err({ errno: ERRNO.EBADF, numIovas: 0 });
    else r = ioasIovaRanges(this.ctx, a);
    this.log.record("IOMMU_IOAS_IOVA_RANGES", a, r);
    return r;
  }

  /** IOMMU_IOAS_CHANGE_PROCESS: re-account pins to the caller's mm; only file pins move. */
  ioasChangeProcess(): Result<undefined, number> {
    return this.call("IOMMU_IOAS_CHANGE_PROCESS", {}, undefined, null, () =>
      ioasChangeProcess(this.ctx),
    );
  }

  ioasUnmap(a: IoasUnmapArgs): Result<IoasUnmapOut, number> {
    return this.call("IOMMU_IOAS_UNMAP", a, undefined, null, () => ioasUnmap(this.ctx, a));
  }

  /** IOMMU_GET_HW_INFO (iommufd_get_hw_info + arm_smmu_hw_info / the impl's hw_info). */
  getHwInfo(a: HwInfoArgs): Result<HwInfoOut, number> {
    return this.call("IOMMU_GET_HW_INFO", a, a.size, STRUCT_SIZE.hw_info, () => {
      if ((a.flags & ~HW_INFO_FLAG_INPUT_TYPE) !== 0) return err(ERRNO.EOPNOTSUPP);
      // "Clear the type field since drivers don't support a random input".
      const inType = (a.flags & HW_INFO_FLAG_INPUT_TYPE) !== 0 ? a.inDataType : HW_INFO_TYPE.NONE;
      const dev = this.ctx.objs.get(a.devId, "device");
      if (!dev) return err(ERRNO.ENOENT);
      let data: HwInfoTegra241 | HwInfoArmSmmuv3;
      let outType: number;
      if (inType !== HW_INFO_TYPE.NONE && inType !== HW_INFO_TYPE.ARM_SMMUV3) {
        const t = this.ctx.driver.hwInfo(inType);
        if (!t.ok) return t;
        data = t.value;
        outType = HW_INFO_TYPE.TEGRA241_CMDQV;
      } else {
        const s = this.ctx.smmu.cfg;
        data = { flags: 0, idr: [...s.idr], iidr: s.iidr, aidr: s.aidr };
        outType = HW_INFO_TYPE.ARM_SMMUV3;
      }
      const raw = hwInfoBytes(data);
      const want = Math.max(0, a.dataLen >>> 0);
      if (this.ctx.faults.check("get_hw_info:copy_to_user")) return err(ERRNO.EFAULT);
      const bytes = new Uint8Array(want);
      bytes.set(raw.subarray(0, Math.min(want, raw.length)));
      // IOMMU_HW_CAP_DIRTY_TRACKING: arm_smmu_dbm_capable = HTTU HA+HD and COHACC.
      const idr0 = this.ctx.smmu.cfg.idr[0] >>> 0;
      const dirty = ((idr0 >>> 6) & 3) === 2 && (idr0 & (1 << 4)) !== 0;
      return ok({
        outDataType: outType,
        dataLen: raw.length,
        data,
        outCapabilities: dirty ? 1n : 0n,
        outMaxPasidLog2: 0,
        bytes,
      });
    });
  }

  hwptAlloc(a: HwptAllocArgs): Result<HwptAllocOut, number> {
    return this.call("IOMMU_HWPT_ALLOC", a, a.size, STRUCT_SIZE.hwpt_alloc, () => {
      const r = hwptAlloc(this.ctx, a);
      if (r.ok && this.ctx.faults.check("hwpt_alloc:copy_to_user")) {
        this.removeObject(r.value.hwptId);
        return err(ERRNO.EFAULT);
      }
      return r;
    });
  }

  viommuAlloc(a: ViommuAllocArgs): Result<ViommuAllocOut, number> {
    return this.call("IOMMU_VIOMMU_ALLOC", a, a.size, STRUCT_SIZE.viommu_alloc, () =>
      viommuAlloc(this.ctx, a),
    );
  }

  vdeviceAlloc(a: VdeviceAllocArgs): Result<VdeviceAllocOut, number> {
    return this.call("IOMMU_VDEVICE_ALLOC", a, a.size, STRUCT_SIZE.vdevice_alloc, () =>
      vdeviceAlloc(this.ctx, a),
    );
  }

  veventqAlloc(a: VeventqAllocArgs): Result<VeventqAllocOut, number> {
    return this.call("IOMMU_VEVENTQ_ALLOC", a, a.size, STRUCT_SIZE.veventq_alloc, () =>
      veventqAlloc(this.ctx, a, this.fdHooks),
    );
  }

  hwQueueAlloc(a: HwQueueAllocArgs): Result<HwQueueAllocOut, number> {
    return this.call("IOMMU_HW_QUEUE_ALLOC", a, a.size, STRUCT_SIZE.hw_queue_alloc, () =>
      hwQueueAlloc(this.ctx, a),
    );
  }

  /** IOMMU_HWPT_INVALIDATE: on failure the error still carries entry_num. */
  hwptInvalidate(a: HwptInvalidateArgs): Result<HwptInvalidateOut, HwptInvalidateError> {
    let r: Result<HwptInvalidateOut, HwptInvalidateError>;
    const min = STRUCT_SIZE.hwpt_invalidate.min;
    if (this.closed) r = err({ errno: ERRNO.EBADF, entryNum: 0 });
    else if (a.size !== undefined && a.size < min) r = err({ errno: ERRNO.EINVAL, entryNum: 0 });
    else r = hwptInvalidate(this.ctx, a);
    // The log keeps its calls for a long run: a call's own size must be bounded too, or
    // each large batch would pin its commands (100+ bytes of JS apiece) until trimmed.
    // The caller may reuse its arguments (the trapped main CMDQ does, one entry a call):
    // a single entry goes into the log's columns, more are copied.
    const w = a.words;
    const n = w.length / INVALIDATE_ENTRY_WORDS;
    if (n === 1 && u32(a.hwptId) && u32(a.dataType) && u32(a.entryLen) && u32(a.size ?? 0)) {
      this.log.recordInvalidate1(
        a.size,
        a.hwptId,
        a.dataType,
        a.entryLen,
        w,
        r.ok ? 0 : r.error.errno,
        r.ok ? r.value.entryNum : r.error.entryNum,
      );
      return r;
    }
    const kept: (readonly [bigint, bigint])[] = [];
    for (let i = 0; i < Math.min(n, LOGGED_INVALIDATE_ENTRIES); i++)
      kept.push(invalidateEntry(w, i));
    const logged = {
      ...(a.size !== undefined ? { size: a.size } : {}),
      hwptId: a.hwptId,
      dataType: a.dataType,
      entryLen: a.entryLen,
      entries: kept,
      ...(n > LOGGED_INVALIDATE_ENTRIES ? { entriesNotLogged: n - LOGGED_INVALIDATE_ENTRIES } : {}),
    };
    this.log.record("IOMMU_HWPT_INVALIDATE", logged, r);
    return r;
  }

  /** IOMMU_DESTROY (iommufd_object_remove): only when users can drop from 1 to 0. */
  destroy(id: number): Result<undefined, number> {
    return this.call("IOMMU_DESTROY", { id }, undefined, null, () => {
      const obj = this.ctx.objs.any(id);
      if (!obj) return err(ERRNO.ENOENT);
      if (obj.users !== 1) return err(ERRNO.EBUSY);
      this.removeObject(id);
      return OK_VOID;
    });
  }

  /** mmap(2) of a registered region (the VINTF page0 of a Tegra241 vIOMMU). */
  mmap(a: MmapArgs): Result<Mapping, number> {
    let r: Result<Mapping, number>;
    if (this.closed) r = err(ERRNO.EBADF);
    else
      r = mmapRegion(this.ctx, this.hw, this.hw.basePhys, a, (m) => {
        this.vmas.delete(m);
        this.log.record("munmap", { offset: m.offset, length: m.length }, OK_VOID);
        this.putFile();
      });
    if (r.ok) {
      this.vmas.add(r.value);
      this.fileRefs++;
    }
    this.log.record("mmap", a, r.ok ? ok({ offset: r.value.offset, length: r.value.length }) : r);
    return r;
  }

  /**
   * close(2) of the iommufd fd. The release (fops_release) runs now only if nothing else
   * holds the file; otherwise it runs when the last VMA is unmapped, vEVENTQ fd closed or
   * device unbound. Further ioctls on this fd are EBADF.
   */
  close(): Result<CloseOut, number> {
    if (this.closed) {
      const r = err(ERRNO.EBADF);
      this.log.record("close", {}, r);
      return r;
    }
    this.closed = true;
    // The release (logged as "release") runs as the last reference goes: after "close".
    const refs = this.fileRefs - 1;
    const r = ok({ released: refs === 0, fileRefs: refs });
    this.log.record("close", {}, r);
    this.putFile();
    return r;
  }

  // ---- object lifetime ---------------------------------------------------------------

  /** Erase a published object and run its destroy op (users already known to be 1). */
  private removeObject(id: number): void {
    const obj = this.ctx.objs.any(id);
    if (!obj) return;
    this.ctx.objs.erase(id);
    obj.users = 0;
    this.destroyOp(obj);
  }

  private destroyOp(obj: KernelObject): void {
    switch (obj.kind) {
      case "ioas":
        ioasDestroy(obj);
        break;
      case "hwpt_paging":
        hwptDestroy(this.ctx, obj);
        break;
      case "hwpt_nested":
        hwptNestedDestroy(obj);
        break;
      case "viommu":
        viommuDestroy(obj);
        break;
      case "vdevice":
        vdeviceDestroy(obj);
        break;
      case "veventq":
        veventqDestroy(obj);
        break;
      case "hw_queue":
        hwQueueDestroy(obj);
        break;
      case "device":
        break;
    }
  }

  private putFile(): void {
    this.fileRefs--;
    if (this.fileRefs === 0 && !this.released) this.release();
  }

  /** iommufd_fops_release: destroy leaves (users == 1) pass by pass, in id order. */
  private release(): void {
    const order: { id: number; kind: string }[] = [];
    for (;;) {
      const objs = this.ctx.objs.objects();
      if (objs.length === 0) break;
      let destroyed = 0;
      for (const o of objs) {
        if (o.users !== 1) continue;
        destroyed++;
        order.push({ id: o.id, kind: o.kind });
        this.removeObject(o.id);
      }
      // A refcount bug would leave objects behind (the kernel WARNs and gives up).
      if (destroyed === 0) break;
    }
    const leaked = this.ctx.objs.live();
    this.ctx.objs.clear();
    this.ctx.mmaps.clear();
    this.released = true;
    this.log.record("release", {}, ok({ destroyed: order, leaked }));
  }

  // ---- introspection -----------------------------------------------------------------

  get isClosed(): boolean {
    return this.closed;
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** Published objects in id order with their users counts. */
  liveObjects(): LiveObject[] {
    return this.ctx.objs.live();
  }

  /**
   * What isolation means for a vIOMMU: its VMID, its VINTF index (−1 without one) and the
   * physical SIDs of its vDEVICEs (for checkers).
   */
  viommuInfo(id: number): { vmid: number; vintf: number; physSids: number[] } | undefined {
    for (const o of this.ctx.objs.objects()) {
      if (o.kind !== "viommu" || o.id !== id) continue;
      const physSids: number[] = [];
      for (const v of o.vdevs.values()) physSids.push(v.dev.sid);
      return { vmid: o.vmid, vintf: this.ctx.driver.viommuHwIndex(o), physSids };
    }
    return undefined;
  }

  /** Live HW queues with their vIOMMU, index, base IOVA and length (for checkers). */
  hwQueues(): { id: number; viommu: number; index: number; iova: number; length: number }[] {
    const out: { id: number; viommu: number; index: number; iova: number; length: number }[] = [];
    for (const o of this.ctx.objs.objects()) {
      if (o.kind !== "hw_queue") continue;
      out.push({
        id: o.id,
        viommu: o.viommu?.id ?? 0,
        index: o.index,
        iova: Number(o.baseAddr),
        length: Number(o.length),
      });
    }
    return out;
  }

  /** IOAS ranges pinned by HW queues: [{ioas, iova, length, locks}]. */
  pins(): { ioas: number; iova: number; length: number; locks: number }[] {
    const out: { ioas: number; iova: number; length: number; locks: number }[] = [];
    for (const o of this.ctx.objs.objects()) {
      if (o.kind !== "ioas") continue;
      for (const a of o.areas)
        if (a.numLocks > 0)
          out.push({ ioas: o.id, iova: a.iova, length: a.length, locks: a.numLocks });
    }
    return out;
  }

  /**
   * The user address an IOVA of a HW queue's vIOMMU resolves to through its IOAS mappings
   * (the memfd offset behind a ring, for a host that shares RAM with a real VMM), or −1.
   */
  userAddressOf(iova: number): number {
    for (const o of this.ctx.objs.objects()) {
      if (o.kind !== "ioas") continue;
      for (const a of o.areas)
        if (iova >= a.iova && iova < a.iova + a.length) return a.gpa + (iova - a.iova);
    }
    return -1;
  }

  ioctlLog(): readonly IoctlLogEntry[] {
    return this.log.entries();
  }

  condensedLog(): string[] {
    return this.log.condensed();
  }

  state(): IommufdState {
    const objs = this.ctx.objs.objects();
    return {
      closed: this.closed,
      released: this.released,
      fileRefs: this.fileRefs,
      objects: this.ctx.objs.live(),
      tombstones: this.ctx.objs.tombstones(),
      ioas: objs.flatMap((o) => (o.kind === "ioas" ? [{ id: o.id, areas: ioasAreas(o) }] : [])),
      mmaps: this.ctx.mmaps.list().map((m) => ({
        offset: m.offset,
        length: m.length,
        mmioAddr: m.mmioAddr,
        owner: m.owner.id,
      })),
      vmas: this.vmas.size,
      openVeventqFds: this.fds.size,
      veventqs: objs.flatMap((o) =>
        o.kind === "veventq"
          ? [
              {
                id: o.id,
                viommu: o.viommu.id,
                type: o.type,
                depth: o.depth,
                numEvents: o.numEvents,
                sequence: o.sequence,
                queued: o.deliver.length,
                fdOpen: o.fdOpen,
              },
            ]
          : [],
      ),
    };
  }
}
