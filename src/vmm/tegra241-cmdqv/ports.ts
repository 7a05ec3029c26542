// What the Tegra241 CMDQV device model needs from the machine around it. Each port is
// small so tests can give fakes; the simulated world wires the real ones.

import type { MmioDevice } from "../../mem/types.js";

/**
 * The guest-physical window at CMDQV base + 0x30000 where the host VINTF page0 is mapped
 * as a RAM-device region (priority 1) so guest accesses reach hardware with no exit.
 * `persistent`: the post-merge embedded region that is enabled/disabled rather than
 * created/destroyed. spec: qemu §1.6.
 */
export interface Page0Window {
  install(page: MmioDevice, persistent: boolean): void;
  remove(persistent: boolean): void;
  installed(): boolean;
}

/** What the device model reads and writes of the SMMUv3 it extends. */
export interface SmmuPort {
  /** IDR1.CMDQS as the guest sees it. */
  getCmdqs(): number;
  setCmdqs(cmdqs: number): void;
  /** qemu_minrampagesize(): the smallest RAM backend page size. spec: qemu §2.9. */
  minRamPageSize(): number;
}

/** address_space_range_is_ram (the v5 precondition). spec: qemu §3.1. */
export type RangeIsRam = (gpa: number, size: number) => boolean;
