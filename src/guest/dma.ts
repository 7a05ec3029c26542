// Guest DMA memory (dma_alloc_coherent) for the drivers' rings: carved downwards from the
// top of guest RAM, naturally aligned, never freed (a guest that reboots gets a new one).

/** A bump allocator handing out naturally aligned guest DMA memory downwards from `top`. */
export class DmaAllocator {
  private top: number;
  private readonly bottom: number;
  private readonly allocations: { gpa: number; size: number }[] = [];

  constructor(bottom: number, top: number) {
    this.bottom = bottom;
    this.top = top;
  }

  alloc(size: number, align: number): number | undefined {
    if (!(size > 0)) return undefined;
    const a = Math.max(1, align);
    const gpa = Math.floor((this.top - size) / a) * a;
    if (gpa < this.bottom) return undefined;
    this.top = gpa;
    this.allocations.push({ gpa, size });
    return gpa;
  }

  allocated(): readonly { gpa: number; size: number }[] {
    return this.allocations;
  }
}
