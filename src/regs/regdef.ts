// Declarative register tables (after QEMU's REG32/FIELD and crosvm's RegisterSpec): each
// register is data (offset, fields, reset, access). One table serves decoding, trace
// printing, docs and the viewer. Strided arrays are generated from base + stride.

export type Access =
  /** Read/write, stored. */
  | "rw"
  /** Read-only: writes are ignored (and logged by the device that owns it). */
  | "ro";

export interface FieldDef {
  readonly name: string;
  readonly shift: number;
  readonly width: number;
}

export interface RegDef {
  readonly name: string;
  /** Byte offset inside its page or block. */
  readonly offset: number;
  /** 32 for a plain register; 64 for a register the driver accesses with readq/writeq. */
  readonly bits: 32 | 64;
  readonly reset: bigint;
  readonly access: Access;
  readonly fields: readonly FieldDef[];
  /** The spec section the facts come from. */
  readonly spec: string;
}

export interface RegBlock {
  readonly name: string;
  /** Size of the block in bytes (offsets are < size). */
  readonly size: number;
  readonly regs: readonly RegDef[];
}

export function field(name: string, shift: number, width: number): FieldDef {
  if (shift < 0 || width < 1 || shift + width > 64)
    throw new RangeError(`field ${name}: bad shift/width`);
  return { name, shift, width };
}

export function reg(
  name: string,
  offset: number,
  opts: {
    bits?: 32 | 64;
    reset?: number | bigint;
    access?: Access;
    fields?: readonly FieldDef[];
    spec: string;
  },
): RegDef {
  return {
    name,
    offset,
    bits: opts.bits ?? 32,
    reset: BigInt(opts.reset ?? 0),
    access: opts.access ?? "rw",
    fields: opts.fields ?? [],
    spec: opts.spec,
  };
}

/** `count` copies of a register at `base + stride·i`, named `name(i)` via `nameOf`. */
export function regArray(
  count: number,
  base: number,
  stride: number,
  make: (i: number, offset: number) => RegDef,
): RegDef[] {
  const out: RegDef[] = [];
  for (let i = 0; i < count; i++) out.push(make(i, base + stride * i));
  return out;
}

export function block(name: string, size: number, regs: readonly RegDef[]): RegBlock {
  const sorted = [...regs].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.offset < prev.offset + prev.bits / 8)
      throw new Error(`${name}: ${cur.name} at 0x${cur.offset.toString(16)} overlaps ${prev.name}`);
  }
  for (const r of sorted) {
    if (r.offset + r.bits / 8 > size) throw new Error(`${name}: ${r.name} beyond block size`);
  }
  return { name, size, regs: sorted };
}

/** Find the register that starts exactly at `offset` (binary search). */
export function findReg(b: RegBlock, offset: number): RegDef | undefined {
  let lo = 0;
  let hi = b.regs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = b.regs[mid]!;
    if (r.offset === offset) return r;
    if (r.offset < offset) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/**
 * The field's bits in place, as a u32 mask. Hot paths take masks from tables computed
 * once from the field definitions (`BITS` in cmdqv.ts), never per access.
 */
export function fieldMask(f: FieldDef): number {
  if (f.shift + f.width > 32) throw new RangeError(`field ${f.name} does not fit in 32 bits`);
  return ((2 ** f.width - 1) * 2 ** f.shift) >>> 0;
}

/** The field's bits in place, as a bigint mask (fields of 64-bit registers). */
export function fieldMask64(f: FieldDef): bigint {
  return ((1n << BigInt(f.width)) - 1n) << BigInt(f.shift);
}

/** Extract one field from a register value. */
export function fieldValue(value: bigint | number, f: FieldDef): bigint {
  const v = typeof value === "number" ? BigInt(value >>> 0) : value;
  return (v >> BigInt(f.shift)) & ((1n << BigInt(f.width)) - 1n);
}

/** A field of a 32-bit register value (u32, no allocation). */
export function fieldOf(value: number, f: FieldDef): number {
  return ((value >>> f.shift) & (f.width >= 32 ? 0xffff_ffff : (1 << f.width) - 1)) >>> 0;
}

/** `value` with field `f` replaced by `x` (masked to the field width). */
export function withField(value: number, f: FieldDef, x: number): number {
  const m = (f.width >= 32 ? 0xffff_ffff : (1 << f.width) - 1) >>> 0;
  return ((value & ~(m << f.shift)) | ((x & m) << f.shift)) >>> 0;
}

/**
 * Decode a value to `FIELD=value` text for traces, e.g. `EN=1 VMID=0x5 HYP_OWN=0`.
 * Bits outside every field are shown as `RSVD=0x…` when set, so nothing is hidden.
 */
export function decode(r: RegDef, value: bigint | number): string {
  const v = typeof value === "number" ? BigInt(value >>> 0) : value;
  if (r.fields.length === 0) return `${r.name}=0x${v.toString(16)}`;
  let covered = 0n;
  const parts: string[] = [];
  for (const f of r.fields) {
    covered |= fieldMask64(f);
    const x = fieldValue(v, f);
    parts.push(f.width === 1 ? `${f.name}=${x}` : `${f.name}=0x${x.toString(16)}`);
  }
  const rsvd = v & ~covered;
  if (rsvd !== 0n) parts.push(`RSVD=0x${rsvd.toString(16)}`);
  return parts.join(" ");
}
