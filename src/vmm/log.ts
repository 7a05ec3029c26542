// What the VMM prints: error_report/warn_report on the console, and the qemu_log_mask
// categories (LOG_GUEST_ERROR, LOG_UNIMP) that QEMU prints with `-d guest_errors,unimp`.
// Lines are kept in order with their virtual time so a summary can show them.

import type { Clock } from "../util/clock.js";

export const VMM_LOG_KIND = {
  ERROR: "error",
  WARN: "warn",
  GUEST_ERROR: "guest_error",
  UNIMP: "unimp",
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
    info: 0,
  };

  private readonly clock: Clock;
  private readonly cap: number;

  /** A hostile guest can produce unbounded guest errors: keep at most `cap` lines. */
  constructor(clock: Clock, cap = 10_000) {
    this.clock = clock;
    this.cap = cap;
  }

  add(kind: VmmLogKind, text: string): void {
    this.counts[kind]++;
    if (this.lines.length < this.cap) this.lines.push({ t: this.clock.now(), kind, text });
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
