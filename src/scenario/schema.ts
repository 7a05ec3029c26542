// The scenario file format: a machine, a fault plan and a guest program, as a zod schema
// that both validates a parsed YAML document and normalises it (numbers in bytes and ns,
// addresses as {region, offset} or absolute, defaults filled from DEFAULT_MACHINE).
//
// Every scalar field is parsed by our own small parsers (schema-scalars.ts; integers and
// sizes by util/parse.ts, which the CLI's flags share) rather than zod's built-ins, so a
// typo gets one precise sentence ("not a size") instead of a union of generic complaints,
// and so the same rules serve the JSON Schema (docs/scenario.schema.json) and the error
// messages. Objects are strict: an unknown key is an error, because a misspelt key
// silently ignored is a scenario that tests something else than its author believes.

import { z } from "zod";
import { INVARIANT_NAMES, type InvariantName } from "../check/invariants.js";
import { DEFAULT_CMDQ_MAX_SZ_SHIFT } from "../guest/arm-smmu-v3.js";
import type { Timing } from "../guest/execute.js";
import {
  MAX_WORKLOAD_INVALIDATIONS,
  WORKLOAD_KINDS,
  type WorkloadKind,
} from "../guest/workload.js";
import { FAULT_SITES, type FaultPlan, type FaultSite } from "../host/faults.js";
import { DEFAULT_MACHINE, MACHINE_LIMITS, type MachineConfig } from "../machine/config.js";
import { PAGE_SIZE_NAMES, PAGE_SIZES, type PageSizeName, pageSizeName } from "../mem/types.js";
import { TEGRA241_CMDQV_IO_LEN, VCMDQ_LOG2SIZE_MAX } from "../regs/cmdqv.js";
import { SMMUV3_MMIO_SIZE } from "../regs/smmuv3.js";
import { parseUint } from "../util/parse.js";
import { err, ok, type Result } from "../util/result.js";
import { PROFILE_NAMES } from "../vmm/tegra241-cmdqv/profile.js";
import {
  ADDRESS_LIMIT,
  type Address,
  address,
  choice,
  duration,
  hex,
  lines,
  MISSING,
  oneOfConsts,
  orList,
  parseAddress,
  plural,
  RING_PATTERN,
  scalar,
  size,
  UINT_PATTERN,
  u64,
  uint,
} from "./schema-scalars.js";

// ---- normalised types ---------------------------------------------------------------------

export type AccessSize = 1 | 2 | 4 | 8;

/** Where the guest driver puts one LVCMDQ ring: its own choice, or a forced address. */
export type RingPlacement = "auto" | Address;

export type ScenarioStep =
  | {
      readonly kind: "boot";
      /** Per LVCMDQ (index = lidx); shorter than the VCMDQ count means "auto" for the rest. */
      readonly vcmdqRings: readonly RingPlacement[];
      /** The guest kernel's CMDQ_MAX_SZ_SHIFT (log2 of the most entries per command queue). */
      readonly cmdqMaxSzShift: number;
    }
  | {
      readonly kind: "write";
      readonly addr: Address;
      readonly size: AccessSize;
      readonly value: bigint;
    }
  | {
      readonly kind: "read";
      readonly addr: Address;
      readonly size: AccessSize;
      /** When present: (read & mask) must equal (expect & mask). */
      readonly expect?: bigint;
      /** All ones for the access size unless given. */
      readonly mask: bigint;
    }
  | {
      readonly kind: "workload";
      readonly invalidations: number;
      readonly vcpus: number;
      /** Relative weights; a kind absent or 0 is not issued. */
      readonly mix: Readonly<Partial<Record<WorkloadKind, number>>>;
    }
  | { readonly kind: "advance"; readonly ns: number }
  | { readonly kind: "reset" }
  | {
      readonly kind: "expect";
      readonly dmesgContains: readonly string[];
      readonly dmesgNotContains: readonly string[];
      readonly vmmLogContains: readonly string[];
      readonly vmmLogNotContains: readonly string[];
      readonly hwQueues?: number;
      readonly invariants?: "ok" | "violated";
      /** Each of these invariants has been violated (others may be too). */
      readonly violated: readonly InvariantName[];
    };

