// The exit statuses of the cmdqv command, and the line an unexpected error gets. A script
// can tell them apart: 1 is a finding, 2 a mistake in what it was given, 70 a bug here.

export const EXIT = {
  /** The run completed and every invariant held (diff: no script differs). */
  ok: 0,
  /** An invariant was violated (diff: a script differs); the output says which. */
  violation: 1,
  /** A bad flag, argument or input file: one line naming the offending value. */
  usage: 2,
  /**
   * `run`: the world's step cap (50 000 000 scheduler steps per program step) cut the run
   * short with no invariant violated; stderr says what was cut (a wedged guest).
   */
  cutShort: 3,
  /** Real QEMU could not be run (not fetched, no compiler for the preload, it died). */
  unavailable: 69,
  /** A bug in cmdqv (EX_SOFTWARE): one line and a hint to report it. */
  internal: 70,
  /** Stopped by Ctrl-C (explore --vmm qemu: after the paths in hand). */
  interrupted: 130,
} as const;

/**
 * What an error no command expected prints: one line with a hint to report it, and the
 * stack trace only when CMDQV_DEBUG is set.
 */
export function internalErrorText(e: unknown, debug: boolean): string {
  const what =
    e instanceof Error ? (e.name === "Error" ? e.message : `${e.name}: ${e.message}`) : String(e);
  const line =
    `cmdqv: internal error: ${what.split("\n")[0]} ` +
    "(a bug in cmdqv: please report it with the command that led to it; CMDQV_DEBUG=1 prints the stack trace)";
  return debug && e instanceof Error && e.stack !== undefined ? `${line}\n${e.stack}` : line;
}
