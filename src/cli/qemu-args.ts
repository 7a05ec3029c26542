// The command line QEMU's qtest harness gives its binary (tests/qtest/libqtest.c,
// qtest_init): `-qtest unix:SOCK -qtest-log /dev/null -chardev socket,path=QMP,id=char0
// -mon chardev=char0,mode=control -display none -audio none [-run-with
// exit-with-parent=on] EXTRA -accel qtest`, where the harness listens on SOCK and QMP and
// QEMU connects to both. Here that line is read into what cmdqv's machine makes of it:
// every option is mapped onto the machine, accepted and ignored for a stated reason
// (QEMU_IGNORED), or refused with one line that names it. Pure: no I/O.
//
// QEMU's option syntax: `-name VALUE` (or `--name VALUE`); a value is QemuOpts text,
// `first,key=value,flag`, where the first word may be an implied key (`virt`,
// `arm-smmuv3`), a bare `key` means key=on and `nokey` key=off, and `,,` is a comma.

import { MACHINE_LIMITS } from "../machine/config.js";
import { PAGE_SIZES } from "../mem/types.js";
import { DEFAULT_QOM_NAMES, type QomNames } from "../qtest/machine-target.js";
import type { MachineFlags } from "./machine-flags.js";
import { checkSocketPath, parseRamPage, UsageError } from "./options.js";

/** A unix socket chardev: QEMU connects to `path`, or listens there with server=on. */
export interface SocketEnd {
  readonly path: string;
  readonly server: boolean;
}

export interface QemuInvocation {
  /** Where qtest is served: a unix socket, or stdio. */
  readonly qtest: SocketEnd | "stdio";
  /** The QMP monitor's socket, if any. */
  readonly qmp: SocketEnd | null;
  /**
   * Where the qtest log goes: `-qtest-log FILE`, nowhere for `none` or /dev/null, and, as
   * QEMU does without the option, stderr.
   */
  readonly qtestLog: { readonly file: string } | "none" | "stderr";
  /** cmdqv's own machine flags given alongside (`--profile`, `--seed`, …). */
  readonly flags: MachineFlags;
  /** Guest RAM from `-m`, in bytes. */
  readonly ramSize?: number;
  /** The arm-smmuv3 `cmdqv` property. */
  readonly cmdqv?: "on" | "off" | "auto";
  /** How the client names the GIC, vCPUs and SMMUv3 (from -smp and -device … id=). */
  readonly qom: QomNames;
  /** `-run-with exit-with-parent=on`: end when the process that started us does. */
  readonly exitWithParent: boolean;
  /** `-S`: QMP says "prelaunch" until `cont` (qtest works either way: no vCPU runs). */
  readonly startPaused: boolean;
}

/**
 * Options accepted and ignored, each with why it changes nothing a qtest client of cmdqv's
 * machine can observe. Keyed by option; for options with a value, the values taken
 * (anything else is refused).
 */
export const QEMU_IGNORED: Record<string, { values: readonly string[] | "any"; why: string }> = {
  display: { values: ["none"], why: "there is no display" },
  audio: { values: ["none", "driver=none"], why: "there is no audio" },
  vga: { values: ["none"], why: "there is no display" },
  serial: { values: ["none"], why: "there is no serial port" },
  parallel: { values: ["none"], why: "there is no parallel port" },
  monitor: { values: ["none"], why: "no human monitor is made" },
  nodefaults: { values: [], why: "the machine makes no default devices anyway" },
  "no-user-config": { values: [], why: "no configuration file is read anyway" },
  nographic: { values: [], why: "there is no display or serial port" },
  cpu: { values: "any", why: "no vCPU runs under qtest: the client plays the guest" },
  bios: { values: "any", why: "no firmware runs under qtest" },
  L: { values: "any", why: "no firmware is loaded" },
  name: { values: "any", why: "a label only" },
};