export type StepKind = ScenarioStep["kind"];

/** A scenario as the schema normalises it (the loader adds source positions: see Scenario). */
export interface ScenarioData {
  readonly name: string;
  readonly description?: string;
  /** Complete: DEFAULT_MACHINE with the file's overrides, faultPlan from `faults:`. */
  readonly machine: MachineConfig;
  readonly guest: readonly ScenarioStep[];
}

/** 1-based line and column in the scenario file. */
export interface SourcePos {
  readonly line: number;
  readonly col: number;
}

export type Step = ScenarioStep & { readonly at: SourcePos };

/** A loaded scenario: the normalised data, the file it came from, each step's position. */
export interface Scenario {
  readonly file: string;
  readonly name: string;
  readonly description?: string;
  readonly machine: MachineConfig;
  readonly guest: readonly Step[];
}

// ---- limits and defaults ------------------------------------------------------------------

/** The weights `cmdqv run` uses: mostly VCMDQ traffic, with CFGI_CD on the trapped main CMDQ. */
export const DEFAULT_WORKLOAD_MIX: Readonly<Partial<Record<WorkloadKind, number>>> = {
  TLBI_NH_VA: 6,
  TLBI_NH_ASID: 2,
  ATC_INV: 1,
  CFGI_CD: 1,
};

/** VCMDQ_LOG2SIZE_MAX: the guest never asks for a bigger ring. spec: linux §4.3, qemu §5.2. */
export const MAX_CMDQ_SZ_SHIFT = VCMDQ_LOG2SIZE_MAX;

/**
 * A mix weight's ceiling: 0.1% steps are finer than any mix needs, and each vCPU's
 * workload draws from a list holding every kind as often as its weight (weights of 10^6
 * across five kinds and 64 vCPUs took 3.7 GB for a 1000-invalidation step).
 */
export const MAX_MIX_WEIGHT = 1000;
const MAX_TIMING_NS = 1_000_000_000;

// ---- the machine --------------------------------------------------------------------------

const ramPage = scalar(
  "a page size",
  (v): Result<PageSizeName, string> => {
    const name = pageSizeName(v);
    return name.ok ? name : err(`expected one of ${orList(PAGE_SIZE_NAMES)}`);
  },
  {
    number: { anyOf: oneOfConsts(PAGE_SIZE_NAMES.map((p) => PAGE_SIZES[p])) },
    string: { pattern: "^(4[Kk]|64[Kk]|2[Mm]|1[Gg])$" },
    meta: {
      description:
        "Host page size backing guest RAM (QEMU's memory backend): 4K, 64K, 2M or 1G. It also clamps IDR1.CMDQS and so the largest ring (spec: qemu §2.9).",
      inputDefault: DEFAULT_MACHINE.ramPage,
    },
  },
);

const ramSchema = z
  .strictObject({
    base: scalar(
      "an address",
      (v) => {
        const u = parseUint(v);
        if (!u.ok) return err(u.error === "not a number" ? "not an address" : u.error);
        return u.value >= BigInt(ADDRESS_LIMIT)
          ? err("addresses must be below 2^52")
          : ok(Number(u.value));
      },
      {
        number: { type: "integer", minimum: 0, maximum: ADDRESS_LIMIT - 1 },
        string: { pattern: UINT_PATTERN },
        meta: {
          description: "Guest-physical base of RAM (a multiple of the page size).",
          inputDefault: hex(DEFAULT_MACHINE.ramBase),
        },
      },
    ).optional(),
    size: size("Bytes of guest RAM (a multiple of the page size).", 1, MACHINE_LIMITS.ramSizeMax)
      .optional()
      .meta({ inputDefault: DEFAULT_MACHINE.ramSize }),
    page: ramPage.optional(),
  })
  .meta({ description: "Guest RAM." });

