// Executing one actor operation against the guest address space, charging virtual time:
// a trapped MMIO access costs a VM exit, a direct (RAM-device) access and a RAM access
// cost little. The scheduler and the single-actor runner share this.

import type { AddressSpace } from "../mem/address-space.js";
import type { VirtualClock } from "../util/clock.js";
import type { GuestOp } from "./actor.js";

export interface ExecCounters {
  /** Trapped accesses (VM exits) caused by this actor. */
  exits: number;
  /** Accesses that reached a device with no exit (the page0 map). */
  direct: number;
  ops: number;
}

/** Execute `op`, advance the clock by its cost, and return the value to send back. */
export function executeOp(
  op: GuestOp,
  as: AddressSpace,
  clock: VirtualClock,
  timing: Timing,
  counters: ExecCounters,
): number | bigint | undefined {
  counters.ops++;
  if (op.op === "delay") {
    clock.advance(op.ns);
    return undefined;
  }
  const traps = as.traps();
  const direct = as.directAccesses();
  let result: number | bigint | undefined;
  switch (op.op) {
    case "read":
      result = as.read(op.addr, op.size);
      break;
    case "read64":
      result = as.read64(op.addr) ?? 0n;
      break;
    case "write":
      as.write(op.addr, op.size, op.value);
      break;
    case "write64":
      as.write64(op.addr, op.value);
      break;
  }
  const dTrap = as.traps() - traps;
  const dDirect = as.directAccesses() - direct;
  counters.exits += dTrap;
  counters.direct += dDirect;
  clock.advance(dTrap > 0 ? timing.trapNs : dDirect > 0 ? timing.directNs : timing.ramNs);
  return result;
}

/** Run one actor to completion on its own (tests, and sequential guest programs). */
export function runToCompletion<R>(
  body: Generator<GuestOp, R, number | bigint | undefined>,
  as: AddressSpace,
  clock: VirtualClock,
  timing: Timing,
  counters: ExecCounters = { exits: 0, direct: 0, ops: 0 },
): R {
  let sent: number | bigint | undefined;
  for (;;) {
    const r = body.next(sent);
    if (r.done) return r.value;
    sent = executeOp(r.value, as, clock, timing, counters);
  }
}

/** Virtual-time costs of what a vCPU does. */
export interface Timing {
  /** A trapped MMIO access (a VM exit to the VMM and back). */
  readonly trapNs: number;
  /** A load/store that reaches device memory directly (the page0 RAM-device map). */
  readonly directNs: number;
  /** A guest RAM access. */
  readonly ramNs: number;
}

export const DEFAULT_TIMING: Timing = { trapNs: 2_000, directNs: 100, ramNs: 10 };
