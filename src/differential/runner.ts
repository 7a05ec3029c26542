// Run scripts on both sides and compare: a fresh model machine and a fresh QEMU per
// script (QEMU starts in about 0.15 s, and a fresh process is the one reset nothing can
// leak through), the same lines in the same order, observations after every step.

import { type Comparison, compareRuns } from "./compare.js";
import type { Mask } from "./masks.js";
import type { DiffScript } from "./script.js";
import type { Observation, Side } from "./sides.js";

export interface ScriptOutcome {
  readonly script: DiffScript;
  readonly steps: number;
  readonly comparison: Comparison;
  /** Observations of both sides, for a report with context. */
  readonly model: readonly Observation[];
  readonly qemu: readonly Observation[];
}

export interface SideFactory {
  model(): Side;
  qemu(): Promise<Side>;
}

/**
 * A side that fails (QEMU exits or crashes on a line) ends its run with an observation
 * whose reply says how, so the comparison stops there with that as the difference.
 */
async function runSide(side: Side, steps: readonly string[]): Promise<Observation[]> {
  const out = [side.realize()];
  try {
    for (const line of steps) out.push(await side.step(line));
  } catch (e) {
    const message = (e instanceof Error ? e.message : String(e)).split("\n").join(" | ");
    out.push({
      reply: `${side.name} failed: ${message}`,
      irqs: [],
      ioctls: [],
      hwQueues: [],
      console: [],
    });
  } finally {
    await side.dispose();
  }
  return out;
}

export async function runScript(
  script: DiffScript,
  sides: SideFactory,
  masks: readonly Mask[],
): Promise<ScriptOutcome> {
  const model = await runSide(sides.model(), script.steps);
  const qemu = await runSide(await sides.qemu(), script.steps);
  return {
    script,
    steps: script.steps.length,
    comparison: compareRuns(script.steps, model, qemu, masks),
    model,
    qemu,
  };
}
