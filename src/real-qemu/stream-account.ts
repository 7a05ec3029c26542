// What the guest programmed, read off the qtest stream: the account of the VCMDQs a real
// QEMU should have allocated, for hw-queues-match judged from outside QEMU. It follows the
// client's 4- and 8-byte writes to the CMDQV window (CONFIG.CMDQV_EN, CMDQ_ALLOC_MAP,
// VINTF CONFIG.EN, and each queue's BASE through the global page1 or the VINTF page1)
// and takes the last HW_QUEUE_ALLOC of each queue from the host's ioctl log. A queue is
// owed a host HW queue when its BASE is set, it is allocated to an enabled VINTF and the
// CMDQV is enabled (QEMU 11.1's preconditions), and QEMU's last attempt succeeded.
//
// Not followed: bulk `write`/`memset` over registers, and 1/2-byte writes (the device
// ignores those). A script that programs the CMDQV that way is judged on what it wrote
// with writel/writeq only.

import {
  type CheckedSystem,
  type GuestView,
  InvariantChecker,
  type VmmQueueAccount,
} from "../check/invariants.js";
import type { Host } from "../host/host.js";
import { APERTURE, CFG, F, V_CONFIG_RESET, VCMDQ1 } from "../regs/cmdqv.js";
import { fieldOf } from "../regs/regdef.js";

const BASE_ADDR_MASK = 0x0000_ffff_ffff_ffe0n;

export class StreamAccount implements VmmQueueAccount {
  readonly numVcmdqs: number;
  private readonly base: number;
  private readonly host: Host;
  /** QEMU resets CONFIG to V_CONFIG_RESET, whose CMDQV_EN is set: enabled from the start. */
  private cmdqvEn = (V_CONFIG_RESET & 1) !== 0;
  private readonly allocMap: number[];
  private readonly vintfEn = new Map<number, boolean>();
  private readonly baseLo: number[];
  private readonly baseHi: number[];
  /** Objects judged forgotten so far (kept: a later release must not un-leak them). */
  private readonly leaked: number[] = [];

  constructor(host: Host, cmdqvBase: number) {
    this.host = host;
    this.base = cmdqvBase;
    this.numVcmdqs = host.driver.numLvcmdqsPerVintf;
    this.allocMap = new Array<number>(this.numVcmdqs).fill(0);
    this.baseLo = new Array<number>(this.numVcmdqs).fill(0);
    this.baseHi = new Array<number>(this.numVcmdqs).fill(0);
  }

  /** The machine was reset: the registers the account follows are back at reset values. */
  reset(): void {
    this.cmdqvEn = (V_CONFIG_RESET & 1) !== 0;
    this.allocMap.fill(0);
    this.vintfEn.clear();
    this.baseLo.fill(0);
    this.baseHi.fill(0);
  }

  /** A client line on its way to QEMU. */
  observe(line: string): void {
    const m = /^\s*(writel|writeq)\s+(0x[0-9a-fA-F]+|\d+)\s+(0x[0-9a-fA-F]+|\d+)\s*$/.exec(line);
    if (!m) return;
    const off = Number(BigInt(m[2]!) - BigInt(this.base));
    this.observeWrite(off, BigInt(m[3]!), m[1] === "writeq" ? 8 : 4);
  }

  /**
   * A guest store of `size` bytes at `off` in the CMDQV window, however it was seen (a qtest
   * line, or QEMU's own `tegra241_cmdqv_write_mmio` trace for a real guest).
   */
  observeWrite(off: number, value: bigint, size: number): void {
    if (!Number.isInteger(off) || off < 0 || off >= 0x5_0000) return;
    if (size !== 4 && size !== 8) return;
    this.write(off, Number(value & 0xffff_ffffn));
    if (size === 8) this.write(off + 4, Number((value >> 32n) & 0xffff_ffffn) >>> 0);
  }