const timingSchema = z
  .strictObject({
    trap: duration("Virtual time of a trapped MMIO access (a VM exit).", MAX_TIMING_NS)
      .optional()
      .meta({ inputDefault: DEFAULT_MACHINE.timing.trapNs }),
    direct: duration(
      "Virtual time of an access that reaches device memory without a trap (the page0 map).",
      MAX_TIMING_NS,
    )
      .optional()
      .meta({ inputDefault: DEFAULT_MACHINE.timing.directNs }),
    ram: duration("Virtual time of a guest RAM access.", MAX_TIMING_NS)
      .optional()
      .meta({ inputDefault: DEFAULT_MACHINE.timing.ramNs }),
  })
  .meta({ description: "Virtual-time costs of what a vCPU does." });

type MachineOverrides = {
  -readonly [K in Exclude<keyof MachineConfig, "timing" | "faultPlan">]?: MachineConfig[K];
} & { timing?: Partial<Timing> };

const machineSchema = z
  .strictObject({
    profile: choice(PROFILE_NAMES, "The VMM behaviour profile (docs/profiles.md).")
      .optional()
      .meta({ inputDefault: DEFAULT_MACHINE.profile }),
    ram: ramSchema.optional(),
    vcmdqs: scalar(
      "a number",
      (v) => {
        const u = parseUint(v);
        if (!u.ok) return u;
        const n = u.value;
        const { min, max } = MACHINE_LIMITS.vcmdqs;
        return n >= BigInt(min) && n <= BigInt(max) && (n & (n - 1n)) === 0n
          ? ok(Number(n))
          : err(`must be a power of two from ${min} to ${max}`);
      },
      {
        number: { anyOf: oneOfConsts([1, 2, 4, 8, 16, 32, 64, 128]) },
        string: { pattern: UINT_PATTERN },
        meta: {
          description: "VCMDQs the VMM exposes in its one VINTF (a power of two).",
          inputDefault: DEFAULT_MACHINE.vcmdqs,
        },
      },
    ).optional(),
    vcpus: uint(MACHINE_LIMITS.vcpus.min, MACHINE_LIMITS.vcpus.max, "Guest vCPUs.", {
      inputDefault: DEFAULT_MACHINE.vcpus,
    }).optional(),
    seed: uint(0, MACHINE_LIMITS.seedMax, "Seed of every random choice of the run (u32).", {
      inputDefault: DEFAULT_MACHINE.seed,
    }).optional(),
    cmdqv: choice(
      ["off", "auto", "on"] as const,
      "The arm-smmuv3 `cmdqv` property (spec: qemu §1.9).",
      { booleans: { true: "on", false: "off" } },
    )
      .optional()
      .meta({ inputDefault: DEFAULT_MACHINE.cmdqv }),
    timing: timingSchema.optional(),
  })
  .transform((m): MachineOverrides => {
    const o: MachineOverrides = {};
    if (m.profile !== undefined) o.profile = m.profile;
    if (m.ram?.base !== undefined) o.ramBase = m.ram.base;
    if (m.ram?.size !== undefined) o.ramSize = m.ram.size;
    if (m.ram?.page !== undefined) o.ramPage = m.ram.page;
    if (m.vcmdqs !== undefined) o.vcmdqs = m.vcmdqs;
    if (m.vcpus !== undefined) o.vcpus = m.vcpus;
    if (m.seed !== undefined) o.seed = m.seed;
    if (m.cmdqv !== undefined) o.cmdqv = m.cmdqv;
    if (m.timing !== undefined) {
      const t: { -readonly [K in keyof Timing]?: number } = {};
      if (m.timing.trap !== undefined) t.trapNs = m.timing.trap;
      if (m.timing.direct !== undefined) t.directNs = m.timing.direct;
      if (m.timing.ram !== undefined) t.ramNs = m.timing.ram;
      o.timing = t;
    }
    return o;
  })
  .meta({ description: "The machine; every key is optional (defaults: DEFAULT_MACHINE)." });

// ---- the fault plan -----------------------------------------------------------------------

/** A probability plan's seed may default to the machine's, which the faults block cannot see. */
type FaultPlanDraft =
  | Exclude<FaultPlan, { kind: "probability" }>
  | {
      readonly kind: "probability";
      readonly seed: number | undefined;
      readonly p: Readonly<Partial<Record<FaultSite, number>>>;
    };

