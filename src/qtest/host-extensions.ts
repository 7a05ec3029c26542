// The `cmdqv_*` answers that come from the host alone, the same whichever VMM drives it
// (the model's MachineTarget, or the relay to real QEMU): the host's ioctl log and one
// armed fault.

import { Faults } from "../host/faults.js";
import type { Host } from "../host/host.js";
import type { ExtensionResult } from "./target.js";

/** `cmdqv_ioctls`: every call on the VMM's iommufd file, in order. */
export function ioctlsReply(host: Host): ExtensionResult {
  return {
    ok: true,
    reply: JSON.stringify(
      host.iommufd.log
        .entries()
        .map((e) => ({ call: e.call, args: e.args, errno: e.errno ?? null })),
    ),
  };
}

/** `cmdqv_fault SITE [N]`: fail the Nth next call at a host fault site (default 1). */
export function armFault(host: Host, args: readonly string[]): ExtensionResult {
  const [site, nth] = args;
  if (site === undefined || !Faults.isSite(site))
    return { ok: false, error: `cmdqv_fault: unknown fault site '${site ?? ""}'` };
  const n = nth === undefined || nth === "" ? 1 : Number(nth);
  if (!Number.isSafeInteger(n) || n < 1)
    return { ok: false, error: `cmdqv_fault: N must be an integer ≥ 1, got '${nth}'` };
  host.faults.arm(site, n);
  return { ok: true, reply: "" };
}
