// `cmdqv run --replay FILE`: reproduce a counterexample bit for bit, with its trace, the
// VMM console, the host ioctl log and dmesg, and the invariant results.

import { INVARIANT_NAMES } from "../check/invariants.js";
import { runOrderings } from "../explore/orderings.js";
import { loadReplayFile } from "../explore/replay-load.js";
import { ReplayChoice } from "../sim/choice.js";
import { VirtualClock } from "../sim/clock.js";
import { RecordingTracer } from "../trace/trace.js";
import { UsageError } from "./options.js";
import { writeTraces } from "./output.js";

export function replayCommand(path: string, trace?: string, perfetto?: string): number {
  const r = loadReplayFile(path);
  if (!r.ok) throw new UsageError(r.error);
  const f = r.value;
  // The tracer reads time from the machine's clock once it exists; until then, zero.
  const holder: { clock: VirtualClock } = { clock: new VirtualClock() };
  const tracer = new RecordingTracer({ now: () => holder.clock.now() });
  const machine = f.faultPlan ? { ...f.machine, faultPlan: f.faultPlan } : f.machine;
  const choice = new ReplayChoice(f.choices);
  const out = runOrderings(
    { machine, queues: f.queues, extras: f.extras, faults: f.faults },
    choice,
    null,
    {
      enabled: true,
      emit: (a, n, x) => tracer.emit(a, n, x),
    },
  );
  if (out.machine) holder.clock = out.machine.host.clock;
  const m = out.machine;
  console.log(`replay of ${path}: profile ${f.machine.profile}, ${f.queues} VCMDQs`);
  console.log("");
  console.log("steps:");
  for (const s of out.steps)
    console.log(`  ${s.step}${s.fault ? `   [host call failed: ${s.fault}]` : ""}`);
  if (m) {
    console.log("");
    console.log("VMM console:");
    for (const l of m.log.text()) console.log(`  ${l}`);
    console.log("");
    console.log("host ioctl log:");
    for (const l of m.host.iommufd.log.condensed()) console.log(`  ${l}`);
    console.log("");
    console.log("host dmesg:");
    for (const l of m.host.hostDmesg()) console.log(`  ${l}`);
  }
  console.log("");
  console.log("invariants:");
  for (const inv of INVARIANT_NAMES) {
    const v = out.checker.violations().filter((x) => x.invariant === inv);
    console.log(`  ${inv.padEnd(20)} ${v.length === 0 ? "ok" : `VIOLATED: ${v[0]!.message}`}`);
  }
  if (choice.mismatched())
    console.log("\nwarning: the recorded choices do not fit this version of the model");
  writeTraces(tracer.events, trace, perfetto);
  const reproduced = out.checker.violations().some((v) => v.invariant === f.invariant);
  console.log(`\n${reproduced ? "reproduced" : "NOT reproduced"}: ${f.invariant}`);
  return out.checker.violations().length > 0 ? 1 : 0;
}
