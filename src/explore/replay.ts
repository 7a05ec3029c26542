// Replay files: a counterexample as data. The machine, the program's parameters and the
// choice list reproduce the run bit for bit (`cmdqv run --replay FILE`).

import type { InvariantName } from "../check/invariants.js";
import type { FaultPlan } from "../host/faults.js";
import type { MachineConfig } from "../machine/config.js";
import type { ExtraStep } from "./orderings.js";

export type ReplayFile = OrderingsReplay | InterleavingsReplay;

export interface InterleavingsReplay {
  readonly cmdqv_replay: 1;
  readonly mode: "interleavings";
  readonly machine: MachineConfig;
  readonly invalidations: number;
  readonly vcpus: number;
  readonly inject: boolean;
  readonly choices: readonly number[];
  readonly invariant: InvariantName;
  readonly message: string;
  readonly steps: readonly string[];
}

export interface OrderingsReplay {
  readonly cmdqv_replay: 1;
  readonly mode: "orderings";
  /**
   * "qemu": found on real QEMU (`cmdqv explore --vmm qemu`); its `steps` replay there, and
   * its machine is the model's profile of QEMU 11.1 (qemu-11.1) for `--vmm model`.
   */
  readonly vmm?: "model" | "qemu";
  readonly machine: MachineConfig;
  readonly queues: number;
  readonly extras: readonly ExtraStep[];
  /** Whether "which host call fails" was a choice in this run. */
  readonly faults: boolean;
  readonly choices: readonly number[];
  readonly invariant: InvariantName;
  readonly message: string;
  /** The steps the choices produce, for people (the choices are what replays). */
  readonly steps: readonly string[];
  /** A fault plan fixed for the run (fail-nth, swarm), if any. */
  readonly faultPlan: FaultPlan | undefined;
}
