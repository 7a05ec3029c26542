// `--qtest-log FILE` (and QEMU's `-qtest-log FILE`): the qtest log (src/qtest/qtest-log.ts)
// written to a file, stamped by the wall clock as QEMU's is (seconds since the connection
// opened). `none` (QEMU's word) means no log. Give the result's `log` to the sessions
// (QtestSessionOptions.log) and `close()` it at the end.

import { closeSync, openSync, writeSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { type QtestLog, QtestLogWriter } from "../qtest/qtest-log.js";
import { UsageError } from "./options.js";
import { checkOutputFile } from "./output-files.js";

export interface QtestLogFile {
  /** Undefined when no log was asked for. */
  readonly log: QtestLog | undefined;
  close(): void;
}

/** A monotonic wall clock in seconds (the CLI may read it; the core never does). */
export function wallSeconds(): number {
  return performance.now() / 1000;
}

/**
 * Open `path` for the qtest log (truncating it, as QEMU's fopen "w+"); undefined or `none`
 * gives no log. Each line is written as it happens, so the file holds everything up to a
 * crash. A path that cannot be written is a usage error naming `flag`.
 */
export function openQtestLog(
  flag: string,
  path: string | undefined,
  seconds: () => number = wallSeconds,
): QtestLogFile {
  if (path === undefined || path === "none") return { log: undefined, close: () => {} };
  checkOutputFile(flag, path);
  let fd: number | null;
  try {
    fd = openSync(path, "w");
  } catch (e) {
    throw new UsageError(
      `${flag}: cannot write ${JSON.stringify(path)} (${(e as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  const write = (text: string) => {
    if (fd === null) return;
    try {
      writeSync(fd, text);
    } catch {
      // A full disk ends the log, not the session.
      closeSync(fd);
      fd = null;
    }
  };
  return {
    log: new QtestLogWriter(write, seconds),
    close: () => {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}