function faultSite() {
  return choice(FAULT_SITES, "A named host fault site (`cmdqv explore --list-sites`).", {
    unknown: "unknown fault site",
    hint: "see cmdqv explore --list-sites",
  });
}

const probability = scalar(
  "a probability",
  (v) => {
    const x = typeof v === "number" ? v : v.trim() === "" ? Number.NaN : Number(v.trim());
    if (!Number.isFinite(x)) return err("not a probability");
    return x >= 0 && x <= 1 ? ok(x) : err("must be from 0 to 1");
  },
  { number: { minimum: 0, maximum: 1 }, meta: { description: "Chance that each call fails." } },
);

const faultsSchema = z
  .strictObject({
    site: faultSite().optional(),
    nth: uint(1, 0xffff_ffff, "Which call fails (1-based): at `site`, or across all sites.", {
      inputDefault: 1,
    }).optional(),
    seed: uint(
      0,
      0xffff_ffff,
      "Seed of the probabilistic plan (default: the machine seed).",
    ).optional(),
    probability: z
      .strictObject(
        Object.fromEntries(FAULT_SITES.map((s) => [s, probability.optional()])) as Record<
          FaultSite,
          z.ZodOptional<typeof probability>
        >,
      )
      .meta({ description: "Per-site failure probability, each call drawn from the seed." })
      .optional(),
  })
  .superRefine((f, ctx) => {
    const forms = [f.site !== undefined, f.probability !== undefined].filter(Boolean).length;
    if (forms > 1)
      ctx.addIssue({
        code: "custom",
        message: "give either site (with nth) or probability (with seed), not both",
        path: ["probability"],
      });
    else if (f.site === undefined && f.probability === undefined && f.nth === undefined)
      ctx.addIssue({ code: "custom", message: "a fault plan needs site, nth or probability" });
    else if (f.probability !== undefined && f.nth !== undefined)
      ctx.addIssue({
        code: "custom",
        message: "nth does not apply to a probability plan",
        path: ["nth"],
      });
    else if (f.probability === undefined && f.seed !== undefined)
      ctx.addIssue({
        code: "custom",
        message: "seed applies only to a probability plan",
        path: ["seed"],
      });
  })
  .transform((f): FaultPlanDraft => {
    if (f.site !== undefined) return { kind: "site", site: f.site, nth: f.nth ?? 1 };
    if (f.probability !== undefined) {
      const p: Partial<Record<FaultSite, number>> = {};
      for (const s of FAULT_SITES) {
        const x = f.probability[s];
        if (x !== undefined) p[s] = x;
      }
      return { kind: "probability", seed: f.seed, p };
    }
    return { kind: "nth", nth: f.nth ?? 1 };
  })
  .meta({
    description:
      "Host fault plan, one of: {site, nth} fails the nth call at a named site; {nth} fails the nth host call overall; {seed, probability} fails calls at random. Calls are counted from the machine's creation (docs/scenarios.md, Fault numbering).",
  });

// ---- the guest program --------------------------------------------------------------------

const accessSize = scalar(
  "an access size",
  (v): Result<AccessSize, string> => {
    const u = parseUint(v);
    const n = u.ok ? Number(u.value) : 0;
    return n === 1 || n === 2 || n === 4 || n === 8 ? ok(n) : err("must be 1, 2, 4 or 8 (bytes)");
  },
  {
    number: { anyOf: oneOfConsts([1, 2, 4, 8]) },
    string: { pattern: UINT_PATTERN },
    meta: { description: "Access size in bytes.", inputDefault: 4 },
  },
);

const ringPlacement = scalar(
  "a ring placement",
  (v): Result<RingPlacement, string> => {
    if (v === "auto") return ok("auto");
    const a = parseAddress(v);
    if (!a.ok) return err(a.error === "not an address" ? "expected auto or an address" : a.error);
    if (typeof a.value !== "number" && a.value.region !== "ram")
      return err("a ring lives in RAM: use auto, ram+<offset> or an absolute address");
    return a;
  },
  {
    number: { type: "integer", minimum: 0, maximum: ADDRESS_LIMIT - 1 },
    string: { pattern: RING_PATTERN },
    meta: { description: "auto (the driver's choice) or the ring's guest-physical address." },
  },
);

