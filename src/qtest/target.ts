// The machine a qtest session drives. The session (protocol.ts) parses QEMU's qtest text
// protocol and calls these members; the simulated machine implements them. Everything
// here is synchronous: the session is deterministic and transport-free.
//
// Addresses are JS numbers below 2^53 (our physical addresses are ≤ 52 bits, see
// docs/decisions.md). The qtest protocol carries 64-bit addresses; the session answers
// any byte at or above 2^53 itself as unassigned memory (reads 0, writes dropped), which
// is what QEMU's aarch64 `virt` machine does there: nothing is mapped that high and
// unassigned memory reads as 0 (observed with Debian's qemu-system-aarch64 7.2:
// `readq 0xfffffffffffffffc` → `OK 0x0000000000000000`). So a target never sees an
// address it cannot represent exactly.

/** Which side of a device's GPIO pins `irq_intercept_in` / `irq_intercept_out` attach to. */
export type IrqDirection = "in" | "out";

/** Called by the target on every level change of an intercepted pin (`line` is the pin number). */
export type IrqReporter = (line: number, level: boolean) => void;

/** What a `cmdqv_*` extension command answers: `OK <reply>` or `FAIL <error>`. */
export type ExtensionResult = { ok: true; reply: string } | { ok: false; error: string };

export interface QtestTarget {
  /**
   * A 1/2/4-byte access by the first CPU's address space (QEMU's `first_cpu->as`), value
   * little-endian as the bus delivers it, returned as a u32. A fault (no RAM, no device, a
   * device that refuses the access) reads as 0 and is the target's own guest error: qtest
   * ignores the MemTxResult of `address_space_read`, and unassigned memory reads 0 on Arm.
   */
  read(addr: number, size: 1 | 2 | 4): number;
  /** The 8-byte read (`readq`); a fault reads as 0n. */
  read64(addr: number): bigint;
  /** A 1/2/4-byte write of the low `size` bytes of `value` (u32); a fault is dropped. */
  write(addr: number, size: 1 | 2 | 4, value: number): void;
  /** The 8-byte write (`writeq`); `value` is a u64 bigint; a fault is dropped. */
  write64(addr: number, value: bigint): void;
  /**
   * `len` bytes from `addr` as QEMU's `address_space_read` returns them (RAM copied, MMIO
   * split into accesses the device accepts). Unbacked bytes read as 0. The session
   * guarantees `addr + len` ≤ 2^53 and `len` ≤ QTEST_MAX_TRANSFER.
   */
  readBytes(addr: number, len: number): Uint8Array;
  /** Bulk write, as `address_space_write`; bytes that hit nothing are dropped. */
  writeBytes(addr: number, data: Uint8Array): void;
  /**
   * Advance virtual time by `ns` (the session passes only ns > 0), or, when `ns` is
   * undefined, to the next timer deadline (QEMU: `qemu_clock_deadline_ns_all`; with no
   * timer pending the deadline is -1 and the clock does not move). Timers that fall due
   * run on the way, in order, and may report IRQ changes. Returns the new time in ns.
   */
  clockStep(ns?: number): number;
  /**
   * Advance to absolute time `ns` (the session passes only ns > now()); time never moves
   * backwards (QEMU's `qtest_clock_warp` loops only while the clock is below the target).
   * Returns the new time.
   */
  clockSet(ns: number): number;
  /** Current virtual time in ns (an integer ≤ Number.MAX_SAFE_INTEGER). */
  now(): number;
  /**
   * Whether QOM path `path` resolves to a device (QEMU: `object_resolve_path`, which also
   * accepts an unambiguous partial path). The session asks first, as QEMU resolves the
   * device before anything else in `irq_intercept_*` and `set_irq_in`.
   */
  hasDevice(path: string): boolean;
  /**
   * Optional: the one name of the device `path` resolves to, so that a full and a partial
   * path of one device count as the same device (QEMU compares devices, not paths). Without
   * it the session compares the paths as given.
   */
  deviceOf?(path: string): string;
  /**
   * Attach `report` to the GPIO pins of the device at `path`: with `in`, its input lists
   * (`name` is then null); with `out`, its output list `name` (null: the unnamed list).
   * False when no device resolves there (the session answers `FAIL Unknown device`),
   * "none" when it has no such list (`FAIL No intercepts installed`).
   * The target keeps one reporter: a later call (a new qtest connection) replaces it.
   * Report every level change; the session drops repeats of the level it last printed,
   * as QEMU's `irq_levels[]` does.
   */
  irqIntercept(
    path: string,
    direction: IrqDirection,
    report: IrqReporter,
    name?: string | null,
  ): boolean | "none";
  /**
   * Optional: force input pin `line` of GPIO list `name` (null for the unnamed list,
   * spelled `unnamed-gpio-in` on the wire) of the device at `path` to `level`
   * (`set_irq_in`). False when no device resolves there, "no-pin" when the device has no
   * such input (QEMU aborts on an assertion; the session answers FAIL). Without this
   * member the session answers `set_irq_in` with FAIL.
   */
  setIrqIn?(path: string, name: string | null, line: number, level: number): boolean | "no-pin";
  /**
   * Commands starting with `cmdqv_` that QEMU does not know (the role of QEMU's
   * `qtest_set_command_cb` hook). `args` are the words after the command, split on single
   * spaces as QEMU splits (so they may contain empty strings). Undefined when the command
   * is unknown: the session answers `FAIL Unknown command '<cmd>'`. A reply must be one
   * line; an empty reply is sent as a bare `OK`.
   */
  extension(cmd: string, args: readonly string[]): ExtensionResult | undefined;
  /**
   * The transport has written the replies of every line run so far and waits for input.
   * A target may leave work that answers nothing (MachineTarget's invariant check) until
   * then or its next call, whichever comes first, so that work is off the round trip.
   */
  idle?(): void;
}
