// `cmdqv run --replay FILE`: reproduce a counterexample bit for bit, with its trace, the
// VMM console, the host ioctl log and dmesg (host and guest), and the invariant results.

import { INVARIANT_NAMES, type Violation } from "../check/invariants.js";
import { runInterleavings } from "../explore/interleavings.js";
import { runOrderings } from "../explore/orderings.js";
import type { ReplayFile } from "../explore/replay.js";
import { loadReplayFile } from "../explore/replay-load.js";
import { createMachine, type Machine } from "../machine/machine.js";
import { ReplayChoice } from "../sim/choice.js";
import type { WorldCut } from "../sim/world.js";
import type { TraceSink } from "../trace/trace.js";
import { replayQemuCommand } from "./explore-qemu-cmd.js";
import { parseChoice, UsageError } from "./options.js";
import { withTraceFiles } from "./output.js";
import { reportCuts } from "./run-cmd.js";

export async function replayCommand(
  path: string,
  trace?: string,
  perfetto?: string,
  over: { vmm?: string; qemu?: string } = {},
): Promise<number> {
  const r = loadReplayFile(path);
  if (!r.ok) throw new UsageError(r.error);
  const f = r.value;
  // A file found on real QEMU replays there unless --vmm model says otherwise.
  const vmm = parseChoice(
    "--vmm",
    over.vmm ?? (f.mode === "orderings" ? (f.vmm ?? "model") : "model"),
    ["model", "qemu"] as const,
  );
  if (vmm === "qemu") {
    if (f.mode !== "orderings")
      throw new UsageError(`${path}: --vmm qemu replays orderings files only, not ${f.mode}`);
    if (trace !== undefined || perfetto !== undefined)
      throw new UsageError("--trace and --perfetto trace our model; real QEMU has no such trace");
    return replayQemuCommand(path, f, over.qemu);
  }
  if (over.qemu !== undefined) throw new UsageError("--qemu needs --vmm qemu");
  // The machine as the run will build it: orderings arm their fault plan once it is up,
  // interleavings from the start, so there a plan can fail QEMU's cold-plug of the device.
  const built = createMachine(
    f.mode === "orderings" ? { ...f.machine, faultPlan: { kind: "none" } } : f.machine,
  );
  if (!built.ok)
    throw new UsageError(
      f.mode === "interleavings" && f.machine.faultPlan.kind !== "none"
        ? `${path}: machine.faultPlan: the machine cannot be built under it (${built.error})`
        : `${path}: the machine cannot be built (${built.error})`,
    );
  // Traces go to their files as they happen; without --trace/--perfetto none is recorded.
  return withTraceFiles(trace, perfetto, (sink) => replayOnModel(path, f, sink).code);
}

/**
 * Replay `f` on the model and print what happened. Trace events go to `sink` as they
 * happen; with no sink none is recorded, so a long replay keeps no trace in memory.
 */
export function replayOnModel(
  path: string,
  f: ReplayFile,
  sink: TraceSink | null,
): { readonly code: number; readonly machine: Machine | null } {
  const choice = new ReplayChoice(f.choices);
  let m: Machine | null;
  let steps: string[];
  let violations: readonly Violation[];
  let guestDmesg: string[] = [];
  let cuts: readonly WorldCut[] = [];
  if (f.mode === "orderings") {
    const machine = f.faultPlan ? { ...f.machine, faultPlan: f.faultPlan } : f.machine;
    const out = runOrderings(
      { machine, queues: f.queues, extras: f.extras, faults: f.faults },
      choice,
      null,
      sink ?? false,
    );
    m = out.machine;
    steps = out.steps.map((s) => `${s.step}${s.fault ? `   [host call failed: ${s.fault}]` : ""}`);
    violations = out.checker.violations();
  } else {
    const out = runInterleavings(
      { machine: f.machine, invalidations: f.invalidations, vcpus: f.vcpus, inject: f.inject },
      choice,
      sink ?? false,
    );
    m = out.world.machine;
    steps = [...out.steps];
    violations = out.world.checker.violations();
    guestDmesg = out.world.dmesg.listing();
    cuts = out.world.cutShort();
  }
  console.log(`replay of ${path}: ${f.mode}, profile ${f.machine.profile}`);
  print("steps", steps);
  if (m) {
    if (guestDmesg.length > 0) print("guest dmesg", guestDmesg);
    print("VMM console", m.log.text());
    print(
      "host ioctl log",
      m.host.iommufd.log.condensed().filter((l) => !l.startsWith("read(veventq)")),
    );
    print("host dmesg", m.host.hostDmesg());
  }
  console.log("\ninvariants:");
  for (const inv of INVARIANT_NAMES) {
    const v = violations.filter((x) => x.invariant === inv);
    console.log(`  ${inv.padEnd(20)} ${v.length === 0 ? "ok" : `VIOLATED: ${v[0]!.message}`}`);
  }
  if (choice.mismatched())
    console.log("\nwarning: the recorded choices do not fit this version of the model");
  const reproduced = violations.some((v) => v.invariant === f.invariant);
  console.log(`\n${reproduced ? "reproduced" : "NOT reproduced"}: ${f.invariant}`);
  return {
    code: reportCuts("cmdqv run --replay", cuts, violations.length > 0 ? 1 : 0),
    machine: m,
  };
}

function print(title: string, lines: readonly string[]): void {
  console.log(`\n${title}:`);
  for (const l of lines) console.log(`  ${l}`);
  if (lines.length === 0) console.log("  (none)");
}