const bootSchema = z
  .strictObject({
    vcmdq_rings: z
      .array(ringPlacement, {
        error: (iss) => (iss.input === undefined ? MISSING : "expected a list"),
      })
      .max(128)
      .optional()
      .meta({
        description:
          "Where each LVCMDQ ring lives, by index: auto or an address (a misaligned one makes the kernel refuse the queue with EINVAL).",
      }),
    cmdq_max_sz_shift: uint(
      1,
      MAX_CMDQ_SZ_SHIFT,
      "The guest kernel's CMDQ_MAX_SZ_SHIFT: log2 of the most entries of a command queue (main CMDQ and each VCMDQ); a ring is 16 << n bytes, also capped by IDR1.CMDQS.",
      { inputDefault: DEFAULT_CMDQ_MAX_SZ_SHIFT },
    ).optional(),
  })
  .nullable()
  .meta({
    description: "Boot the Linux-like guest driver (arm-smmu-v3 + tegra241-cmdqv guest role).",
  });

const writeSchema = z
  .strictObject({
    addr: address("Where to write: a number or <region>+<offset> (cmdqv, smmu, ram)."),
    value: u64("The value written."),
    size: accessSize.optional(),
  })
  .meta({ description: "One guest MMIO or RAM store from vCPU 0." });

const readSchema = z
  .strictObject({
    addr: address("Where to read: a number or <region>+<offset> (cmdqv, smmu, ram)."),
    size: accessSize.optional(),
    expect: u64("The value the read must return (under mask).").optional(),
    mask: u64("Bits of the value that `expect` checks (default: all of the access).").optional(),
  })
  .meta({ description: "One guest load from vCPU 0, optionally checked." });

const MIX_KEYS = WORKLOAD_KINDS.map((k) => k.toLowerCase()) as Lowercase<WorkloadKind>[];

const workloadSchema = z
  .strictObject({
    invalidations: uint(
      0,
      MAX_WORKLOAD_INVALIDATIONS,
      `Invalidation commands issued in total across the vCPUs (at most ${MAX_WORKLOAD_INVALIDATIONS}, and as many over the whole program).`,
    ),
    vcpus: uint(1, 64, "vCPUs issuing them (default: the machine's vCPUs).").optional(),
    mix: z
      .strictObject(
        Object.fromEntries(
          MIX_KEYS.map((k) => [k, uint(0, MAX_MIX_WEIGHT, `Relative weight of ${k} batches.`)]),
        ) as Record<Lowercase<WorkloadKind>, ReturnType<typeof uint>>,
      )
      .partial()
      .superRefine((m, ctx) => {
        if (!Object.values(m).some((w) => w !== undefined && w > 0))
          ctx.addIssue({ code: "custom", message: "at least one kind needs a weight above 0" });
      })
      .meta({
        description:
          "Relative weights of each kind of batch (default tlbi_nh_va 6, tlbi_nh_asid 2, atc_inv 1, cfgi_cd 1). cfgi_cd and tlbi_nh_all always go to the trapped main CMDQ.",
      })
      .optional(),
  })
  .meta({
    description: "Invalidations from several vCPUs, as the arm-smmu-v3 driver issues them.",
  });

const expectSchema = z
  .strictObject({
    dmesg_contains: lines("Each must occur in some guest dmesg line.").optional(),
    dmesg_not_contains: lines("None may occur in any guest dmesg line.").optional(),
    vmm_log_contains: lines("Each must occur in some VMM console/log line.").optional(),
    vmm_log_not_contains: lines("None may occur in any VMM console/log line.").optional(),
    hw_queues: uint(0, 128, "HW queues the host holds for the VM right now.").optional(),
    invariants: choice(
      ["ok", "violated"] as const,
      "ok: no invariant violated so far; violated: at least one.",
    ).optional(),
    violated: z
      .array(choice(INVARIANT_NAMES, "An invariant name."), {
        error: (iss) => (iss.input === undefined ? MISSING : "expected a list"),
      })
      .optional()
      .meta({ description: "Each of these invariants has been violated so far." }),
  })
  .superRefine((e, ctx) => {
    if (Object.values(e).every((x) => x === undefined))
      ctx.addIssue({ code: "custom", message: "an expect step needs at least one assertion" });
    if (e.invariants === "ok" && (e.violated?.length ?? 0) > 0)
      ctx.addIssue({
        code: "custom",
        message: 'contradicts invariants: "ok"',
        path: ["violated"],
      });
  })
  .meta({ description: "Assertions on the run so far." });

