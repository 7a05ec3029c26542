// Which CMDQ virtualization an accelerated SMMUv3 gets, decided on the first VFIO device
// attach, and the check QEMU makes once machine init is done. spec: qemu §1.4.

import type { Result } from "../../util/result.js";
import { err, OK_VOID } from "../../util/result.js";

/** The arm-smmuv3 `cmdqv` property (OnOffAuto; auto is the default). spec: qemu §1.4, §1.9. */
export type CmdqvMode = "off" | "auto" | "on";

export type CmdqvSelection<T> =
  | { readonly ok: true; readonly cmdqv: T | null }
  | { readonly ok: false; readonly error: string };

/** The attach error for cmdqv=on when the probe fails (the probe's detail follows). spec: qemu §1.4. */
export const CMDQV_NOT_SUPPORTED = "CMDQV requested but not supported";

/** QEMU's exit message at machine-init-done for cmdqv=on with no cold-plugged VFIO device. spec: qemu §1.4. */
export const CMDQV_NEEDS_COLDPLUG =
  "arm-smmuv3 cmdqv=on requires at least one cold-plugged VFIO device";

/**
 * Select the CMDQV backend on the first device attach:
 * - off: none, the probe is not run;
 * - auto: probe quietly; a failed probe falls back to plain accel (cmdqv null, no message);
 * - on: the probe must succeed, else the attach fails with
 *   "CMDQV requested but not supported: <probe detail>".
 * The ": " joining the detail is our reading of "plus the probe's detail" (spec: qemu §1.4
 * does not quote the exact concatenation).
 */
export function selectCmdqv<T>(mode: CmdqvMode, probe: () => Result<T, string>): CmdqvSelection<T> {
  if (mode === "off") return { ok: true, cmdqv: null };
  const r = probe();
  if (r.ok) return { ok: true, cmdqv: r.value };
  if (mode === "auto") return { ok: true, cmdqv: null };
  return { ok: false, error: `${CMDQV_NOT_SUPPORTED}: ${r.error}` };
}

/**
 * The machine-init-done check: with cmdqv=on, QEMU exits unless at least one VFIO device
 * was cold-plugged behind this SMMU. spec: qemu §1.4 item 4.
 */
export function checkCmdqvColdPlug(
  mode: CmdqvMode,
  coldPluggedVfio: number,
): Result<undefined, string> {
  if (mode === "on" && coldPluggedVfio < 1) return err(CMDQV_NEEDS_COLDPLUG);
  return OK_VOID;
}
