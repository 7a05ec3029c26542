// The invariants of the design, checked after every step of a run. Each names
// what a correct VMM guarantees; a violation carries the virtual time and a sentence.
//
// - hw-queues-match: the host's HW queues are exactly the VCMDQs whose allocation
//   preconditions hold and whose last attempt succeeded, at the cached BASE's address/size
//   (a lower-index queue whose preconditions stopped holding may stay while a higher one
//   is live, because the kernel allocates ascending and destroys descending).
// - no-refused-destroy: the VMM never issues an IOMMU_DESTROY the kernel refuses.
// - no-leak: the VMM never forgets a host object it still owns; after QEMU's exit (its
//   files closed) the iommufd file is released and the release destroyed every object.
// - no-silent-hang: a guest that saw a VCMDQ enabled gets its commands consumed, or sees
//   an error; a CMD_SYNC that times out with nothing visible to the guest is a violation.
//   A guest that itself took the queue away since it saw it enabled (CMDQV_EN, VINTF
//   ENABLE, the queue's CONFIG.EN or ALLOC cleared, its BASE re-written, or a system reset,
//   without booting again) is not owed this: see guestRevocation and docs/findings.md,
//   "What no-silent-hang promises".
// - isolation: hardware executes a guest-owned VINTF's commands only with that VINTF's
//   VMID and only for SIDs of its vDEVICEs; disallowed opcodes never reach the TLB model.

import type { Host } from "../host/host.js";
import { APERTURE, CFG, VCMDQ0, VCMDQ1 } from "../regs/cmdqv.js";
import { OPCODE } from "../smmu/commands.js";

export const INVARIANT_NAMES = [
  "hw-queues-match",
  "no-refused-destroy",
  "no-leak",
  "no-silent-hang",
  "isolation",
] as const;
export type InvariantName = (typeof INVARIANT_NAMES)[number];

export interface Violation {
  readonly invariant: InvariantName;
  /** Virtual ns when it was detected. */
  readonly t: number;
  readonly message: string;
}

/** What the guest driver saw, for no-silent-hang. */
export interface GuestView {
  /** CMD_SYNC timeouts on a VCMDQ the guest believed enabled, with no error visible to it. */
  silentTimeouts(): readonly { readonly queue: string; readonly t: number }[];
}

/**
 * The VCMDQs a guest write takes away from the guest's own driver, by the rule of
 * no-silent-hang (docs/findings.md, "What no-silent-hang promises"): "all" for a write that
 * clears CMDQV CONFIG.CMDQV_EN or VINTF0 CONFIG.ENABLE; the queue's global index for a write
 * that clears its CONFIG.EN (VINTF0 page0 or the direct page0) or writes its BASE (VINTF0
 * page1 or the direct page1); the queue and every higher one for a write that clears its
 * CMDQ_ALLOC.ALLOC (the kernel keeps a vIOMMU's HW queues in ascending order, so none above
 * a freed one can stay); none for anything else. `off` is the offset in the CMDQV window,
 * `value` the bytes written, `size` bytes from `off`. On VINTF0, LVCMDQ i is global VCMDQ i
 * (the VMM's one VINTF).
 */
export function guestRevocation(
  off: number,
  size: number,
  value: bigint,
  numVcmdqs: number,
): "all" | readonly number[] | null {
  /** The byte written at `at`, or -1 when the write does not cover it. */
  const byteAt = (at: number): number =>
    at >= off && at < off + size ? Number((value >> BigInt(8 * (at - off))) & 0xffn) : -1;
  const cleared = (at: number): boolean => {
    const b = byteAt(at);
    return b >= 0 && (b & 1) === 0;
  };
  if (cleared(CFG.CONFIG) || cleared(CFG.VINTF_0)) return "all";
  for (let q = 0; q < numVcmdqs; q++) {
    const slot = APERTURE.VCMDQ_STRIDE * q;
    if (cleared(CFG.CMDQ_ALLOC_0 + 4 * q))
      return Array.from({ length: numVcmdqs - q }, (_, k) => q + k);
    for (const page0 of [APERTURE.VINTF_PAGE0, APERTURE.VCMDQ_PAGE0])
      if (cleared(page0 + slot + VCMDQ0.CONFIG)) return [q];
    for (const page1 of [APERTURE.VINTF_PAGE1, APERTURE.VCMDQ_PAGE1])
      for (let b = 0; b < 8; b++) if (byteAt(page1 + slot + VCMDQ1.BASE_L + b) >= 0) return [q];
  }
  return null;
}

