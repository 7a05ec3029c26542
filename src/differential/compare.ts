// Compare two sides' observations step by step, after the masks, and find the first
// difference: which step, which kind of observation, both values, and the steps before
// it for context.

import type { IoctlLogEntry } from "../host/kernel/ioctl-log.js";
import type { Mask } from "./masks.js";
import type { Observation } from "./sides.js";

export const OBSERVATION_KINDS = ["reply", "irqs", "ioctls", "hwQueues", "console"] as const;
export type ObservationKind = (typeof OBSERVATION_KINDS)[number];

export interface Difference {
  /** 0 is the realize pseudo-step; step i ≥ 1 is the script's line i. */
  readonly step: number;
  readonly line: string;
  readonly kind: ObservationKind;
  readonly model: readonly string[];
  readonly qemu: readonly string[];
}

export interface Comparison {
  /** Observations compared (one per kind per step, the realize step included). */
  readonly compared: number;
  /** The first difference. */
  readonly difference: Difference | null;
  /** Every difference, in step order (at most MAX_DIFFERENCES). */
  readonly differences: readonly Difference[];
}

/** A run that has drifted apart differs at every later step; the rest adds nothing. */
export const MAX_DIFFERENCES = 50;

/** One observation kind as lines of text (what is compared and what is printed). */
export function render(o: Observation, kind: ObservationKind): string[] {
  switch (kind) {
    case "reply":
      return o.reply === null ? [] : [o.reply];
    case "irqs":
      return [...o.irqs];
    case "ioctls":
      return o.ioctls.map(renderCall);
    case "hwQueues":
      return o.hwQueues.map(
        (q) =>
          `hw_queue ${q.id}: index ${q.index} iova 0x${q.iova.toString(16)} length ${q.length}`,
      );
    case "console":
      return [...o.console];
  }
}

/**
 * A call in full: every argument (the vSTE and vIOMMU data bytes and the invalidation
 * entries too, which a condensed log line leaves out) and the result or errno.
 */
function renderCall(e: IoctlLogEntry): string {
  const outcome =
    e.errno !== undefined
      ? `${e.errno}${e.detail !== undefined ? ` ${JSON.stringify(e.detail)}` : ""}`
      : JSON.stringify(e.result ?? null);
  return `${e.call} ${JSON.stringify(e.args)} → ${outcome}`;
}

function apply(masks: readonly Mask[], run: readonly Observation[]): Observation[] {
  const rewriters = masks.map((m) => m.start());
  return run.map((o) => rewriters.reduce((x, f) => f(x), o));
}

/**
 * `lines[i]` is the script line of step i + 1; `model[0]`/`qemu[0]` are the realize
 * observations. The shorter run bounds the comparison (a side that stopped early is
 * itself reported by the runner).
 */
export function compareRuns(
  lines: readonly string[],
  modelRun: readonly Observation[],
  qemuRun: readonly Observation[],
  masks: readonly Mask[],
): Comparison {
  const a = apply(masks, modelRun);
  const b = apply(masks, qemuRun);
  let compared = 0;
  const differences: Difference[] = [];
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    for (const kind of OBSERVATION_KINDS) {
      const x = render(a[i]!, kind);
      const y = render(b[i]!, kind);
      compared++;
      const same = x.length === y.length && x.every((l, j) => l === y[j]);
      if (!same && differences.length < MAX_DIFFERENCES)
        differences.push({
          step: i,
          line: i === 0 ? "(realize)" : lines[i - 1]!,
          kind,
          model: x,
          qemu: y,
        });
    }
  }
  return { compared, difference: differences[0] ?? null, differences };
}
