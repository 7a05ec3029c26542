// The part of the host the VMM device model talks to: exactly the iommufd calls QEMU's
// backends/iommufd.c wraps (spec qemu §1.2). The simulated kernel implements it; tests
// can substitute fakes (see fakes.ts). Errors are errno values, never exceptions.

import type {
  DeviceAttachArgs,
  HwInfoArgs,
  HwInfoOut,
  HwptAllocArgs,
  HwptAllocOut,
  HwptInvalidateArgs,
  HwptInvalidateError,
  HwptInvalidateOut,
  HwQueueAllocArgs,
  MmapArgs,
  VdeviceAllocArgs,
  VdeviceAllocOut,
  VeventqAllocArgs,
  ViommuAllocArgs,
  ViommuAllocOut,
} from "../host/kernel/uapi.js";
import type { MmioDevice } from "../mem/types.js";
import type { Result } from "../util/result.js";

/** A live mmap of a vIOMMU page (the host VINTF page0): loads and stores reach hardware. */
export interface MappingPort extends MmioDevice {
  unmap(): Result<undefined, number>;
}

/** The vEVENTQ file descriptor. */
export interface VeventqFdPort {
  /** read(2): whole records only; an empty array when nothing is queued (O_NONBLOCK). */
  read(bufLen: number): Result<Uint8Array, number>;
  /** poll(2) EPOLLIN: something is queued. */
  readable(): boolean;
  close(): void;
}

export interface IommufdPort {
  getHwInfo(a: HwInfoArgs): Result<HwInfoOut, number>;
  viommuAlloc(a: ViommuAllocArgs): Result<ViommuAllocOut, number>;
  veventqAlloc(
    a: VeventqAllocArgs,
  ): Result<{ readonly veventqId: number; readonly fd: VeventqFdPort }, number>;
  hwQueueAlloc(a: HwQueueAllocArgs): Result<{ readonly hwQueueId: number }, number>;
  destroy(id: number): Result<undefined, number>;
  mmap(a: MmapArgs): Result<MappingPort, number>;
  hwptInvalidate(a: HwptInvalidateArgs): Result<HwptInvalidateOut, HwptInvalidateError>;
  /** IOMMU_HWPT_ALLOC: the accel core's nested HWPTs on the vIOMMU (a vSTE as data). */
  hwptAlloc(a: HwptAllocArgs): Result<HwptAllocOut, number>;
  vdeviceAlloc(a: VdeviceAllocArgs): Result<VdeviceAllocOut, number>;
  /**
   * VFIO_DEVICE_ATTACH_IOMMUFD_PT on the VFIO device's fd (QEMU's
   * host_iommu_device_iommufd_attach_hwpt); the simulated host serves it on its iommufd.
   */
  attachDevice(a: DeviceAttachArgs): Result<undefined, number>;
}
