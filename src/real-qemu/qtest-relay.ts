// `cmdqv qtest --vmm qemu`: the client's qtest lines go to real QEMU's own qtest, its
// replies and IRQ lines come back, in order; the `cmdqv_*` extension commands are answered
// here, by the host, once every earlier line has its reply. One line is at QEMU at a time:
// the host must take its step after each reply before QEMU runs the next line (a store to
// page0 must reach the hardware before a clock_step, a clock_step before a read). The
// hardware keeps time with
// QEMU's: a clock_step or clock_set that QEMU answers runs the host's clock by as much,
// and every other reply is followed by a zero-length step, so a page0 store the client
// made is seen by the hardware before the client's next command.
//
// Invariants judged from outside QEMU (the host's truth against what the client
// programmed, no VMM internals): hw-queues-match (stream-account.ts), no refused destroy,
// isolation, and no leak once QEMU has gone.

import type { GuestView, InvariantChecker } from "../check/invariants.js";
import { DEFAULT_MACHINE, LAYOUTS } from "../machine/config.js";
import { armFault, ioctlsReply } from "../qtest/host-extensions.js";
import { extensionLine } from "../qtest/protocol.js";
import { TEGRA241_CMDQV_IO_LEN } from "../regs/cmdqv.js";
import { SMMUV3_MMIO_SIZE } from "../regs/smmuv3.js";
import type { QmpClient } from "./qmp.js";
import type { RealQemu } from "./session.js";
import { judgeFromOutside, type StreamAccount } from "./stream-account.js";

/** QEMU 11.1's virt machine with arm-smmuv3,accel=on,cmdqv=on (`info mtree`): the layout
 * the model's default machine shares (machine/config.ts LAYOUTS). */
const LAYOUT = LAYOUTS["qemu-11.1"];
export const QEMU_MAP = {
  smmuv3: { base: LAYOUT.smmuBase, size: SMMUV3_MMIO_SIZE },
  "tegra241-cmdqv": { base: LAYOUT.cmdqvBase, size: TEGRA241_CMDQV_IO_LEN },
  ram: { base: DEFAULT_MACHINE.ramBase },
  spis: LAYOUT.spis,
} as const;

type Pending =
  /**
   * `hidden`: the relay's own probe, whose reply the client never sees; `release`: a reply
   * held back until this probe is answered.
   */
  | {
      readonly kind: "qemu";
      readonly line: string;
      readonly hidden?: true;
      readonly release?: string;
    }
  | { readonly kind: "local"; readonly line: string }
  /** `system_reset`: QEMU's monitor runs it (qtest has no reset command). */
  | { readonly kind: "reset"; readonly line: string };

export class QtestRelay {
  private readonly rq: RealQemu;
  private readonly out: (line: string) => void;
  private readonly toQemu: (line: string) => void;
  private readonly queue: Pending[] = [];
  private qemuNs = 0;
  /** The head of the queue has been sent to QEMU and awaits its reply. */
  private sent = false;
  private readonly waiters: (() => void)[] = [];
  readonly checker: InvariantChecker;
  /** What the client programmed, for hw-queues-match. */
  readonly account: StreamAccount;

  /**
   * `guest`: what a client that plays the guest saw, for no-silent-hang (the explorer's
   * guest on real QEMU); without it that invariant is not judged.
   */
  constructor(
    rq: RealQemu,
    toQemu: (line: string) => void,
    out: (line: string) => void,
    guest: GuestView | null = null,
  ) {
    this.rq = rq;
    this.toQemu = toQemu;
    this.out = out;
    const judge = judgeFromOutside(rq.host, QEMU_MAP["tegra241-cmdqv"].base, guest);
    this.account = judge.account;
    this.checker = judge.checker;
    // QEMU reads qtest only once the machine is realized: a first probe holds the client's
    // lines, local cmdqv_* ones included, until the host has seen QEMU's whole realize.
    this.queue.push({ kind: "qemu", line: "endianness", hidden: true });
    this.pump();
  }

  private monitor: QmpClient | null = null;
  private resetting = false;

  /** QEMU's monitor, for `system_reset`; without one that line is answered FAIL. */
  setMonitor(qmp: QmpClient): void {
    this.monitor = qmp;
  }

  /** A line from the client. */
  fromClient(line: string): void {
    const kind = /^\s*cmdqv_/.test(line)
      ? "local"
      : /^\s*system_reset\s*$/.test(line)
        ? "reset"
        : "qemu";
    this.queue.push({ kind, line });
    if (this.queue.length === 1) this.pump();
  }