const GUEST_OPS = new Set<number>([OPCODE.TLBI_NH_ASID, OPCODE.TLBI_NH_VA, OPCODE.ATC_INV]);
const HAS_VMID = new Set<number>([
  OPCODE.TLBI_NH_ASID,
  OPCODE.TLBI_NH_VA,
  OPCODE.TLBI_NH_ALL,
  OPCODE.TLBI_NH_VAA,
]);

/**
 * What the invariants look at: the host, the VM's vIOMMU, and (when the VMM is our model)
 * the VMM's own account of its VCMDQs. A real QEMU has no such account to read, so only
 * the invariants judged from the host's side apply to it.
 */
export interface CheckedSystem {
  readonly host: Host;
  /** The VM's vIOMMU id (0 while there is none). */
  readonly viommuId: number;
  readonly cmdqv: VmmQueueAccount | null;
}

/** The VMM's account of its VCMDQs (the model's Tegra241 CMDQV device). */
export interface VmmQueueAccount {
  readonly numVcmdqs: number;
  ready(i: number): boolean;
  lastAttempt(i: number): string;
  cachedQueue(i: number): { readonly gpa: number; readonly length: number };
  leakedObjects(): readonly number[];
}

export class InvariantChecker {
  private readonly m: CheckedSystem;
  private readonly guest: GuestView | null;
  private logSeen = 0;
  private effectsSeen = 0;
  private silentSeen = 0;
  private leaksSeen = 0;
  private readonly found: Violation[] = [];
  /** One report per invariant and subject, so a persistent breach is not repeated each step. */
  private readonly reported = new Set<string>();

  constructor(m: CheckedSystem, guest: GuestView | null = null) {
    this.m = m;
    this.guest = guest;
  }

  violations(): readonly Violation[] {
    return this.found;
  }

  /** Names of violated invariants, each once, in INVARIANT_NAMES order. */
  violated(): InvariantName[] {
    return INVARIANT_NAMES.filter((n) => this.found.some((v) => v.invariant === n));
  }

  private report(invariant: InvariantName, key: string, message: string): void {
    const k = `${invariant}:${key}`;
    if (this.reported.has(k)) return;
    this.reported.add(k);
    this.found.push({ invariant, t: this.m.host.clock.now(), message });
  }

  /** Check every invariant against the current state; returns how many new violations. */
  check(): number {
    const before = this.found.length;
    this.checkHwQueues();
    this.checkDestroys();
    this.checkLeaks();
    this.checkIsolation();
    this.checkSilence();
    return this.found.length - before;
  }

  private checkHwQueues(): void {
    const dev = this.m.cmdqv;
    if (!dev) return;
    const host = this.m.host.iommufd.hwQueues().filter((q) => q.viommu === this.m.viommuId);
    for (let i = 0; i < dev.numVcmdqs; i++) {
      const expected = dev.ready(i) && dev.lastAttempt(i) === "ok";
      const onHost = host.filter((q) => q.index === i);
      if (expected && onHost.length === 0) {
        this.report(
          "hw-queues-match",
          `missing${i}`,
          `VCMDQ${i} is allocated by the VMM's account, but the host has no HW queue for it`,
        );
      } else if (
        !expected &&
        onHost.length > 0 &&
        !(!dev.ready(i) && host.some((q) => q.index > i))
      ) {
        // A queue whose preconditions no longer hold may outlive them while a higher-index
        // queue is live: the kernel refuses to destroy a lower index first, and freeing it
        // would break the live queue.
        const why = !dev.ready(i)
          ? "its allocation preconditions do not hold"
          : `its last attempt was "${dev.lastAttempt(i)}"`;
        this.report(
          "hw-queues-match",
          `extra${i}:${onHost[0]!.id}`,
          `the host holds HW queue ${onHost[0]!.id} for VCMDQ${i}, but ${why}`,
        );
      } else if (expected) {
        const want = dev.cachedQueue(i);
        const q = onHost[0]!;
        if (q.iova !== want.gpa || q.length !== want.length)
          this.report(
            "hw-queues-match",
            `stale${i}:${q.id}:${want.gpa}:${want.length}`,
            `VCMDQ${i}'s HW queue is at 0x${q.iova.toString(16)} (${q.length} bytes) but the cached BASE says 0x${want.gpa.toString(16)} (${want.length} bytes)`,
          );
      }
    }
  }

