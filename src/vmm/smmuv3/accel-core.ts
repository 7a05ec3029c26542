// The accelerated SMMUv3's host side: what QEMU 11.1.3's hw/arm/smmuv3-accel.c does with
// iommufd for the VFIO devices behind one SMMU. The SMMUv3 front (smmuv3.ts) calls it where
// smmuv3.c calls smmuv3-accel.c; the machine calls setIommuDevice where VFIO's realize
// calls pci_device_set_iommu_device.
//
// What it owns, as SMMUv3AccelState does: the vIOMMU (allocated on the first device attach,
// through the vendor CMDQV's alloc_viommu when one was selected), the pre-allocated abort
// and bypass nested HWPTs (vSTE {V} and {V | CFG=bypass}), the ARM_SMMUV3 vEVENTQ, and per
// device (SMMUv3AccelDevice) its vDEVICE and its current stage-1 nested HWPT.
//
// When, as upstream: realize → hw compatibility check (IOMMU_GET_HW_INFO, default type) →
// vIOMMU → abort HWPT → bypass HWPT → vEVENTQ if the guest already enabled EVENTQ → attach
// the GBPA HWPT. Reset and every GBPA write attach the GBPA HWPT again. CFGI_STE /
// CFGI_STE_RANGE allocate the vDEVICE on the first install (even when no STE is found),
// then attach abort / bypass / a new stage-1 nested HWPT (freeing the previous one after
// the attach). CR0.EVENTQEN allocates the vEVENTQ once. Nothing is freed at reset.
//
// facts: QEMU hw/arm/smmuv3-accel.c (smmuv3_accel_set_iommu_device,
//   smmuv3_accel_hw_compatible, smmuv3_accel_check_hw_compatible,
//   smmuv3_accel_auto_finalise, smmuv3_accel_alloc_viommu, smmuv3_accel_gbpa_hwpt,
//   smmuv3_accel_alloc_vdev, smmuv3_accel_dev_alloc_translate, smmuv3_accel_install_ste,
//   smmuv3_accel_install_ste_range, smmuv3_accel_attach_gbpa_hwpt, smmuv3_accel_reset,
//   smmuv3_accel_alloc_veventq, smmuv3_accel_free_veventq, smmuv3_accel_issue_inv_cmd);
//   hw/arm/smmuv3-internal.h (STE_VALID, STE_CONFIG, STE_CFG_ABORT/BYPASS/S1_TRANSLATE,
//   STE0_MASK, STE1_MASK); hw/arm/tegra241-cmdqv.c (the alloc_viommu / free_viommu ops);
//   backends/iommufd.c (messages). Sequences and messages checked against QEMU 11.1.3 on
//   the simulated host (cmdqv_ioctls over qtest, faults injected with cmdqv_fault).

import {
  HW_INFO_TYPE,
  HWPT_DATA_ARM_SMMUV3,
  type HwInfoArmSmmuv3,
  VEVENTQ_TYPE,
  VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
  VIOMMU_TYPE,
} from "../../host/kernel/uapi.js";
import { NULL_TRACER, type Tracer } from "../../trace/trace.js";
import { err, OK_VOID, ok, type Result } from "../../util/result.js";
import type { IommufdBackend, VfioDeviceName } from "../iommufd-backend.js";
import type { IommufdPort, VeventqFdPort } from "../iommufd-port.js";
import type { VmmLog } from "../log.js";
import type { AccelSmmuView, InvalidateResult, SmmuAccelPort, SmmuHostPort } from "./ports.js";
import type { Smmuv3Profile } from "./profile.js";

/** A VFIO device behind the SMMU, as set_iommu_device gets it (HostIOMMUDeviceIOMMUFD). */
export interface AccelDeviceSpec extends VfioDeviceName {
  /** hiodi->hwpt_id: the nest-parent (stage-2) HWPT VFIO attached the device to. */
  readonly s2HwptId: number;
  /** smmu_get_sid: the StreamID the guest uses for the device (its vSID). */
  readonly sid: number;
}

/** The vendor CMDQ virtualization's vIOMMU ops (SMMUv3AccelCmdqvOps alloc/free_viommu). */
export interface CmdqvViommuOps {
  /** The vIOMMU id, or the error with its hints. */
  allocViommu(devId: number, s2HwptId: number): Result<number, string>;
  freeViommu(): void;
}

/** SMMUv3AccelDevice: a device's vDEVICE and stage-1 HWPT (0: none). */
interface AccelDevice {
  readonly spec: AccelDeviceSpec;
  vdevId: number;
  s1HwptId: number;
}

