// The iommufd file's raw-bytes ioctl entry point, driven the way a VMM in another process
// drives it: structs in a little user memory, copied in and out through yielded requests.
// QEMU's realize order is played with real struct layouts, plus the dispatcher's rules.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VFIO_IOCTL, VfioCdev } from "../vfio/vfio-cdev.js";
import { errnoName } from "./errno.js";
import { iommufdIoctl } from "./fops.js";
import type { Iommufd } from "./iommufd.js";
import { rig } from "./testkit.js";
import { IOCTL } from "./uapi.js";
import type { Syscall, SyscallReturn } from "./user-copy.js";

/** A flat user address space from 0x1000: structs are placed in it by hand. */
class UserMem {
  readonly bytes = new Uint8Array(0x10000);
  readonly dv = new DataView(this.bytes.buffer);
  private next = 0x100;
  fds = 100;
  alloc(len: number): number {
    const a = this.next;
    this.next += (len + 15) & ~15;
    return a;
  }
  /** Run a system call to completion, answering its requests from this memory. */
  run(call: Syscall): SyscallReturn {
    let answer: Uint8Array | boolean | number | null = null;
    for (;;) {
      const r = call.next(answer);
      if (r.done) return r.value;
      const q = r.value;
      const a = Number(q.op === "install-fd" ? 0n : q.addr) - 0x1000;
      if (q.op === "read")
        answer = a >= 0 && a + q.len <= this.bytes.length ? this.bytes.slice(a, a + q.len) : null;
      else if (q.op === "write") {
        if (a < 0 || a + q.bytes.length > this.bytes.length) answer = false;
        else {
          this.bytes.set(q.bytes, a);
          answer = true;
        }
      } else answer = this.fds++;
    }
  }
  u32(addr: number, off: number): number {
    return this.dv.getUint32(addr - 0x1000 + off, true);
  }
  setU32(addr: number, off: number, v: number): void {
    this.dv.setUint32(addr - 0x1000 + off, v, true);
  }
  setU64(addr: number, off: number, v: bigint): void {
    this.dv.setBigUint64(addr - 0x1000 + off, v, true);
  }
  u64(addr: number, off: number): bigint {
    return this.dv.getBigUint64(addr - 0x1000 + off, true);
  }
  struct(size: number, fields: Record<number, number | bigint> = {}): number {
    const p = this.alloc(size) + 0x1000;
    this.setU32(p, 0, size);
    for (const [off, v] of Object.entries(fields)) {
      if (typeof v === "bigint") this.setU64(p, Number(off), v);
      else this.setU32(p, Number(off), v);
    }
    return p;
  }
}

const NO_FILES = { memfd: () => null };

function ioctl(m: UserMem, k: Iommufd, req: number, p: number): string {
  const r = m.run(iommufdIoctl(k, req, BigInt(p), NO_FILES));
  return r.ret === 0 ? "ok" : errnoName(r.errno);
}

