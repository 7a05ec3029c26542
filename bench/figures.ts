// The figures `npm run bench` prints. Each sets up a small world and returns a body that
// performs `n` operations of the kind named.

import { AddressSpace } from "../src/mem/address-space.js";
import type { MmioDevice, SmallSize } from "../src/mem/types.js";
import type { Figure } from "./harness.js";

/** A register file behind the bus: the cheapest device, so the figure measures the bus. */
class Scratch implements MmioDevice {
  readonly name = "scratch";
  private readonly regs = new Uint32Array(64);
  read(offset: number, _size: SmallSize): number {
    return this.regs[(offset >>> 2) & 63]!;
  }
  write(offset: number, _size: SmallSize, value: number): void {
    this.regs[(offset >>> 2) & 63] = value;
  }
  read64(): bigint {
    return 0n;
  }
  write64(): void {}
}

const busMmio: Figure = {
  name: "bus_mmio_per_s",
  unit: "accesses/s",
  what: "4-byte MMIO accesses through the guest address space to a device (half reads, half writes)",
  setup() {
    const as = new AddressSpace();
    const r = as.addMmio("scratch", 0x0905_0000, 0x1000, new Scratch());
    if (!r.ok) throw new Error(r.error.message);
    return (n) => {
      let acc = 0;
      for (let i = 0; i < n; i += 2) {
        as.write(0x0905_0000 + ((i & 15) << 2), 4, i);
        acc ^= as.read(0x0905_0000 + ((i & 15) << 2), 4);
      }
      if (acc === -2) throw new Error("unreachable");
    };
  },
};

export const figures: readonly Figure[] = [busMmio];