/** STE config values (STE word 0 [3:1]). facts: smmuv3-internal.h STE_CFG_*. */
const STE_CFG_BYPASS = 4;
const STE_CFG_S1_TRANSLATE = 5;
/** STE0_MASK: V, Config, S1Fmt, S1ContextPtr [55:6], S1CDMax. facts: smmuv3-internal.h. */
const STE0_MASK = 1n | (7n << 1n) | (3n << 4n) | (((1n << 50n) - 1n) << 6n) | (0x1fn << 59n);
/** STE1_MASK: S1DSS, S1CIR, S1COR, S1CSH, S1STALLD, EATS. facts: smmuv3-internal.h. */
const STE1_MASK = 3n | (3n << 2n) | (3n << 4n) | (3n << 6n) | (1n << 27n) | (3n << 28n);
/** sizeof(struct iommu_hw_info_arm_smmuv3): flags, reserved, idr[6], iidr, aidr. */
const HW_INFO_ARM_SMMUV3_LEN = 40;

/** struct iommu_hwpt_arm_smmuv3: ste[2], little-endian. */
function vsteBytes(ste0: bigint, ste1: bigint): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, ste0, true);
  v.setBigUint64(8, ste1, true);
  return b;
}

/** abort {SMMU_STE_VALID, 0} and bypass {SMMU_STE_CFG_BYPASS | SMMU_STE_VALID, 0}. */
const ABORT_VSTE = vsteBytes(0x1n, 0n);
const BYPASS_VSTE = vsteBytes(0x9n, 0n);

export interface AccelCoreOptions {
  readonly backend: IommufdBackend;
  /** The vIOMMU invalidation ioctl (smmuv3_accel_issue_inv_cmd). */
  readonly port: Pick<IommufdPort, "hwptInvalidate">;
  readonly log: VmmLog;
  readonly profile: Smmuv3Profile;
  readonly tracer?: Tracer;
}

const ACTOR = "vmm.smmuv3";
const NO_WORDS = new Uint32Array(0);
/** The answer of every call the kernel handled whole with one entry: shared, immutable. */
const OK_ONE: InvalidateResult = Object.freeze({ ok: true, entryNum: 1 });

export class Smmuv3AccelCore implements SmmuHostPort, SmmuAccelPort {
  private readonly backend: IommufdBackend;
  private readonly port: Pick<IommufdPort, "hwptInvalidate">;
  private readonly log: VmmLog;
  private readonly profile: Smmuv3Profile;
  private readonly tracer: Tracer;

  private viommuId = 0;
  private cmdqvOps: CmdqvViommuOps | null = null;
  private abortHwptId = 0;
  private bypassHwptId = 0;
  private veventqId = 0;
  private veventqFd: VeventqFdPort | null = null;
  /** device_list, newest first (QLIST_INSERT_HEAD). */
  private readonly devices: AccelDevice[] = [];
  private autoFinalised = false;
  /** install_ste's STE buffer (words 0..3). */
  private readonly ste = new Uint32Array(4);
  /** invalidate's ioctl arguments, filled in per call. */
  private readonly invArgs: {
    hwptId: number;
    readonly dataType: number;
    readonly entryLen: number;
    words: Uint32Array;
  } = { hwptId: 0, dataType: VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, entryLen: 16, words: NO_WORDS };

  constructor(o: AccelCoreOptions) {
    this.backend = o.backend;
    this.port = o.port;
    this.log = o.log;
    this.profile = o.profile;
    this.tracer = o.tracer ?? NULL_TRACER;
  }

  // ------------------------------------------------------------- state ----

  /** The vIOMMU id (0 until the first device attached). */
  viommu(): number {
    return this.viommuId;
  }

  /** What the core owns on the host, for tests and reports. */
  state(): {
    readonly viommuId: number;
    readonly abortHwptId: number;
    readonly bypassHwptId: number;
    readonly veventqId: number;
    readonly devices: readonly {
      readonly devId: number;
      readonly sid: number;
      readonly vdevId: number;
      readonly s1HwptId: number;
    }[];
  } {
    return {
      viommuId: this.viommuId,
      abortHwptId: this.abortHwptId,
      bypassHwptId: this.bypassHwptId,
      veventqId: this.veventqId,
      devices: this.devices.map((d) => ({
        devId: d.spec.devId,
        sid: d.spec.sid,
        vdevId: d.vdevId,
        s1HwptId: d.s1HwptId,
      })),
    };
  }

  // ---------------------------------------------------- device attach ----

