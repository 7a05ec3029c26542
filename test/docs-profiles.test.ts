// docs/profiles.md's flag tables are the profile records, row for row and value for value:
// the Tegra241 CMDQV device model's (src/vmm/tegra241-cmdqv/profile.ts) and the SMMUv3's
// (src/vmm/smmuv3/profile.ts). A flag added, dropped or changed in code and not in the
// table (or the other way round) fails here, so the table cannot go stale.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as smmuv3 from "../src/vmm/smmuv3/profile.js";
import { PROFILE_NAMES, PROFILES } from "../src/vmm/tegra241-cmdqv/profile.js";
import { read, withoutFences } from "./docs-kit.js";

type Records = ReadonlyMap<string, Readonly<Record<string, unknown>>>;

/** The Markdown tables of a text: each a list of rows of trimmed cells (separator dropped). */
export function tables(md: string): string[][][] {
  const out: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of withoutFences(md).split("\n")) {
    if (!line.trimStart().startsWith("|")) {
      current = undefined;
      continue;
    }
    const cells = line
      .trim()
      .replace(/^\||\|$/g, "")
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
    if (!current) {
      current = [];
      out.push(current);
    }
    current.push(cells);
  }
  return out;
}

/** A cell as a value: markup (bold, code, escapes) dropped. */
function cellText(cell: string): string {
  return cell
    .replace(/\*\*|`/g, "")
    .replace(/\\(.)/g, "$1")
    .trim();
}

/** Whether a table cell states `value`: arrays of numbers as comma lists (any base). */
function states(cell: string, value: unknown): boolean {
  const text = cellText(cell);
  if (Array.isArray(value)) {
    const parts = text.split(",").map((p) => Number(p.trim()));
    return parts.length === value.length && parts.every((n, i) => n === value[i]);
  }
  return text === String(value);
}

/** The table whose columns after "flag" are exactly the records' names, and its problems. */
function compare(md: string, records: Records): string[] {
  const names = [...records.keys()];
  const table = tables(md).find(
    (t) => t[0]?.[0] === "flag" && names.every((n, i) => t[0]?.[i + 1] === n),
  );
  if (!table) return [`no table with the columns | flag | ${names.join(" | ")} | …`];
  const header = table[0] ?? [];
  const problems: string[] = [];
  if (header.length !== names.length + 2)
    problems.push(`columns ${header.join(", ")}: expected flag, the profiles, and a meaning`);
  const first = records.get(names[0] ?? "") ?? {};
  const flags = Object.keys(first).filter((k) => k !== "name");
  const rows = new Map(table.slice(1).map((r) => [cellText(r[0] ?? ""), r]));
  for (const flag of flags) if (!rows.has(flag)) problems.push(`no row for ${flag}`);
  for (const [flag, row] of rows) {
    if (!flags.includes(flag)) {
      problems.push(`row ${flag} is not a flag of the record`);
      continue;
    }
    names.forEach((name, i) => {
      const value = records.get(name)?.[flag];
      if (!states(row[i + 1] ?? "", value))
        problems.push(
          `${flag} of ${name}: the table says ${row[i + 1]}, the record ${String(value)}`,
        );
    });
  }
  return problems;
}

const CMDQV: Records = new Map(
  PROFILE_NAMES.map((n) => [n, PROFILES[n] as unknown as Readonly<Record<string, unknown>>]),
);

/** Every SMMUv3 profile record the module exports, by name. */
const SMMUV3: Records = new Map(
  Object.values(smmuv3)
    .filter((v): v is smmuv3.Smmuv3Profile => typeof v === "object" && v !== null && "idr" in v)
    .map((p) => [p.name, p as unknown as Record<string, unknown>]),
);

describe("docs/profiles.md", () => {
  const md = read("docs/profiles.md");

  it("lists every flag of the Tegra241 CMDQV profile record for every profile, with its value", () => {
    assert.ok(Object.keys(PROFILES["qemu-v5"]).includes("emulatedEnable"));
    assert.deepEqual(compare(md, CMDQV), []);
  });

  it("lists every flag of the SMMUv3 profile records for every profile, with its value", () => {
    assert.ok(SMMUV3.size >= 2, "the SMMUv3 profiles are found");
    assert.deepEqual(compare(md, SMMUV3), []);
  });

  it("would catch a wrong value, a missing row and a row of no flag", () => {
    const lines = md.split("\n");
    const at = lines.findIndex((l) => l.startsWith("| `freeWhenUnready`"));
    assert.ok(at > 0);
    const wrong = [...lines];
    wrong[at] = (lines[at] ?? "").replace("**true**", "false");
    assert.ok(
      compare(wrong.join("\n"), CMDQV).some((p) => p.startsWith("freeWhenUnready of reference")),
    );
    const missing = lines.filter((_, i) => i !== at).join("\n");
    assert.deepEqual(compare(missing, CMDQV), ["no row for freeWhenUnready"]);
    const extra = [...lines];
    extra.splice(at, 0, "| `madeUp` | a | b | c | d | e | f |");
    assert.deepEqual(compare(extra.join("\n"), CMDQV), ["row madeUp is not a flag of the record"]);
  });
});
