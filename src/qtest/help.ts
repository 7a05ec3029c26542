// The commands a qtest session answers, as `help` lists them to a person at a terminal
// (`cmdqv qtest` with stdin a TTY): QEMU's own qtest commands (protocol.ts), then the
// target's `cmdqv_*` extensions. QEMU has no `help`; on a pipe the session answers it as
// QEMU does (`FAIL Unknown command 'help'`), so scripts see no difference.

export interface CommandHelp {
  /** The command and its arguments, e.g. `readl ADDR`. */
  readonly usage: string;
  /** What it does and what it answers. */
  readonly does: string;
}

/** One entry per command of a family that shares its arguments (readb, readw, …). */
function family(names: readonly string[], args: string, does: string): CommandHelp[] {
  return names.map((n) => ({ usage: args === "" ? n : `${n} ${args}`, does }));
}

/** QEMU's qtest commands, one entry each, in the order of QEMU's protocol description. */
export const QTEST_COMMANDS: readonly CommandHelp[] = [
  { usage: "clock_step [NS]", does: "advance virtual time by NS, or to the next event: OK <ns>" },
  { usage: "clock_set NS", does: "advance virtual time to NS: OK <ns>" },
  ...family(["outb", "outw", "outl"], "ADDR VALUE", "I/O port write (none on Arm): OK"),
  ...family(["inb", "inw", "inl"], "ADDR", "I/O port read (all ones on Arm): OK 0x<value>"),
  ...family(["writeb", "writew", "writel", "writeq"], "ADDR VALUE", "guest-physical write: OK"),
  ...family(
    ["readb", "readw", "readl", "readq"],
    "ADDR",
    "guest-physical read: OK 0x<16 hex digits>",
  ),
  { usage: "read ADDR SIZE", does: "read SIZE bytes: OK 0x<hex bytes>" },
  { usage: "write ADDR SIZE 0xDATA", does: "write SIZE bytes from hex: OK" },
  { usage: "b64read ADDR SIZE", does: "read SIZE bytes: OK <base64>" },
  { usage: "b64write ADDR SIZE B64_DATA", does: "write SIZE bytes from base64: OK" },
  { usage: "memset ADDR SIZE VALUE", does: "fill SIZE bytes with VALUE's low byte: OK" },
  { usage: "irq_intercept_in QOM-PATH", does: "report the device's input pins: IRQ raise/lower N" },
  { usage: "irq_intercept_out QOM-PATH [NAME]", does: "report the device's output pins" },
  { usage: "set_irq_in QOM-PATH NAME NUM LEVEL", does: "force an input pin to LEVEL: OK" },
  { usage: "endianness", does: "the target's byte order: OK little" },
  { usage: "module_load TYPE NAME", does: "load a QEMU module (none here): FAIL" },
  { usage: "system_reset", does: "system reset (QEMU's monitor command, not qtest's): OK" },
];

/** The `cmdqv_*` extensions the model's MachineTarget answers (docs/qtest.md lists them too). */
export const MACHINE_EXTENSIONS: readonly CommandHelp[] = [
  {
    usage: "cmdqv_info",
    does: "the profile, HW queues, host objects, traps, violations: OK {json}",
  },
  { usage: "cmdqv_dmesg", does: "the host kernel's log: OK [json lines]" },
  { usage: "cmdqv_ioctls", does: "every call on the VMM's iommufd file: OK [json]" },
  { usage: "cmdqv_fault SITE [N]", does: "fail the Nth next host call at SITE (default 1): OK" },
  { usage: "cmdqv_vmm_log", does: "the VMM console since the last call: OK {lines, dropped}" },
  { usage: "cmdqv_reset", does: "system reset: OK" },
];

/** The `help` answer: one line per command, the usages in one column. */
export function helpLines(extensions: readonly CommandHelp[]): string[] {
  const all = [...QTEST_COMMANDS, ...extensions];
  const width = Math.max(...all.map((c) => c.usage.length));
  return all.map((c) => `${c.usage.padEnd(width)}  ${c.does}`);
}
