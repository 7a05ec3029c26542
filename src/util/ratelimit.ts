// printk's default ratelimit (__ratelimit with DEFAULT_RATELIMIT_STATE), shared by the host
// and guest kernel logs: per call site, at most RATELIMIT_BURST messages per
// RATELIMIT_INTERVAL_NS of virtual time; when a new window opens after suppressions, the
// log first gets "<function>: N callbacks suppressed" (plain printk, no device prefix).

/** printk's DEFAULT_RATELIMIT_INTERVAL (5 s) and DEFAULT_RATELIMIT_BURST (10). */
export const RATELIMIT_INTERVAL_NS = 5_000_000_000;
export const RATELIMIT_BURST = 10;

interface RatelimitState {
  begin: number;
  printed: number;
  missed: number;
  suppressedTotal: number;
}

/** The ratelimit states of every call site of one kernel log. */
export class Ratelimits {
  private readonly clock: { now(): number };
  /** Prints the "callbacks suppressed" line into the owning log. */
  private readonly report: (line: string) => void;
  private readonly sites = new Map<string, RatelimitState>();

  constructor(clock: { now(): number }, report: (line: string) => void) {
    this.clock = clock;
    this.report = report;
  }

  /**
   * __ratelimit(&rs) of the call site `site` in function `func`: true when the message may
   * be printed. The suppression line names `func`.
   */
  allow(func: string, site: string): boolean {
    const now = this.clock.now();
    let rs = this.sites.get(site);
    if (rs === undefined) {
      rs = { begin: now, printed: 0, missed: 0, suppressedTotal: 0 };
      this.sites.set(site, rs);
    }
    if (now > rs.begin + RATELIMIT_INTERVAL_NS) {
      if (rs.missed > 0) {
        this.report(`${func}: ${rs.missed} callbacks suppressed`);
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

  /** Messages of call site `site` dropped so far. */
  suppressed(site: string): number {
    return this.sites.get(site)?.suppressedTotal ?? 0;
  }
}
