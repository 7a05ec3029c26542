// Helpers of the `cmdqv run` tests (run-cmd.test.ts, replay-cmd.test.ts): the command's
// output captured in-process, and the --profile all table read back as data.

import { INVARIANT_NAMES } from "../check/invariants.js";

export interface Captured<T> {
  readonly value: T;
  readonly out: string[];
  readonly err: string[];
}

/** Run `body` with console.log and console.error captured (awaited when it is async). */
export async function captured<T>(body: () => T | Promise<T>): Promise<Captured<T>> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    return { value: await body(), out, err };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** Row label → profile → cell of the --profile all table in `text` (header: the profiles). */
export function matrixOf(text: string): Map<string, Map<string, string>> {
  const lines = text.split("\n");
  const first = INVARIANT_NAMES[0]!;
  const at = lines.findIndex((l) => l.trim().startsWith(`${first} `));
  if (at < 1) throw new Error(`no table in:\n${text}`);
  const profiles = lines[at - 1]!.trim().split(/\s{2,}/);
  const rows = new Map<string, Map<string, string>>();
  for (const line of lines.slice(at)) {
    if (line.trim() === "") break;
    const [label, ...cells] = line.trim().split(/\s{2,}/);
    rows.set(label!, new Map(profiles.map((p, i) => [p, cells[i] ?? ""])));
  }
  return rows;
}

/** Each invariant's word in a run's `invariants:` section: ok, VIOLATED, VIOLATED (expected). */
export function invariantsOf(text: string): Map<string, string> {
  const lines = text.split("\n");
  const from = lines.lastIndexOf("invariants:");
  const out = new Map<string, string>();
  for (const line of lines.slice(from + 1)) {
    const m = /^ {2}(\S+)\s+(ok|VIOLATED(?: \(expected\))?)(?::|$)/.exec(line);
    if (!m) break;
    out.set(m[1]!, m[2]!);
  }
  return out;
}
