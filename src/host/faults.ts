// Named fault sites, as Linux's fail_nth and TigerBeetle's VOPR: every fallible host
// operation asks `faults.check(site)` first; a fault plan decides whether it fails.
// The site chooses the errno it returns (ENOMEM for an allocation, EFAULT for a copy…).
// Calls are numbered 1, 2, 3… from the host's creation, across all sites, whatever the
// plan and whoever reads the number: docs/scenarios.md, "Fault numbering".

import { Prng } from "../util/prng.js";

/** Every fallible host step, by name. `<call>:<step>` mirrors the kernel function. */
export const FAULT_SITES = [
  "ioas_alloc:obj_alloc",
  "ioas_map:pin",
  "hwpt_alloc:obj_alloc",
  "get_hw_info:copy_to_user",
  "viommu_alloc:obj_alloc",
  "viommu_alloc:copy_from_user",
  "viommu_alloc:vintf_alloc",
  "viommu_alloc:vintf_enable",
  "viommu_alloc:mmap_alloc",
  "viommu_alloc:copy_to_user",
  "vdevice_alloc:obj_alloc",
  "vdevice_alloc:sid_alloc",
  "veventq_alloc:obj_alloc",
  "veventq_alloc:fd_alloc",
  "hw_queue_alloc:obj_alloc",
  "hw_queue_alloc:pages_alloc",
  "hw_queue_alloc:pin",
  "hw_queue_alloc:copy_to_user",
  "mmap:vma_alloc",
  "veventq_read:copy_to_user",
  "report_event:alloc",
  "hwpt_invalidate:copy_from_user",
  // Added with the simulated kernel (each mirrors one more fallible kernel step):
  "ioas_alloc:copy_to_user",
  "hwpt_alloc:domain_alloc",
  "hwpt_alloc:copy_to_user",
  "viommu_alloc:respond",
  "vdevice_alloc:copy_to_user",
  "veventq_alloc:copy_to_user",
  "hw_queue_alloc:access_alloc",
  "hwpt_invalidate:cmds_alloc",
  "hwpt_invalidate:copy_to_user",
  // Added with the real-QEMU host (steps only a real VMM's realize reaches):
  "hwpt_nested:copy_from_user",
  "device_attach:attach_dev",
] as const;

export type FaultSite = (typeof FAULT_SITES)[number];

export type FaultPlan =
  | { readonly kind: "none" }
  /**
   * Fail the nth call (1-based) counted across every site, as iommufd_fail_nth. Calls are
   * numbered from the host's creation (docs/scenarios.md, "Fault numbering").
   */
  | { readonly kind: "nth"; readonly nth: number }
  /** Fail the nth call (1-based, from the host's creation) at one named site. */
  | { readonly kind: "site"; readonly site: FaultSite; readonly nth: number }
  /** Fail each call at a site with a probability (swarm testing), seeded. */
  | {
      readonly kind: "probability";
      readonly seed: number;
      readonly p: Readonly<Partial<Record<FaultSite, number>>>;
    };

export interface FaultRecord {
  readonly site: FaultSite;
  /** Which call overall (1-based, numbered from the host's creation) this was. */
  readonly call: number;
}

export interface FaultsState {
  readonly plan: FaultPlan;
  readonly calls: number;
  readonly siteCalls: Readonly<Partial<Record<FaultSite, number>>>;
  readonly injected: readonly FaultRecord[];
  readonly rng: readonly [number, number, number, number] | null;
}

/** A site's index in FAULT_SITES. */
const SITE_INDEX: ReadonlyMap<FaultSite, number> = new Map(FAULT_SITES.map((s, i) => [s, i]));

/** A site's index in FAULT_SITES, for Faults.checkAt. */
export function faultSiteIndex(site: FaultSite): number {
  return SITE_INDEX.get(site)!;
}

export class Faults {
  private plan: FaultPlan;
  private calls = 0;
  /** Calls per site, indexed as FAULT_SITES; `siteOrder` lists the sites in order of first call. */
  private readonly siteCalls = new Float64Array(FAULT_SITES.length);
  private readonly siteOrder: number[] = [];
  private injected: FaultRecord[] = [];
  private rng: Prng | null;
  /** Extra one-shot arms (qtest `cmdqv_fault SITE N`): fail the Nth next call at SITE. */
  private arms: { site: FaultSite; remaining: number }[] = [];
  /** The explorer's hook: asked at every check while set (fail-nth as a choice). */
  private chooser: ((site: FaultSite, call: number) => boolean) | null = null;

