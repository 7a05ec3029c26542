// VCMDQ0 of VINTF0 brought up over qtest on real QEMU 11.1, for the benches that feed it
// commands: CMDQV's CONFIG on, VCMDQ0 allocated to VINTF0 (unallocate, map, allocate),
// VINTF0 enabled, the ring's BASE with its LOG2SIZE, VCMDQ0 enabled, and a clock step so
// the host has the HW queue before the first doorbell.

import { QEMU_MAP } from "../src/real-qemu/qtest-relay.js";

/** Where QEMU 11.1 maps the CMDQV, and its VCMDQ0 page0 slot (PROD at +4, CONFIG at +8). */
export const QEMU_CMDQV = QEMU_MAP["tegra241-cmdqv"].base;
export const QEMU_VCMDQ0_PAGE0 = QEMU_CMDQV + 0x3_0000;

const hex = (v: number): string => `0x${v.toString(16)}`;

/** The qtest lines, in order, for a ring of 2^log2 entries at guest address `ring`. */
export function vcmdq0BringUpLines(ring: number, log2: number): string[] {
  const writes = [
    [QEMU_CMDQV, 0x2_0083],
    [QEMU_CMDQV + 0x200, 0],
    [QEMU_CMDQV + 0x1000, 0x2_0001],
    [QEMU_CMDQV + 0x200, 1],
  ] as const;
  return [
    ...writes.map(([a, v]) => `writel ${hex(a)} ${hex(v)}`),
    `writeq ${hex(QEMU_CMDQV + 0x4_0000)} ${hex(ring | log2)}`,
    `writel ${hex(QEMU_VCMDQ0_PAGE0 + 8)} 0x1`,
    "clock_step 1000000",
  ];
}
