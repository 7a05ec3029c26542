// State fingerprints for the explorer: a 53-bit hash of everything that decides what can
// happen next — the device model's register cache and queue records, the guest VINTF's
// hardware registers, the kernel's HW queues, and the explorer's own remaining work.
// Two paths that reach the same fingerprint have the same future, so the second is cut.
// Hashing reads existing views and allocates nothing but the kernel's small queue list.

import type { Machine } from "../machine/machine.js";
import { APERTURE, CFG, VCMDQ0, VINTF } from "../regs/cmdqv.js";

/** Two 32-bit lanes of a multiply-xorshift mix; combined into a 53-bit number. */
export class Hasher {
  private a = 0x811c_9dc5;
  private b = 0x2545_f491;

  u32(x: number): this {
    const v = x >>> 0;
    this.a = Math.imul(this.a ^ v, 0x0100_0193) >>> 0;
    this.b = Math.imul(this.b ^ ((v << 7) | (v >>> 25)), 0x5bd1_e995) >>> 0;
    this.b ^= this.b >>> 15;
    return this;
  }

  num(x: number): this {
    // Exact for integers up to 2^53: hash the two halves.
    return this.u32(x % 0x1_0000_0000).u32(Math.floor(x / 0x1_0000_0000));
  }

  array(xs: readonly number[]): this {
    this.u32(xs.length);
    for (let i = 0; i < xs.length; i++) this.u32(xs[i]!);
    return this;
  }

  digest(): number {
    return (this.a >>> 0) * 0x20_0000 + (this.b >>> 11);
  }
}

export function machineFingerprint(m: Machine, h: Hasher): Hasher {
  const dev = m.cmdqv;
  if (dev) {
    const c = dev.cache();
    h.u32(c.config).u32(c.status).u32(c.vintfConfig).u32(c.vintfStatus);
    h.array(c.viErrMap)
      .array(c.viIntMask)
      .array(c.cmdqErrMap)
      .array(c.lvcmdqErrMap)
      .array(c.allocMap);
    h.array(c.cons)
      .array(c.prod)
      .array(c.vcmdqConfig)
      .array(c.vcmdqStatus)
      .array(c.gerror)
      .array(c.gerrorn);
    h.array(c.baseLo).array(c.baseHi);
    for (let i = 0; i < dev.numVcmdqs; i++) {
      const a = dev.lastAttempt(i);
      h.u32(a === "ok" ? 1 : a === "failed" ? 2 : 0);
    }
    for (const q of dev.hwQueues()) h.u32(q.index).num(q.gpa).num(q.length);
    h.u32(dev.page0Mapped() ? 1 : 0)
      .u32(dev.leakedObjects().length)
      .u32(dev.refusedObjects().length);
  }
  h.u32(overlayState(m));
  // The guest VINTF's hardware registers, through the host aperture.
  const hw = m.host.hw;
  const info = m.host.iommufd.viommuInfo(m.viommuId);
  if (info && info.vintf >= 0) {
    const v = info.vintf;
    const block = CFG.VINTF_0 + CFG.VINTF_BLOCK_STRIDE * v;
    h.u32(hw.read(block + VINTF.CONFIG, 4)).u32(hw.read(block + VINTF.STATUS, 4));
    const page0 = APERTURE.VINTF_PAGE0 + APERTURE.VINTF_STRIDE * v;
    for (let l = 0; l < (dev?.numVcmdqs ?? 0); l++) {
      const s = page0 + APERTURE.VCMDQ_STRIDE * l;
      h.u32(hw.read(s + VCMDQ0.CONS, 4))
        .u32(hw.read(s + VCMDQ0.PROD, 4))
        .u32(hw.read(s + VCMDQ0.CONFIG, 4));
      h.u32(hw.read(s + VCMDQ0.STATUS, 4))
        .u32(hw.read(s + VCMDQ0.GERROR, 4))
        .u32(hw.read(s + VCMDQ0.GERRORN, 4));
    }
  }
  for (const q of m.host.iommufd.hwQueues())
    h.u32(q.index)
      .num(q.iova)
      .num(q.length)
      .u32(q.viommu === m.viommuId ? 1 : 0);
  return h;
}

/** Whether the guest page0 map is installed: 1 enabled, 2 present but disabled, 0 absent. */
function overlayState(m: Machine): number {
  for (const r of m.as.regions()) if (r.kind === "overlay") return r.enabled === false ? 2 : 1;
  return 0;
}
