// The SMMUv3 front's host port over iommufd: the vIOMMU cache invalidation
// (IOMMU_HWPT_INVALIDATE with hwpt_id = the vIOMMU, ARM_SMMUV3 data, 16-byte entries;
// spec linux §3.10), as QEMU's accel code issues it.

import { VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 } from "../../host/kernel/uapi.js";
import type { IommufdPort } from "../iommufd-port.js";
import type { InvalidateResult, InvalidationEntry, SmmuHostPort } from "./ports.js";

export function viommuInvalidatePort(
  k: Pick<IommufdPort, "hwptInvalidate">,
  viommuId: () => number,
  hasVdev: (sid: number) => boolean,
  onEntry?: (e: readonly [bigint, bigint]) => void,
): SmmuHostPort {
  return {
    invalidate(entries: readonly InvalidationEntry[]): InvalidateResult {
      if (onEntry) for (const e of entries) onEntry(e);
      const r = k.hwptInvalidate({
        hwptId: viommuId(),
        dataType: VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
        entryLen: 16,
        entries: entries.map((e) => [e[0], e[1]] as const),
      });
      return r.ok
        ? { ok: true, entryNum: r.value.entryNum }
        : { ok: false, errno: r.error.errno, entryNum: r.error.entryNum };
    },
    hasViommu: () => viommuId() !== 0,
    hasVdev,
  };
}
