// Replay files: a counterexample as data. The machine, the program's parameters, the
// fault plan and the choice list reproduce the run bit for bit (`cmdqv run --replay FILE`).
// Host calls in them are numbered from the machine's creation (docs/scenarios.md, "Fault
// numbering"); an orderings file says so in `fault_numbering`, and one written before
// (which counted a fault plan's calls after the set-up) is renumbered when it is loaded.

import type { InvariantName } from "../check/invariants.js";
import type { FaultPlan, FaultSite } from "../host/faults.js";
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
   * How `faultPlan`'s calls are numbered: from the machine's creation. Files without it
   * predate that and counted from the end of the set-up.
   */
  readonly fault_numbering?: "machine-creation";
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
  /**
   * The steps the choices produce, for people (the choices are what replays); a step in
   * which host calls failed reads `STEP [fail SITE (call N)]`.
   */
  readonly steps: readonly string[];
  /** The host calls that failed in the run, with their step: the faults `steps` shows, as data. */
  readonly injected?: readonly {
    readonly step: string;
    readonly site: FaultSite;
    readonly call: number;
  }[];
  /**
   * A fault plan fixed for the run (fail-nth, swarm), if any. An `nth` or `site` plan is
   * the machine's from its creation; a probability plan is armed once the machine is set up.
   */
  readonly faultPlan: FaultPlan | undefined;
}
