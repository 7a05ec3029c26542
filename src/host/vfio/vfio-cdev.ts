// A VFIO cdev device file (/dev/vfio/devices/vfioN) for one physical PCI function with
// one StreamID, bound to the simulated iommufd: the ioctls QEMU's vfio-pci makes with an
// iommufd backend, and pread/pwrite of its config region. Nothing but BIND works before
// the device is bound (access_granted). Region offsets are index << 40.
//
// facts: include/uapi/linux/vfio.h (VFIO_TYPE ';', VFIO_BASE 100; struct layouts and
//   minimum sizes below; VFIO_PCI_NUM_REGIONS 9, VFIO_PCI_NUM_IRQS 5, config index 7);
//   drivers/vfio/device_cdev.c (bind: flags other than TOKEN EINVAL, a second bind EINVAL;
//   attach/detach), drivers/vfio/vfio_main.c (ioctls before bind EINVAL), drivers/vfio/
//   pci/vfio_pci_core.c (info, region and irq info, reset, features: unknown ENOTTY).

import { ERRNO } from "../kernel/errno.js";
import type { Iommufd } from "../kernel/iommufd.js";
import {
  copyFromUser,
  copyToUser,
  failed,
  OK_RETURN,
  StructView,
  type Syscall,
  type SyscallReturn,
  type UserAnswer,
  type UserRequest,
} from "../kernel/user-copy.js";
import { PCI_CONFIG_SIZE, PciConfig } from "./pci-config.js";

const BASE = 0x3b00 + 100;
export const VFIO_IOCTL = {
  VFIO_DEVICE_GET_INFO: BASE + 7,
  VFIO_DEVICE_GET_REGION_INFO: BASE + 8,
  VFIO_DEVICE_GET_IRQ_INFO: BASE + 9,
  VFIO_DEVICE_SET_IRQS: BASE + 10,
  VFIO_DEVICE_RESET: BASE + 11,
  VFIO_DEVICE_FEATURE: BASE + 17,
  VFIO_DEVICE_BIND_IOMMUFD: BASE + 18,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT: BASE + 19,
  VFIO_DEVICE_DETACH_IOMMUFD_PT: BASE + 20,
} as const;

const DEVICE_FLAGS = { RESET: 1 << 0, PCI: 1 << 1, CDEV: 1 << 9 } as const;
const REGION_FLAGS = { READ: 1, WRITE: 2 } as const;
const NUM_REGIONS = 9;
const NUM_IRQS = 5;
export const CONFIG_REGION_INDEX = 7;
const REGION_SHIFT = 40n;
const BIND_FLAG_TOKEN = 1;
const ATTACH_FLAG_PASID = 1;

/** The name of a VFIO ioctl number, for logs. */
export function vfioIoctlName(req: number): string {
  for (const [name, n] of Object.entries(VFIO_IOCTL)) if (n === req) return name;
  return `0x${req.toString(16)}`;
}

/** Which of the caller's descriptors is which iommufd (VFIO_DEVICE_BIND_IOMMUFD takes an fd). */
export type IommufdLookup = (fd: number) => Iommufd | null;

export class VfioCdev {
  readonly sid: number;
  readonly config = new PciConfig();
  private bound: { k: Iommufd; devId: number } | null = null;
  private resets = 0;

  constructor(sid: number) {
    this.sid = sid;
  }

  get devId(): number {
    return this.bound?.devId ?? 0;
  }

  get resetCount(): number {
    return this.resets;
  }

  /** ioctl(device, req, arg). */
  *ioctl(req: number, arg: bigint, iommufds: IommufdLookup): Syscall {
    const r = req >>> 0;
    if (r === VFIO_IOCTL.VFIO_DEVICE_BIND_IOMMUFD) return yield* this.bind(arg, iommufds);
    // vfio_device_fops_unl_ioctl: nothing else before the bind granted access.
    if (this.bound === null) return failed(ERRNO.EINVAL);
    switch (r) {
      case VFIO_IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT:
        return yield* this.attach(arg);
      case VFIO_IOCTL.VFIO_DEVICE_DETACH_IOMMUFD_PT:
        return yield* this.detach(arg);
      case VFIO_IOCTL.VFIO_DEVICE_GET_INFO:
        return yield* this.info(arg);
      case VFIO_IOCTL.VFIO_DEVICE_GET_REGION_INFO:
        return yield* this.regionInfo(arg);
      case VFIO_IOCTL.VFIO_DEVICE_GET_IRQ_INFO:
        return yield* this.irqInfo(arg);
      case VFIO_IOCTL.VFIO_DEVICE_SET_IRQS:
        // No interrupt has a count, so there is nothing to wire: EINVAL, as for any index
        // or count past what GET_IRQ_INFO reported.
        return failed(ERRNO.EINVAL);
      case VFIO_IOCTL.VFIO_DEVICE_RESET:
        this.resets++;
        return OK_RETURN;
      case VFIO_IOCTL.VFIO_DEVICE_FEATURE:
        // No feature (migration, low-power, ...) is offered.
        return failed(ERRNO.ENOTTY);
      default:
        return failed(ERRNO.ENOTTY);
    }
  }

  /** pread(device, len, offset): the config region only; others have no bytes. */
  pread(offset: bigint, len: number): Uint8Array | number {
    if (this.bound === null) return -ERRNO.EINVAL;
    const index = Number(offset >> REGION_SHIFT);
    const inside = Number(offset & ((1n << REGION_SHIFT) - 1n));
    if (index !== CONFIG_REGION_INDEX) return -ERRNO.EINVAL;
    return this.config.read(inside, Math.min(len, PCI_CONFIG_SIZE));
  }

