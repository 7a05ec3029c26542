// How QEMU puts the VMM log (log.ts) on its console, in one place: error_report and
// warn_report lines always, with the program name in front (`qemu-system-aarch64: `, and
// `warning: ` for a warning); qemu_log_mask lines bare, and only for the `-d` items that are
// on. `cmdqv qtest`/`cmdqv run` print the model's console this way, and the differential
// (src/differential/sides.ts) compares the model's lines with real QEMU's stderr through it.
//
// facts (QEMU 11.1, util/log.c qemu_log_items and util/error-report.c): the -d item names
// and their help texts below are QEMU's; qemu_str_to_log_mask also takes `all`.

import type { VmmLogKind, VmmLogLine } from "./log.js";

/** The program name QEMU prefixes to error_report/warn_report lines. */
export const QEMU_PROGRAM = "qemu-system-aarch64";

/** The prefix itself, as it starts a console line. */
export const QEMU_PREFIX = `${QEMU_PROGRAM}: `;

/** The `-d` items for the qemu_log_mask categories the model logs, in QEMU's order. */
export const LOG_ITEMS = [
  { name: "unimp", kind: "unimp", help: "log unimplemented functionality" },
  {
    name: "guest_errors",
    kind: "guest_error",
    help: "log when the guest OS does something invalid (eg accessing a non-existent register)",
  },
  { name: "invalid_mem", kind: "invalid_mem", help: "log invalid memory accesses" },
] as const satisfies readonly { name: string; kind: VmmLogKind; help: string }[];

export type LogItem = (typeof LOG_ITEMS)[number]["name"];

/** The -d item a line needs to be printed, null for one that is always printed (or never). */
export function logItemOf(kind: VmmLogKind): LogItem | null {
  for (const i of LOG_ITEMS) if (i.kind === kind) return i.name;
  return null;
}

/**
 * A line's text as QEMU prints it after its program prefix: error_report's bare,
 * warn_report's after `warning: `, a qemu_log_mask line as it is.
 */
export function consoleText(l: VmmLogLine): string {
  return l.kind === "warn" ? `warning: ${l.text}` : l.text;
}

/** Whether QEMU prints the line at all: the model's `info` notes have no QEMU counterpart. */
export function onConsole(l: VmmLogLine): boolean {
  return l.kind !== "info";
}

/**
 * The console line QEMU would print for `l` with the `-d` items `items` on, or null when it
 * prints nothing: error_report/warn_report lines always (with the program prefix),
 * qemu_log_mask lines only when their item is on.
 */
export function consoleLine(l: VmmLogLine, items: ReadonlySet<LogItem>): string | null {
  if (!onConsole(l)) return null;
  const item = logItemOf(l.kind);
  if (item === null) return `${QEMU_PREFIX}${consoleText(l)}`;
  return items.has(item) ? consoleText(l) : null;
}
