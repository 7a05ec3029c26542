import type { IrqLine } from "../../util/irq.js";
// What the accelerated SMMUv3 device model needs from the machine around it. Each port is
// small so tests can give fakes; the simulated world wires the real ones.

/**
 * The guest-physical address space as the SMMU's DMA sees it (QEMU: address_space_memory).
 * The AddressSpace class satisfies it structurally. Values are little-endian u32.
 */
export interface GuestMemoryPort {
  /** The value, or MEM_FAULT (-1) when nothing decodes the access. */
  read(addr: number, size: 1 | 2 | 4): number;
  /** 0 when the write landed; any other value is a fault. */
  write(addr: number, size: 1 | 2 | 4, value: number): number;
}

/** One 16-byte command as two little-endian u64 words [dword0, dword1]. */
export type InvalidationEntry = readonly [bigint, bigint];

export type InvalidateResult =
  | { readonly ok: true; readonly entryNum: number }
  | { readonly ok: false; readonly errno: number; readonly entryNum: number };

/**
 * The host side of the vIOMMU: IOMMU_HWPT_INVALIDATE on the vIOMMU with
 * data_type IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 and entry_len 16 (spec: linux §3.10).
 */
export interface SmmuHostPort {
  /**
   * Invalidate `entries` on the host. `entryNum` is the kernel's in/out count of entries it
   * handled. The array and its tuples may be reused by the caller after the call returns:
   * a host must copy what it keeps.
   */
  invalidate(entries: readonly InvalidationEntry[]): InvalidateResult;
  /**
   * smmuv3_accel_issue_inv_cmd returns success without a host call while no vIOMMU exists
   * (no VFIO device attached yet). Absent: a vIOMMU exists.
   * facts: QEMU hw/arm/smmuv3-accel.c smmuv3_accel_issue_inv_cmd.
   */
  hasViommu?(): boolean;
  /**
   * SID-based commands (CFGI_CD, CFGI_CD_ALL, ATC_INV) reach the host only for a device
   * behind this SMMU that has a vDEVICE; any other SID is accepted locally.
   * Absent: every SID has one. facts: QEMU hw/arm/smmuv3-accel.c, smmuv3.c (smmu_find_sdev).
   */
  hasVdev?(sid: number): boolean;
}

/**
 * The four wired SMMUv3 interrupts (sysbus IRQ 0..3 = SMMU_IRQ_EVTQ, PRIQ, CMD_SYNC,
 * GERROR; SPI 74..77 on QEMU virt). QEMU pulses them (qemu_irq_pulse: raise then lower).
 * facts: QEMU hw/arm/smmuv3.c smmuv3_trigger_irq; confirmed on QEMU 7.2.22 (GIC inputs 76/77).
 */
export interface Smmuv3Irqs {
  readonly eventq: IrqLine;
  readonly priq: IrqLine;
  readonly cmdSync: IrqLine;
  readonly gerror: IrqLine;
}