  /**
   * smmuv3_accel_set_iommu_device: check the host SMMU (finalising the `auto` properties on
   * the first attach), then, for the first device, select the CMDQV (`selectCmdqv`, which
   * may probe) and allocate the vIOMMU with its HWPTs. The error is what QEMU reports for
   * the attach (VFIO's realize adds "vfio <name>: Failed to set vIOMMU: ").
   */
  setIommuDevice(
    smmu: AccelSmmuView,
    spec: AccelDeviceSpec,
    selectCmdqv: () => Result<CmdqvViommuOps | null, string>,
  ): Result<undefined, string> {
    if (this.devices.some((d) => d.spec.devId === spec.devId)) return OK_VOID;
    const compat = this.hwCompatible(smmu, spec.devId);
    if (!compat.ok) return compat;
    if (this.viommuId === 0) {
      const ops = selectCmdqv();
      if (!ops.ok) return ops;
      const v = this.allocViommu(smmu, spec, ops.value);
      if (!v.ok)
        return err(`${v.error}Unable to alloc vIOMMU: hiodi devid 0x${spec.devId.toString(16)}: `);
    }
    this.devices.unshift({ spec, vdevId: 0, s1HwptId: 0 });
    if (this.tracer.enabled)
      this.tracer.emit(ACTOR, "smmuv3_accel_set_iommu_device", { devid: spec.devId });
    return OK_VOID;
  }

  /** smmuv3_accel_hw_compatible: IOMMU_GET_HW_INFO (default type), auto-finalise, check. */
  private hwCompatible(smmu: AccelSmmuView, devId: number): Result<undefined, string> {
    const info = this.backend.getHwInfo(devId, 0, HW_INFO_ARM_SMMUV3_LEN);
    if (!info.ok) return err(info.error.message);
    if (info.value.outDataType !== HW_INFO_TYPE.ARM_SMMUV3)
      return err(`Wrong data type (${info.value.outDataType}) for Host SMMUv3 device info`);
    const idr = (info.value.data as HwInfoArmSmmuv3).idr;
    if (this.profile.autoAccelProps && !this.autoFinalised) {
      smmu.finaliseAutoProps(idr);
      this.autoFinalised = true;
    }
    const bad = smmu.checkHostIdrs(idr);
    return bad === null ? OK_VOID : err(bad);
  }

  /**
   * smmuv3_accel_alloc_viommu: the vIOMMU (the CMDQV's, or a plain ARM_SMMUV3 one), the
   * abort then the bypass HWPT, the vEVENTQ if EVENTQ is on, then the GBPA HWPT attached;
   * a failure unwinds in reverse.
   */
  private allocViommu(
    smmu: AccelSmmuView,
    spec: AccelDeviceSpec,
    ops: CmdqvViommuOps | null,
  ): Result<undefined, string> {
    let id: number;
    if (ops) {
      const v = ops.allocViommu(spec.devId, spec.s2HwptId);
      if (!v.ok) return v;
      id = v.value;
    } else {
      const v = this.backend.allocViommu(
        spec.devId,
        VIOMMU_TYPE.ARM_SMMUV3,
        spec.s2HwptId,
        new Uint8Array(0),
      );
      if (!v.ok) return err(v.error.message);
      id = v.value.viommuId;
    }
    this.viommuId = id;
    this.cmdqvOps = ops;
    const abort = this.backend.allocHwpt(spec.devId, id, 0, HWPT_DATA_ARM_SMMUV3, ABORT_VSTE);
    if (!abort.ok) return this.unwindViommu(abort.error.message);
    this.abortHwptId = abort.value;
    const bypass = this.backend.allocHwpt(spec.devId, id, 0, HWPT_DATA_ARM_SMMUV3, BYPASS_VSTE);
    if (!bypass.ok) {
      this.freeHwpt("abort");
      return this.unwindViommu(bypass.error.message);
    }
    this.bypassHwptId = bypass.value;
    const q = this.allocVeventq(smmu);
    if (q !== null) {
      this.freeHwpt("bypass");
      this.freeHwpt("abort");
      return this.unwindViommu(q);
    }
    const attached = this.backend.attachHwpt(spec, this.gbpaHwpt(smmu));
    if (!attached.ok) {
      this.freeVeventq();
      this.freeHwpt("bypass");
      this.freeHwpt("abort");
      return this.unwindViommu(attached.error.message);
    }
    return OK_VOID;
  }

