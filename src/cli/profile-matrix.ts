// `cmdqv run --profile all`: the same run under every profile, printed as one table with
// a row per invariant and a column per profile, and the exit status of the lot.

import { INVARIANT_NAMES, type InvariantName } from "../check/invariants.js";
import { invariantCell } from "../report/summary.js";
import { PROFILE_NAMES, type ProfileName } from "../vmm/tegra241-cmdqv/profile.js";
import { EXIT } from "./exit.js";

/** The value of `--profile` that runs every profile in turn. */
export const ALL_PROFILES = "all";

/** One profile's run, as the table shows it. */
export interface ProfileColumn {
  readonly profile: ProfileName;
  /** Each invariant's result; null when the run could not start (its cells read "-"). */
  readonly invariants: readonly { readonly name: InvariantName; readonly ok: boolean }[] | null;
  /** Invariants the scenario expects violated under this profile (VIOLATED (expected)). */
  readonly expected?: ReadonlySet<InvariantName>;
  /** The cell of the last row (a scenario's passed/FAILED, a replay's yes/NO). */
  readonly verdict?: string;
  /** The exit status this run alone would have. */
  readonly code: number;
}

/**
 * The table: a header of profiles (the file's own marked `*`), a row per invariant in
 * INVARIANT_NAMES order, and `verdictRow` when given. Columns are in PROFILE_NAMES order.
 */
export function formatProfileMatrix(
  columns: readonly ProfileColumn[],
  o: { readonly own?: ProfileName; readonly verdictRow?: string } = {},
): string {
  const cols = PROFILE_NAMES.map((p) => columns.find((c) => c.profile === p)).filter(
    (c): c is ProfileColumn => c !== undefined,
  );
  const rows: string[][] = [
    ["", ...cols.map((c) => (c.profile === o.own ? `${c.profile}*` : c.profile))],
  ];
  for (const name of INVARIANT_NAMES)
    rows.push([
      name,
      ...cols.map((c) => {
        const r = c.invariants?.find((i) => i.name === name);
        return r ? invariantCell(r.ok, c.expected?.has(name) === true) : "-";
      }),
    ]);
  if (o.verdictRow !== undefined) rows.push([o.verdictRow, ...cols.map((c) => c.verdict ?? "-")]);
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
  return rows
    .map((r) => `  ${r.map((cell, j) => cell.padEnd(widths[j]!)).join("   ")}`.trimEnd())
    .join("\n");
}

/**
 * The exit status of runs under several profiles: the worst any one of them would have
 * alone (a failure or violation over a cut-short run over success).
 */
export function worstExit(codes: readonly number[]): number {
  return (
    codes.find((c) => c !== EXIT.ok && c !== EXIT.cutShort) ??
    (codes.includes(EXIT.cutShort) ? EXIT.cutShort : EXIT.ok)
  );
}
