// Actors are generator functions that yield the operations a CPU performs (MMIO and RAM
// accesses, delays) and receive each read's value back. A scheduler picks which actor
// runs next through a choice source, so interleavings are explorable and replayable.
// Code between two yields runs atomically (it touches only the actor's own state or
// guest memory it owns, e.g. filling queue entries it reserved).

export type GuestOp =
  /** A 1/2/4-byte load; the scheduler sends back the value (a u32, or -1 on a fault). */
  | { readonly op: "read"; readonly addr: number; readonly size: 1 | 2 | 4 }
  /** An 8-byte load (readq); sends back a bigint (0n on a fault). */
  | { readonly op: "read64"; readonly addr: number }
  | {
      readonly op: "write";
      readonly addr: number;
      readonly size: 1 | 2 | 4;
      readonly value: number;
    }
  | { readonly op: "write64"; readonly addr: number; readonly value: bigint }
  /** Spend `ns` of virtual time (udelay, cpu_relax loops). */
  | { readonly op: "delay"; readonly ns: number };

/** What an actor's generator looks like: it yields ops and gets read values back. */
export type ActorBody<R = void> = Generator<GuestOp, R, number | bigint | undefined>;

/** Services an actor uses without yielding (they do not touch shared machine state). */
export interface GuestContext {
  /** Virtual ns now (the guest's clock). */
  now(): number;
  /** Print a kernel message; the world prefixes the dmesg timestamp. */
  dmesg(line: string): void;
  /** Allocate guest-physical DMA memory (dma_alloc_coherent): naturally aligned to `align`. */
  allocDma(size: number, align: number): number | undefined;
  /** Direct guest-RAM access for memory the actor owns (ring entries): no MMIO, no trap. */
  ramWrite64(gpa: number, value: bigint): void;
  ramRead32(gpa: number): number;
  ramWrite32(gpa: number, value: number): void;
}

export const read = (addr: number, size: 1 | 2 | 4 = 4): GuestOp => ({ op: "read", addr, size });
export const read64 = (addr: number): GuestOp => ({ op: "read64", addr });
export const write = (addr: number, value: number, size: 1 | 2 | 4 = 4): GuestOp => ({
  op: "write",
  addr,
  size,
  value: value >>> 0,
});
export const write64 = (addr: number, value: bigint): GuestOp => ({ op: "write64", addr, value });
export const delay = (ns: number): GuestOp => ({ op: "delay", ns });