export const STEP_KINDS = [
  "boot",
  "write",
  "read",
  "workload",
  "advance",
  "reset",
  "expect",
] as const satisfies readonly StepKind[];

/** The most a value of `size` bytes can hold. */
function maxFor(size: AccessSize): bigint {
  return (1n << BigInt(8 * size)) - 1n;
}

const stepSchema = z
  .strictObject({
    boot: bootSchema.optional(),
    write: writeSchema.optional(),
    read: readSchema.optional(),
    workload: workloadSchema.optional(),
    advance: duration(
      "Let virtual time pass (services and interrupts run).",
      Number.MAX_SAFE_INTEGER,
    ).optional(),
    reset: z
      .strictObject({})
      .nullable()
      .optional()
      .meta({ description: "System reset (the device models' reset; the guest must boot again)." }),
    expect: expectSchema.optional(),
  })
  .superRefine((s, ctx) => {
    // `boot:` and `reset:` with nothing after them are null: present, with no options.
    const present = STEP_KINDS.filter((k) => s[k] !== undefined);
    if (present.length !== 1)
      ctx.addIssue({
        code: "custom",
        message:
          present.length === 0
            ? `a step is one of ${orList(STEP_KINDS)}`
            : `a step has exactly one of ${orList(STEP_KINDS)} (found ${present.join(" and ")})`,
      });
    const fits = (k: "write" | "read", f: string, v: bigint | undefined, sz: AccessSize) => {
      if (v !== undefined && v > maxFor(sz))
        ctx.addIssue({
          code: "custom",
          message: `${hex(v)} does not fit a ${sz}-byte access`,
          path: [k, f],
        });
    };
    if (s.write) fits("write", "value", s.write.value, s.write.size ?? 4);
    if (s.read) {
      fits("read", "expect", s.read.expect, s.read.size ?? 4);
      fits("read", "mask", s.read.mask, s.read.size ?? 4);
    }
  })
  .transform((s): ScenarioStep | WorkloadDraft => {
    if (s.write) {
      const w = s.write;
      return { kind: "write", addr: w.addr, size: w.size ?? 4, value: w.value };
    }
    if (s.read) {
      const r = s.read;
      const sz = r.size ?? 4;
      return {
        kind: "read",
        addr: r.addr,
        size: sz,
        mask: r.mask ?? maxFor(sz),
        ...(r.expect !== undefined ? { expect: r.expect } : {}),
      };
    }
    if (s.workload) {
      const w = s.workload;
      const mix: Partial<Record<WorkloadKind, number>> = {};
      if (w.mix)
        for (const k of WORKLOAD_KINDS) {
          const x = w.mix[k.toLowerCase() as Lowercase<WorkloadKind>];
          if (x !== undefined) mix[k] = x;
        }
      return {
        kind: "workload-draft",
        invalidations: w.invalidations,
        vcpus: w.vcpus,
        mix: w.mix ? mix : DEFAULT_WORKLOAD_MIX,
      };
    }
    if (s.advance !== undefined) return { kind: "advance", ns: s.advance };
    if (s.expect) {
      const e = s.expect;
      return {
        kind: "expect",
        dmesgContains: e.dmesg_contains ?? [],
        dmesgNotContains: e.dmesg_not_contains ?? [],
        vmmLogContains: e.vmm_log_contains ?? [],
        vmmLogNotContains: e.vmm_log_not_contains ?? [],
        violated: e.violated ?? [],
        ...(e.hw_queues !== undefined ? { hwQueues: e.hw_queues } : {}),
        ...(e.invariants !== undefined ? { invariants: e.invariants } : {}),
      };
    }
    if (s.reset !== undefined) return { kind: "reset" };
    const b = s.boot ?? {};
    return {
      kind: "boot",
      vcmdqRings: b.vcmdq_rings ?? [],
      cmdqMaxSzShift: b.cmdq_max_sz_shift ?? DEFAULT_CMDQ_MAX_SZ_SHIFT,
    };
  })
  .meta({
    description: `One step of the guest program: exactly one of ${orList(STEP_KINDS)}.`,
    minProperties: 1,
    maxProperties: 1,
  });

