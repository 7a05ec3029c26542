// Figures of a real Linux guest (`cmdqv qemu --guest linux`): how long the boot takes to
// reach userspace (guest uptime, and wall time from QEMU's start, UEFI included), how long
// this machine took to build the kernel, and how many invalidations per second of guest
// time the kernel's DMA map benchmark gets through the VCMDQs.

import { performance } from "node:perf_hooks";
import { cachedGuest } from "../src/real-guest/guest-fetch.js";
import { runRealGuest } from "../src/real-guest/guest-run.js";
import { benchRate } from "../src/real-guest/summary.js";
import { cachedQemu, resolveQemu } from "../src/real-qemu/fetch.js";
import { buildPreload } from "../src/real-qemu/native-build.js";
import { VirtualClock } from "../src/util/clock.js";

export const REAL_GUEST_FIGURES = [
  { name: "real_guest_userspace_uptime_s", unit: "s" },
  { name: "real_guest_wall_to_userspace_s", unit: "s" },
  { name: "real_guest_kernel_build_s", unit: "s" },
  { name: "real_guest_vcmdq_invalidations_per_s", unit: "inv/s" },
] as const;

/** The figures, or the reason there are none (QEMU or the guest not fetched, a failed run). */
export async function realGuestFigures(): Promise<Record<string, number> | string> {
  const guest = cachedGuest();
  if (cachedQemu() === null || guest === null)
    return "QEMU 11.1 or the guest is not fetched (npx cmdqv qemu fetch && npx cmdqv guest fetch)";
  const t0 = performance.now();
  let userspaceWall = Number.NaN;
  const timers: NodeJS.Timeout[] = [];
  const r = await runRealGuest({
    qemu: resolveQemu(),
    preload: buildPreload().path,
    guest,
    clock: new VirtualClock(),
    ticker: (ms, fn) => {
      const t = setInterval(fn, ms);
      return () => clearInterval(t);
    },
    ramSize: 1 << 30,
    ramPage: 4096,
    physSid: 0x100,
    seed: 1,
    faultPlan: { kind: "none" },
    switches: 2,
    benchSeconds: 3,
    onSerialLine: (l) => {
      if (l.startsWith("cmdqv-guest: userspace")) userspaceWall = (performance.now() - t0) / 1000;
    },
    settle: () =>
      new Promise((resolve) => {
        timers.push(setTimeout(resolve, 100));
      }),
    deadline: new Promise((resolve) => timers.push(setTimeout(resolve, 600_000))),
    log: () => {},
  });
  for (const t of timers) clearTimeout(t);
  const rate = benchRate(r);
  if (r.outcome !== "done" || r.guestStatus !== 0 || rate === null || r.userspaceAt === null)
    return `the guest run failed (${r.outcome}, status ${r.guestStatus}; ${r.guestErrors.join("; ")})`;
  return {
    real_guest_userspace_uptime_s: r.userspaceAt,
    real_guest_wall_to_userspace_s: Number(userspaceWall.toFixed(2)),
    real_guest_kernel_build_s: guest.kernelBuild.seconds,
    real_guest_vcmdq_invalidations_per_s: Math.round(rate),
  };
}
