// What the two consoles of a real-guest run say, parsed: the guest's serial port (the
// kernel's log and the init script's `cmdqv-guest:` lines) and QEMU's stderr with the
// trace events the run enables. Pure functions; the run feeds them line by line.
//
// facts (QEMU 11.1.3's format strings, read from the binary; the log trace backend prints
// `NAME ` then the format, after a `PID@SECONDS:` prefix when timestamps are on):
//   tegra241_cmdqv_write_mmio "offset: 0x%lx val: 0x%lx size: 0x%x"
//   smmuv3_write_mmio         "addr: 0x%lx val:0x%lx size: 0x%x(%d)"
//   smmuv3_cmdq_opcode        "<--- %s"

/** A register store the guest made that QEMU trapped. */
export interface TrappedWrite {
  readonly device: "cmdqv" | "smmuv3";
  /** Offset in the device's MMIO window. */
  readonly offset: number;
  readonly value: bigint;
  readonly size: number;
}

export type QemuLine =
  | { readonly kind: "write"; readonly write: TrappedWrite }
  | { readonly kind: "cmdq-opcode"; readonly opcode: string }
  | { readonly kind: "other"; readonly text: string };

const PREFIX = String.raw`(?:^|^\d+@[\d.]+:)`;
const CMDQV_WRITE = new RegExp(
  `${PREFIX}tegra241_cmdqv_write_mmio offset: 0x([0-9a-f]+) val: 0x([0-9a-f]+) size: 0x([0-9a-f]+)`,
);
const SMMU_WRITE = new RegExp(
  `${PREFIX}smmuv3_write_mmio addr: 0x([0-9a-f]+) val:0x([0-9a-f]+) size: 0x([0-9a-f]+)`,
);
const CMDQ_OPCODE = new RegExp(`${PREFIX}smmuv3_cmdq_opcode <--- (\\S+)`);

/** The QEMU trace patterns a real-guest run enables to see the guest's programming. */
export const GUEST_TRACE_EVENTS = [
  "tegra241_cmdqv_write_mmio",
  "smmuv3_write_mmio",
  "smmuv3_cmdq_opcode",
] as const;

export function parseQemuLine(line: string): QemuLine {
  let m = CMDQV_WRITE.exec(line);
  if (m) return write("cmdqv", m);
  m = SMMU_WRITE.exec(line);
  if (m) return write("smmuv3", m);
  m = CMDQ_OPCODE.exec(line);
  if (m) return { kind: "cmdq-opcode", opcode: m[1]! };
  return { kind: "other", text: line };
}

function write(device: TrappedWrite["device"], m: RegExpExecArray): QemuLine {
  return {
    kind: "write",
    write: {
      device,
      offset: Number.parseInt(m[1]!, 16),
      value: BigInt(`0x${m[2]!}`),
      size: Number.parseInt(m[3]!, 16),
    },
  };
}

/** A `cmdqv-guest: KEY k=v …` line from /init. */
export interface GuestMarker {
  readonly key: string;
  readonly fields: Readonly<Record<string, string>>;
  /** The words after the key that are not k=v (an error's text). */
  readonly text: string;
}

const MARKER = /^cmdqv-guest: (\S+)(.*)$/;

export function parseGuestMarker(line: string): GuestMarker | null {
  const m = MARKER.exec(line.trim());
  if (!m) return null;
  const fields: Record<string, string> = {};
  const words: string[] = [];
  for (const w of m[2]!.trim().split(/\s+/).filter(Boolean)) {
    const kv = /^([a-z_]+)=(.*)$/.exec(w);
    if (kv) fields[kv[1]!] = kv[2]!;
    else words.push(w);
  }
  return { key: m[1]!, fields, text: words.join(" ") };
}

/** A kernel log line on the console: `[   1.234567] text`, its time and text. */
export function parseKernelLine(line: string): { t: number; text: string } | null {
  const m = /^\[\s*(\d+\.\d+)\]\s?(.*)$/.exec(line);
  return m ? { t: Number(m[1]), text: m[2]! } : null;
}