  private freeHwpt(which: "abort" | "bypass"): void {
    if (which === "abort") {
      this.backend.freeId(this.abortHwptId);
      this.abortHwptId = 0;
    } else {
      this.backend.freeId(this.bypassHwptId);
      this.bypassHwptId = 0;
    }
  }

  /** free_viommu: the CMDQV's free_viommu op, else the vIOMMU id freed directly. */
  private unwindViommu(message: string): Result<undefined, string> {
    if (this.cmdqvOps) this.cmdqvOps.freeViommu();
    else this.backend.freeId(this.viommuId);
    this.viommuId = 0;
    this.cmdqvOps = null;
    return err(message);
  }

  /** smmuv3_accel_gbpa_hwpt: GBPA.ABORT picks the abort HWPT, else bypass. */
  private gbpaHwpt(smmu: AccelSmmuView): number {
    return smmu.gbpaAbort() ? this.abortHwptId : this.bypassHwptId;
  }

  // ------------------------------------------------------- STE install ----

  /** The device with `sid` behind this SMMU (smmu_find_sdev, accel devices only). */
  private deviceBySid(sid: number): AccelDevice | null {
    const list = this.devices;
    for (let i = 0; i < list.length; i++) if (list[i]!.spec.sid === sid) return list[i]!;
    return null;
  }

  installSte(smmu: AccelSmmuView, sid: number): string | null {
    if (this.viommuId === 0) return null;
    const dev = this.deviceBySid(sid);
    return dev === null ? null : this.installDevSte(smmu, dev);
  }

  installSteRange(smmu: AccelSmmuView, start: number, end: number): string | null {
    if (this.viommuId === 0) return null;
    let allOk = true;
    const list = this.devices;
    for (let i = 0; i < list.length; i++) {
      const dev = list[i]!;
      const sid = dev.spec.sid;
      if (sid < start || sid > end) continue;
      const e = this.installDevSte(smmu, dev);
      if (e !== null) {
        // error_report_err: the message, then the hint appended to it.
        this.log.error(e);
        this.log.error(`Device 0x${sid.toString(16)}: Failed to install STE`);
        allOk = false;
      }
    }
    return allOk ? null : "Failed to install all STEs properly";
  }

  /** smmuv3_accel_install_ste for one device: null, or errp's message. */
  private installDevSte(smmu: AccelSmmuView, dev: AccelDevice): string | null {
    const sid = dev.spec.sid;
    // smmuv3_accel_alloc_vdev: the vDEVICE stays even when what follows fails.
    if (dev.vdevId === 0) {
      const v = this.backend.allocVdev(dev.spec.devId, this.viommuId, sid);
      if (!v.ok) return v.error.message;
      dev.vdevId = v.value;
    }
    const ste = this.ste;
    if (!smmu.findSte(sid, ste)) return null;
    let hwptId = 0;
    let s1 = 0;
    if (!smmu.smmuEnabled()) hwptId = this.gbpaHwpt(smmu);
    else {
      const config = (ste[0]! >>> 1) & 7;
      if ((ste[0]! & 1) === 0 || (config & 4) === 0) hwptId = this.abortHwptId;
      else if (config === STE_CFG_BYPASS) hwptId = this.bypassHwptId;
      else if (config === STE_CFG_S1_TRANSLATE) {
        const t = this.allocTranslate(dev);
        if (!t.ok) return t.error;
        s1 = t.value;
        hwptId = s1;
      }
    }
    if (hwptId === 0) return `Invalid STE config for sid 0x${sid.toString(16)}`;
    const attached = this.backend.attachHwpt(dev.spec, hwptId);
    if (!attached.ok) {
      if (s1 !== 0) this.backend.freeId(s1);
      return attached.error.message;
    }
    // The previous stage-1 HWPT goes once the device has left it.
    if (dev.s1HwptId !== 0) this.backend.freeId(dev.s1HwptId);
    dev.s1HwptId = s1;
    if (this.tracer.enabled)
      this.tracer.emit(ACTOR, "smmuv3_accel_install_ste", {
        vsid: sid,
        type:
          hwptId === this.abortHwptId
            ? "abort"
            : hwptId === this.bypassHwptId
              ? "bypass"
              : "translate",
        hwpt_id: hwptId,
      });
    return null;
  }

