// For tests: qtest lines that make the machine raise the CMDQV's interrupt, as they did
// real QEMU 11.1's (`IRQ raise 116` at the GIC, `IRQ raise 4` on the SMMUv3's sysbus-irq):
// VCMDQ0 brought up by hand with a ring at RING, then an illegal command (CFGI_STE) that
// the hardware stops on, reported back as a vEVENT.

import { Buffer } from "node:buffer";
import { encode } from "../smmu/commands.js";

export const CMDQV = 0x0c08_0000;
export const PAGE0 = CMDQV + 0x3_0000;
export const PAGE1 = CMDQV + 0x4_0000;
export const RING = 0x4020_0000;

export const hex = (n: number): string => `0x${n.toString(16)}`;

export function cmdqvErrorLines(): string[] {
  const ring = Buffer.alloc(16);
  const [w0, w1] = encode({ op: "CFGI_STE", sid: 8, leaf: 1 });
  ring.writeBigUInt64LE(w0, 0);
  ring.writeBigUInt64LE(w1, 8);
  return [
    `writel ${hex(CMDQV)} 0x20083`,
    `writel ${hex(CMDQV + 0x200)} 0`,
    `writel ${hex(CMDQV + 0x1000)} 0x20001`,
    `writel ${hex(CMDQV + 0x200)} 1`,
    `writeq ${hex(PAGE1)} ${hex(RING | 12)}`,
    `writel ${hex(PAGE0 + 8)} 1`,
    "clock_step 1000000",
    `write ${hex(RING)} 16 0x${ring.toString("hex")}`,
    `writel ${hex(PAGE0 + 4)} 1`,
    "clock_step 1000000",
  ];
}