/** A workload whose vCPU count defaults to the machine's, which a step cannot see. */
interface WorkloadDraft {
  readonly kind: "workload-draft";
  readonly invalidations: number;
  readonly vcpus: number | undefined;
  readonly mix: Readonly<Partial<Record<WorkloadKind, number>>>;
}

// ---- the scenario -------------------------------------------------------------------------

type Ctx = z.core.$RefinementCtx;

function checkMachine(m: MachineConfig, given: MachineOverrides, ctx: Ctx): void {
  const page = PAGE_SIZES[m.ramPage];
  const ramPath = (k: "base" | "size" | "page") => ["machine", "ram", k];
  if (m.ramBase % page !== 0)
    ctx.addIssue({
      code: "custom",
      message: `RAM base ${hex(m.ramBase)} is not aligned to the ${m.ramPage} page`,
      path: ramPath(given.ramBase !== undefined ? "base" : "page"),
    });
  if (m.ramSize % page !== 0)
    ctx.addIssue({
      code: "custom",
      message: `RAM size ${hex(m.ramSize)} is not a multiple of the ${m.ramPage} page`,
      path: ramPath(given.ramSize !== undefined ? "size" : "page"),
    });
  if (m.ramBase + m.ramSize > ADDRESS_LIMIT)
    ctx.addIssue({
      code: "custom",
      message: "RAM must end at or below 2^52",
      path: ramPath(given.ramSize !== undefined ? "size" : "base"),
    });
  const windows = [
    { name: "SMMUv3", base: m.smmuBase, size: SMMUV3_MMIO_SIZE },
    { name: "CMDQV", base: m.cmdqvBase, size: TEGRA241_CMDQV_IO_LEN },
  ];
  for (const w of windows)
    if (m.ramBase < w.base + w.size && w.base < m.ramBase + m.ramSize)
      ctx.addIssue({
        code: "custom",
        message: `RAM [${hex(m.ramBase)}, ${hex(m.ramBase + m.ramSize)}) overlaps the ${w.name} window at ${hex(w.base)}`,
        path: ramPath(given.ramBase !== undefined ? "base" : "size"),
      });
}

/** A `ram+offset` address must fall inside RAM, with room for the access. */
function checkRamOffset(
  a: Address,
  bytes: number,
  m: MachineConfig,
  path: (string | number)[],
  ctx: Ctx,
): void {
  if (typeof a === "number" || a.region !== "ram") return;
  if (a.offset + bytes > m.ramSize)
    ctx.addIssue({
      code: "custom",
      message: `offset ${hex(a.offset)} is past the end of RAM (${hex(m.ramSize)} bytes)`,
      path,
    });
}