  private write(off: number, v: number): void {
    if (off === CFG.CONFIG) this.cmdqvEn = (v & 1) !== 0;
    else if (
      off >= CFG.CMDQ_ALLOC_0 &&
      off < CFG.CMDQ_ALLOC_0 + 4 * this.numVcmdqs &&
      off % 4 === 0
    )
      this.allocMap[(off - CFG.CMDQ_ALLOC_0) / 4] = v;
    else if (
      off >= CFG.VINTF_0 &&
      off < CFG.VINTF_0 + 64 * CFG.VINTF_BLOCK_STRIDE &&
      off % CFG.VINTF_BLOCK_STRIDE === 0
    )
      this.vintfEn.set((off - CFG.VINTF_0) / CFG.VINTF_BLOCK_STRIDE, (v & 1) !== 0);
    else if (off >= APERTURE.VCMDQ_PAGE1 && off < APERTURE.VCMDQ_PAGE1 + APERTURE.PAGE_SIZE)
      this.writeBase(
        (off - APERTURE.VCMDQ_PAGE1) / APERTURE.VCMDQ_STRIDE,
        off % APERTURE.VCMDQ_STRIDE,
        v,
      );
    else if (off >= APERTURE.VINTF_PAGE1 && off < APERTURE.VINTF_PAGE1 + APERTURE.PAGE_SIZE) {
      // VINTF0's page1: logical queue lidx is the global queue its ALLOC map names.
      const lidx = Math.floor((off - APERTURE.VINTF_PAGE1) / APERTURE.VCMDQ_STRIDE);
      const i = this.allocMap.findIndex(
        (a) =>
          fieldOf(a, F.CMDQ_ALLOC.ALLOC) === 1 &&
          fieldOf(a, F.CMDQ_ALLOC.VIRT_INTF_INDX) === 0 &&
          fieldOf(a, F.CMDQ_ALLOC.LVCMDQ) === lidx,
      );
      if (i >= 0) this.writeBase(i, off % APERTURE.VCMDQ_STRIDE, v);
    }
  }

  private writeBase(i: number, reg: number, v: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.numVcmdqs) return;
    if (reg === VCMDQ1.BASE_L) this.baseLo[i] = v;
    else if (reg === VCMDQ1.BASE_H) this.baseHi[i] = v;
  }

  private baseOf(i: number): bigint {
    return (BigInt(this.baseHi[i] ?? 0) << 32n) | BigInt(this.baseLo[i] ?? 0);
  }

  ready(i: number): boolean {
    const a = this.allocMap[i] ?? 0;
    if (!this.cmdqvEn || fieldOf(a, F.CMDQ_ALLOC.ALLOC) === 0) return false;
    if (!this.vintfEn.get(fieldOf(a, F.CMDQ_ALLOC.VIRT_INTF_INDX))) return false;
    return (this.baseOf(i) & BASE_ADDR_MASK) !== 0n;
  }

  lastAttempt(i: number): string {
    const log = this.host.iommufd.log.entries();
    for (let k = log.length - 1; k >= 0; k--) {
      const e = log[k]!;
      if (e.call !== "IOMMU_HW_QUEUE_ALLOC") continue;
      const args = e.args as { index?: number } | null;
      if (args?.index !== i) continue;
      return e.errno === undefined ? "ok" : e.errno;
    }
    return "none";
  }

  cachedQueue(i: number): { gpa: number; length: number } {
    const b = this.baseOf(i);
    return { gpa: Number(b & BASE_ADDR_MASK), length: 2 ** (Number(b & 0x1fn) + 4) };
  }

  /**
   * Host objects the VMM forgot, judged from outside: a HW queue whose IOMMU_DESTROY the
   * kernel refused, still live, for whose index the VMM later asked a new HW queue. A VMM
   * that still owned it would not ask for its index again (the kernel answers EEXIST);
   * this one has dropped it, and the host keeps it until the VM's file closes.
   */
  leakedObjects(): readonly number[] {
    const refused = this.host.iommufd.log.refusedDestroys();
    if (refused.length === 0) return this.leaked;
    const queues = this.host.iommufd.hwQueues();
    const log = this.host.iommufd.log.entries();
    for (const r of refused) {
      if (this.leaked.includes(r.id)) continue;
      const q = queues.find((x) => x.id === r.id);
      if (q === undefined) continue;
      const again = log.some((e) => {
        if (e.seq <= r.seq || e.call !== "IOMMU_HW_QUEUE_ALLOC") return false;
        return (e.args as { index?: number } | null)?.index === q.index;
      });
      if (again) this.leaked.push(r.id);
    }
    return this.leaked;
  }
}

/**
 * The invariants judged from outside QEMU: the host's objects and ioctl log against what the
 * guest programmed (the account, fed with its stores), and no-silent-hang when `guest` says
 * what a guest saw. One real QEMU's vIOMMU is the one live on the host.
 */
export function judgeFromOutside(
  host: Host,
  cmdqvBase: number,
  guest: GuestView | null = null,
): { readonly account: StreamAccount; readonly checker: InvariantChecker } {
  const account = new StreamAccount(host, cmdqvBase);
  const system: CheckedSystem = {
    host,
    get viommuId() {
      return host.iommufd.liveObjects().find((o) => o.kind === "viommu")?.id ?? 0;
    },
    cmdqv: account,
  };
  return { account, checker: new InvariantChecker(system, guest) };
}
