// The Tegra241 CMDQV device's trace events: QEMU 11.1's own (hw/arm/trace-events,
// "# tegra241-cmdqv"), with their arguments in QEMU's order, and each event's line as
// QEMU's log trace backend prints it (`-trace enable=tegra241_cmdqv*`), so a model run
// and a real-QEMU run can be compared line by line.
//
// facts (QEMU 11.1.3, Debian 1:11.1.3+ds-2~bpo13+1, read from the binary's format strings
// and confirmed over qtest):
//   tegra241_cmdqv_init_regs        "register init, param=0x%08X"
//   tegra241_cmdqv_read_mmio        "offset: 0x%lx val: 0x%lx size: 0x%x"
//   tegra241_cmdqv_write_mmio       "offset: 0x%lx val: 0x%lx size: 0x%x"
//   tegra241_cmdqv_read_vcmdq_page0  "vcmdq[%d] %s (%s) offset0: 0x%lx val: 0x%lx"
//   tegra241_cmdqv_write_vcmdq_page0 "vcmdq[%d] %s (%s) offset0: 0x%lx val: 0x%lx"
//   tegra241_cmdqv_read_vcmdq_page1  "vcmdq[%d] %s offset0: 0x%lx val: 0x%lx"
//   tegra241_cmdqv_write_vcmdq_page1 "vcmdq[%d] %s offset0: 0x%lx val: 0x%lx"
//   tegra241_cmdqv_err_map          "hw irq received. error (hex) maps: %04X:%04X:%04X:%04X"
// The page0 helpers pass (index, "direct"|"vi", "hw"|"cache", offset0, val), the page1
// helpers (index, "direct"|"vi", offset0, val); err_map passes the four VINTF0
// LVCMDQ_ERR_MAP words highest first. Values that can be 64-bit (val) are carried as hex
// strings; the model's events may add a trailing `reg` (the decoded register), which no
// QEMU line shows.
//
// Events the model emits that QEMU has no counterpart for are named `cmdqv_model_*`.

import type { TraceArgs } from "../../trace/trace.js";

export const CMDQV_TRACE = {
  INIT_REGS: "tegra241_cmdqv_init_regs",
  READ_MMIO: "tegra241_cmdqv_read_mmio",
  WRITE_MMIO: "tegra241_cmdqv_write_mmio",
  READ_VCMDQ_PAGE0: "tegra241_cmdqv_read_vcmdq_page0",
  WRITE_VCMDQ_PAGE0: "tegra241_cmdqv_write_vcmdq_page0",
  READ_VCMDQ_PAGE1: "tegra241_cmdqv_read_vcmdq_page1",
  WRITE_VCMDQ_PAGE1: "tegra241_cmdqv_write_vcmdq_page1",
  ERR_MAP: "tegra241_cmdqv_err_map",
  /** Model only: the guest page0 RAM-device region was added / removed (QEMU traces neither). */
  MODEL_MAP_GUEST_PAGE0: "cmdqv_model_map_guest_page0",
  MODEL_UNMAP_GUEST_PAGE0: "cmdqv_model_unmap_guest_page0",
  /** Model only (reference profile): a ready queue waits for its lower neighbour. */
  MODEL_SETUP_DEFERRED: "cmdqv_model_setup_deferred",
} as const;

/** `0x…` of a u32 pair, without a bigint (only built while tracing). */
export function hex64(lo: number, hi: number): string {
  return hi === 0
    ? `0x${(lo >>> 0).toString(16)}`
    : `0x${(hi >>> 0).toString(16)}${(lo >>> 0).toString(16).padStart(8, "0")}`;
}

const num = (a: TraceArgs, k: string): number => {
  const v = a[k];
  return typeof v === "number" ? v : Number(v);
};
const str = (a: TraceArgs, k: string): string => String(a[k]);
const hx = (a: TraceArgs, k: string): string => {
  const v = a[k];
  return typeof v === "string" ? v.replace(/^0x/, "") : (Number(v) >>> 0).toString(16);
};
const X4 = (v: number): string => (v >>> 0).toString(16).toUpperCase().padStart(4, "0");

/**
 * The line QEMU's log backend prints for a tegra241_cmdqv_* event (name, a space, the
 * formatted arguments), or null for an event QEMU does not have.
 */
export function qemuTraceLine(name: string, a: TraceArgs): string | null {
  switch (name) {
    case CMDQV_TRACE.INIT_REGS:
      return `${name} register init, param=0x${(num(a, "param") >>> 0).toString(16).toUpperCase().padStart(8, "0")}`;
    case CMDQV_TRACE.READ_MMIO:
    case CMDQV_TRACE.WRITE_MMIO:
      return `${name} offset: 0x${hx(a, "offset")} val: 0x${hx(a, "val")} size: 0x${hx(a, "size")}`;
    case CMDQV_TRACE.READ_VCMDQ_PAGE0:
    case CMDQV_TRACE.WRITE_VCMDQ_PAGE0:
      return `${name} vcmdq[${num(a, "index")}] ${str(a, "aperture")} (${str(a, "source")}) offset0: 0x${hx(a, "offset0")} val: 0x${hx(a, "val")}`;
    case CMDQV_TRACE.READ_VCMDQ_PAGE1:
    case CMDQV_TRACE.WRITE_VCMDQ_PAGE1:
      return `${name} vcmdq[${num(a, "index")}] ${str(a, "aperture")} offset0: 0x${hx(a, "offset0")} val: 0x${hx(a, "val")}`;
    case CMDQV_TRACE.ERR_MAP:
      return `${name} hw irq received. error (hex) maps: ${X4(num(a, "map3"))}:${X4(num(a, "map2"))}:${X4(num(a, "map1"))}:${X4(num(a, "map0"))}`;
    default:
      return null;
  }
}
