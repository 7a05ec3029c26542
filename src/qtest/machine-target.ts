// The simulated machine as a qtest target: the client plays the guest. Guest accesses go
// through the VMM's address space (trapped MMIO, the page0 map, RAM); the CMDQV hardware
// progresses as virtual time advances (clock_step), while the trapped main CMDQ is
// consumed synchronously on its PROD write, as in QEMU. The invariant checker runs after
// every command (once its reply is written, when the transport says so: see idle), and
// `cmdqv_*` extension commands expose the model.

import { InvariantChecker } from "../check/invariants.js";
import type { Machine } from "../machine/machine.js";
import { armFault, ioctlsReply } from "./host-extensions.js";
import type { ExtensionResult, IrqDirection, IrqReporter, QtestTarget } from "./target.js";
import { VmmLogTail } from "./vmm-log-tail.js";

/**
 * How the qtest client names the devices whose interrupt pins it may intercept, as QEMU
 * 11.1's virt names them (checked with qom-list): its vCPUs are created first, as
 * /machine/unattached/device[0..cpus-1], then the GIC as device[cpus] (so device[1] with
 * one vCPU); the SMMUv3 of `-device arm-smmuv3,id=ID` is /machine/peripheral/ID, which is
 * smmuv3.1 on the command line cmdqv gives real QEMU (real-qemu/qemu-launch.ts).
 */
export interface QomNames {
  readonly cpus: number;
  readonly smmu: string;
}

export const DEFAULT_QOM_NAMES: QomNames = { cpus: 1, smmu: "/machine/peripheral/smmuv3.1" };

/**
 * QEMU virt's GIC inputs: 256 SPIs (its num-irq is 256 + 32), then 32 PPIs per vCPU
 * (qemu: hw/intc/arm_gicv3_common.c, GPIO inputs = num_irq - 32 + 32 * num_cpu).
 */
const GIC_SPIS = 256;

/** The named output lists of an ARM CPU in QEMU 11.1 (its unnamed list is the timers'). */
const CPU_OUT_LISTS = ["gicv3-maintenance-interrupt", "pmu-interrupt"];

type QomDevice = "gic" | "smmu" | { cpu: number };

/** Our own spellings of the GIC, kept for scripts written before the QEMU names. */
const GIC_ALIASES = ["/machine/gic"];

/** Where an intercepted line is reported: the GIC's inputs or the SMMUv3's outputs. */
type Intercept = { pins: "gic-in" | "smmu-out" | "none"; report: IrqReporter };

export class MachineTarget implements QtestTarget {
  readonly m: Machine;
  private readonly invariants: InvariantChecker;
  /** The last command's invariant check has not run yet (it waits for idle). */
  private checkDue = false;
  /** What that check threw, thrown again by the next call. */
  private checkFailed: { error: unknown } | null = null;
  private intercept: Intercept | null = null;
  private readonly qom: QomNames;
  /** Every full path of a modelled device, for exact and partial resolution. */
  private readonly paths = new Map<string, QomDevice>();

  /** What `cmdqv_vmm_log` has not yet answered. */
  private readonly vmmLog: VmmLogTail;

  constructor(m: Machine, qom: QomNames = DEFAULT_QOM_NAMES) {
    this.m = m;
    this.vmmLog = new VmmLogTail(m.log);
    this.qom = qom;
    this.invariants = new InvariantChecker(m);
    for (let i = 0; i < qom.cpus; i++)
      this.paths.set(`/machine/unattached/device[${i}]`, { cpu: i });
    this.paths.set(`/machine/unattached/device[${qom.cpus}]`, "gic");
    for (const p of GIC_ALIASES) this.paths.set(p, "gic");
    this.paths.set(qom.smmu, "smmu");
    // Each source reaches the GIC at its SPI (machine/config.ts LAYOUTS) and leaves the
    // SMMUv3 at its sysbus-irq index: eventq 0, priq 1, cmd-sync 2, gerror 3, and the
    // CMDQV's 4 (QEMU 11.1's smmuv3 has sysbus-irq[0..4]; the CMDQV's error came as
    // `IRQ raise 4` through irq_intercept_out … sysbus-irq).
    const wire = (
      spi: number,
      index: number,
      irq: { onChange(f: (level: boolean) => void): void },
    ) =>
      irq.onChange((level) => {
        const at = this.intercept;
        if (at?.pins === "gic-in") at.report(spi, level);
        else if (at?.pins === "smmu-out") at.report(index, level);
      });
    const spi = m.config.spis;
    wire(spi.eventq, 0, m.smmuIrqs.eventq);
    wire(spi.priq, 1, m.smmuIrqs.priq);
    wire(spi.cmdSync, 2, m.smmuIrqs.cmdSync);
    wire(spi.gerror, 3, m.smmuIrqs.gerror);
    wire(spi.cmdqv, 4, m.cmdqvIrq);
  }

  /** The invariants, checked up to the last command. */
  get checker(): InvariantChecker {
    this.idle();
    return this.invariants;
  }