  private checkDestroys(): void {
    const refused = this.m.host.iommufd.log.refusedDestroys();
    for (let k = this.logSeen; k < refused.length; k++) {
      const e = refused[k]!;
      this.report(
        "no-refused-destroy",
        `seq${e.seq}`,
        `the VMM issued IOMMU_DESTROY(${e.id}) and the kernel refused it with ${e.errno}`,
      );
    }
    this.logSeen = refused.length;
  }

  private checkLeaks(): void {
    const leaked = this.m.cmdqv?.leakedObjects() ?? [];
    for (let k = this.leaksSeen; k < leaked.length; k++)
      this.report(
        "no-leak",
        `obj${leaked[k]}`,
        `the VMM forgot host object ${leaked[k]} after a refused destroy; the host still holds it`,
      );
    this.leaksSeen = leaked.length;
  }

  private checkIsolation(): void {
    const fx = this.m.host.hw.effects;
    if (fx.count() === this.effectsSeen) return;
    const info = this.m.host.iommufd.viommuInfo(this.m.viommuId);
    const entries = fx.entries(this.effectsSeen);
    this.effectsSeen = fx.count();
    if (!info || info.vintf < 0) return;
    for (const e of entries) {
      if (e.source !== "vcmdq" || e.vintf !== info.vintf) continue;
      if (!GUEST_OPS.has(e.opcode))
        this.report(
          "isolation",
          `op${e.opcode}`,
          `hardware executed opcode 0x${e.opcode.toString(16)} from guest-owned VINTF${e.vintf}`,
        );
      if (HAS_VMID.has(e.opcode) && e.vmid !== info.vmid)
        this.report(
          "isolation",
          `vmid${e.vmid}`,
          `a TLBI from VINTF${e.vintf} ran with VMID ${e.vmid}, not the VM's ${info.vmid}`,
        );
      if (e.opcode === OPCODE.ATC_INV && !info.physSids.includes(e.sid))
        this.report(
          "isolation",
          `sid${e.sid}`,
          `an ATC_INV from VINTF${e.vintf} reached SID 0x${e.sid.toString(16)}, which is not the VM's`,
        );
    }
  }

  private checkSilence(): void {
    if (!this.guest) return;
    const t = this.guest.silentTimeouts();
    for (let k = this.silentSeen; k < t.length; k++) {
      const x = t[k]!;
      this.report(
        "no-silent-hang",
        `${x.queue}`,
        `the guest's CMD_SYNC on ${x.queue} timed out at ${x.t} ns with no error visible to it (the queue reported enabled)`,
      );
    }
    this.silentSeen = t.length;
  }

  /**
   * After QEMU's exit: it issues no destroy call, its files close as the process goes, so
   * the iommufd file must be released (no VMA, vEVENTQ fd or VFIO device left holding it)
   * and the kernel's release must have destroyed every object (fops_release WARNs and
   * gives up on any whose users count never drops to 1: a reference leak).
   */
  checkTeardown(problems: readonly string[]): number {
    const before = this.found.length;
    this.checkDestroys();
    for (const p of problems) this.report("no-leak", `teardown:${p}`, `teardown: ${p}`);
    const fd = this.m.host.iommufd;
    const list = (objs: readonly { kind: string; id: number }[]) =>
      objs.map((o) => `${o.kind} ${o.id}`).join(", ");
    if (!fd.isReleased) {
      const left = fd.liveObjects().filter((o) => o.kind !== "device");
      this.report(
        "no-leak",
        "teardown",
        `after exit the iommufd file is not released (${fd.state().fileRefs} references left)${left.length > 0 ? `; it still holds ${list(left)}` : ""}`,
      );
    } else {
      const leaked = releaseLeaks(fd.log.entries());
      if (leaked.length > 0)
        this.report(
          "no-leak",
          "teardown",
          `the kernel's release of the iommufd file could not destroy ${list(leaked)}`,
        );
    }
    return this.found.length - before;
  }
}

/** The objects the last `release` of the file reported as leaked (its `leaked` list). */
function releaseLeaks(
  log: readonly { readonly call: string; readonly result?: unknown }[],
): { kind: string; id: number }[] {
  for (let k = log.length - 1; k >= 0; k--) {
    const e = log[k]!;
    if (e.call !== "release") continue;
    const r = e.result as { leaked?: unknown } | null | undefined;
    const leaked = Array.isArray(r?.leaked) ? r.leaked : [];
    return leaked.map((o: { kind?: unknown; id?: unknown }) => ({
      kind: String(o.kind),
      id: Number(o.id),
    }));
  }
  return [];
}
