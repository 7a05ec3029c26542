// What the VMM prints: error_report/warn_report on the console, and the qemu_log_mask
// categories QEMU prints with `-d guest_errors,unimp,invalid_mem`: LOG_GUEST_ERROR,
// LOG_UNIMP, and LOG_INVALID_MEM (the memory core's "Invalid read at addr …" for an access
// a region's MemoryRegionOps refuse; QEMU 11.1 logs it there, not as a guest error).
// Lines are kept in order with their virtual time so a summary can show them.

import type { Clock } from "../util/clock.js";

export const VMM_LOG_KIND = {
  ERROR: "error",
  WARN: "warn",
  GUEST_ERROR: "guest_error",
  UNIMP: "unimp",
  INVALID_MEM: "invalid_mem",
  INFO: "info",
} as const;
export type VmmLogKind = (typeof VMM_LOG_KIND)[keyof typeof VMM_LOG_KIND];

export interface VmmLogLine {
  readonly t: number;
  readonly kind: VmmLogKind;
  readonly text: string;
}

export class VmmLog {
  private readonly lines: VmmLogLine[] = [];
  /** Counts per kind, kept even when lines are capped. */
  private readonly counts: Record<VmmLogKind, number> = {
    error: 0,
    warn: 0,
    guest_error: 0,
    unimp: 0,
    invalid_mem: 0,
    info: 0,
  };

  private readonly clock: Clock;
  private readonly cap: number;

  /** A hostile guest can produce unbounded guest errors: keep at most `cap` lines. */
  constructor(clock: Clock, cap = 10_000) {
    this.clock = clock;
    this.cap = cap;
  }

  /** Told of every line as it is added, past the cap too (a console that prints as it goes). */
  private readonly listeners: ((line: VmmLogLine) => void)[] = [];

  add(kind: VmmLogKind, text: string): void {
    this.counts[kind]++;
    const keep = this.lines.length < this.cap;
    if (!keep && this.listeners.length === 0) return;
    const line = { t: this.clock.now(), kind, text };
    if (keep) this.lines.push(line);
    for (const f of this.listeners) f(line);
  }

  /** Call `f` with every line added from now on; the returned function stops it. */
  onLine(f: (line: VmmLogLine) => void): () => void {
    this.listeners.push(f);
    return () => {
      const i = this.listeners.indexOf(f);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Lines added so far, the ones past the cap included. */
  total(): number {
    let n = 0;
    for (const k of Object.values(VMM_LOG_KIND)) n += this.counts[k];
    return n;
  }

  error(text: string): void {
    this.add("error", text);
  }

  warn(text: string): void {
    this.add("warn", text);
  }

  guestError(text: string): void {
    this.add("guest_error", text);
  }

  unimp(text: string): void {
    this.add("unimp", text);
  }

  /** qemu_log_mask(LOG_INVALID_MEM, …): memory_region_access_valid refused an access. */
  invalidMem(text: string): void {
    this.add("invalid_mem", text);
  }

  all(): readonly VmmLogLine[] {
    return this.lines;
  }

  count(kind: VmmLogKind): number {
    return this.counts[kind];
  }

  /** Console text as QEMU prints it (errors and warnings carry QEMU's prefixes). */
  text(kind?: VmmLogKind): string[] {
    return this.lines
      .filter((l) => kind === undefined || l.kind === kind)
      .map((l) => (l.kind === "warn" ? `warning: ${l.text}` : l.text));
  }
}