  constructor(plan: FaultPlan = { kind: "none" }) {
    this.plan = plan;
    this.rng = plan.kind === "probability" ? new Prng(plan.seed) : null;
  }

  /** Called by every fallible host step. Returns true when this call must fail. */
  check(site: FaultSite): boolean {
    return this.checkAt(SITE_INDEX.get(site)!);
  }

  /**
   * check() for the site at index `s` of FAULT_SITES (faultSiteIndex): for a step taken
   * once per forwarded command, which looks its sites up once, not on every call.
   */
  checkAt(s: number): boolean {
    this.calls++;
    const n = this.siteCalls[s]! + 1;
    this.siteCalls[s] = n;
    if (n === 1) this.siteOrder.push(s);
    // The common case, checked per forwarded command: nothing can fail this call.
    if (this.plan.kind === "none" && this.chooser === null && this.arms.length === 0) return false;
    const site = FAULT_SITES[s]!;
    let fail = false;
    switch (this.plan.kind) {
      case "none":
        break;
      case "nth":
        fail = this.calls === this.plan.nth;
        break;
      case "site":
        fail = site === this.plan.site && n === this.plan.nth;
        break;
      case "probability": {
        const p = this.plan.p[site] ?? 0;
        fail = p > 0 && (this.rng as Prng).float() < p;
        break;
      }
    }
    if (!fail && this.chooser) fail = this.chooser(site, this.calls);
    for (let i = 0; i < this.arms.length; i++) {
      const arm = this.arms[i]!;
      if (arm.site !== site) continue;
      arm.remaining--;
      if (arm.remaining === 0) {
        fail = true;
        this.arms.splice(i, 1);
        i--;
      }
    }
    if (fail) this.injected.push({ site, call: this.calls });
    return fail;
  }

  /**
   * Switch to another plan without renumbering: calls keep counting from the host's
   * creation (docs/scenarios.md, "Fault numbering"), so call N means the same call under
   * every plan. The explorer arms a probability plan this way once the machine is set up.
   */
  setPlan(plan: FaultPlan): void {
    this.plan = plan;
    this.rng = plan.kind === "probability" ? new Prng(plan.seed) : null;
  }

  /** Arm a one-shot fault: the `nth` next call (1-based) at `site` fails. */
  arm(site: FaultSite, nth: number): void {
    if (!(Number.isInteger(nth) && nth >= 1))
      throw new RangeError(`arm: nth must be ≥ 1, got ${nth}`);
    this.arms.push({ site, remaining: nth });
  }

  /**
   * Let the explorer decide each call (after the plan): exhaustive exploration of
   * "which host call fails" uses the same choice source as the write orders.
   */
  setChooser(f: ((site: FaultSite, call: number) => boolean) | null): void {
    this.chooser = f;
  }

  /** Calls made so far across all sites. */
  callCount(): number {
    return this.calls;
  }

  /** Faults actually injected (a fail-nth sweep stops when a run injects none). */
  injectedFaults(): readonly FaultRecord[] {
    return this.injected;
  }

  state(): FaultsState {
    return {
      plan: this.plan,
      calls: this.calls,
      siteCalls: Object.fromEntries(
        this.siteOrder.map((i) => [FAULT_SITES[i]!, this.siteCalls[i]!]),
      ),
      injected: [...this.injected],
      rng: this.rng ? this.rng.state() : null,
    };
  }

  static isSite(name: string): name is FaultSite {
    return (FAULT_SITES as readonly string[]).includes(name);
  }
}

/** A fault as every sequence prints it: `SITE (call N)`, N numbered from the host's creation. */
export function formatFault(f: FaultRecord): string {
  return `${f.site} (call ${f.call})`;
}

/** A fault plan in words, for the line a replay or an exploration prints. */
export function describeFaultPlan(plan: FaultPlan): string {
  switch (plan.kind) {
    case "none":
      return "none";
    case "nth":
      return `fail host call ${plan.nth} (any site; calls counted from the machine's creation)`;
    case "site":
      return `fail call ${plan.nth} at ${plan.site} (counted from the machine's creation)`;
    case "probability": {
      const sites = Object.keys(plan.p).length;
      return `fail calls at random (seed ${plan.seed}, ${sites} site${sites === 1 ? "" : "s"})`;
    }
  }
}
