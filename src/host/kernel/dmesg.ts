// The host kernel's log buffer. Tegra241 CMDQV messages carry dev_fmt's "tegra241_cmdqv: "
// prefix; messages the SMMU device prints (queue allocation, command errors) do not
// (spec: linux §2.1, §4.7). dev_dbg lines are kept only when debug is on (dynamic debug
// is off by default on a real host).

import type { Clock } from "../../util/clock.js";
import { Ratelimits } from "../../util/ratelimit.js";

export type DmesgLevel = "err" | "warn" | "info" | "debug";

export interface DmesgEntry {
  /** Virtual ns. */
  readonly t: number;
  readonly level: DmesgLevel;
  /** The full line as the kernel prints it after the device name. */
  readonly line: string;
}

/** dev_fmt of drivers/iommu/arm/arm-smmu-v3/tegra241-cmdqv.c. */
export const TEGRA_PREFIX = "tegra241_cmdqv: ";

export class Dmesg {
  private readonly clock: Clock;
  private readonly debug: boolean;
  private readonly log: DmesgEntry[] = [];
  private readonly limits: Ratelimits;

  constructor(clock: Clock, debug = false) {
    this.clock = clock;
    this.debug = debug;
    this.limits = new Ratelimits(clock, (line) => this.push("warn", line));
  }

  /** A message from the CMDQV device (prefixed). */
  tegra(level: DmesgLevel, msg: string): void {
    this.push(level, TEGRA_PREFIX + msg);
  }

  /** A message from the SMMU device (no tegra prefix). */
  smmu(level: DmesgLevel, msg: string): void {
    this.push(level, msg);
  }

  /** dev_<level>_ratelimited from `func` (printk's default ratelimit, util/ratelimit.ts). */
  tegraRatelimited(func: string, level: DmesgLevel, msg: string): void {
    if (this.limits.allow(func, func)) this.tegra(level, msg);
  }

  lines(): string[] {
    return this.log.map((e) => e.line);
  }

  entries(): readonly DmesgEntry[] {
    return this.log;
  }

  private push(level: DmesgLevel, line: string): void {
    if (level === "debug" && !this.debug) return;
    this.log.push({ t: this.clock.now(), level, line });
  }
}
