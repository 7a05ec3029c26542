// Interrupt lines as the VMM's device models drive them (QEMU's qemu_irq): a device raises
// and lowers; whoever wired the line counts edges and may listen (the world's scheduler,
// a qtest client's irq_intercept, a test). One counting line serves all of them.

/** What a device model needs of its wired interrupt. */
export interface IrqLine {
  raise(): void;
  lower(): void;
}

/** A line that keeps its level and counts raises and lowers; listeners see every change. */
export class CountingIrq implements IrqLine {
  level = false;
  raises = 0;
  lowers = 0;
  private readonly listeners: ((level: boolean) => void)[] = [];

  onChange(f: (level: boolean) => void): void {
    this.listeners.push(f);
  }

  raise(): void {
    this.raises++;
    this.level = true;
    for (const f of this.listeners) f(true);
  }

  lower(): void {
    this.lowers++;
    this.level = false;
    for (const f of this.listeners) f(false);
  }
}
