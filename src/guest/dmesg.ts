// The guest kernel's log buffer, printed as `dmesg` prints it: a `[%5lu.%06lu] ` virtual-time
// stamp, then the device prefix dev_printk puts in front of a device's messages
// ("<driver or bus name> <device name>: "), then the message. Messages of the Tegra241
// CMDQV carry dev_fmt's "tegra241_cmdqv: " after the device prefix; the ones the SMMU
// device prints (queue allocation, CMD_SYNC timeouts, CMDQ errors) do not.
// spec: linux §2.1 [inf], §4.7.
//
// Rate-limited messages (dev_err_ratelimited and friends) follow printk's default
// ratelimit: per call site, at most 10 messages per 5 s; when a new window opens after
// suppressions, "<function>: N callbacks suppressed" is printed first (plain printk, no
// device prefix).

import { sprintf } from "../util/printf.js";

/** The SMMU's platform device as the ACPI/IORT probe names it. */
export const SMMU_DEV = "arm-smmu-v3 arm-smmu-v3.0.auto";
/** The CMDQV companion: an ACPI-created platform device with no driver bound. spec: linux §2.1 [inf]. */
export const CMDQV_DEV = "platform NVDA200C:00";
/** dev_fmt of drivers/iommu/arm/arm-smmu-v3/tegra241-cmdqv.c. */
export const TEGRA_FMT = "tegra241_cmdqv: ";

export type DmesgLevel = "err" | "warn" | "info" | "debug";

export interface DmesgLine {
  /** Virtual ns when printed. */
  readonly t: number;
  readonly level: DmesgLevel;
  /** The message as printed after the timestamp (device prefix included). */
  readonly text: string;
}

/** printk's DEFAULT_RATELIMIT_INTERVAL (5 s) and DEFAULT_RATELIMIT_BURST (10). */
export const RATELIMIT_INTERVAL_NS = 5_000_000_000;
export const RATELIMIT_BURST = 10;

interface RatelimitState {
  begin: number;
  printed: number;
  missed: number;
  suppressedTotal: number;
}

/** `[%5lu.%06lu] ` for a virtual time in ns (the kernel prints µs). */
export function timestamp(ns: number): string {
  const us = Math.floor(ns / 1_000);
  const sec = Math.floor(us / 1_000_000);
  return sprintf("[%5lu.%06lu] ", sec, us - sec * 1_000_000);
}

export class GuestDmesg {
  private readonly clock: { now(): number };
  private readonly debug: boolean;
  private readonly log: DmesgLine[] = [];
  private readonly limits = new Map<string, RatelimitState>();

  constructor(clock: { now(): number }, opts: { debug?: boolean } = {}) {
    this.clock = clock;
    this.debug = opts.debug ?? false;
  }

  /** printk of a whole line (no device prefix). dev_dbg-level lines only with `debug`. */
  printk(level: DmesgLevel, text: string): void {
    if (level === "debug" && !this.debug) return;
    this.log.push({ t: this.clock.now(), level, text });
  }

  /** dev_<level>(smmu->dev, …). */
  smmu(level: DmesgLevel, msg: string): void {
    this.printk(level, `${SMMU_DEV}: ${msg}`);
  }

  /** dev_<level>(cmdqv->dev, …) with dev_fmt's "tegra241_cmdqv: ". */
  cmdqv(level: DmesgLevel, msg: string): void {
    this.printk(level, `${CMDQV_DEV}: ${TEGRA_FMT}${msg}`);
  }

  /**
   * __ratelimit(&rs) of the call site in function `func`: true when the message may be
   * printed. Call it before evaluating the message's arguments (a suppressed
   * dev_err_ratelimited reads no registers). Each call site has its own state; `site`
   * tells apart two sites in one function (the suppression line names the function).
   */
  ratelimit(func: string, site = ""): boolean {
    const now = this.clock.now();
    const key = site === "" ? func : `${func}#${site}`;
    let rs = this.limits.get(key);
    if (rs === undefined) {
      rs = { begin: now, printed: 0, missed: 0, suppressedTotal: 0 };
      this.limits.set(key, rs);
    }
    if (now > rs.begin + RATELIMIT_INTERVAL_NS) {
      if (rs.missed > 0) {
        this.printk("warn", `${func}: ${rs.missed} callbacks suppressed`);
        rs.missed = 0;
      }
      rs.begin = now;
      rs.printed = 0;
    }
    if (rs.printed < RATELIMIT_BURST) {
      rs.printed++;
      return true;
    }
    rs.missed++;
    rs.suppressedTotal++;
    return false;
  }

  /** Messages of a call site the ratelimit has dropped so far. */
  suppressed(func: string, site = ""): number {
    return this.limits.get(site === "" ? func : `${func}#${site}`)?.suppressedTotal ?? 0;
  }

  /** Every line as dmesg prints it, timestamp first. */
  lines(): string[] {
    return this.log.map((l) => timestamp(l.t) + l.text);
  }

  /** The lines without timestamps (what tests compare). */
  messages(): string[] {
    return this.log.map((l) => l.text);
  }

  entries(): readonly DmesgLine[] {
    return this.log;
  }

  /** The whole log, one line each, newline-terminated. */
  text(): string {
    return this.log.map((l) => `${timestamp(l.t)}${l.text}\n`).join("");
  }
}
