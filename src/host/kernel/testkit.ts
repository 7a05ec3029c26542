// Test fixtures for the simulated kernel: a host with guest RAM, a bound device, an IOAS
// with a nest-parent HWPT and (optionally) a Tegra241 vIOMMU, set up as QEMU does before
// its CMDQV model runs. Used by the *.test.ts files next to it.

import assert from "node:assert/strict";
import type { GuestRam } from "../../mem/guest-ram.js";
import { VirtualClock } from "../../util/clock.js";
import type { Result } from "../../util/result.js";
import { createHost, type Host, type HostConfig } from "../host.js";
import { errnoName } from "./errno.js";
import type { Iommufd } from "./iommufd.js";
import { HWPT_ALLOC_NEST_PARENT, TEGRA241_VIOMMU_DATA_LEN, VIOMMU_TYPE } from "./uapi.js";

export const PAGE = 4096;
export const RAM_BASE = 0x4000_0000;
export const PSID = 0x100;
export const VSID = 0x8;

export interface RigOptions {
  readonly host?: Partial<HostConfig>;
  /** Backing page size of guest RAM (default 2 MiB: contiguous within a huge page). */
  readonly ramPage?: number;
  readonly ramSize?: number;
  readonly seed?: number;
  /** Map all of guest RAM into the IOAS at iova = gpa (default true). */
  readonly mapRam?: boolean;
  /** Allocate the Tegra241 vIOMMU (default true). */
  readonly viommu?: boolean;
}

export interface Rig {
  readonly host: Host;
  readonly k: Iommufd;
  readonly ram: GuestRam;
  readonly devId: number;
  readonly ioasId: number;
  readonly hwptId: number;
  /** 0 when not allocated. */
  readonly viommuId: number;
  readonly mmapOffset: number;
  readonly mmapLength: number;
}

export function unwrap<T>(r: Result<T, unknown>): T {
  if (!r.ok) {
    const e = r.error;
    const n = typeof e === "number" ? e : (e as { errno: number }).errno;
    assert.fail(`unexpected ${errnoName(n)}`);
  }
  return r.value;
}

/** Assert a call failed with the named errno. */
export function expectErrno(r: Result<unknown, number>, name: string): void {
  assert.equal(r.ok ? "ok" : errnoName(r.error), name);
}

export function tegraData(len = TEGRA241_VIOMMU_DATA_LEN): Uint8Array {
  return new Uint8Array(len);
}

export function rig(o: RigOptions = {}): Rig {
  const host = createHost({ clock: new VirtualClock(), ...o.host });
  const ram = host.allocGuestRam({
    gpaBase: RAM_BASE,
    size: o.ramSize ?? 0x400_0000,
    pageSize: o.ramPage ?? 0x20_0000,
    seed: o.seed ?? 7,
  });
  const k = host.iommufd;
  const devId = host.bindDevice(PSID);
  const ioasId = unwrap(k.ioasAlloc()).ioasId;
  if (o.mapRam !== false)
    unwrap(k.ioasMap({ ioasId, iova: ram.gpaBase, length: ram.size, gpa: ram.gpaBase }));
  const hwptId = unwrap(k.hwptAlloc({ flags: HWPT_ALLOC_NEST_PARENT, devId, ptId: ioasId })).hwptId;
  let viommuId = 0;
  let mmapOffset = 0;
  let mmapLength = 0;
  if (o.viommu !== false) {
    const v = unwrap(
      k.viommuAlloc({
        flags: 0,
        type: VIOMMU_TYPE.TEGRA241_CMDQV,
        devId,
        hwptId,
        dataLen: TEGRA241_VIOMMU_DATA_LEN,
        data: tegraData(),
      }),
    );
    viommuId = v.viommuId;
    mmapOffset = v.vintfMmapOffset;
    mmapLength = v.vintfMmapLength;
  }
  return { host, k, ram, devId, ioasId, hwptId, viommuId, mmapOffset, mmapLength };
}
