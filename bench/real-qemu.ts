// Figures through real QEMU 11.1 on the simulated host: qtest round trips per second
// through the relay (`cmdqv qtest --vmm qemu`), and VCMDQ commands per second the
// hardware consumes from QEMU's guest RAM (PROD moved through the guest page0 window,
// the ring copied from QEMU's memfd, the hardware stepped by clock_step).

import { performance } from "node:perf_hooks";
import { cachedQemu } from "../src/real-qemu/fetch.js";
import { startQtestSession } from "../src/real-qemu/in-process.js";
import { encode } from "../src/smmu/commands.js";
import { QEMU_CMDQV, QEMU_VCMDQ0_PAGE0, vcmdq0BringUpLines } from "./vcmdq-bring-up.js";

export const REAL_QEMU_FIGURES = [
  { name: "real_qemu_qtest_rt_per_s", unit: "round trips/s" },
  { name: "real_qemu_vcmdq_cmds_per_s", unit: "commands/s" },
] as const;

/** The figures, or null (with the reason) when QEMU 11.1 is not in the cache. */
export async function realQemuFigures(): Promise<Record<string, number> | string> {
  if (cachedQemu() === null) return "QEMU 11.1 is not fetched (npx cmdqv qemu fetch)";
  const session = await startQtestSession({
    ticker: (ms, fn) => {
      const t = setInterval(fn, ms);
      return () => clearInterval(t);
    },
  });
  const { rq, send } = session;
  try {
    const h = (n: number) => `0x${n.toString(16)}`;
    const cmdqv = QEMU_CMDQV;
    const page0 = QEMU_VCMDQ0_PAGE0;
    const ring = 0x4020_0000;

    const n = 2000;
    let t0 = performance.now();
    for (let i = 0; i < n; i++) await send(`readl ${h(cmdqv + 4)}`);
    const rt = n / ((performance.now() - t0) / 1000);

    for (const line of vcmdq0BringUpLines(ring, 12)) await send(line); // 4096 entries
    const [d0, d1] = encode({ op: "TLBI_NH_ASID", vmid: 0, asid: 5 });
    const one = Buffer.alloc(16);
    one.writeBigUInt64LE(d0, 0);
    one.writeBigUInt64LE(d1, 8);
    await send(`write ${h(ring)} 65536 0x${Buffer.concat(Array(4096).fill(one)).toString("hex")}`);
    const batches = 40;
    const before = rq.host.hw.effects.totals().vcmdq;
    t0 = performance.now();
    for (let b = 1; b <= batches; b++) {
      // PROD with its wrap bit: 4096 entries further each time.
      const prod = ((b & 1) << 12) | 0;
      await send(`writel ${h(page0 + 4)} ${h(prod)}`);
      await send("clock_step 1000000");
    }
    const consumed = rq.host.hw.effects.totals().vcmdq - before;
    const cmds = consumed / ((performance.now() - t0) / 1000);
    // A figure for work that did not happen would be a lie: every entry must have run.
    if (consumed !== batches * 4096)
      return `the hardware consumed ${consumed} of ${batches * 4096} commands`;
    return {
      real_qemu_qtest_rt_per_s: Math.round(rt),
      real_qemu_vcmdq_cmds_per_s: Math.round(cmds),
    };
  } finally {
    await session.dispose();
  }
}
