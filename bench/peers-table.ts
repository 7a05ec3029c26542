// The table `npm run bench:qemu` prints: one row per figure, one column per peer (QEMU 7.2,
// QEMU 11.1 on cmdqv's simulated host, cmdqv), each cell the median with the min–max of its
// rounds, then cmdqv's ratio to each QEMU and a note (e.g. the share of a physical limit).
// A peer that could not be run keeps its column: its cells say "not run" with a mark, and a
// line under the table gives the reason. Pure: no QEMU is needed to format or test it.

import type { Spread } from "./stats.js";
import { formatValue } from "./table.js";

export const PEER_KEYS = ["qemu72", "qemu111", "cmdqv"] as const;
export type PeerKey = (typeof PEER_KEYS)[number];
/** The QEMUs cmdqv is compared with, each with a ratio column. */
const COMPARED = ["qemu72", "qemu111"] as const;

export interface PeerColumn {
  /** Column title, e.g. "QEMU 7.2". */
  readonly title: string;
  /** Short title in the ratio column's header ("cmdqv/7.2"). */
  readonly short: string;
  /** Why the peer was not run, or null when it was. */
  readonly missing: string | null;
}

export type PeerColumns = Readonly<Record<PeerKey, PeerColumn>>;

export interface PeerRow {
  /** Stable key for --json. */
  readonly key: string;
  readonly figure: string;
  /** A peer without this figure has no entry (its cell shows "-"). */
  readonly values: Readonly<Partial<Record<PeerKey, Spread>>>;
  readonly note?: string;
}

/** `1,234 (1,100–1,300)`, or just the value for a single round. */
export function spreadCell(s: Spread): string {
  const m = formatValue(s.median);
  return s.min === s.max ? m : `${m} (${formatValue(s.min)}–${formatValue(s.max)})`;
}

/** cmdqv's median over the peer's, `3.42×`; `-` when either is absent. */
export function ratioCell(cmdqv: Spread | undefined, peer: Spread | undefined): string {
  if (cmdqv === undefined || peer === undefined || peer.median === 0) return "-";
  return `${(cmdqv.median / peer.median).toFixed(2)}×`;
}

/** The table's lines: header, rule, one line per row, then why each missing peer was not run. */
export function formatPeerTable(columns: PeerColumns, rows: readonly PeerRow[]): string[] {
  const missing = PEER_KEYS.filter((k) => columns[k].missing !== null);
  const mark = (k: PeerKey): string => "*".repeat(missing.indexOf(k) + 1);
  const title = (k: PeerKey): string =>
    columns[k].missing === null ? columns[k].title : `${columns[k].title}${mark(k)}`;
  const cell = (r: PeerRow, k: PeerKey): string => {
    if (columns[k].missing !== null) return `not run${mark(k)}`;
    const v = r.values[k];
    return v === undefined ? "-" : spreadCell(v);
  };
  const table: string[][] = [
    [
      "figure",
      ...PEER_KEYS.map(title),
      ...COMPARED.map((k) => `cmdqv/${columns[k].short}`),
      "note",
    ],
    ...rows.map((r) => [
      r.figure,
      ...PEER_KEYS.map((k) => cell(r, k)),
      ...COMPARED.map((k) =>
        columns[k].missing === null ? ratioCell(r.values.cmdqv, r.values[k]) : "-",
      ),
      r.note ?? "",
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((l) => l[i]!.length)));
  const line = (l: readonly string[]): string =>
    l
      .map((c, i) =>
        i === 0 || i === l.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!),
      )
      .join("  ")
      .trimEnd();
  return [
    line(table[0]!),
    line(widths.map((w) => "-".repeat(w))),
    ...table.slice(1).map(line),
    ...missing.map((k) => `${mark(k)} ${columns[k].title} not run: ${columns[k].missing}`),
  ];
}

/** The same content for --json: each peer's title and reason, each row's spreads and ratios. */
export function peerTableJson(columns: PeerColumns, rows: readonly PeerRow[]) {
  return {
    peers: columns,
    rows: rows.map((r) => ({
      key: r.key,
      figure: r.figure,
      ...Object.fromEntries(PEER_KEYS.map((k) => [k, r.values[k] ?? null])),
      ...Object.fromEntries(
        COMPARED.map((k) => {
          const c = columns[k].missing === null ? ratioCell(r.values.cmdqv, r.values[k]) : "-";
          return [`ratio_cmdqv_${k}`, c === "-" ? null : Number(c.slice(0, -1))];
        }),
      ),
      ...(r.note !== undefined ? { note: r.note } : {}),
    })),
  };
}
