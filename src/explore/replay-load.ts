// Loading a replay file: validated field by field so a hand-edited or foreign file gets a
// clear error naming the field, never a crash. An orderings file written before host calls
// were numbered from the machine's creation has its fault plan renumbered (numberFaults).

import { readFileSync } from "node:fs";
import { z } from "zod";
import { INVARIANT_NAMES } from "../check/invariants.js";
import { MAX_WORKLOAD_INVALIDATIONS } from "../guest/workload.js";
import { FAULT_SITES, type FaultPlan } from "../host/faults.js";
import { LAYOUTS, machineProblems } from "../machine/config.js";
import { PAGE_SIZES } from "../mem/types.js";
import { err, ok, type Result } from "../util/result.js";
import { PROFILE_NAMES } from "../vmm/tegra241-cmdqv/profile.js";
import { EXTRA_STEPS, setupCallsOf } from "./orderings.js";
import type { OrderingsReplay, ReplayFile } from "./replay.js";

/** One of a list of string literals (zod 4's z.literal takes the whole list). */
function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.literal(values);
}

const site = oneOf(FAULT_SITES);
const faultPlan = z.union([
  z.object({ kind: z.literal("none") }),
  z.object({ kind: z.literal("nth"), nth: z.number().int().min(1) }),
  z.object({ kind: z.literal("site"), site, nth: z.number().int().min(1) }),
  z.object({
    kind: z.literal("probability"),
    seed: z.number().int().min(0),
    p: z.partialRecord(site, z.number().min(0).max(1)),
  }),
]);
const u = (max: number) => z.number().int().min(0).max(max);

const machine = z.object({
  profile: oneOf(PROFILE_NAMES),
  ramBase: u(2 ** 52),
  ramSize: u(2 ** 46),
  ramPage: oneOf(Object.keys(PAGE_SIZES) as [keyof typeof PAGE_SIZES]),
  smmuBase: u(2 ** 52),
  cmdqvBase: u(2 ** 52),
  // Replay files written before layouts carry no SPIs: they never raised a qtest IRQ line.
  spis: z
    .object({ eventq: u(1019), priq: u(1019), cmdSync: u(1019), gerror: u(1019), cmdqv: u(1019) })
    .default(LAYOUTS["qemu-11.1"].spis),
  vcmdqs: u(128),
  seed: u(0xffff_ffff),
  cmdqv: oneOf(["off", "auto", "on"]),
  vcpus: u(64),
  faultPlan,
  physSid: u(0xf_ffff),
  virtSid: u(0xf_ffff),
  timing: z.object({ trapNs: u(1e9), directNs: u(1e9), ramNs: u(1e9) }),
});

const orderings = z.object({
  cmdqv_replay: z.literal(1),
  mode: z.literal("orderings"),
  fault_numbering: z.literal("machine-creation").optional(),
  machine,
  queues: z.number().int().min(1).max(8),
  extras: z.array(oneOf(EXTRA_STEPS)),
  faults: z.boolean(),
  choices: z.array(z.number().int().min(0)).max(100_000),
  invariant: oneOf(INVARIANT_NAMES),
  message: z.string(),
  steps: z.array(z.string()),
  injected: z
    .array(z.object({ step: z.string(), site, call: z.number().int().min(1) }))
    .max(100_000)
    .optional(),
  faultPlan: faultPlan.optional(),
  vmm: oneOf(["model", "qemu"]).optional(),
});

const interleavings = z.object({
  cmdqv_replay: z.literal(1),
  mode: z.literal("interleavings"),
  machine,
  // The bound of every workload (cmdqv run --invalidations, scenario files).
  invalidations: z.number().int().min(0).max(MAX_WORKLOAD_INVALIDATIONS),
  vcpus: z.number().int().min(1).max(64),
  inject: z.boolean(),
  choices: z.array(z.number().int().min(0)).max(10_000_000),
  invariant: oneOf(INVARIANT_NAMES),
  message: z.string(),
  steps: z.array(z.string()),
});

const schema = z.discriminatedUnion("mode", [orderings, interleavings]);

export function parseReplay(text: string, file: string): Result<ReplayFile, string> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return err(`${file}: not JSON (${(e as Error).message})`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    return err(`${file}: ${i.path.join(".") || "(top)"}: ${i.message}`);
  }
  // Each field passed; now the machine as a whole, and the explored queues in its VINTF.
  const f = r.data as ReplayFile;
  const problem = machineProblems(f.machine)[0];
  if (problem !== undefined) return err(`${file}: machine.${problem.field}: ${problem.message}`);
  if (f.mode === "orderings" && f.queues > f.machine.vcmdqs)
    return err(
      `${file}: queues: ${f.queues} queues explored, but machine.vcmdqs gives the VINTF ${f.machine.vcmdqs}`,
    );
  return f.mode === "orderings" ? numberFaults(f, file) : ok(f);
}

/** A plan that names calls by number (the ones whose numbering matters). */
function namesCalls(p: FaultPlan | undefined): p is Extract<FaultPlan, { kind: "nth" | "site" }> {
  return p !== undefined && (p.kind === "nth" || p.kind === "site");
}

/** A failed call as steps print it: `(call N)`. */
const CALL_IN_STEP = /\(call (\d+)\)/g;

/**
 * Host calls are numbered from the machine's creation (docs/scenarios.md, "Fault
 * numbering"). A file written before `fault_numbering` counted calls from the end of the
 * set-up: its plan is renumbered by the set-up's calls (in all, or at the plan's site),
 * and so are the calls its steps print. (A file found on real QEMU counted from the end of
 * QEMU's realize, which the model cannot count: its steps stay as written; a replay there
 * arms its faults by site, not by number.) A current file whose plan names a set-up call
 * is refused: explored runs start once the machine is up.
 */
function numberFaults(f: OrderingsReplay, file: string): Result<ReplayFile, string> {
  const plans = [
    ["faultPlan", f.faultPlan],
    ["machine.faultPlan", f.machine.faultPlan],
  ] as const;
  const old = f.fault_numbering === undefined;
  const oldSteps = old && f.vmm !== "qemu" && f.steps.some((s) => s.includes("(call "));
  if (!plans.some(([, p]) => namesCalls(p)) && !oldSteps) return ok(f);
  const setup = setupCallsOf(f.machine);
  if (!setup.ok) return err(`${file}: the machine cannot be built (${setup.error})`);
  const before = (p: Extract<FaultPlan, { kind: "nth" | "site" }>) =>
    p.kind === "nth" ? setup.value.calls : (setup.value.siteCalls[p.site] ?? 0);
  if (old) {
    const renumber = <P extends FaultPlan | undefined>(p: P): P =>
      namesCalls(p) ? ({ ...p, nth: p.nth + before(p) } as P) : p;
    return ok({
      ...f,
      fault_numbering: "machine-creation",
      faultPlan: renumber(f.faultPlan),
      machine: { ...f.machine, faultPlan: renumber(f.machine.faultPlan) },
      steps: oldSteps
        ? f.steps.map((s) =>
            s.replace(CALL_IN_STEP, (_, n: string) => `(call ${Number(n) + setup.value.calls})`),
          )
        : f.steps,
    });
  }
  for (const [field, p] of plans)
    if (namesCalls(p) && p.nth <= before(p))
      return err(
        `${file}: ${field}.nth: ${p.nth} is a call of the machine's set-up (${before(p)} call(s)${p.kind === "site" ? ` at ${p.site}` : ""}, numbered from its creation); an explored run fails a call after it`,
      );
  return ok(f);
}

export function loadReplayFile(path: string): Result<ReplayFile, string> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    return err(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  return parseReplay(text, path);
}