  /** smmuv3_accel_dev_alloc_translate: a nested HWPT holding the masked stage-1 vSTE. */
  private allocTranslate(dev: AccelDevice): Result<number, string> {
    const w = this.ste;
    const ste0 = ((BigInt(w[1]!) << 32n) | BigInt(w[0]!)) & STE0_MASK;
    const ste1 = ((BigInt(w[3]!) << 32n) | BigInt(w[2]!)) & STE1_MASK;
    const r = this.backend.allocHwpt(
      dev.spec.devId,
      this.viommuId,
      0,
      HWPT_DATA_ARM_SMMUV3,
      vsteBytes(ste0, ste1),
    );
    if (!r.ok) return err(r.error.message);
    if (this.tracer.enabled)
      this.tracer.emit(ACTOR, "smmuv3_accel_translate_ste", {
        vsid: dev.spec.sid,
        hwpt_id: r.value,
        ste_1: `0x${ste1.toString(16)}`,
        ste_0: `0x${ste0.toString(16)}`,
      });
    return ok(r.value);
  }

  // ------------------------------------------------------ GBPA, reset ----

  attachGbpaHwpt(smmu: AccelSmmuView): string | null {
    if (this.viommuId === 0) return null;
    const hints = this.attachGbpaAll(smmu);
    // The last hint has no newline: QEMU's next console line continues it.
    return hints === null
      ? null
      : `${hints}qemu-system-aarch64: Failed to attach all GBPA based HWPTs properly`;
  }

  reset(smmu: AccelSmmuView): void {
    if (this.viommuId === 0) return;
    const hints = this.attachGbpaAll(smmu);
    // errp is NULL at reset: only the per-device reports are printed.
    if (hints !== null) this.log.error(hints);
  }

  /**
   * Attach every device to the GBPA HWPT; each failure is reported at once (its message),
   * and its hint ("Failed to attach GBPA hwpt N for hiodi devid D", no newline) is
   * returned for the caller to print. null when all attached.
   */
  private attachGbpaAll(smmu: AccelSmmuView): string | null {
    const hwptId = this.gbpaHwpt(smmu);
    let hints: string | null = null;
    for (const dev of this.devices) {
      const r = this.backend.attachHwpt(dev.spec, hwptId);
      if (r.ok) continue;
      if (hints !== null) this.log.error(hints);
      this.log.error(r.error.message);
      hints = `Failed to attach GBPA hwpt ${hwptId} for hiodi devid ${dev.spec.devId}`;
    }
    return hints;
  }

  // ----------------------------------------------------------- vEVENTQ ----

  allocVeventq(smmu: AccelSmmuView): string | null {
    if (!this.profile.accelVeventq) return null;
    if (this.viommuId === 0 || this.veventqFd !== null) return null;
    if (!smmu.eventqEnabled()) return null;
    const q = this.backend.allocVeventq(
      this.viommuId,
      VEVENTQ_TYPE.ARM_SMMUV3,
      2 ** smmu.eventqLog2size(),
    );
    if (!q.ok) return q.error.message;
    this.veventqId = q.value.veventqId;
    this.veventqFd = q.value.fd;
    return null;
  }

  /** smmuv3_accel_free_veventq: close the fd, free the object. */
  private freeVeventq(): void {
    if (this.veventqFd === null) return;
    this.veventqFd.close();
    this.veventqFd = null;
    this.backend.freeId(this.veventqId);
    this.veventqId = 0;
  }

  /**
   * QEMU's exit: no destroy (the SMMU is not unrealized), only the vEVENTQ fd closes with
   * the process; the kernel's release of iommufd takes the objects.
   */
  closeFilesAtExit(): void {
    this.veventqFd?.close();
    this.veventqFd = null;
  }

  // ------------------------------------------------------ invalidation ----

  /**
   * smmuv3_accel_issue_inv_cmd's iommufd_backend_invalidate_cache: one ioctl for what the
   * caller hands over (QEMU 11.1 issues one per command, entry_num 1). The arguments are
   * one reused object around the caller's words: the host copies what it keeps (the
   * port's contract), so nothing is allocated here per command.
   */
  invalidate(words: Uint32Array): InvalidateResult {
    const a = this.invArgs;
    a.hwptId = this.viommuId;
    a.words = words;
    const r = this.port.hwptInvalidate(a);
    a.words = NO_WORDS;
    if (!r.ok) return { ok: false, errno: r.error.errno, entryNum: r.error.entryNum };
    return r.value.entryNum === 1 ? OK_ONE : { ok: true, entryNum: r.value.entryNum };
  }

  hasViommu(): boolean {
    return this.viommuId !== 0;
  }

  /** SID-based commands reach the host only for a device that has its vDEVICE. */
  hasVdev(sid: number): boolean {
    const dev = this.deviceBySid(sid);
    return dev !== null && dev.vdevId !== 0;
  }
}
