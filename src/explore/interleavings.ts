// The "interleavings" program: the Linux-like guest boots, then vCPUs issue invalidation
// batches while a hardware event happens at a moment the choice source picks — a command
// in a VCMDQ's ring turns illegal under the hardware (a corrupted entry), which raises a
// command error, the CMDQV interrupt, the host ISR's vEVENT, the VMM's vEVENTQ handler,
// the guest's interrupt and its ISR (skip and ack). Which actor or service runs at each
// step is a choice too, so the explorer covers the orders of the guest's polls, the
// vEVENT delivery and the interrupt handling. Invariants are checked after every step.

import { type ActorBody, delay } from "../guest/actor.js";
import type { MachineConfig } from "../machine/config.js";
import type { ChoiceSource } from "../sim/choice.js";
import { World } from "../sim/world.js";
import { CMDQ_ERR, cmdqErrorName } from "../smmu/errors.js";
import type { TraceSink } from "../trace/trace.js";
import { Hasher, machineFingerprint } from "./fingerprint.js";

export interface InterleavingsOptions {
  readonly machine: MachineConfig;
  /** Invalidations the vCPUs issue together. */
  readonly invalidations: number;
  readonly vcpus: number;
  /** Inject the hardware command error. */
  readonly inject: boolean;
}

export interface InterleavingsOutcome {
  readonly world: World;
  readonly steps: readonly string[];
  readonly bootFailed: boolean;
  /** Fingerprint of the machine when the workload ended (before teardown). */
  readonly endState: number;
}

/** When the hardware event happens, in virtual ns after the workload starts: a choice. */
const INJECT_DELAYS = [0, 3_000, 30_000];
/** Which error the hardware raises: a choice. spec: linux §2.2. */
const INJECT_CODES = [CMDQ_ERR.ILL, CMDQ_ERR.ABT, CMDQ_ERR.ATC_INV_SYNC].map((code) => ({
  code,
  name: cmdqErrorName(code),
}));

/** The hardware event: VCMDQ0's next command fails with the chosen CONS.ERR code. */
function* injector(w: World, choice: ChoiceSource, steps: string[]): ActorBody<void> {
  const d = INJECT_DELAYS[choice.int(INJECT_DELAYS.length)]!;
  const e = INJECT_CODES[choice.int(INJECT_CODES.length)]!;
  if (d > 0) yield delay(d);
  const m = w.machine;
  const info = m.host.iommufd.viommuInfo(m.viommuId);
  if (!info || info.vintf < 0) return;
  const q = m.host.hw.vcmdqOf(info.vintf, 0);
  if (q < 0) return;
  m.host.hw.armError(q, e.code);
  steps.push(`at ${m.host.clock.now()} ns: VCMDQ0's next command fails with ${e.name}`);
}

export function runInterleavings(
  o: InterleavingsOptions,
  choice: ChoiceSource,
  trace?: boolean | TraceSink,
): InterleavingsOutcome {
  const w = World.create({ machine: o.machine, choice, ...(trace ? { trace } : {}) });
  if (!w.ok) throw new Error(`the explored machine could not be built: ${w.error}`);
  const world = w.value;
  const steps: string[] = [];
  const boot = world.boot();
  steps.push(`boot → ${boot}`);
  if (boot !== 0) {
    const endState = machineFingerprint(world.machine, new Hasher()).digest();
    world.teardown();
    return { world, steps, bootFailed: true, endState };
  }
  if (o.inject) world.spawn("hw.event", injector(world, choice, steps));
  world.apply({
    kind: "workload",
    invalidations: o.invalidations,
    vcpus: o.vcpus,
    weights: { TLBI_NH_ASID: 3, TLBI_NH_VA: 1 },
  });
  steps.push(
    `workload: ${world.invalidationsIssued()} commands issued, ${world.cmdqv?.isrRuns ?? 0} guest ISR runs`,
  );
  const endState = machineFingerprint(world.machine, new Hasher()).digest();
  world.teardown();
  return { world, steps, bootFailed: false, endState };
}
