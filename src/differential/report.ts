// Text of a differential run: the first difference of a script with the steps before it,
// and the closing count of scripts, steps and observations compared.

import { type Difference, OBSERVATION_KINDS, render } from "./compare.js";
import type { ScriptOutcome } from "./runner.js";

const indent = (lines: readonly string[], mark: string) =>
  lines.length === 0 ? [`    ${mark} (nothing)`] : lines.map((l) => `    ${mark} ${l}`);

/** The first difference of `o` (null when it has none), with `context` earlier steps. */
export function describeDifference(o: ScriptOutcome, context = 3): string | null {
  const d = o.comparison.difference;
  if (d === null) return null;
  return describe(o, d, context);
}

/** Every difference of `o`, each with its context. */
export function describeAll(o: ScriptOutcome, context = 3): string[] {
  return o.comparison.differences.map((d) => describe(o, d, context));
}

function describe(o: ScriptOutcome, d: Difference, context: number): string {
  const origin = d.step > 0 ? o.script.origins?.[d.step - 1] : undefined;
  const out = [
    `${o.script.name}: step ${d.step}${origin ? ` (${origin})` : ""}: ${d.line}`,
    `  differs in ${d.kind}:`,
    ...indent(d.model, "model:"),
    ...indent(d.qemu, "qemu: "),
  ];
  const from = Math.max(1, d.step - context);
  if (from < d.step) {
    out.push("  before it (as QEMU answered):");
    for (let i = from; i < d.step; i++) {
      const obs = o.qemu[i];
      const extra = obs
        ? OBSERVATION_KINDS.filter((k) => k !== "reply" && k !== "hwQueues")
            .flatMap((k) => render(obs, k))
            .slice(0, 4)
        : [];
      out.push(`    ${i}. ${o.script.steps[i - 1]} → ${obs?.reply ?? "?"}`);
      for (const e of extra) out.push(`         ${e}`);
    }
  }
  return out.join("\n");
}

export interface Totals {
  readonly scripts: number;
  readonly steps: number;
  readonly observations: number;
  readonly differing: number;
}

export function totals(outcomes: readonly ScriptOutcome[]): Totals {
  return {
    scripts: outcomes.length,
    steps: outcomes.reduce((n, o) => n + o.steps, 0),
    observations: outcomes.reduce((n, o) => n + o.comparison.compared, 0),
    differing: outcomes.filter((o) => o.comparison.difference !== null).length,
  };
}

export function summaryLine(t: Totals): string {
  return (
    `${t.scripts} scripts, ${t.steps} steps, ${t.observations} observations compared: ` +
    (t.differing === 0 ? "no differences" : `${t.differing} scripts differ`)
  );
}