describe("iommufd ioctl over raw structs", () => {
  it("plays QEMU's vfio realize: bind, IOAS, hw_info, nest parent, attach, IOVA ranges", () => {
    const r = rig({ viommu: false, mapRam: false });
    // rig() bound the device already through the model; a second VFIO file binds anew.
    r.k.unbindDevice(r.devId);
    const m = new UserMem();
    const dev = new VfioCdev(0x200);
    const bind = m.struct(24, { 8: 3 });
    assert.equal(
      m.run(
        dev.ioctl(VFIO_IOCTL.VFIO_DEVICE_BIND_IOMMUFD, BigInt(bind), (fd) =>
          fd === 3 ? r.k : null,
        ),
      ).ret,
      0,
    );
    const devId = m.u32(bind, 12);
    assert.equal(devId, dev.devId);

    const ioas = m.struct(12);
    assert.equal(ioctl(m, r.k, IOCTL.IOMMU_IOAS_ALLOC, ioas), "ok");
    const ioasId = m.u32(ioas, 8);

    const data = m.alloc(64) + 0x1000;
    const info = m.struct(40, { 8: devId, 12: 64, 16: BigInt(data) });
    assert.equal(ioctl(m, r.k, IOCTL.IOMMU_GET_HW_INFO, info), "ok");
    assert.equal(m.u32(info, 24), 2, "out_data_type ARM_SMMUV3");
    assert.equal(m.u32(info, 12), 40, "the kernel's data length");

    const hwpt = m.struct(48, { 4: 1, 8: devId, 12: ioasId });
    assert.equal(ioctl(m, r.k, IOCTL.IOMMU_HWPT_ALLOC, hwpt), "ok");
    const attach = m.struct(16, { 8: m.u32(hwpt, 16) });
    assert.equal(
      m.run(dev.ioctl(VFIO_IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT, BigInt(attach), () => null)).ret,
      0,
    );

    const ranges = m.struct(32, { 4: ioasId, 8: 0 });
    assert.equal(ioctl(m, r.k, IOCTL.IOMMU_IOAS_IOVA_RANGES, ranges), "EMSGSIZE");
    assert.equal(m.u32(ranges, 8), 2, "num_iovas says how many");
    const array = m.alloc(32) + 0x1000;
    m.setU32(ranges, 8, 2);
    m.setU64(ranges, 16, BigInt(array));
    assert.equal(ioctl(m, r.k, IOCTL.IOMMU_IOAS_IOVA_RANGES, ranges), "ok");
    assert.equal(m.u64(array, 16), 0x810_0000n);
    assert.equal(m.u64(ranges, 24), 4096n);
  });

  it("keeps the dispatcher's rules: ENOTTY, short size EINVAL, non-zero tail E2BIG, bad pointer EFAULT", () => {
    const r = rig();
    const m = new UserMem();
    assert.equal(ioctl(m, r.k, 0x3b99, m.struct(8)), "ENOTTY");
    assert.equal(ioctl(m, r.k, IOCTL.IOMMU_DESTROY, m.struct(4)), "EINVAL");
    const long = m.struct(16, { 4: r.hwptId, 12: 1 });
    assert.equal(ioctl(m, r.k, IOCTL.IOMMU_DESTROY, long), "E2BIG");
    assert.equal(ioctl(m, r.k, IOCTL.IOMMU_DESTROY, 0xdead_0000), "EFAULT");
    assert.ok(
      r.k.log.condensed().some((l) => l.includes("0x3b99")),
      "unknown ioctls are logged",
    );
  });

  it("allocates the Tegra241 vIOMMU and copies the mmap offset and length to data_uptr", () => {
    const r = rig({ viommu: false });
    const m = new UserMem();
    const out = m.alloc(16) + 0x1000;
    const v = m.struct(40, { 8: 2, 12: r.devId, 16: r.hwptId, 24: 16, 32: BigInt(out) });
    assert.equal(ioctl(m, r.k, IOCTL.IOMMU_VIOMMU_ALLOC, v), "ok");
    assert.ok(m.u32(v, 20) > 0);
    assert.equal(m.u64(out, 8), 0x10000n, "out_vintf_mmap_length: one 64 KiB page");
    assert.ok(m.u64(out, 0) > 0n);
  });

  it("installs a descriptor for a vEVENTQ and writes it to out_veventq_fd", () => {
    const r = rig();
    const m = new UserMem();
    const q = m.struct(32, { 8: r.viommuId, 12: 2, 16: 1 << 19 });
    assert.equal(ioctl(m, r.k, IOCTL.IOMMU_VEVENTQ_ALLOC, q), "ok");
    assert.equal(m.u32(q, 24), 100, "the descriptor the carrier gave");
    assert.ok(m.u32(q, 20) > 0);
  });

  it("allocates a HW queue from raw bytes and returns its id", () => {
    const r = rig();
    const m = new UserMem();
    const hq = m.struct(40, { 8: r.viommuId, 12: 1, 16: 0, 24: 0x4000_0000n, 32: 0x1000n });
    assert.equal(ioctl(m, r.k, IOCTL.IOMMU_HW_QUEUE_ALLOC, hq), "ok");
    assert.equal(r.host.iommufd.hwQueues()[0]?.iova, 0x4000_0000);
  });
});

describe("the VFIO device file", () => {
  it("refuses everything but BIND before it is bound, then shows a PCIe endpoint config space", () => {
    const r = rig({ viommu: false });
    const m = new UserMem();
    const dev = new VfioCdev(0x300);
    const info = m.struct(24);
    assert.equal(
      m.run(dev.ioctl(VFIO_IOCTL.VFIO_DEVICE_GET_INFO, BigInt(info), () => null)).errno,
      22,
    );
    assert.equal(dev.pread(7n << 40n, 4), -22);
    const bind = m.struct(24, { 8: 5 });
    assert.equal(
      m.run(dev.ioctl(VFIO_IOCTL.VFIO_DEVICE_BIND_IOMMUFD, BigInt(bind), () => r.k)).ret,
      0,
    );
    assert.equal(
      m.run(dev.ioctl(VFIO_IOCTL.VFIO_DEVICE_GET_INFO, BigInt(info), () => null)).ret,
      0,
    );
    assert.equal(m.u32(info, 8), 9, "num_regions");
    const region = m.struct(32, { 8: 7 });
    assert.equal(
      m.run(dev.ioctl(VFIO_IOCTL.VFIO_DEVICE_GET_REGION_INFO, BigInt(region), () => null)).ret,
      0,
    );
    assert.equal(m.u64(region, 24), 7n << 40n);
    const cfg = dev.pread(7n << 40n, 0x48);
    assert.ok(cfg instanceof Uint8Array);
    assert.equal(cfg[0x34], 0x40, "capability pointer");
    assert.equal(cfg[0x40], 0x10, "PCI Express capability");
    assert.equal(dev.pwrite((7n << 40n) + 0x30n, new Uint8Array([0xfe, 0xff, 0xff, 0xff])), 4);
    const rom = dev.pread((7n << 40n) + 0x30n, 4);
    assert.deepEqual(rom, new Uint8Array(4), "no ROM: the sizing write reads back 0");
    const feat = m.struct(8, { 4: 1 << 16 });
    assert.equal(
      m.run(dev.ioctl(VFIO_IOCTL.VFIO_DEVICE_FEATURE, BigInt(feat), () => null)).errno,
      25,
    );
  });
});
