// The two sides of a differential run, behind one interface: the TypeScript model
// (`--vmm model --profile P`: createMachine + MachineTarget + the qtest session, all
// in-process and synchronous) and real QEMU 11.1 on the same simulated host (`--vmm qemu`:
// the qtest relay). Each step gives one Observation, taken the same way on both sides
// from the same host code: the reply, the IRQ lines, the host calls made during the
// step, the HW queues after it, and what the VMM printed.

import type { Host } from "../host/host.js";
import type { IoctlLogEntry } from "../host/kernel/ioctl-log.js";
import { DEFAULT_MACHINE, type MachineConfig } from "../machine/config.js";
import { createMachine, type Machine } from "../machine/machine.js";
import { MachineTarget } from "../qtest/machine-target.js";
import { QtestSession } from "../qtest/protocol.js";
import { startQtestSession } from "../real-qemu/in-process.js";
import type { Ticker } from "../real-qemu/session.js";
import { consoleText, LOG_ITEMS, onConsole, QEMU_PREFIX } from "../vmm/console.js";
import type { ProfileName } from "../vmm/tegra241-cmdqv/profile.js";

/** The profile real QEMU 11.1.3 is (docs/profiles.md: settled by this differential). */
export const QEMU_11_1_PROFILE: ProfileName = "qemu-11.1";

/**
 * The step that is not QEMU's qtest: its monitor's `system_reset`, which the relay runs over
 * QMP and the model's qtest session answers with the machine's reset.
 */
export const SYSTEM_RESET = "system_reset";

export interface HwQueueView {
  readonly id: number;
  readonly index: number;
  readonly iova: number;
  readonly length: number;
}

/** What one step showed. `reply` is null for the realize pseudo-step. */
export interface Observation {
  readonly reply: string | null;
  readonly irqs: readonly string[];
  readonly ioctls: readonly IoctlLogEntry[];
  readonly hwQueues: readonly HwQueueView[];
  /** Console lines as QEMU prints them, without the `qemu-system-aarch64: ` prefix. */
  readonly console: readonly string[];
}

export interface Side {
  readonly name: string;
  /** What the machine did while it was built or realized, before the first step. */
  realize(): Observation;
  step(line: string): Promise<Observation>;
  dispose(): Promise<void>;
}

/** Both sides read the host the same way. */
class HostWatch {
  private readonly host: Host;
  private seen = 0;

  constructor(host: Host) {
    this.host = host;
  }

  /** Calls since the last take. */
  newCalls(): IoctlLogEntry[] {
    const all = this.host.iommufd.log.entries();
    const fresh = all.filter((e) => e.seq >= this.seen);
    this.seen = this.host.iommufd.log.size();
    return fresh;
  }

  hwQueues(): HwQueueView[] {
    return this.host.iommufd
      .hwQueues()
      .map((q) => ({ id: q.id, index: q.index, iova: q.iova, length: q.length }))
      .sort((a, b) => a.index - b.index);
  }
}

/**
 * The passed-through device's StreamID as the guest sees it under QEMU's qtest: the vSID is
 * the device's PCI requester ID, and with no firmware to number the buses behind the
 * pxb-pcie root port, its bus number is 0, so the vSID is 0 (observed: QEMU 11.1.3
 * allocates its vDEVICE with virt_id 0 on a CFGI_STE for SID 0, and for no other SID).
 */
export const QTEST_VSID = 0;

export function modelSide(profile: ProfileName, overrides: Partial<MachineConfig> = {}): Side {
  const built = createMachine({ ...DEFAULT_MACHINE, profile, virtSid: QTEST_VSID, ...overrides });
  if (!built.ok) throw new Error(`the model machine could not be built: ${built.error}`);
  const m: Machine = built.value;
  const target = new MachineTarget(m);
  const watch = new HostWatch(m.host);
  let logSeen = 0;
  const out: string[] = [];
  const session = new QtestSession(target, (l) => out.push(l));
  const consoleSince = (): string[] => {
    // The model's console as QEMU prints it (vmm/console.ts), every -d item on.
    const lines = m.log.all().slice(logSeen).filter(onConsole);
    logSeen = m.log.all().length;
    return lines.map(consoleText);
  };
  const observe = (reply: string | null, irqs: string[]): Observation => ({
    reply,
    irqs,
    ioctls: watch.newCalls(),
    hwQueues: watch.hwQueues(),
    console: consoleSince(),
  });
  return {
    name: `model (${profile})`,
    realize: () => observe(null, []),
    step(line) {
      out.length = 0;
      session.handleLine(line);
      const irqs = out.filter((l) => l.startsWith("IRQ "));
      const reply = out.filter((l) => !l.startsWith("IRQ ")).join("\n");
      return Promise.resolve(observe(reply, irqs));
    },
    dispose: () => Promise.resolve(),
  };
}

export interface QemuSideOptions {
  /** A QEMU binary to use instead of the fetched Debian build. */
  readonly qemu?: string;
}

/** No wall-clock ticks: the hardware moves only with QEMU's clock_step, as the model's. */
const noTicks: Ticker = () => () => {};

export async function qemuSide(o: QemuSideOptions = {}): Promise<Side> {
  // qemu_log_mask lines (-d) and error_report lines share stderr, so they keep their order.
  const consoleLines: string[] = [];
  const s = await startQtestSession({
    ticker: noTicks,
    qmp: true,
    extraArgs: ["-d", LOG_ITEMS.map((i) => i.name).join(",")],
    onConsoleLine: (l) =>
      consoleLines.push(l.startsWith(QEMU_PREFIX) ? l.slice(QEMU_PREFIX.length) : l),
    ...(o.qemu !== undefined ? { qemu: o.qemu } : {}),
  });
  const watch = new HostWatch(s.rq.host);
  /** stderr lines of this step arrive with its reply, at the latest in the same poll. */
  const settle = () => new Promise<void>((r) => setImmediate(r));
  const observe = (reply: string | null, irqs: string[]): Observation => ({
    reply,
    irqs,
    ioctls: watch.newCalls(),
    hwQueues: watch.hwQueues(),
    console: consoleLines.splice(0),
  });
  /** Rejects when QEMU ends: a line it never answers must not hang the run. */
  const ended = s.rq.exited.then((e) => {
    throw e;
  });
  ended.catch(() => {});
  const answer = (line: string) => Promise.race([s.send(line), ended]);
  // QEMU has realized once it answers qtest; the relay's hidden probe waits for that.
  await Promise.race([s.relay.drained(), ended]);
  await settle();
  return {
    name: "QEMU 11.1",
    realize: () => observe(null, []),
    async step(line) {
      const irqsBefore = s.irqs.length;
      // system_reset too: the relay runs it through QEMU's monitor.
      const reply = await answer(line);
      await settle();
      return observe(reply, s.irqs.slice(irqsBefore));
    },
    dispose: () => s.dispose(),
  };
}
