// The trace event catalogue: every event name the model emits, who emits it, its
// arguments, when, and the upstream event it mirrors. This list is the one place the
// names live: docs/trace.md documents exactly these names (a test compares the two), and
// a test runs the default workload and scenarios and checks that every event they emit
// is listed here, so the catalogue cannot go stale.
//
// Naming: an event keeps its upstream name where upstream has one (QEMU's
// hw/arm/trace-events and backends/trace-events, Linux's tracepoints, the iommufd uAPI's
// ioctl names); an event only this model has is named `cmdqv_*`.

/** How an event shows in Perfetto. */
export type TraceEventKind =
  /** A point in time (`ph: "i"`). */
  | "instant"
  /** A span of virtual time: a complete event (`ph: "X"`) or a begin/end pair (`B`/`E`). */
  | "slice"
  /** A sampled value per argument (`ph: "C"`): one counter track per actor and argument. */
  | "counter";

export interface TraceEventSpec {
  readonly name: string;
  /** The actor (track) that emits it; `N` stands for a number. */
  readonly actor: string;
  readonly kind: TraceEventKind;
  /** Every argument key the event may carry. */
  readonly args: readonly string[];
  /** When it is emitted. */
  readonly when: string;
  /** The upstream event or name it mirrors, or "cmdqv-only". */
  readonly upstream: string;
}

/** The hardware's events (src/host/hw/hw-trace.ts emits them). */
export const HW_TRACE = {
  QUEUE: "cmdqv_hw_queue",
  CMD_SYNC: "cmdqv_hw_cmd_sync",
  QUEUE_PTRS: "cmdqv_hw_queue_ptrs",
  CMDQ_ERROR: "cmdqv_hw_cmdq_error",
} as const;

/** The guest's and the VMM's console lines. */
export const CONSOLE_TRACE = {
  /** A guest dmesg line (Linux's printk:console tracepoint). */
  GUEST: "console",
  VMM: "cmdqv_vmm_console",
} as const;

/** A trapped guest access, as a slice (Linux's kvm:kvm_mmio tracepoint). */
export const KVM_MMIO = "kvm_mmio";

const QEMU_ARM = "QEMU hw/arm/trace-events";
const QEMU_BACKENDS = "QEMU backends/trace-events";
const UAPI = "Linux include/uapi/linux/iommufd.h (ioctl name)";
const KERNEL_ARGS = ["ret", "line"] as const;
const OP_ARGS = ["addr", "value", "exit"] as const;

/** The kernel's iommufd ioctls, each traced under its uAPI name when it returns. */
const IOCTLS = [
  "IOMMU_DESTROY",
  "IOMMU_IOAS_ALLOC",
  "IOMMU_IOAS_IOVA_RANGES",
  "IOMMU_IOAS_MAP",
  "IOMMU_IOAS_MAP_FILE",
  "IOMMU_IOAS_UNMAP",
  "IOMMU_IOAS_CHANGE_PROCESS",
  "IOMMU_HWPT_ALLOC",
  "IOMMU_GET_HW_INFO",
  "IOMMU_HWPT_INVALIDATE",
  "IOMMU_VIOMMU_ALLOC",
  "IOMMU_VDEVICE_ALLOC",
  "IOMMU_VEVENTQ_ALLOC",
  "IOMMU_HW_QUEUE_ALLOC",
] as const;

const kernelCall = (name: string, when: string, upstream: string): TraceEventSpec => ({
  name,
  actor: "host.kernel",
  kind: "instant",
  args: KERNEL_ARGS,
  when,
  upstream,
});

const guestOp = (name: string, what: string): TraceEventSpec => ({
  name,
  actor: "guest.vcpuN, guest.isr, … (the scheduler's actor)",
  kind: "instant",
  args: OP_ARGS,
  when: `an actor's ${what} completed (exit: it trapped to the VMM)`,
  upstream: "cmdqv-only",
});

