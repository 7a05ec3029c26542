// Behaviour differences between upstream versions of QEMU's Tegra241 CMDQV model, as one
// record of named policy flags (never scattered `if (version)` checks). Each flag names
// the upstream version that introduced it and the spec section that documents it.
// Presets: qemu-v5 (posted series, 19 May 2026), qemu-v7 (the series as merged),
// qemu-11.1 (what QEMU 11.1.3 ships: v7 plus the post-merge GERRORN follow-up, settled
// against the real binary by `cmdqv diff`), qemu-latest (11.1 plus the persistent page0
// region of a downstream carry), reference (our corrected design).

export interface Profile {
  readonly name: ProfileName;
  /**
   * v5: allocation also requires `address_space_range_is_ram(BASE, size)`; when false
   * setup silently does nothing ("Ignore any invalid address"). Dropped in v6/v7.
   * spec: qemu §3.1, §3.5.
   */
  readonly rangeIsRamCheck: boolean;
  /**
   * When the host VINTF page0 is mmap'd: "viommu-alloc" (v7 patch 14) or lazily at
   * "vintf-enable" (v5; ENABLE_OK is set only if the mmap succeeds; munmap on disable).
   * spec: qemu §1.5, §3.5.
   */
  readonly page0MmapAt: "viommu-alloc" | "vintf-enable";
  /**
   * When the guest page0 RAM-device map (0x30000) is installed: "vintf-enable" (v7 21)
   * or "first-alloc" (v5: after the first successful HW_QUEUE_ALLOC, inside setup).
   * spec: qemu §1.6, §3.5.
   */
  readonly guestPage0MapAt: "vintf-enable" | "first-alloc";
  /** v5: CONFIG.CMDQV_EN=0 also removes the guest page0 map. spec: qemu §2.2, §3.5. */
  readonly cmdqvDisableUnmapsGuestPage0: boolean;
  /** v5 16/32: BASE writes are ignored while the VCMDQ reports EN_OK. spec: qemu §3.5. */
  readonly ignoreBaseWritesWhileEnabled: boolean;
  /**
   * v7: a failed HW_QUEUE_ALLOC sets cached GERROR.CMDQ_INIT_ERR and clears STATUS.EN_OK
   * (the Case 2 fix). v5 only printed the error. spec: qemu §3.3, §3.5; review Case 2.
   */
  readonly reportAllocFailure: boolean;
  /** v7: a cached CONFIG.EN=1 sets EN_OK only while CMDQ_INIT_ERR is clear. spec: qemu §2.3. */
  readonly cacheEnOkRespectsInitErr: boolean;
  /**
   * Upstream: a CONFIG.EN=1 served by the cache (no HW queue yet) reports EN_OK at once,
   * an emulated enable. reference: the cache never reports a queue enabled that no
   * hardware consumes; the guest sees EN_OK only once the HW queue exists (its enable is
   * synced then), so an allocation that fails later cannot leave a guest that believed
   * the queue enabled. spec: qemu §2.3; found by `cmdqv explore` (docs/findings.md).
   */
  readonly emulatedEnable: boolean;
  /**
   * reference: a queue whose allocation preconditions stop holding (e.g. the guest zeroes
   * its BASE) is freed, unless a higher-index queue is live (the kernel forbids freeing a
   * lower index then; it is freed as soon as the higher ones go). Upstream's setup "does
   * nothing" when preconditions fail, so the host keeps a queue at the old BASE. spec: qemu
   * §3.3 step 1; found by the hostile-guest property test.
   */
  readonly freeWhenUnready: boolean;
  /** v7: freeing a VCMDQ zeroes its cached page0 registers. spec: qemu §2.6, §3.4. */
  readonly resetCacheOnFree: boolean;
  /** v7: the error IRQ is pulsed only while VI_INT_MASK_0 bit 0 is clear. spec: qemu §1.7. */
  readonly irqHonoursMask: boolean;
  /**
   * Which cached registers are copied into the host page after an allocation: v7 syncs
   * CONS, PROD, CONFIG, GERRORN; post-merge stops syncing GERRORN (it could recreate a
   * GERROR≠GERRORN state and stall the queue). spec: qemu §2.6.
   */
  readonly syncGerrornOnAlloc: boolean;
  /**
   * Post-merge: the guest page0 region is embedded and persistent (enabled/disabled)
   * instead of created/destroyed, because old FlatViews may keep the pointer until RCU
   * cleanup. spec: qemu §1.6 (NV-PR #39).
   */
  readonly persistentPage0Region: boolean;
  /**
   * reference: allocate across queues in ascending index order, as the kernel requires
   * (EIO otherwise): a queue whose lower neighbour is not allocated waits, and is retried
   * when the neighbour succeeds. Upstream tries it anyway and gets EIO, never retried.
   * spec: linux §3.5; review "what this means".
   */
  readonly orderedAllocation: boolean;
  /**
   * reference: freeing or re-allocating a queue while higher-index queues exist first
   * frees the higher ones (descending, as the kernel requires: EBUSY otherwise), then
   * restores them with their hardware page0 state. Upstream issues the refused destroy,
   * logs "Failed to free id", and forgets the object (a leak). spec: linux §3.6.
   */
  readonly rebuildHigherOnFree: boolean;
  /**
   * reference: a setup trigger for a queue that is already allocated with the same BASE
   * keeps it (upstream always frees and re-allocates, which resets the hardware queue and
   * restores stale cached registers). spec: qemu §3.2 last paragraph [I].
   */
  readonly keepIdenticalQueue: boolean;
  /**
   * reference: keep a host object the kernel refused to destroy (retry later) instead of
   * forgetting it. spec: qemu §3.4; QEMU's iommufd_backend_free_id only logs.
   */
  readonly keepRefusedObjects: boolean;
  /**
   * How a failed HW_QUEUE_ALLOC is worded on the console: v5 printed
   * "IOMMU_HW_QUEUE_ALLOC failed: error -22" (the review quotes it); v7's backend uses
   * error_setg_errno ("IOMMU_HW_QUEUE_ALLOC failed: Invalid argument"). spec: review.
   */
  readonly allocFailureLog: "errno" | "strerror";
}