export const scenarioSchema = z
  .strictObject({
    name: z
      .string({ error: (iss) => (iss.input === undefined ? MISSING : "expected text") })
      .regex(/^[a-z0-9-]+$/, { error: "use lower-case letters, digits and - only" })
      .meta({ description: "The scenario's name: lower-case letters, digits and -." }),
    description: z
      .string({ error: "expected text" })
      .optional()
      .meta({ description: "What the scenario shows." }),
    machine: machineSchema.optional(),
    faults: faultsSchema.optional(),
    guest: z
      .array(stepSchema, {
        error: (iss) => (iss.input === undefined ? MISSING : "expected a list of steps"),
      })
      .min(1, { error: "needs at least one step" })
      .meta({ description: "The guest program: steps run in order." }),
  })
  .transform((s, ctx): ScenarioData => {
    const given = s.machine ?? {};
    const { timing, ...rest } = given;
    const draft = s.faults;
    const seed = rest.seed ?? DEFAULT_MACHINE.seed;
    const faultPlan: FaultPlan =
      draft === undefined
        ? { kind: "none" }
        : draft.kind === "probability"
          ? { kind: "probability", seed: draft.seed ?? seed, p: draft.p }
          : draft;
    const machine: MachineConfig = {
      ...DEFAULT_MACHINE,
      ...rest,
      timing: { ...DEFAULT_MACHINE.timing, ...timing },
      faultPlan,
    };
    checkMachine(machine, given, ctx);
    // The guest driver runs a workload: without a boot before it (or since the last reset)
    // there is no driver, and the vCPUs would spin until the world's step bound.
    let booted: "no" | "yes" | "reset" = "no";
    let invalidations = 0;
    const guest = s.guest.map((step, i): ScenarioStep => {
      const at = (...p: (string | number)[]) => ["guest", i, ...p];
      switch (step.kind) {
        case "workload-draft": {
          if (booted !== "yes")
            ctx.addIssue({
              code: "custom",
              message:
                booted === "no"
                  ? "no boot step before it: a workload needs the guest driver, so boot first (- boot: {})"
                  : "the guest is reset before it and not booted again: boot after the reset (- boot: {})",
              path: at("workload"),
              params: { omitGot: true },
            });
          if (step.vcpus !== undefined && step.vcpus > machine.vcpus)
            ctx.addIssue({
              code: "custom",
              message: `the machine has ${plural(machine.vcpus, "vCPU")}`,
              path: at("workload", "vcpus"),
            });
          const before = invalidations;
          invalidations += step.invalidations;
          if (before <= MAX_WORKLOAD_INVALIDATIONS && invalidations > MAX_WORKLOAD_INVALIDATIONS)
            ctx.addIssue({
              code: "custom",
              message: `the guest program issues at most ${MAX_WORKLOAD_INVALIDATIONS} invalidations in all, and this step brings it to ${invalidations}`,
              path: at("workload", "invalidations"),
            });
          return {
            kind: "workload",
            invalidations: step.invalidations,
            vcpus: step.vcpus ?? machine.vcpus,
            mix: step.mix,
          };
        }
        case "write":
        case "read":
          checkRamOffset(step.addr, step.size, machine, at(step.kind, "addr"), ctx);
          return step;
        case "reset":
          booted = "reset";
          return step;
        case "boot":
          booted = "yes";
          if (step.vcmdqRings.length > machine.vcmdqs)
            ctx.addIssue({
              code: "custom",
              message: `${plural(step.vcmdqRings.length, "ring")} for ${plural(machine.vcmdqs, "VCMDQ")}`,
              path: at("boot", "vcmdq_rings"),
            });
          step.vcmdqRings.forEach((r, j) => {
            if (r !== "auto") checkRamOffset(r, 1, machine, at("boot", "vcmdq_rings", j), ctx);
          });
          return step;
        default:
          return step;
      }
    });
    return {
      name: s.name,
      ...(s.description !== undefined ? { description: s.description } : {}),
      machine,
      guest,
    };
  })
  .meta({
    title: "cmdqv scenario",
    description:
      "A cmdqv run: a machine, a VMM behaviour profile, a host fault plan and a guest program (docs/scenarios.md).",
  });

/**
 * Our wording for zod's own issues (types, required keys, list lengths); our parsers word
 * everything else. Passed to safeParse by the loader.
 */
export function scenarioIssueMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case "invalid_type":
      if (iss.input === undefined) return MISSING;
      switch (iss.expected) {
        case "object":
          return "expected a mapping (key: value)";
        case "array":
          return "expected a list";
        case "string":
          return "expected text";
        case "number":
          return "expected a number";
        default:
          return `expected ${iss.expected}`;
      }
    case "too_small":
      return iss.origin === "array" ? `needs at least ${iss.minimum} item(s)` : undefined;
    case "too_big":
      return iss.origin === "array" ? `takes at most ${iss.maximum} item(s)` : undefined;
    default:
      return undefined;
  }
}

/** The shape's keys of a strict object schema, for "did you mean" on an unknown key. */
export function objectKeys(inst: unknown): readonly string[] {
  const def = (inst as { _zod?: { def?: { type?: string; shape?: object } } })._zod?.def;
  return def?.type === "object" && def.shape ? Object.keys(def.shape) : [];
}