export const TRACE_EVENTS: readonly TraceEventSpec[] = [
  // ---- the guest ----------------------------------------------------------------------
  guestOp("read", "1/2/4-byte MMIO or RAM read"),
  guestOp("read64", "8-byte read"),
  guestOp("write", "1/2/4-byte write"),
  guestOp("write64", "8-byte write"),
  {
    name: KVM_MMIO,
    actor: "guest.vcpuN, guest.isr, … (the scheduler's actor)",
    kind: "slice",
    args: ["type", "len", "gpa", "val"],
    when: "a guest access trapped to the VMM: from the access to the end of its handling (the VM exit's cost)",
    upstream: "Linux include/trace/events/kvm.h kvm_mmio",
  },
  {
    name: CONSOLE_TRACE.GUEST,
    actor: "guest.dmesg",
    kind: "instant",
    args: ["level", "msg"],
    when: "the guest kernel printed a dmesg line (a rate-limited or debug line that is not printed emits nothing)",
    upstream: "Linux include/trace/events/printk.h console",
  },
  // ---- the VMM ------------------------------------------------------------------------
  {
    name: CONSOLE_TRACE.VMM,
    actor: "vmm.console",
    kind: "instant",
    args: ["kind", "text"],
    when: "the VMM printed a console line (error_report, warn_report, info_report, or a qemu_log_mask category)",
    upstream: "cmdqv-only",
  },
  {
    name: "tegra241_cmdqv_init_regs",
    actor: "vmm.cmdqv",
    kind: "instant",
    args: ["param"],
    when: "the device model's registers were reset",
    upstream: `${QEMU_ARM} tegra241_cmdqv_init_regs`,
  },
  ...(["read", "write"] as const).map(
    (d): TraceEventSpec => ({
      name: `tegra241_cmdqv_${d}_mmio`,
      actor: "vmm.cmdqv",
      kind: "instant",
      args: ["offset", "val", "size", "reg"],
      when: `a trapped ${d} of the CMDQV config page (or an unknown offset)`,
      upstream: `${QEMU_ARM} tegra241_cmdqv_${d}_mmio`,
    }),
  ),
  ...(["read", "write"] as const).map(
    (d): TraceEventSpec => ({
      name: `tegra241_cmdqv_${d}_vcmdq_page0`,
      actor: "vmm.cmdqv",
      kind: "instant",
      args: ["index", "aperture", "source", "offset0", "val", "reg"],
      when: `a trapped ${d} of a VCMDQ page0 register (direct or through the VINTF window)`,
      upstream: `${QEMU_ARM} tegra241_cmdqv_${d}_vcmdq_page0`,
    }),
  ),
  ...(["read", "write"] as const).map(
    (d): TraceEventSpec => ({
      name: `tegra241_cmdqv_${d}_vcmdq_page1`,
      actor: "vmm.cmdqv",
      kind: "instant",
      args: ["index", "aperture", "offset0", "val", "reg"],
      when: `a trapped ${d} of a VCMDQ page1 register (BASE, CONS_INDX_BASE)`,
      upstream: `${QEMU_ARM} tegra241_cmdqv_${d}_vcmdq_page1`,
    }),
  ),
  {
    name: "tegra241_cmdqv_err_map",
    actor: "vmm.cmdqv",
    kind: "instant",
    args: ["map3", "map2", "map1", "map0"],
    when: "the VMM read a Tegra241 vEVENT and copied the error maps to the guest",
    upstream: `${QEMU_ARM} tegra241_cmdqv_err_map`,
  },
  {
    name: "cmdqv_model_map_guest_page0",
    actor: "vmm.cmdqv",
    kind: "instant",
    args: [],
    when: "the guest VINTF page0 window was mapped onto the host mmap (no VM exits from now on)",
    upstream: "cmdqv-only",
  },
  {
    name: "cmdqv_model_unmap_guest_page0",
    actor: "vmm.cmdqv",
    kind: "instant",
    args: [],
    when: "the guest VINTF page0 window was unmapped (accesses trap again)",
    upstream: "cmdqv-only",
  },
  {
    name: "cmdqv_model_setup_deferred",
    actor: "vmm.cmdqv",
    kind: "instant",
    args: ["index"],
    when: "the reference profile deferred a ready VCMDQ until its lower neighbour has a HW queue",
    upstream: "cmdqv-only",
  },
  ...(["read", "write"] as const).map(
    (d): TraceEventSpec => ({
      name: `smmuv3_${d}_mmio`,
      actor: "vmm.smmuv3",
      kind: "instant",
      args: ["offset", "size", "value", "reg"],
      when: `a trapped ${d} of the emulated SMMUv3's registers`,
      upstream: `${QEMU_ARM} smmuv3_${d}_mmio`,
    }),
  ),
  {
    name: "smmuv3_write_gerror",
    actor: "vmm.smmuv3",
    kind: "instant",
    args: ["toggled", "gerror"],
    when: "the SMMUv3 raised a global error (GERROR bits toggled)",
    upstream: `${QEMU_ARM} smmuv3_write_gerror`,
  },
  {
    name: "smmuv3_write_gerrorn",
    actor: "vmm.smmuv3",
    kind: "instant",
    args: ["acked", "gerrorn"],
    when: "the guest acknowledged global errors through GERRORN",
    upstream: `${QEMU_ARM} smmuv3_write_gerrorn`,
  },
  {
    name: "smmuv3_trigger_irq",
    actor: "vmm.smmuv3",
    kind: "instant",
    args: ["irq"],
    when: "the SMMUv3 pulsed an interrupt wire (gerror, cmd_sync, …)",
    upstream: `${QEMU_ARM} smmuv3_trigger_irq`,
  },
  {
    name: "smmuv3_cmdq_consume",
    actor: "vmm.smmuv3",
    kind: "instant",
    args: ["prod", "cons", "prodWrap", "consWrap"],
    when: "the emulated main CMDQ started consuming (a PROD write)",
    upstream: `${QEMU_ARM} smmuv3_cmdq_consume`,
  },
  {
    name: "smmuv3_cmdq_opcode",
    actor: "vmm.smmuv3",
    kind: "instant",
    args: ["opcode"],
    when: "the emulated main CMDQ consumed one command",
    upstream: `${QEMU_ARM} smmuv3_cmdq_opcode`,
  },
  {
    name: "smmuv3_cmdq_consume_error",
    actor: "vmm.smmuv3",
    kind: "instant",
    args: ["opcode", "error"],
    when: "a main CMDQ command failed (CONS.ERR set)",
    upstream: `${QEMU_ARM} smmuv3_cmdq_consume_error`,
  },
  {
    name: "smmuv3_cmdq_consume_out",
    actor: "vmm.smmuv3",
    kind: "instant",
    args: ["prod", "cons", "prodWrap", "consWrap"],
    when: "the emulated main CMDQ stopped consuming",
    upstream: `${QEMU_ARM} smmuv3_cmdq_consume_out`,
  },
  {
    name: "smmuv3_accel_invalidate",
    actor: "vmm.smmuv3",
    kind: "instant",
    args: ["opcode", "ok", "entryNum"],
    when: "a trapped invalidation was forwarded to the host (IOMMU_HWPT_INVALIDATE)",
    upstream: "cmdqv-only",
  },
  {
    name: "smmuv3_accel_set_iommu_device",
    actor: "vmm.smmuv3",
    kind: "instant",
    args: ["devid"],
    when: "a VFIO device was attached to the accelerated SMMUv3",
    upstream: `${QEMU_ARM} smmuv3_accel_set_iommu_device`,
  },
  {
    name: "smmuv3_accel_install_ste",
    actor: "vmm.smmuv3",
    kind: "instant",
    args: ["vsid", "type", "hwpt_id"],
    when: "a guest STE was installed as an abort, bypass or nested HWPT",
    upstream: `${QEMU_ARM} smmuv3_accel_install_ste`,
  },
  {
    name: "smmuv3_accel_translate_ste",
    actor: "vmm.smmuv3",
    kind: "instant",
    args: ["vsid", "hwpt_id", "ste_1", "ste_0"],
    when: "a translating guest STE was given a nested HWPT",
    upstream: `${QEMU_ARM} smmuv3_accel_translate_ste`,
  },
  ...(
    [
      ["iommufd_backend_get_device_info", ["devId", "type"], "IOMMU_GET_HW_INFO"],
      [
        "iommufd_backend_alloc_hwpt",
        ["devId", "ptId", "flags", "dataType", "dataLen", "id"],
        "IOMMU_HWPT_ALLOC",
      ],
      ["iommufd_backend_alloc_vdev", ["devId", "viommuId", "virtId", "id"], "IOMMU_VDEVICE_ALLOC"],
      ["iommufd_cdev_attach_ioas_hwpt", ["devId", "id"], "VFIO_DEVICE_ATTACH_IOMMUFD_PT"],
      ["iommufd_backend_alloc_viommu", ["devId", "type", "hwptId", "id"], "IOMMU_VIOMMU_ALLOC"],
      [
        "iommufd_backend_alloc_hw_queue",
        ["viommuId", "type", "index", "addr", "length", "id"],
        "IOMMU_HW_QUEUE_ALLOC",
      ],
      ["iommufd_backend_free_id", ["id"], "IOMMU_DESTROY"],
      ["iommufd_backend_viommu_mmap", ["offset", "size"], "mmap of the vIOMMU"],
      ["iommufd_backend_viommu_munmap", [], "munmap of the vIOMMU mapping"],
      ["iommufd_backend_alloc_veventq", ["viommuId", "type", "depth", "id"], "IOMMU_VEVENTQ_ALLOC"],
    ] as const
  ).map(
    ([name, args, call]): TraceEventSpec => ({
      name,
      actor: "vmm.iommufd",
      kind: "instant",
      args: [...args, "ret"],
      when: `the VMM's iommufd backend returned from ${call}`,
      upstream: `${name.startsWith("iommufd_cdev") ? "QEMU hw/vfio/trace-events" : QEMU_BACKENDS} ${name}`,
    }),
  ),
  // ---- the host kernel ----------------------------------------------------------------
  ...IOCTLS.map((n) => kernelCall(n, `the iommufd file returned from ${n}`, UAPI)),
  kernelCall(
    "VFIO_DEVICE_BIND_IOMMUFD",
    "the VFIO cdev returned from VFIO_DEVICE_BIND_IOMMUFD",
    "Linux include/uapi/linux/vfio.h (ioctl name)",
  ),
  kernelCall(
    "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
    "the VFIO cdev returned from VFIO_DEVICE_ATTACH_IOMMUFD_PT",
    "Linux include/uapi/linux/vfio.h (ioctl name)",
  ),
  kernelCall("close(vfio-device)", "the VFIO device file was closed", "cmdqv-only"),
  kernelCall("read(veventq)", "the VMM read the vEVENTQ file", "cmdqv-only"),
  kernelCall("close(veventq)", "the VMM closed the vEVENTQ file", "cmdqv-only"),
  kernelCall("mmap", "the iommufd file was mmapped (the VINTF page0)", "cmdqv-only"),
  kernelCall("munmap", "an iommufd mapping was unmapped", "cmdqv-only"),
  kernelCall("close", "the iommufd file descriptor was closed", "cmdqv-only"),
  kernelCall(
    "release",
    "the last reference to the iommufd file went (every object destroyed)",
    "cmdqv-only",
  ),
  kernelCall(
    "ioctl(<request>)",
    "an ioctl number the iommufd file does not know (ENOTTY); the name carries the number, e.g. ioctl(0x3b99)",
    "cmdqv-only",
  ),
  // ---- the hardware -------------------------------------------------------------------
  {
    name: HW_TRACE.QUEUE,
    actor: "hw.vcmdqN",
    kind: "slice",
    args: ["vintf", "lvcmdq", "hyp_own"],
    when: "a VCMDQ's life in a VINTF: begins when CMDQ_ALLOC maps it (IOMMU_HW_QUEUE_ALLOC, or the host's own queues at probe), ends when it is unmapped (the HW queue destroyed) or the device is reset",
    upstream: "cmdqv-only",
  },
  {
    name: HW_TRACE.CMD_SYNC,
    actor: "hw.vcmdqN",
    kind: "slice",
    args: ["cons", "issued"],
    when: "a CMD_SYNC wait: from the PROD write that published the CMD_SYNC to the hardware completing it (CONS passes it)",
    upstream: "cmdqv-only",
  },
  {
    name: HW_TRACE.QUEUE_PTRS,
    actor: "hw.vcmdqN",
    kind: "counter",
    args: ["prod", "cons"],
    when: "a VCMDQ's PROD was written (a doorbell) or the hardware finished a batch of commands; values are ring indices (the wrap bit dropped)",
    upstream: "cmdqv-only",
  },
  {
    name: HW_TRACE.CMDQ_ERROR,
    actor: "hw.vcmdqN",
    kind: "instant",
    args: ["cons", "err", "opcode"],
    when: "a command stopped the VCMDQ with CONS.ERR (GERROR.CMDQ_ERR toggles, the error maps are set)",
    upstream: "cmdqv-only",
  },
];

/** Every event name, in catalogue order (for `--trace PATTERN` filters and checks). */
export const TRACE_EVENT_NAMES: readonly string[] = TRACE_EVENTS.map((e) => e.name);

const BY_NAME: ReadonlyMap<string, TraceEventSpec> = new Map(TRACE_EVENTS.map((e) => [e.name, e]));

/**
 * The catalogue entry of an emitted event name, or undefined. An unknown ioctl is traced
 * as `ioctl(0x…)`, which is the catalogue's `ioctl(<request>)`.
 */
export function traceEventSpec(name: string): TraceEventSpec | undefined {
  const e = BY_NAME.get(name);
  if (e !== undefined) return e;
  return name.startsWith("ioctl(") && name.endsWith(")")
    ? BY_NAME.get("ioctl(<request>)")
    : undefined;
}
