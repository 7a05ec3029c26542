// The simulated machine as a qtest target: the client plays the guest. Guest accesses go
// through the VMM's address space (trapped MMIO, the page0 map, RAM); the CMDQV hardware
// progresses as virtual time advances (clock_step), while the trapped main CMDQ is
// consumed synchronously on its PROD write, as in QEMU. The invariant checker runs after
// every command, and `cmdqv_*` extension commands expose the model.

import { InvariantChecker } from "../check/invariants.js";
import type { Machine } from "../machine/machine.js";
import { armFault, ioctlsReply } from "./host-extensions.js";
import type { ExtensionResult, IrqDirection, IrqReporter, QtestTarget } from "./target.js";

/**
 * QOM paths that name the interrupt controller whose inputs a client intercepts. QEMU 7.2's
 * virt creates its GIC as an unattached qdev: "/machine/unattached/device[1]" (device[0] is
 * the CPU; checked with qom-list), so a script that intercepts it runs on both.
 */
export const GIC_PATHS = [
  "/machine/gic",
  "gic",
  "/machine/unattached/device[0]",
  "/machine/unattached/device[1]",
];

export class MachineTarget implements QtestTarget {
  readonly m: Machine;
  readonly checker: InvariantChecker;
  private reporter: IrqReporter | null = null;

  constructor(m: Machine) {
    this.m = m;
    this.checker = new InvariantChecker(m);
    const wire = (line: number, irq: { onChange(f: (level: boolean) => void): void }) =>
      irq.onChange((level) => this.reporter?.(line, level));
    // The GIC SPIs of the machine's layout (machine/config.ts LAYOUTS).
    const spi = m.config.spis;
    wire(spi.cmdqv, m.cmdqvIrq);
    wire(spi.eventq, m.smmuIrqs.eventq);
    wire(spi.priq, m.smmuIrqs.priq);
    wire(spi.cmdSync, m.smmuIrqs.cmdSync);
    wire(spi.gerror, m.smmuIrqs.gerror);
  }

  /** After anything that may change state: the VMM's event loop, then the invariants. */
  private settle(): void {
    while (this.m.eventsPending()) this.m.pollEvents();
    this.checker.check();
  }

  read(addr: number, size: 1 | 2 | 4): number {
    const v = this.m.as.read(addr, size);
    this.settle();
    return Math.max(v, 0);
  }

  read64(addr: number): bigint {
    const v = this.m.as.read64(addr) ?? 0n;
    this.settle();
    return v;
  }

  write(addr: number, size: 1 | 2 | 4, value: number): void {
    this.m.as.write(addr, size, value);
    this.settle();
  }

  write64(addr: number, value: bigint): void {
    this.m.as.write64(addr, value);
    this.settle();
  }

  readBytes(addr: number, len: number): Uint8Array {
    const bulk = this.m.as.readBytes(addr, len);
    if (bulk) return bulk;
    // Not all RAM: byte by byte, as address_space_read splits it; holes read 0.
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      const b = this.m.as.read(addr + i, 1);
      out[i] = Math.max(b, 0);
    }
    this.settle();
    return out;
  }

  writeBytes(addr: number, data: Uint8Array): void {
    if (this.m.as.writeBytes(addr, data) !== 0)
      for (let i = 0; i < data.length; i++) this.m.as.write(addr + i, 1, data[i]!);
    this.settle();
  }

  /**
   * QEMU_CLOCK_VIRTUAL under qtest: it starts at 0 and moves only by clock_step/clock_set.
   * The host's clock also runs the time its calls take (the machine's build takes some),
   * so the time the client is told is kept here; each step moves both by the same amount.
   */
  private vnow = 0;

  clockStep(ns?: number): number {
    const clock = this.m.host.clock;
    let delta = ns ?? 0;
    if (ns === undefined) {
      // The next deadline, unless it lies past the last time qtest can name (2^53 − 1 ns,
      // target.ts): then nothing is due, as QEMU's deadline of -1, and the clock stays.
      const next = this.m.host.hw.nextEventTime();
      const room = Number.MAX_SAFE_INTEGER - this.vnow;
      if (Number.isFinite(next) && next > clock.now() && next - clock.now() <= room)
        delta = next - clock.now();
    }
    clock.advance(delta);
    this.vnow += delta;
    this.settle();
    return this.vnow;
  }

  clockSet(ns: number): number {
    if (ns > this.vnow) return this.clockStep(ns - this.vnow);
    this.settle();
    return this.vnow;
  }

  now(): number {
    return this.vnow;
  }

  hasDevice(path: string): boolean {
    return GIC_PATHS.includes(path);
  }

  irqIntercept(path: string, _direction: IrqDirection, report: IrqReporter): boolean {
    if (!this.hasDevice(path)) return false;
    this.reporter = report;
    return true;
  }

  extension(cmd: string, args: readonly string[]): ExtensionResult | undefined {
    const m = this.m;
    switch (cmd) {
      case "cmdqv_info":
        return {
          ok: true,
          reply: JSON.stringify({
            profile: m.config.profile,
            hw_queues: (m.cmdqv?.hwQueues() ?? []).map((q) => ({
              index: q.index,
              gpa: `0x${q.gpa.toString(16)}`,
              length: q.length,
              id: q.id,
            })),
            host_objects: m.host.iommufd.liveObjects(),
            traps: m.as.traps(),
            violations: this.checker.violations().map((v) => `${v.invariant}: ${v.message}`),
          }),
        };
      case "cmdqv_dmesg":
        // The client plays the guest, so the kernel log here is the host's.
        return { ok: true, reply: JSON.stringify(m.host.hostDmesg()) };
      case "cmdqv_ioctls":
        return ioctlsReply(m.host);
      case "cmdqv_fault":
        return armFault(m.host, args);
      case "cmdqv_reset":
        m.reset();
        this.settle();
        return { ok: true, reply: "" };
      default:
        return undefined;
    }
  }
}