export const PROFILE_NAMES = [
  "qemu-v5",
  "qemu-v7",
  "qemu-11.1",
  "qemu-latest",
  "reference",
] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

const QEMU_V7: Profile = {
  name: "qemu-v7",
  rangeIsRamCheck: false,
  page0MmapAt: "viommu-alloc",
  guestPage0MapAt: "vintf-enable",
  cmdqvDisableUnmapsGuestPage0: false,
  ignoreBaseWritesWhileEnabled: false,
  reportAllocFailure: true,
  cacheEnOkRespectsInitErr: true,
  emulatedEnable: true,
  freeWhenUnready: false,
  resetCacheOnFree: true,
  irqHonoursMask: true,
  syncGerrornOnAlloc: true,
  persistentPage0Region: false,
  orderedAllocation: false,
  rebuildHigherOnFree: false,
  keepIdenticalQueue: false,
  keepRefusedObjects: false,
  allocFailureLog: "strerror",
};

export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  "qemu-v5": {
    ...QEMU_V7,
    name: "qemu-v5",
    rangeIsRamCheck: true,
    page0MmapAt: "vintf-enable",
    guestPage0MapAt: "first-alloc",
    cmdqvDisableUnmapsGuestPage0: true,
    ignoreBaseWritesWhileEnabled: true,
    reportAllocFailure: false,
    cacheEnOkRespectsInitErr: false,
    resetCacheOnFree: false,
    irqHonoursMask: false,
    allocFailureLog: "errno",
  },
  "qemu-v7": QEMU_V7,
  // QEMU 11.1.3 (Debian 1:11.1.3+ds-2~bpo13+1) stores only CONS, PROD and CONFIG into the
  // host page after an allocation (observed: a GERRORN cached before the allocation reads
  // 0 from the hardware after it; docs/profiles.md has the differential as evidence).
  "qemu-11.1": { ...QEMU_V7, name: "qemu-11.1", syncGerrornOnAlloc: false },
  "qemu-latest": {
    ...QEMU_V7,
    name: "qemu-latest",
    syncGerrornOnAlloc: false,
    persistentPage0Region: true,
  },
  reference: {
    ...QEMU_V7,
    name: "reference",
    syncGerrornOnAlloc: false,
    persistentPage0Region: true,
    orderedAllocation: true,
    rebuildHigherOnFree: true,
    keepIdenticalQueue: true,
    keepRefusedObjects: true,
    emulatedEnable: false,
    freeWhenUnready: true,
  },
};

export function isProfileName(s: string): s is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(s);
}
