// The guest kernel's log buffer, printed as `dmesg` prints it: a `[%5lu.%06lu] ` virtual-time
// stamp, then the device prefix dev_printk puts in front of a device's messages
// ("<driver or bus name> <device name>: "), then the message. Messages of the Tegra241
// CMDQV carry dev_fmt's "tegra241_cmdqv: " after the device prefix; the ones the SMMU
// device prints (queue allocation, CMD_SYNC timeouts, CMDQ errors) do not.
// spec: linux §2.1 [inf], §4.7.
//
// Rate-limited messages (dev_err_ratelimited and friends) follow printk's default
// ratelimit (util/ratelimit.ts).
//
// The buffer is bounded as the kernel's printk ring buffer is: a log_buf of
// 2^CONFIG_LOG_BUF_SHIFT bytes (the default shift, 17: 128 KiB of text) with one
// descriptor per 2^PRB_AVGBITS bytes (4096 records). A message that does not fit pushes
// out the oldest ones; `dropped()` counts them (what `dmesg` can no longer show).

import { CONSOLE_TRACE } from "../trace/events.js";
import type { Tracer } from "../trace/trace.js";
import { sprintf } from "../util/printf.js";
import { Ratelimits } from "../util/ratelimit.js";

/** The SMMU's platform device as the ACPI/IORT probe names it. */
export const SMMU_DEV = "arm-smmu-v3 arm-smmu-v3.0.auto";
/** The CMDQV companion: an ACPI-created platform device with no driver bound. spec: linux §2.1 [inf]. */
export const CMDQV_DEV = "platform NVDA200C:00";
/** dev_fmt of drivers/iommu/arm/arm-smmu-v3/tegra241-cmdqv.c. */
export const TEGRA_FMT = "tegra241_cmdqv: ";

export type DmesgLevel = "err" | "warn" | "notice" | "info" | "debug";

/** The guest kernel's log buffer: CONFIG_LOG_BUF_SHIFT 17's 128 KiB of message text… */
export const DMESG_BUF_BYTES = 1 << 17;
/** …and its descriptor ring: one record per 32 bytes (PRB_AVGBITS 5), 4096 records. */
export const DMESG_MAX_RECORDS = DMESG_BUF_BYTES >> 5;

export interface DmesgLine {
  /** Virtual ns when printed. */
  readonly t: number;
  readonly level: DmesgLevel;
  /** The message as printed after the timestamp (device prefix included). */
  readonly text: string;
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
  /** The records, oldest first from `head` (entries before it were dropped, not yet compacted). */
  private log: DmesgLine[] = [];
  private head = 0;
  /** Text bytes held (from `head` on). */
  private bytes = 0;
  private droppedCount = 0;
  private readonly limits: Ratelimits;
  /** Each printed line also becomes a `console` trace instant. */
  private readonly tracer: Tracer | null;

  constructor(clock: { now(): number }, opts: { debug?: boolean; tracer?: Tracer } = {}) {
    this.clock = clock;
    this.debug = opts.debug ?? false;
    this.tracer = opts.tracer?.enabled === true ? opts.tracer : null;
    this.limits = new Ratelimits(clock, (line) => this.printk("warn", line));
  }

  /** printk of a whole line (no device prefix). dev_dbg-level lines only with `debug`. */
  printk(level: DmesgLevel, text: string): void {
    if (level === "debug" && !this.debug) return;
    this.log.push({ t: this.clock.now(), level, text });
    if (this.tracer !== null)
      this.tracer.emit("guest.dmesg", CONSOLE_TRACE.GUEST, { level, msg: text });
    this.bytes += text.length;
    while (
      this.log.length - this.head > DMESG_MAX_RECORDS ||
      (this.bytes > DMESG_BUF_BYTES && this.log.length - this.head > 1)
    ) {
      this.bytes -= this.log[this.head]!.text.length;
      this.head++;
      this.droppedCount++;
    }
    // Compact once the dropped prefix is as long as what is kept (amortised O(1)).
    if (this.head >= DMESG_MAX_RECORDS && this.head * 2 >= this.log.length) {
      this.log = this.log.slice(this.head);
      this.head = 0;
    }
  }

  /** Messages pushed out of the full buffer so far (oldest first), as the kernel loses them. */
  dropped(): number {
    return this.droppedCount;
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
    return this.limits.allow(func, site === "" ? func : `${func}#${site}`);
  }

  /** Messages of a call site the ratelimit has dropped so far. */
  suppressed(func: string, site = ""): number {
    return this.limits.suppressed(site === "" ? func : `${func}#${site}`);
  }

  /** Every line as dmesg prints it, timestamp first. */
  lines(): string[] {
    return this.entries().map((l) => timestamp(l.t) + l.text);
  }

  /** lines(), after a note of how many older messages the full buffer dropped, if any. */
  listing(): string[] {
    const lines = this.lines();
    if (this.droppedCount > 0)
      lines.unshift(
        `… ${this.droppedCount} earlier messages dropped (the log buffer holds ${DMESG_MAX_RECORDS} records, ${DMESG_BUF_BYTES >> 10} KiB of text)`,
      );
    return lines;
  }

  /** The lines without timestamps (what tests compare). */
  messages(): string[] {
    return this.entries().map((l) => l.text);
  }

  /** The records the buffer still holds, oldest first. */
  entries(): readonly DmesgLine[] {
    return this.head === 0 ? this.log : this.log.slice(this.head);
  }

  /** The whole log, one line each, newline-terminated. */
  text(): string {
    return this.entries()
      .map((l) => `${timestamp(l.t)}${l.text}\n`)
      .join("");
  }
}
