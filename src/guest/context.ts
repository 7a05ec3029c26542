// The services a guest actor uses without yielding: the clock, printk, DMA memory from the
// top of RAM (dma_alloc_coherent, naturally aligned) and direct RAM access to memory it
// owns (ring entries), which causes no VM exit.

import type { AddressSpace } from "../mem/address-space.js";
import type { Clock } from "../util/clock.js";
import type { GuestContext } from "./actor.js";
import type { DmaAllocator } from "./dma.js";
import type { GuestDmesg } from "./dmesg.js";

export function guestContext(
  as: AddressSpace,
  clock: Clock,
  dmesg: GuestDmesg,
  dma: DmaAllocator,
): GuestContext {
  return {
    now: () => clock.now(),
    dmesg: (line) => dmesg.printk("info", line),
    allocDma: (size, align) => dma.alloc(size, align),
    ramWrite64: (gpa, value) => {
      as.write64(gpa, value);
    },
    ramRead32: (gpa) => as.read(gpa, 4),
    ramWrite32: (gpa, value) => {
      as.write(gpa, 4, value);
    },
  };
}