/** Options that take no value. */
const FLAG_OPTIONS = new Set(["nodefaults", "no-user-config", "nographic", "S"]);

/** Options mapped onto the machine or its transports (QEMU_IGNORED lists the rest taken). */
const MAPPED = ["qtest", "qtest-log", "qmp", "chardev", "mon", "machine", "M", "accel", "S"];
const KNOWN = new Set([
  ...MAPPED,
  ...["run-with", "m", "smp", "device", "object"],
  ...Object.keys(QEMU_IGNORED),
]);

/** -device drivers that describe the topology cmdqv's machine always has, and why. */
export const QEMU_TOPOLOGY_DEVICES: Record<string, string> = {
  "vfio-pci": "the machine cold-plugs its one VFIO device behind the SMMUv3",
  "pxb-pcie": "the PCIe expander the SMMUv3 sits in front of",
  "pcie-root-port": "the root port the VFIO device sits behind",
};

/** -object types the machine has in its own form. */
export const QEMU_TOPOLOGY_OBJECTS: Record<string, string> = {
  iommufd: "the machine's iommufd is the simulated host's",
  "memory-backend-memfd": "guest RAM is the model's (see --ram-page)",
  "memory-backend-ram": "guest RAM is the model's (see --ram-page)",
};

/** cmdqv's own flags that may be given with the QEMU shape (`--name VALUE` or `--name=VALUE`). */
const OWN_FLAGS: Record<string, keyof MachineFlags> = {
  "--profile": "profile",
  "--ram-page": "ramPage",
  "--seed": "seed",
  "--vcmdqs": "vcmdqs",
  "--layout": "layout",
};

/**
 * True when the words after `qtest` are QEMU's shape rather than cmdqv's flags: a QEMU
 * option spelt with one dash (`-qtest`, `-machine`, `-M`, `-m`, `-S`, `-L`) or `--qtest`.
 * cmdqv's own options have two dashes, or one letter (`-h`, `-V`).
 */
export function isQemuShaped(args: readonly string[]): boolean {
  return args.some((a) => /^-(?:[A-Za-z][\w.-]+|[MmSL])$/.test(a) || a === "--qtest");
}

/** QemuOpts text as [key, value] pairs; the first word without `=` gets `implied` as key. */
export function qemuOpts(text: string, implied: string | null): [string, string][] {
  const words: string[] = [];
  let word = "";
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== ",") word += text[i];
    else if (text[i + 1] === ",") {
      word += ",";
      i++;
    } else {
      words.push(word);
      word = "";
    }
  }
  words.push(word);
  return words.map((w, i): [string, string] => {
    const eq = w.indexOf("=");
    if (eq >= 0) return [w.slice(0, eq), w.slice(eq + 1)];
    if (i === 0 && implied !== null) return [implied, w];
    if (w.startsWith("no") && w.length > 2) return [w.slice(2), "off"];
    return [w, "on"];
  });
}

const ON = ["on", "yes", "true", "y"];
const OFF = ["off", "no", "false", "n"];

function bool(option: string, key: string, v: string): boolean {
  if (ON.includes(v)) return true;
  if (OFF.includes(v)) return false;
  throw new UsageError(`${option}: ${key}=${v}: expected on or off`);
}

/** A legacy chardev spec (`-qtest`, `-qmp`): `unix:PATH[,server=on][,wait=off]` or `stdio`. */
function legacyChardev(option: string, spec: string): SocketEnd | "stdio" {
  if (spec === "stdio") return "stdio";
  if (!spec.startsWith("unix:"))
    throw new UsageError(
      `${option} ${spec}: cmdqv serves it on unix:PATH or stdio only (no tcp, pty, file, …)`,
    );
  let server = false;
  let path = "";
  for (const [key, value] of qemuOpts(spec.slice(5), "path")) {
    if (key === "path") path = value;
    else if (key === "server") server = bool(option, key, value);
    else if (key !== "wait")
      throw new UsageError(`${option} ${spec}: cmdqv does not take the socket option ${key}`);
  }
  return { path: checkSocketPath(option, path), server };
}

