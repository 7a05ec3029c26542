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
  /**
   * One DMA read of `out.length` little-endian u32 words at `addr` into `out` (a 16-byte
   * command: dma_memory_read of the whole entry); false on any fault, `out` then
   * unspecified. Allocates nothing.
   */
  readWords(addr: number, out: Uint32Array): boolean;
}

export type InvalidateResult =
  | { readonly ok: true; readonly entryNum: number }
  | { readonly ok: false; readonly errno: number; readonly entryNum: number };

/**
 * The host side of the vIOMMU: IOMMU_HWPT_INVALIDATE on the vIOMMU with
 * data_type IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 and entry_len 16 (spec: linux §3.10).
 */
export interface SmmuHostPort {
  /**
   * Invalidate the 16-byte commands in `words` on the host, four little-endian u32
   * words each (dword0[31:0], dword0[63:32], dword1[31:0], dword1[63:32]). `entryNum` is the kernel's in/out count of entries
   * it handled. The caller may reuse `words` once the call returns: a host must copy what
   * it keeps. The result may be shared between calls: read it at once.
   */
  invalidate(words: Uint32Array): InvalidateResult;
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

/**
 * What the accel core reads from the SMMUv3 front (the SMMUv3State fields smmuv3-accel.c
 * looks at), and the IDR hooks it calls on a device attach.
 */
export interface AccelSmmuView {
  /**
   * smmu_find_ste as install_ste calls it (invalid STEs allowed): the STE's first four
   * words into `out`; false when the SID is out of range, the L1 descriptor is invalid or
   * a fetch faults (nothing to install).
   */
  findSte(sid: number, out: Uint32Array): boolean;
  /** smmu_enabled: CR0.SMMUEN. */
  smmuEnabled(): boolean;
  /** GBPA.ABORT. */
  gbpaAbort(): boolean;
  /** smmuv3_eventq_enabled: CR0.EVENTQEN. */
  eventqEnabled(): boolean;
  /** The event queue's clamped log2size (s->eventq.log2size). */
  eventqLog2size(): number;
  /** smmuv3_accel_auto_finalise with the host SMMU's IDR0..IDR5 (once per SMMU). */
  finaliseAutoProps(hostIdr: readonly number[]): void;
  /** smmuv3_accel_check_hw_compatible: the first mismatch's message, or null. */
  checkHostIdrs(hostIdr: readonly number[]): string | null;
}

/**
 * The accel core's hooks the SMMUv3 front calls (smmuv3.c → smmuv3-accel.c). Each returns
 * null on success or the error QEMU passes out through errp (the front reports it after
 * the consume, or after the register write). With no vIOMMU yet each is a no-op.
 */
export interface SmmuAccelPort {
  /** smmuv3_accel_install_ste for CFGI_STE on `sid` (no device with that SID: nothing). */
  installSte(smmu: AccelSmmuView, sid: number): string | null;
  /** smmuv3_accel_install_ste_range for CFGI_STE_RANGE over [start, end]. */
  installSteRange(smmu: AccelSmmuView, start: number, end: number): string | null;
  /** smmuv3_accel_attach_gbpa_hwpt, on a GBPA write with UPDATE. */
  attachGbpaHwpt(smmu: AccelSmmuView): string | null;
  /** smmuv3_accel_alloc_veventq, on a CR0 write (after its consume). */
  allocVeventq(smmu: AccelSmmuView): string | null;
  /** smmuv3_accel_reset: the GBPA HWPT attached again (errors reported, not returned). */
  reset(smmu: AccelSmmuView): void;
}
