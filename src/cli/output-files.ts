// The files a run writes as it goes (--trace, --perfetto): each path is checked before
// the run, so one that cannot be written fails at once with one line (the directory is
// missing or not writable, the path is a directory), and after the run each file is
// reported on stderr with its size and its events: `wrote run.json (12.3 MB, 456 789 events)`.

import { closeSync, openSync, type Stats, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { checkOutputDir, UsageError } from "./options.js";

function cannotWrite(flag: string, path: string, e: unknown): UsageError {
  const code = (e as NodeJS.ErrnoException).code ?? "error";
  return new UsageError(`${flag}: cannot write ${JSON.stringify(path)} (${code})`);
}

/**
 * An output file that the run creates or overwrites, checked without changing anything:
 * not a directory; an existing file must open for writing; a new one needs its directory
 * to exist (nothing is made) and to take a new file.
 */
export function checkOutputFile(flag: string, path: string): string {
  if (path === "") throw new UsageError(`${flag}: expected a file path, got ""`);
  let st: Stats | undefined;
  try {
    st = statSync(path);
  } catch (e) {
    // Missing is fine (the run makes it); anything else (ENOTDIR, EACCES, ELOOP) is not.
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw cannotWrite(flag, path, e);
  }
  if (st?.isDirectory())
    throw new UsageError(`${flag}: ${JSON.stringify(path)} is a directory, not a file`);
  if (st?.isFile()) {
    // Opening to append writes nothing; a read-only file or mount fails here.
    try {
      closeSync(openSync(path, "a"));
    } catch (e) {
      throw cannotWrite(flag, path, e);
    }
    return path;
  }
  if (st !== undefined) return path; // a device or a pipe: opened as it is, as before
  const dir = dirname(path);
  try {
    statSync(dir);
  } catch (e) {
    throw cannotWrite(flag, path, e);
  }
  checkOutputDir(flag, dir);
  return path;
}

/** Both trace files, checked; the same file given twice would hold two documents mixed. */
export function checkTraceFiles(jsonl: string | undefined, perfetto: string | undefined): void {
  if (jsonl !== undefined) checkOutputFile("--trace", jsonl);
  if (perfetto !== undefined) checkOutputFile("--perfetto", perfetto);
  if (jsonl !== undefined && perfetto !== undefined && resolve(jsonl) === resolve(perfetto))
    throw new UsageError(
      `--trace and --perfetto name the same file ${JSON.stringify(perfetto)}: give two files`,
    );
}

/** What a run wrote into one file. */
export interface WrittenFile {
  readonly path: string;
  readonly bytes: number;
  readonly events: number;
}

/** `512 B`, `12.3 kB`, `12.3 MB`, `1.2 GB` (powers of 1000, as file managers show them). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"] as const;
  let u = 0;
  let v = n / 1000;
  while (v >= 999.95 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** `456 789`: digits in groups of three, as the run's summary writes counts. */
export function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+$)/g, " ");
}

/** `wrote run.json (12.3 MB, 456 789 events)`. */
export function wroteLine(f: WrittenFile): string {
  return `wrote ${f.path} (${formatBytes(f.bytes)}, ${groupDigits(f.events)} event${f.events === 1 ? "" : "s"})`;
}

/** One `wrote …` line per file, on stderr (stdout is the run's summary). */
export function reportWritten(
  files: readonly WrittenFile[],
  write: (s: string) => void = (s) => process.stderr.write(s),
): void {
  for (const f of files) write(`${wroteLine(f)}\n`);
}