/** QEMU's `-m`: a size with unit B, K, M, G, T, P or E (powers of 1024); MiB when none. */
function ramBytes(v: string): number {
  let text = v;
  for (const [key, value] of qemuOpts(v, "size")) {
    if (key === "size") text = value;
    else throw new UsageError(`-m ${v}: cmdqv's machine takes only a size (no ${key})`);
  }
  const m = /^([0-9]+(?:\.[0-9]+)?)([bkmgtpe]?)$/i.exec(text);
  if (!m) throw new UsageError(`-m ${v}: expected a size such as 1G or 512 (MiB)`);
  const unit = m[2] === "" ? "m" : (m[2] ?? "m").toLowerCase();
  const bytes = Number(m[1]) * 1024 ** "bkmgtpe".indexOf(unit);
  if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > MACHINE_LIMITS.ramSizeMax)
    throw new UsageError(`-m ${v}: expected a whole number of bytes from 1 to 64 TiB`);
  return bytes;
}

/** Read QEMU's command line (the words after `qtest`, or after our qemu-system binary). */
export function parseQemuArgs(args: readonly string[]): QemuInvocation {
  let qtest: SocketEnd | "stdio" | null = null;
  let qmp: SocketEnd | null = null;
  let qmpChardev: string | null = null;
  let qtestLog: QemuInvocation["qtestLog"] = "stderr";
  const flags: { -readonly [K in keyof MachineFlags]: MachineFlags[K] } = {};
  let ramSize: number | undefined;
  let cmdqv: "on" | "off" | "auto" | undefined;
  let cpus = DEFAULT_QOM_NAMES.cpus;
  let smmu: string | null = null;
  let anonymous = 0;
  let exitWithParent = false;
  let startPaused = false;
  const chardevs = new Map<string, SocketEnd>();

  for (let i = 0; i < args.length; i++) {
    const word = args[i] ?? "";
    const own = Object.keys(OWN_FLAGS).find((f) => word === f || word.startsWith(`${f}=`));
    if (own !== undefined) {
      const value = word === own ? args[++i] : word.slice(own.length + 1);
      if (value === undefined) throw new UsageError(`${own}: expects a value`);
      flags[OWN_FLAGS[own] as keyof MachineFlags] = value;
      continue;
    }
    if (!word.startsWith("-") || word === "-" || word === "--")
      throw new UsageError(
        `${JSON.stringify(word)}: cmdqv's machine takes no disk image or other bare argument`,
      );
    const name = word.startsWith("--") ? word.slice(2) : word.slice(1);
    const option = `-${name}`;
    if (name === "trace")
      throw new UsageError(
        `${option}: QEMU's trace events are not the model's (unset QTEST_TRACE; cmdqv run --trace writes the model's)`,
      );
    if (!KNOWN.has(name))
      throw new UsageError(`${option}: not an option cmdqv's QEMU-compatible machine takes`);
    let value = "";
    if (!FLAG_OPTIONS.has(name)) {
      const next = args[++i];
      if (next === undefined) throw new UsageError(`${option}: expects an argument`);
      value = next;
    }
    const ignored = QEMU_IGNORED[name];
    if (ignored !== undefined) {
      if (ignored.values !== "any" && !FLAG_OPTIONS.has(name) && !ignored.values.includes(value))
        throw new UsageError(
          `${option} ${value}: cmdqv takes only ${ignored.values.join(" or ")} (${ignored.why})`,
        );
      continue;
    }
    switch (name) {
      case "qtest": {
        if (qtest !== null) throw new UsageError(`${option} ${value}: given twice`);
        qtest = legacyChardev(option, value);
        break;
      }
      case "qtest-log":
        qtestLog = value === "/dev/null" || value === "none" ? "none" : { file: value };
        break;
      case "qmp": {
        const end = legacyChardev(option, value);
        if (end === "stdio")
          throw new UsageError(`${option} ${value}: cmdqv serves QMP on unix:PATH only`);
        if (qmp !== null || qmpChardev !== null)
          throw new UsageError(`${option} ${value}: cmdqv serves one QMP monitor`);
        qmp = end;
        break;
      }
      case "chardev": {
        const opts = qemuOpts(value, "backend");
        if (opts[0]?.[1] !== "socket" || opts[0][0] !== "backend")
          throw new UsageError(
            `${option} ${value}: cmdqv takes socket chardevs only (for the QMP monitor)`,
          );
        let id = "";
        let path = "";
        let server = false;
        for (const [key, v] of opts.slice(1)) {
          if (key === "id") id = v;
          else if (key === "path") path = v;
          else if (key === "server") server = bool(option, key, v);
          else if (key !== "wait")
            throw new UsageError(
              `${option} ${value}: cmdqv does not take the socket option ${key}`,
            );
        }
        if (id === "") throw new UsageError(`${option} ${value}: needs id=`);
        if (path === "") throw new UsageError(`${option} ${value}: needs path= (a unix socket)`);
        if (chardevs.has(id)) throw new UsageError(`${option} ${value}: duplicate id ${id}`);
        chardevs.set(id, { path: checkSocketPath(option, path), server });
        break;
      }
      case "mon": {
        let chardev = "";
        let mode = "readline";
        for (const [key, v] of qemuOpts(value, "chardev")) {
          if (key === "chardev") chardev = v;
          else if (key === "mode") mode = v;
          else if (key === "pretty") {
            if (bool(option, key, v))
              throw new UsageError(
                `${option} ${value}: cmdqv writes QMP as QEMU does without pretty=on`,
              );
          } else throw new UsageError(`${option} ${value}: cmdqv does not take ${key}`);
        }
        if (mode !== "control")
          throw new UsageError(
            `${option} ${value}: cmdqv serves QMP only (mode=control), not the human monitor`,
          );
        if (qmp !== null || qmpChardev !== null)
          throw new UsageError(`${option} ${value}: cmdqv serves one QMP monitor`);
        qmpChardev = chardev;
        break;
      }
      case "machine":
      case "M": {
        for (const [key, v] of qemuOpts(value, "type")) {
          if (key === "type") {
            if (v !== "virt" && v !== "virt-11.1")
              throw new UsageError(
                `${option} ${value}: cmdqv's machine is QEMU 11.1's virt (virt or virt-11.1), not ${v}`,
              );
          } else if (key === "accel") {
            if (v !== "qtest")
              throw new UsageError(
                `${option} ${value}: cmdqv runs under the qtest accelerator only`,
              );
          } else if (key === "gic-version") {
            if (v !== "3" && v !== "max")
              throw new UsageError(
                `${option} ${value}: cmdqv's GIC is a GICv3 (gic-version=3 or max)`,
              );
          } else if (key === "iommu") {
            throw new UsageError(
              `${option} ${value}: virt's own SMMUv3 has no CMDQV; give -device arm-smmuv3,accel=on,cmdqv=on`,
            );
          } else if (key !== "memory-backend" && key !== "graphics") {
            throw new UsageError(`${option} ${value}: cmdqv's machine does not take ${key}`);
          }
        }
        break;
      }
      case "S":
        startPaused = true;
        break;
      case "accel":
        if (value !== "qtest")
          throw new UsageError(
            `${option} ${value}: cmdqv runs under the qtest accelerator only (its clock moves by clock_step)`,
          );
        break;
      case "run-with":
        for (const [key, v] of qemuOpts(value, null)) {
          if (key !== "exit-with-parent")
            throw new UsageError(`${option} ${value}: cmdqv takes only exit-with-parent`);
          exitWithParent = bool(option, key, v);
        }
        break;
      case "m":
        ramSize = ramBytes(value);
        break;
      case "smp": {
        for (const [key, v] of qemuOpts(value, "cpus")) {
          if (key !== "cpus" && key !== "maxcpus")
            throw new UsageError(`${option} ${value}: cmdqv takes only a vCPU count`);
          const n = Number(v);
          if (!Number.isInteger(n) || n < 1 || n > 512 || !/^[0-9]+$/.test(v))
            throw new UsageError(`${option} ${value}: expected a vCPU count from 1 to 512`);
          if (key === "cpus") cpus = n;
        }
        break;
      }
      case "device": {
        const opts = qemuOpts(value, "driver");
        const driver = opts.find(([k]) => k === "driver")?.[1] ?? "";
        const id = opts.find(([k]) => k === "id")?.[1];
        if (driver === "arm-smmuv3") {
          if (smmu !== null)
            throw new UsageError(`${option} ${value}: cmdqv's machine has one SMMUv3`);
          for (const [key, v] of opts) {
            if (key === "accel") {
              if (!bool(option, key, v))
                throw new UsageError(
                  `${option} ${value}: cmdqv models the accelerated SMMUv3 (accel=on)`,
                );
            } else if (key === "cmdqv") {
              if (v !== "on" && v !== "off" && v !== "auto")
                throw new UsageError(`${option} ${value}: cmdqv=${v}: expected on, off or auto`);
              cmdqv = v;
            } else if (key !== "driver" && key !== "id" && key !== "primary-bus")
              throw new UsageError(`${option} ${value}: cmdqv's SMMUv3 does not take ${key}`);
          }
          smmu =
            id !== undefined
              ? `/machine/peripheral/${id}`
              : `/machine/peripheral-anon/device[${anonymous}]`;
        } else if (QEMU_TOPOLOGY_DEVICES[driver] === undefined) {
          throw new UsageError(
            `${option} ${value}: cmdqv's machine has no ${driver} (it takes arm-smmuv3, ${Object.keys(QEMU_TOPOLOGY_DEVICES).join(", ")})`,
          );
        }
        // qemu: a -device without id= becomes /machine/peripheral-anon/device[N], N counting up.
        if (id === undefined) anonymous++;
        break;
      }
      case "object": {
        const type = qemuOpts(value, "qom-type")[0]?.[1] ?? "";
        if (QEMU_TOPOLOGY_OBJECTS[type] === undefined)
          throw new UsageError(
            `${option} ${value}: cmdqv takes only ${Object.keys(QEMU_TOPOLOGY_OBJECTS).join(", ")} objects`,
          );
        break;
      }
    }
  }

  if (qtest === null) throw new UsageError("-qtest: missing (e.g. -qtest unix:PATH)");
  if (qmpChardev !== null) {
    const end = chardevs.get(qmpChardev);
    if (end === undefined)
      throw new UsageError(`-mon chardev=${qmpChardev}: no -chardev with id=${qmpChardev}`);
    qmp = end;
    chardevs.delete(qmpChardev);
  }
  const unused = chardevs.keys().next();
  if (!unused.done)
    throw new UsageError(
      `-chardev id=${unused.value}: cmdqv uses a chardev only for the QMP monitor`,
    );
  if (ramSize !== undefined) {
    const page = flags.ramPage !== undefined ? parseRamPage(flags.ramPage) : "2M";
    if (ramSize % PAGE_SIZES[page] !== 0)
      throw new UsageError(
        `-m: ${ramSize} bytes is not a whole number of ${page} RAM pages (see --ram-page)`,
      );
  }
  return {
    qtest,
    qmp,
    qtestLog,
    flags,
    ...(ramSize !== undefined ? { ramSize } : {}),
    ...(cmdqv !== undefined ? { cmdqv } : {}),
    qom: { cpus, smmu: smmu ?? DEFAULT_QOM_NAMES.smmu },
    exitWithParent,
    startPaused,
  };
}
