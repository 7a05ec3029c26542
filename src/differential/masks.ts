// What legitimately differs between the model and real QEMU on the same host, as named
// masks. Each one rewrites both sides' observations before they are compared and says
// why the difference is not a fidelity question. Anything a mask does not cover is a
// difference to settle (fix the model, or document upstream in docs/profiles.md).

import type { IoctlLogEntry, JsonValue } from "../host/kernel/ioctl-log.js";
import type { Observation } from "./sides.js";

export interface Mask {
  readonly name: string;
  readonly why: string;
  /** A fresh rewriter for one side's run (masks may carry state across steps). */
  start(): (o: Observation) => Observation;
}

type Json = JsonValue;

function mapCalls(o: Observation, f: (e: IoctlLogEntry) => IoctlLogEntry | null): Observation {
  const ioctls: IoctlLogEntry[] = [];
  for (const e of o.ioctls) {
    const r = f(e);
    if (r !== null) ioctls.push(r);
  }
  return { ...o, ioctls };
}

function isObj(v: Json | undefined): v is { readonly [k: string]: Json } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function withoutKeys(v: Json | undefined, keys: readonly string[]): Json | undefined {
  if (!isObj(v)) return v;
  const out: Record<string, Json> = {};
  for (const [k, x] of Object.entries(v)) if (!keys.includes(k)) out[k] = x;
  return out;
}

/** `"0x40200000"` → 0x4020_0000 (bigints the struct decoder logged); longer strings are bytes. */
function plainNumbers(v: Json | undefined): Json | undefined {
  if (typeof v === "string" && /^0x[0-9a-f]{1,13}$/.test(v)) return Number.parseInt(v.slice(2), 16);
  if (!isObj(v)) return v;
  const out: Record<string, Json> = {};
  for (const [k, x] of Object.entries(v)) out[k] = plainNumbers(x) ?? null;
  return out;
}

export const MASKS: readonly Mask[] = [
  {
    name: "uapi-framing",
    why:
      "QEMU's calls arrive as ioctl structs, so the host logs their `size` and `reserved` " +
      "fields and their u64 fields as the hex strings of bigints; the model's VMM calls the " +
      "same kernel entry points with plain numbers and no framing. Sizes go, and a hex " +
      "string of at most 52 bits compares as its number",
    start: () => (o) =>
      mapCalls(o, (e) => ({
        ...e,
        args: plainNumbers(withoutKeys(e.args, ["size", "reserved"])) ?? null,
      })),
  },
  {
    name: "vfio-plumbing",
    why:
      "QEMU's vfio iommufd backend moves its ioas to the process (IOAS_CHANGE_PROCESS), asks " +
      "for the usable IOVA ranges (IOAS_IOVA_RANGES) and maps guest RAM from its memfd " +
      "(IOAS_MAP_FILE); the model maps the same RAM at the same IOVA with IOAS_MAP. None of " +
      "it is CMDQV or SMMU behaviour. The maps compare as `IOAS_MAP ioas iova length`",
    start: () => (o) =>
      mapCalls(o, (e) => {
        if (e.call === "IOMMU_IOAS_CHANGE_PROCESS" || e.call === "IOMMU_IOAS_IOVA_RANGES")
          return null;
        if (e.call !== "IOMMU_IOAS_MAP_FILE" && e.call !== "IOMMU_IOAS_MAP") return e;
        const a = isObj(e.args) ? e.args : {};
        return {
          ...e,
          call: "IOMMU_IOAS_MAP",
          args: {
            ioasId: a["ioasId"] ?? null,
            iova: a["iova"] ?? null,
            length: a["length"] ?? null,
          },
          result: null,
        };
      }),
  },
  {
    name: "vfio-skip-dma-unmap",
    why:
      'QEMU marks the guest page0 region ("tegra241-cmdqv vintf-page0") to skip IOMMU mapping, ' +
      "so vfio's listener never maps it, but its region_del still unmaps it: the kernel " +
      "answers ENOENT and QEMU ignores that (trace iommufd_backend_unmap_dma_non_exist). " +
      "A failed unmap changes nothing on the host; the model's VMM has no vfio listener",
    start: () => (o) =>
      mapCalls(o, (e) => (e.call === "IOMMU_IOAS_UNMAP" && e.errno === "ENOENT" ? null : e)),
  },
  {
    name: "vfio-aer-warning",
    why:
      "QEMU's vfio-pci warns at realize that it could not enable error recovery (AER) for " +
      "the passed-through device; the model has no PCI function to warn about",
    start: () => (o) => ({
      ...o,
      console: o.console.filter(
        (l) => !/warning: vfio \S+: Could not enable error recovery/.test(l),
      ),
    }),
  },
];

/** The masks by name, for `--no-mask`. */
export function maskNamed(name: string): Mask | undefined {
  return MASKS.find((m) => m.name === name);
}
