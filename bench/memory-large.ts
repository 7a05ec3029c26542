// The large machine of `npm run bench:memory` (run in a child, whose peak RSS is what is
// reported): 64 GiB of guest RAM on 1 GiB pages and 128 VCMDQs of the largest size
// (LOG2SIZE 19: 2^19 entries × 16 B = 8 MiB each, physically contiguous inside one 1 GiB
// page), brought up by the Linux guest's register sequence, each ring written once.
// Prints one JSON line: what was built and how long it took.
//
// Run as `tsx bench/memory-large.ts`; `npm run bench:memory` runs it in a child.

import { performance } from "node:perf_hooks";
import { machineConfig } from "../src/machine/config.js";
import { createMachine } from "../src/machine/machine.js";
import { MachineTarget } from "../src/qtest/machine-target.js";
import { VCMDQ0 } from "../src/regs/cmdqv.js";
import { type GuestPort, linuxBringUp, OFF } from "../src/vmm/tegra241-cmdqv/guest-steps.js";
import { ringCommands } from "./main-cmdq-ring.js";

const GIB = 2 ** 30;
const QUEUES = 128;
const LOG2 = 19;
const RING_BYTES = 16 << LOG2;

const t0 = performance.now();
const cfg = machineConfig({
  ramSize: 64 * GIB,
  ramPage: "1G",
  vcmdqs: QUEUES,
  // The host: 128 VCMDQs (the silicon model's maximum, MAX_VCMDQ_LOG2 7) in 2 VINTFs, so
  // the guest's VINTF gets 64 LVCMDQs (the host kernel keeps VINTF0; one VINTF would
  // leave none for the guest): 64 of the 128 guest VCMDQs get host HW queues, the others
  // are refused by the kernel. Their rings are guest RAM all the same, written below.
  hostHw: { numVcmdqLog2: 7, numVintfLog2: 1 },
});
const built = createMachine(cfg);
if (!built.ok) throw new Error(`the machine could not be built: ${built.error}`);
const m = built.value;
const target = new MachineTarget(m);
const base = cfg.cmdqvBase;
const g: GuestPort = {
  w32: (off, v) => target.write(base + off, 4, v >>> 0),
  r32: (off) => target.read(base + off, 4),
  w64: (off, v) => target.write64(base + off, v),
};

// The rings: 1 GiB in all, the second GiB of guest RAM (one 1 GiB host page).
const ringGpa = (q: number): number => cfg.ramBase + GIB + q * RING_BYTES;
linuxBringUp(
  g,
  Array.from({ length: QUEUES }, (_, q) => ({ gpa: ringGpa(q), log2size: LOG2 })),
);
target.clockStep(1_000_000);
const enabled = Array.from({ length: QUEUES }, (_, q) => g.r32(OFF.page0(q, VCMDQ0.STATUS)) & 1);
const tBringUp = performance.now();

// Each ring written once: 63 TLBI_NH_ASID then a CMD_SYNC (CS=NONE), repeated.
const ring = ringCommands(1 << LOG2, "tlbi");
for (let q = 0; q < QUEUES; q++) target.writeBytes(ringGpa(q), ring);
const tWritten = performance.now();

console.log(
  JSON.stringify({
    guest_ram_bytes: cfg.ramSize,
    ram_page: cfg.ramPage,
    vcmdqs: QUEUES,
    ring_bytes_each: RING_BYTES,
    vcmdqs_enabled: enabled.reduce((a, b) => a + b, 0),
    host_hw_queues: m.cmdqv?.hwQueues().length ?? 0,
    violations: target.checker.violations().length,
    build_and_bring_up_s: Number(((tBringUp - t0) / 1000).toFixed(2)),
    write_rings_s: Number(((tWritten - tBringUp) / 1000).toFixed(2)),
  }),
);