  /** Resolves once every line received so far has its reply. */
  drained(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Answer local lines at the head; send the next QEMU line once nothing is outstanding. */
  private pump(): void {
    for (;;) {
      const head = this.queue[0];
      if (head === undefined) {
        for (const w of this.waiters.splice(0)) w();
        return;
      }
      if (head.kind === "qemu") {
        if (!this.sent) {
          this.sent = true;
          this.account.observe(head.line);
          this.toQemu(head.line);
        }
        return;
      }
      if (head.kind === "reset") {
        if (!this.resetting) this.reset();
        return;
      }
      this.queue.shift();
      this.out(this.answer(head.line));
    }
  }

  /**
   * `system_reset` once every earlier line has its reply: QEMU's monitor resets the machine
   * (its RESET event says it is done), the host takes a step so it sees what the reset did,
   * and the account of what the guest programmed starts again from reset values.
   */
  private reset(): void {
    const qmp = this.monitor;
    if (qmp === null) {
      this.queue.shift();
      this.out("FAIL system_reset needs QEMU's monitor (QMP), which this session has not");
      return;
    }
    this.resetting = true;
    const done = (reply: string) => {
      this.resetting = false;
      this.queue.shift();
      this.rq.grace()?.tick(0);
      this.account.reset();
      this.checker.check();
      this.out(reply);
      this.pump();
    };
    qmp.systemReset().then(
      () => done("OK"),
      (e: Error) => done(`FAIL system_reset: ${e.message}`),
    );
  }

  /** A line from QEMU's qtest: an IRQ notice, or the reply to the oldest forwarded line. */
  fromQemu(line: string): void {
    if (line.startsWith("IRQ ")) {
      this.out(line);
      return;
    }
    const head = this.queue[0];
    if (head?.kind !== "qemu" || !this.sent) {
      // A reply nobody asked for: pass it on, as QEMU said it.
      this.out(line);
      return;
    }
    this.queue.shift();
    this.sent = false;
    const eventsBefore = this.rq.grace()?.eventBytesDelivered() ?? 0;
    this.step(head.line, line);
    const reply = head.hidden ? head.release : line;
    if (reply !== undefined) {
      if ((this.rq.grace()?.eventBytesDelivered() ?? 0) > eventsBefore) {
        // The step handed QEMU vEVENTs, which it reads from its main loop, not in reply to
        // anything. A probe sent now is polled together with the readable pipe, so QEMU
        // has run its vEVENTQ handler by the time it answers; a second probe's answer
        // comes after whatever that handler printed (an IRQ line). The reply waits for
        // both, so the client sees the IRQ before the reply of the step that caused it,
        // and the next line finds the error maps set: as the model, and deterministic.
        this.queue.unshift(
          { kind: "qemu", line: "endianness", hidden: true },
          { kind: "qemu", line: "endianness", hidden: true, release: reply },
        );
      } else this.out(reply);
    }
    this.pump();
  }

  /** Run the host's clock along with QEMU's. */
  private step(request: string, reply: string): void {
    const g = this.rq.grace();
    if (g === null) return;
    let ns = 0;
    const m = /^OK (\d+)$/.exec(reply);
    if (m && /^\s*clock_(step|set)\b/.test(request)) {
      const now = Number(m[1]);
      ns = Math.max(0, now - this.qemuNs);
      this.qemuNs = now;
    }
    g.tick(ns);
    this.checker.check();
  }

  private answer(line: string): string {
    const [cmd, ...args] = line.trim().split(/\s+/);
    const host = this.rq.host;
    this.rq.grace()?.tick(0);
    this.checker.check();
    switch (cmd) {
      case "cmdqv_info":
        return `OK ${JSON.stringify({
          vmm: "qemu",
          qemu:
            this.rq.resolution.kind === "fetched"
              ? `QEMU ${this.rq.resolution.version} (Debian)`
              : this.rq.resolution.binary,
          map: QEMU_MAP,
          hw_queues: host.iommufd.hwQueues().map((q) => ({
            index: q.index,
            gpa: `0x${q.iova.toString(16)}`,
            length: q.length,
            id: q.id,
          })),
          host_objects: host.iommufd.liveObjects(),
          console: this.rq.qemu.consoleLines(),
          violations: this.checker.violations().map((v) => `${v.invariant}: ${v.message}`),
        })}`;
      case "cmdqv_ioctls":
        return extensionLine(ioctlsReply(host));
      case "cmdqv_dmesg":
        return `OK ${JSON.stringify(host.hostDmesg())}`;
      case "cmdqv_calls":
        return `OK ${JSON.stringify(this.rq.grace()?.calls() ?? [])}`;
      case "cmdqv_fault":
        return extensionLine(armFault(host, args));
      default:
        return `FAIL Unknown command '${cmd ?? ""}'`;
    }
  }
}