  /** pwrite(device, bytes, offset): bytes accepted, or −errno. */
  pwrite(offset: bigint, data: Uint8Array): number {
    if (this.bound === null) return -ERRNO.EINVAL;
    const index = Number(offset >> REGION_SHIFT);
    const inside = Number(offset & ((1n << REGION_SHIFT) - 1n));
    if (index !== CONFIG_REGION_INDEX) return -ERRNO.EINVAL;
    return this.config.write(inside, data);
  }

  /** close(device): the cdev unbinds from iommufd. */
  close(): void {
    if (this.bound === null) return;
    this.bound.k.unbindDevice(this.bound.devId);
    this.bound = null;
  }

  /** Read a struct whose first u32 is argsz, at least `min` bytes, at most `size`. */
  private *argsz(
    arg: bigint,
    min: number,
    size: number,
  ): Generator<UserRequest, StructView | SyscallReturn, UserAnswer> {
    const head = yield* copyFromUser(arg, 4);
    if (head === null) return failed(ERRNO.EFAULT);
    const argsz = new StructView(head).u32(0);
    if (argsz < min) return failed(ERRNO.EINVAL);
    const raw = yield* copyFromUser(arg, Math.min(argsz, size));
    if (raw === null) return failed(ERRNO.EFAULT);
    const image = new Uint8Array(size);
    image.set(raw);
    return new StructView(image);
  }

  private *bind(arg: bigint, iommufds: IommufdLookup): Syscall {
    const s = yield* this.argsz(arg, 16, 24);
    if (!(s instanceof StructView)) return s;
    if ((s.u32(4) & ~BIND_FLAG_TOKEN) !== 0) return failed(ERRNO.EINVAL);
    if (this.bound !== null) return failed(ERRNO.EINVAL);
    const k = iommufds(s.s32(8));
    if (k === null) return failed(ERRNO.EBADF);
    const r = k.bindDevice({ sid: this.sid });
    if (!r.ok) return failed(r.error);
    this.bound = { k, devId: r.value.devId };
    s.setU32(12, r.value.devId);
    if (!(yield* copyToUser(arg, s.bytes.subarray(0, 16)))) return failed(ERRNO.EFAULT);
    return OK_RETURN;
  }

  private *attach(arg: bigint): Syscall {
    const s = yield* this.argsz(arg, 12, 16);
    if (!(s instanceof StructView)) return s;
    if ((s.u32(4) & ~ATTACH_FLAG_PASID) !== 0) return failed(ERRNO.EINVAL);
    // PASID attach needs a PASID-capable device; this one has none [I].
    if ((s.u32(4) & ATTACH_FLAG_PASID) !== 0) return failed(ERRNO.EINVAL);
    const b = this.bound!;
    const r = b.k.attachDevice({ devId: b.devId, ptId: s.u32(8) });
    if (!r.ok) return failed(r.error);
    if (!(yield* copyToUser(arg, s.bytes.subarray(0, 12)))) return failed(ERRNO.EFAULT);
    return OK_RETURN;
  }

  private *detach(arg: bigint): Syscall {
    const s = yield* this.argsz(arg, 8, 12);
    if (!(s instanceof StructView)) return s;
    if (s.u32(4) !== 0) return failed(ERRNO.EINVAL);
    return failed(ERRNO.EOPNOTSUPP);
  }

  private *info(arg: bigint): Syscall {
    const s = yield* this.argsz(arg, 16, 24);
    if (!(s instanceof StructView)) return s;
    s.setU32(4, DEVICE_FLAGS.RESET | DEVICE_FLAGS.PCI | DEVICE_FLAGS.CDEV);
    s.setU32(8, NUM_REGIONS);
    s.setU32(12, NUM_IRQS);
    const argsz = s.u32(0);
    if (!(yield* copyToUser(arg, s.bytes.subarray(0, Math.min(argsz, 24)))))
      return failed(ERRNO.EFAULT);
    return OK_RETURN;
  }

  private *regionInfo(arg: bigint): Syscall {
    const s = yield* this.argsz(arg, 32, 32);
    if (!(s instanceof StructView)) return s;
    const index = s.u32(8);
    // The VGA region exists only on a VGA device; past it nothing exists.
    if (index >= NUM_REGIONS || index === 8) return failed(ERRNO.EINVAL);
    const isConfig = index === CONFIG_REGION_INDEX;
    s.setU32(4, isConfig ? REGION_FLAGS.READ | REGION_FLAGS.WRITE : 0);
    s.setU32(12, 0);
    s.setU64(16, isConfig ? BigInt(PCI_CONFIG_SIZE) : 0n);
    s.setU64(24, BigInt(index) << REGION_SHIFT);
    if (!(yield* copyToUser(arg, s.bytes))) return failed(ERRNO.EFAULT);
    return OK_RETURN;
  }

  private *irqInfo(arg: bigint): Syscall {
    const s = yield* this.argsz(arg, 16, 16);
    if (!(s instanceof StructView)) return s;
    if (s.u32(8) >= NUM_IRQS) return failed(ERRNO.EINVAL);
    // No INTx pin, no MSI/MSI-X capability, no ERR or REQ notifier: every count is 0.
    s.setU32(4, 0);
    s.setU32(12, 0);
    if (!(yield* copyToUser(arg, s.bytes))) return failed(ERRNO.EFAULT);
    return OK_RETURN;
  }
}
