// The host kernel's log buffer. Tegra241 CMDQV messages carry dev_fmt's "tegra241_cmdqv: "
// prefix; messages the SMMU device prints (queue allocation, command errors) do not
// (spec: linux §2.1, §4.7). dev_dbg lines are kept only when debug is on (dynamic debug
// is off by default on a real host).

import type { Clock } from "../../util/clock.js";

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

/** printk's default ratelimit: 10 messages per 5 s (DEFAULT_RATELIMIT_*). */
const RATELIMIT_INTERVAL_NS = 5_000_000_000;
const RATELIMIT_BURST = 10;

export class Dmesg {
  private readonly clock: Clock;
  private readonly debug: boolean;
  private readonly log: DmesgEntry[] = [];
  private readonly limits = new Map<string, { begin: number; printed: number; missed: number }>();

  constructor(clock: Clock, debug = false) {
    this.clock = clock;
    this.debug = debug;
  }

  /** A message from the CMDQV device (prefixed). */
  tegra(level: DmesgLevel, msg: string): void {
    this.push(level, TEGRA_PREFIX + msg);
  }

  /** A message from the SMMU device (no tegra prefix). */
  smmu(level: DmesgLevel, msg: string): void {
    this.push(level, msg);
  }

  /**
   * dev_warn_ratelimited from `func`: at most 10 lines per 5 s of virtual time; when a new
   * window opens after suppressions, "<func>: N callbacks suppressed" is printed first.
   */
  tegraRatelimited(func: string, level: DmesgLevel, msg: string): void {
    const now = this.clock.now();
    let rs = this.limits.get(func);
    if (rs === undefined) {
      rs = { begin: now, printed: 0, missed: 0 };
      this.limits.set(func, rs);
    }
    if (now > rs.begin + RATELIMIT_INTERVAL_NS) {
      if (rs.missed > 0) {
        this.push("warn", `${func}: ${rs.missed} callbacks suppressed`);
        rs.missed = 0;
      }
      rs.begin = now;
      rs.printed = 0;
    }
    if (rs.printed < RATELIMIT_BURST) {
      rs.printed++;
      this.tegra(level, msg);
    } else {
      rs.missed++;
    }
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
