// `--log ITEMS` (`cmdqv qtest`, `cmdqv run`): QEMU's `-d ITEMS` over the model's VMM
// console. The items are QEMU's names of the qemu_log_mask categories the model logs
// (src/vmm/console.ts), comma-separated, `all` for every one; `help` lists them as
// `-d help` does. error_report/warn_report lines need no item: `cmdqv qtest` always prints
// them; `cmdqv run` prints its console live only under --log (its summary lists it all).

import { CONSOLE_TRACE } from "../trace/events.js";
import type { TraceEvent, TraceSink } from "../trace/trace.js";
import { consoleLine, LOG_ITEMS, type LogItem } from "../vmm/console.js";
import { VMM_LOG_KIND, type VmmLog, type VmmLogKind, type VmmLogLine } from "../vmm/log.js";
import { UsageError } from "./options.js";

const NAMES: readonly string[] = LOG_ITEMS.map((i) => i.name);

function isLogItem(s: string): s is LogItem {
  return NAMES.includes(s);
}

/** QEMU's is_help_option: `help` or `?`. */
export function isHelpValue(v: string): boolean {
  return v === "help" || v === "?";
}

/** `-d help`'s text: a heading, then one `%-15s help` line per item (QEMU's layout). */
export function logHelpText(): string {
  const lines = ["Log items (comma separated):"];
  for (const i of LOG_ITEMS) lines.push(`${i.name.padEnd(15)} ${i.help}`);
  lines.push(`${"all".padEnd(15)} every item above`);
  return `${lines.join("\n")}\n`;
}

/**
 * The items of a `--log` value. An unknown or empty item is refused with the accepted
 * names (QEMU prints its usage and exits 1; we say which item, exit 2).
 */
export function parseLogItems(v: string): ReadonlySet<LogItem> {
  const items = new Set<LogItem>();
  for (const part of v.split(",")) {
    if (part === "all") for (const n of LOG_ITEMS) items.add(n.name);
    else if (isLogItem(part)) items.add(part);
    else
      throw new UsageError(
        `--log: unknown log item ${JSON.stringify(part)} (one of: ${[...NAMES, "all", "help"].join(", ")})`,
      );
  }
  return items;
}

/**
 * Commander's parser for `--log`: checks the value at once; `help` prints the items and
 * ends the command, as `-d help` ends QEMU.
 */
export function logOption(v: string): string {
  if (isHelpValue(v)) {
    process.stdout.write(logHelpText());
    process.exit(0);
  }
  // An empty value is left to main.ts's one check of empty values.
  if (v !== "") parseLogItems(v);
  return v;
}

/**
 * Prints a VMM log's lines as QEMU's console would with the `-d` items `items`: the lines
 * logged so far, then each as it is added. The VMM log keeps its first lines only (a
 * hostile guest makes unbounded ones); lines it dropped before we attached are counted in
 * one line.
 */
export function printConsole(
  log: VmmLog,
  items: ReadonlySet<LogItem>,
  write: (text: string) => void,
): () => void {
  const print = (l: VmmLogLine) => {
    const text = consoleLine(l, items);
    if (text !== null) write(`${text}\n`);
  };
  for (const l of log.all()) print(l);
  const lost = log.total() - log.all().length;
  if (lost > 0) write(`cmdqv: ${lost} earlier VMM console lines were not kept\n`);
  return log.onLine(print);
}

const KINDS: readonly string[] = Object.values(VMM_LOG_KIND);

/**
 * The console of a run that does not hand us its machine (`cmdqv run`): the VMM's lines
 * arrive as the machine's `cmdqv_vmm_console` trace events, printed as `printConsole` does.
 */
export class ConsoleFromTrace implements TraceSink {
  private readonly items: ReadonlySet<LogItem>;
  private readonly write: (text: string) => void;

  constructor(items: ReadonlySet<LogItem>, write: (text: string) => void) {
    this.items = items;
    this.write = write;
  }

  event(e: TraceEvent): void {
    if (e.name !== CONSOLE_TRACE.VMM) return;
    const { kind, text } = e.args;
    if (typeof kind !== "string" || !KINDS.includes(kind) || typeof text !== "string") return;
    const line = consoleLine({ t: e.t, kind: kind as VmmLogKind, text }, this.items);
    if (line !== null) this.write(`${line}\n`);
  }
}