  /**
   * After anything that may change state: the VMM's event loop now (its IRQ lines come
   * before the reply), the invariants once the reply is out (idle) or before the next call.
   * Nothing runs in between, so they see the state the command left.
   */
  private settle(): void {
    while (this.m.eventsPending()) this.m.pollEvents();
    this.checkDue = true;
  }

  idle(): void {
    if (!this.checkDue) return;
    this.checkDue = false;
    try {
      this.invariants.check();
    } catch (error) {
      // A checker bug: the next call throws it, so its line answers FAIL internal error.
      this.checkFailed = { error };
    }
  }

  /** Before any call: the last command's check (rethrowing what it threw). */
  private checked(): void {
    this.idle();
    const failed = this.checkFailed;
    if (failed === null) return;
    this.checkFailed = null;
    throw failed.error;
  }

  read(addr: number, size: 1 | 2 | 4): number {
    this.checked();
    const v = this.m.as.read(addr, size);
    this.settle();
    return Math.max(v, 0);
  }

  read64(addr: number): bigint {
    this.checked();
    const v = this.m.as.read64(addr) ?? 0n;
    this.settle();
    return v;
  }

  write(addr: number, size: 1 | 2 | 4, value: number): void {
    this.checked();
    this.m.as.write(addr, size, value);
    this.settle();
  }

  write64(addr: number, value: bigint): void {
    this.checked();
    this.m.as.write64(addr, value);
    this.settle();
  }

  readBytes(addr: number, len: number): Uint8Array {
    this.checked();
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
    this.checked();
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
    this.checked();
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
    this.checked();
    if (ns > this.vnow) return this.clockStep(ns - this.vnow);
    this.settle();
    return this.vnow;
  }

  now(): number {
    return this.vnow;
  }

  /**
   * The device `path` names: a full path exactly, a partial one (no leading `/`) when it
   * ends exactly one modelled device's path, as QEMU's object_resolve_path takes an
   * unambiguous partial path (`device[1]`, `smmuv3.1`). Devices we do not model (QEMU's
   * pl011, virtio-mmio, …) do not resolve.
   */
  private resolve(path: string): { device: QomDevice; name: string } | null {
    const exact = this.paths.get(path);
    if (exact !== undefined) return { device: exact, name: this.nameOf(exact) };
    if (path.startsWith("/") || path === "") return null;
    let found: QomDevice | null = null;
    for (const [full, device] of this.paths)
      if (full.endsWith(`/${path}`)) {
        if (found !== null && this.nameOf(found) !== this.nameOf(device)) return null;
        found = device;
      }
    return found === null ? null : { device: found, name: this.nameOf(found) };
  }

  private nameOf(device: QomDevice): string {
    if (device === "gic") return `/machine/unattached/device[${this.qom.cpus}]`;
    if (device === "smmu") return this.qom.smmu;
    return `/machine/unattached/device[${device.cpu}]`;
  }

  hasDevice(path: string): boolean {
    return this.resolve(path) !== null;
  }

  deviceOf(path: string): string {
    return this.resolve(path)?.name ?? path;
  }

  /**
   * What QEMU 11.1 installs: the GIC's inputs are the SPIs our sources drive (its unnamed
   * outputs, to the CPU, are installed and never move here); the SMMUv3's sysbus-irq
   * outputs are its five lines, and intercepting its inputs succeeds with nothing to
   * report (it has no input pins, only output lists); a CPU's pins never move here.
   */
  irqIntercept(
    path: string,
    direction: IrqDirection,
    report: IrqReporter,
    name: string | null = null,
  ): boolean | "none" {
    this.checked();
    const at = this.resolve(path);
    if (at === null) return false;
    const { device } = at;
    let pins: Intercept["pins"] = "none";
    if (direction === "in") {
      if (device === "gic") pins = "gic-in";
    } else if (device === "gic") {
      if (name !== null) return "none";
    } else if (device === "smmu") {
      if (name !== "sysbus-irq") return "none";
      pins = "smmu-out";
    } else if (name !== null && !CPU_OUT_LISTS.includes(name)) return "none";
    this.intercept = { pins, report };
    return true;
  }

  /**
   * `set_irq_in` on the GIC's unnamed inputs: once they are intercepted the client's level
   * is reported as QEMU's handler prints it (`IRQ raise N` for any non-zero level); before,
   * it goes into a GIC whose state nothing here reads. Any other pin is "no-pin".
   */
  setIrqIn(path: string, name: string | null, line: number, level: number): boolean | "no-pin" {
    this.checked();
    const at = this.resolve(path);
    if (at === null) return false;
    const inputs = GIC_SPIS + 32 * this.qom.cpus;
    if (at.device !== "gic" || name !== null || line < 0 || line >= inputs) return "no-pin";
    const intercept = this.intercept;
    if (intercept?.pins === "gic-in") intercept.report(line, level !== 0);
    return true;
  }

  extension(cmd: string, args: readonly string[]): ExtensionResult | undefined {
    this.checked();
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
      case "cmdqv_vmm_log":
        return this.vmmLog.take();
      default:
        return undefined;
    }
  }
}
