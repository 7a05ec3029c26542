// The end of `cmdqv qemu --guest linux`: what the real guest did to the simulated CMDQV,
// in the terms of the mission: which HW queues the host allocated, where the guest's
// commands went (the VCMDQs, consumed by the hardware with no VM exit, or the trapped
// main CMDQ that QEMU handles and forwards), what the host refused, and the invariants.

import { INVARIANT_NAMES } from "../check/invariants.js";
import { collapseRepeats } from "../report/summary.js";
import type { GuestRunResult } from "./guest-run.js";

/** Lines of the condensed host ioctl log printed; --json has them all. */
const IOCTL_LINES = 60;

const hex = (n: number): string => `0x${n.toString(16)}`;
const kib = (n: number): string => (n >= 1024 ? `${n / 1024} KiB` : `${n} B`);

/** Invalidations per second of guest time during the DMA map benchmark (null: none ran). */
export function benchRate(r: GuestRunResult): number | null {
  if (r.bench === null) return null;
  const span = r.bench.to - r.bench.from;
  return span > 0 ? r.bench.invalidations / span : null;
}

export function formatGuestSummary(
  r: GuestRunResult,
  o: { readonly wallSeconds: number; readonly timeoutS: number; readonly interrupted?: boolean },
): string {
  const out: string[] = ["", "== cmdqv: the real guest on the simulated Grace host =="];
  const how =
    r.outcome === "done"
      ? `/init finished with status ${r.guestStatus ?? "?"}`
      : r.outcome === "timeout"
        ? o.interrupted
          ? "interrupted before the guest finished (QEMU stopped)"
          : `the guest did not finish within ${o.timeoutS} s (stopped)`
        : "QEMU exited before /init finished";
  out.push(`outcome: ${how}; ${o.wallSeconds.toFixed(1)} s of wall time`);
  if (r.qemuExit !== null) out.push(`QEMU: ${r.qemuExit.split("\n")[0]}`);
  for (const e of r.guestErrors) out.push(`guest error: ${e}`);
  out.push(
    `userspace: ${r.userspaceAt === null ? "not reached" : `at ${r.userspaceAt.toFixed(2)} s of guest uptime`}`,
  );
  const queues = r.queuesAtUserspace;
  out.push(
    `HW queues at userspace: ${
      queues.length === 0
        ? "none"
        : queues.map((q) => `VCMDQ${q.index} gpa=${hex(q.gpa)} ${kib(q.length)}`).join(", ")
    }`,
  );
  const v = r.vcmdq;
  out.push("where the guest's commands went:");
  out.push(
    `  VCMDQs, consumed by the hardware, no VM exit: ${v.commands} (invalidations ${v.invalidations}, CMD_SYNC ${v.syncs}, errors ${v.errors}; ${v.perQueue
      .map((n, i) => (n > 0 ? `host VCMDQ${i} ${n}` : ""))
      .filter(Boolean)
      .join(", ")})`,
  );
  const main = Object.entries(r.mainCmdq).sort((a, b) => b[1] - a[1]);
  const mainTotal = main.reduce((n, [, c]) => n + c, 0);
  out.push(
    `  main CMDQ, trapped by QEMU: ${mainTotal}${
      main.length > 0
        ? ` (${main.map(([op, c]) => `${op.replace(/^SMMU_CMD_/, "")} ${c}`).join(", ")})`
        : ""
    }; forwarded to the host as IOMMU_HWPT_INVALIDATE: ${r.forwardedInvalidations}`,
  );
  const rate = benchRate(r);
  if (r.bench !== null)
    out.push(
      `DMA map benchmark: ${r.bench.invalidations} invalidations through the VCMDQs in ${(r.bench.to - r.bench.from).toFixed(2)} s of guest time${
        rate !== null ? ` (${Math.round(rate)}/s)` : ""
      }`,
    );
  const calls = collapseRepeats(r.ioctls);
  out.push("host ioctl log (condensed):");
  for (const l of calls.slice(0, IOCTL_LINES)) out.push(`  ${l}`);
  if (calls.length > IOCTL_LINES)
    out.push(`  … ${calls.length - IOCTL_LINES} more lines (--json has them all)`);
  out.push(
    `host: ${r.ioctls.length} calls logged; ${
      r.failedCalls.length === 0 ? "none failed" : `failed: ${r.failedCalls.join(", ")}`
    }`,
  );
  for (const name of INVARIANT_NAMES) {
    if (name === "no-silent-hang") continue; // judged from a guest we play, not this one
    const hit = r.violations.filter((x) => x.invariant === name);
    out.push(
      `invariant ${name}: ${hit.length === 0 ? "held" : `VIOLATED: ${hit.map((x) => x.message).join("; ")}`}`,
    );
  }
  return `${out.join("\n")}\n`;
}
