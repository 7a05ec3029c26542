// SMMUv3 command queue entries: encode, decode, zero-allocation word accessors and trace
// text. spec: linux §5. An entry is 16 bytes, two little-endian u64 dwords; the opcode is
// dword0[7:0]. The model handles an entry as four u32 words, because that is how the
// hardware model fetches it from memory (4-byte reads) and it keeps the consumer off
// bigint:
//   w0 = dword0[31:0]   w1 = dword0[63:32]   w2 = dword1[31:0]   w3 = dword1[63:32]
//
// Field positions live in one declarative table (CMD_LAYOUT), the same idea as the
// register tables in src/regs: one source for encode, decode and trace printing.

import { genmask, mask } from "../bits/u32.js";
import { genmask64, hex64, hi32, join64, lo32, u64 } from "../bits/u64.js";

/** Size of one command entry in bytes (CMDQ_ENT_SZ_SHIFT = 4). spec: linux §5. */
export const CMD_BYTES = 16;
export const CMD_WORDS = 4;

/** Command opcodes (dword0[7:0]). spec: linux §5 table. */
export const OPCODE = {
  PREFETCH_CFG: 0x01,
  PREFETCH_ADDR: 0x02,
  CFGI_STE: 0x03,
  CFGI_STE_RANGE: 0x04,
  CFGI_CD: 0x05,
  CFGI_CD_ALL: 0x06,
  TLBI_NH_ALL: 0x10,
  TLBI_NH_ASID: 0x11,
  TLBI_NH_VA: 0x12,
  TLBI_NH_VAA: 0x13,
  TLBI_EL2_ALL: 0x20,
  TLBI_EL2_ASID: 0x21,
  TLBI_EL2_VA: 0x22,
  TLBI_S12_VMALL: 0x28,
  TLBI_S2_IPA: 0x2a,
  TLBI_NSNH_ALL: 0x30,
  ATC_INV: 0x40,
  PRI_RESP: 0x41,
  RESUME: 0x44,
  STALL_TERM: 0x45,
  CMD_SYNC: 0x46,
} as const;

export type OpName = keyof typeof OPCODE;
export type Opcode = (typeof OPCODE)[OpName];

/**
 * SSEC, dword0 bit 10 of the CFGI_* commands (secure stream): QEMU refuses a command that
 * sets it (CERROR_ILL). facts: QEMU hw/arm/smmuv3-internal.h CMD_SSEC.
 */
export const CMD_SSEC = 1 << 10;

/**
 * CMD_SYNC completion signal, dword0[13:12]; IRQ is QEMU's CMD_SYNC_SIG_IRQ (it pulses
 * the CMD_SYNC wire when CS & 1). spec: linux §5 (CMDQV VCMDQs: NONE only, §2.4).
 */
export const CS = { NONE: 0, IRQ: 1, SEV: 2 } as const;
export type CsValue = (typeof CS)[keyof typeof CS];

/**
 * Shareability and memory attribute values Linux puts in CMD_SYNC.MSH / MSIATTR
 * (inner-shareable, write-back cacheable). spec: linux §5 "CMD_SYNC usage"; the numeric
 * values are the SMMUv3 architecture's SH and MemAttr encodings.
 */
export const SYNC_MSH_ISH = 3;
export const SYNC_MSIATTR_OIWB = 0xf;

/** ATC_INV.SIZE that invalidates the whole ATC of the (sub)stream. spec: linux §5. */
export const ATC_INV_SIZE_ALL = 52;
/** CFGI_STE_RANGE.RANGE that Linux sends as "CFGI_ALL". spec: linux §5. */
export const CFGI_ALL_RANGE = 31;

const NAME_BY_OPCODE: ReadonlyMap<number, OpName> = new Map(
  (Object.keys(OPCODE) as OpName[]).map((n) => [OPCODE[n], n]),
);

/** True when `op` is one of the opcodes in the spec table. */
export function isKnownOpcode(op: number): boolean {
  return NAME_BY_OPCODE.has(op);
}

/** Opcode name for traces: "TLBI_NH_ASID"; anything else "UNKNOWN(0x7f)". */
export function opcodeName(op: number): string {
  return NAME_BY_OPCODE.get(op) ?? `UNKNOWN(0x${(op >>> 0).toString(16).padStart(2, "0")})`;
}

// ---------------------------------------------------------------------------------------
// The Command union: one variant per opcode, with exactly the fields of the spec table.
// Numbers are unsigned field values; address fields are bigint byte addresses whose bits
// outside the field are zero (e.g. ADDR[63:12] → addr has bits [11:0] clear).
// ---------------------------------------------------------------------------------------

export type PrefetchCfg = { readonly op: "PREFETCH_CFG"; readonly sid: number };
/**
 * SSV/SSID are not in Linux (it only masks the opcode); they sit where every other
 * SSV/SSID-carrying command has them (SSV [11], SSID [31:12]). spec: linux §5 ("per spec").
 */
export type PrefetchAddr = {
  readonly op: "PREFETCH_ADDR";
  readonly sid: number;
  readonly ssv: number;
  readonly ssid: number;
  readonly addr: bigint;
  readonly size: number;
};
export type CfgiSte = { readonly op: "CFGI_STE"; readonly sid: number; readonly leaf: number };
export type CfgiSteRange = {
  readonly op: "CFGI_STE_RANGE";
  readonly sid: number;
  readonly range: number;
};
export type CfgiCd = {
  readonly op: "CFGI_CD";
  readonly sid: number;
  readonly ssid: number;
  readonly leaf: number;
};
export type CfgiCdAll = { readonly op: "CFGI_CD_ALL"; readonly sid: number };
export type TlbiNhAll = { readonly op: "TLBI_NH_ALL"; readonly vmid: number };
export type TlbiNhAsid = {
  readonly op: "TLBI_NH_ASID";
  readonly vmid: number;
  readonly asid: number;
};
/** The range/leaf/granule parameters shared by every VA/IPA invalidation. */
type TlbiRangeFields = {
  readonly num: number;
  readonly scale: number;
  readonly leaf: number;
  readonly ttl: number;
  readonly tg: number;
};
export type TlbiNhVa = {
  readonly op: "TLBI_NH_VA";
  readonly vmid: number;
  readonly asid: number;
  readonly addr: bigint;
} & TlbiRangeFields;
export type TlbiNhVaa = {
  readonly op: "TLBI_NH_VAA";
  readonly vmid: number;
  readonly addr: bigint;
} & TlbiRangeFields;
export type TlbiEl2All = { readonly op: "TLBI_EL2_ALL" };
export type TlbiEl2Asid = { readonly op: "TLBI_EL2_ASID"; readonly asid: number };
export type TlbiEl2Va = {
  readonly op: "TLBI_EL2_VA";
  readonly asid: number;
  readonly addr: bigint;
} & TlbiRangeFields;
export type TlbiS12Vmall = { readonly op: "TLBI_S12_VMALL"; readonly vmid: number };
/** IPA is dword1[51:12]. spec: linux §5. */
export type TlbiS2Ipa = {
  readonly op: "TLBI_S2_IPA";
  readonly vmid: number;
  readonly ipa: bigint;
} & TlbiRangeFields;
export type TlbiNsnhAll = { readonly op: "TLBI_NSNH_ALL" };
export type AtcInv = {
  readonly op: "ATC_INV";
  readonly sid: number;
  readonly ssv: number;
  readonly ssid: number;
  readonly global: number;
  readonly addr: bigint;
  readonly size: number;
};
export type PriResp = {
  readonly op: "PRI_RESP";
  readonly sid: number;
  readonly ssv: number;
  readonly ssid: number;
  readonly grpid: number;
  readonly resp: number;
};
export type Resume = {
  readonly op: "RESUME";
  readonly sid: number;
  readonly resp: number;
  readonly stag: number;
};
/**
 * The spec table leaves STALL_TERM's cells empty; the SMMUv3 architecture names it
 * CMD_STALL_TERM(StreamID, SSec), and StreamID sits at [63:32] in every command.
 */
export type StallTerm = { readonly op: "STALL_TERM"; readonly sid: number };
export type CmdSync = {
  readonly op: "CMD_SYNC";
  readonly cs: number;
  readonly msh: number;
  readonly msiattr: number;
  readonly msidata: number;
  /** MSIADDR is dword1[51:2]. */
  readonly msiaddr: bigint;
};
/** Any opcode outside the table, kept verbatim so nothing is lost. */
export type UnknownCommand = {
  readonly op: "UNKNOWN";
  readonly opcode: number;
  readonly dw0: bigint;
  readonly dw1: bigint;
};

export type KnownCommand =
  | PrefetchCfg
  | PrefetchAddr
  | CfgiSte
  | CfgiSteRange
  | CfgiCd
  | CfgiCdAll
  | TlbiNhAll
  | TlbiNhAsid
  | TlbiNhVa
  | TlbiNhVaa
  | TlbiEl2All
  | TlbiEl2Asid
  | TlbiEl2Va
  | TlbiS12Vmall
  | TlbiS2Ipa
  | TlbiNsnhAll
  | AtcInv
  | PriResp
  | Resume
  | StallTerm
  | CmdSync;

export type Command = KnownCommand | UnknownCommand;

/** The variant of `Command` for one opcode name. */
export type CommandOf<K extends OpName> = Extract<KnownCommand, { op: K }>;

// ---------------------------------------------------------------------------------------
// Layout table.
// ---------------------------------------------------------------------------------------

/** How a field prints in `formatCommand`. */
export type FieldFormat = "hex" | "dec" | "cs";

/**
 * One command field: bits [hi:lo] of dword `dw`. A field with `addr` is a bigint byte
 * address spanning the dword's two words; any other field is a number inside one word.
 */
export interface CmdField<N extends string = string> {
  readonly name: N;
  readonly dw: 0 | 1;
  readonly hi: number;
  readonly lo: number;
  readonly addr: boolean;
  readonly fmt: FieldFormat;
}

type FieldNames<K extends OpName> = Exclude<keyof CommandOf<K>, "op"> & string;

function num<N extends string>(
  name: N,
  dw: 0 | 1,
  hi: number,
  lo: number,
  fmt: FieldFormat = "dec",
): CmdField<N> {
  return { name, dw, hi, lo, addr: false, fmt };
}
function adr<N extends string>(name: N, dw: 0 | 1, hi: number, lo: number): CmdField<N> {
  return { name, dw, hi, lo, addr: true, fmt: "hex" };
}

// Common field positions. spec: linux §5 table.
const SID = num("sid", 0, 63, 32, "hex");
const SSID = num("ssid", 0, 31, 12, "hex");
const SSV = num("ssv", 0, 11, 11);
const VMID = num("vmid", 0, 47, 32, "hex");
const ASID = num("asid", 0, 63, 48, "hex");
const NUM = num("num", 0, 16, 12);
const SCALE = num("scale", 0, 24, 20);
const LEAF = num("leaf", 1, 0, 0);
const TTL = num("ttl", 1, 9, 8);
const TG = num("tg", 1, 11, 10);
const VA = adr("addr", 1, 63, 12);
const RANGE_TAIL = [NUM, SCALE, LEAF, TTL, TG] as const;

/**
 * Field layout of every known command, in trace-print order (identifiers, then address,
 * then parameters). spec: linux §5 table.
 */
export const CMD_LAYOUT: { readonly [K in OpName]: readonly CmdField<FieldNames<K>>[] } = {
  PREFETCH_CFG: [SID],
  PREFETCH_ADDR: [SID, SSV, SSID, VA, num("size", 1, 4, 0)],
  CFGI_STE: [SID, LEAF],
  CFGI_STE_RANGE: [SID, num("range", 1, 4, 0)],
  CFGI_CD: [SID, SSID, LEAF],
  CFGI_CD_ALL: [SID],
  TLBI_NH_ALL: [VMID],
  TLBI_NH_ASID: [VMID, ASID],
  TLBI_NH_VA: [VMID, ASID, VA, ...RANGE_TAIL],
  TLBI_NH_VAA: [VMID, VA, ...RANGE_TAIL],
  TLBI_EL2_ALL: [],
  TLBI_EL2_ASID: [ASID],
  TLBI_EL2_VA: [ASID, VA, ...RANGE_TAIL],
  TLBI_S12_VMALL: [VMID],
  TLBI_S2_IPA: [VMID, adr("ipa", 1, 51, 12), ...RANGE_TAIL],
  TLBI_NSNH_ALL: [],
  ATC_INV: [SID, SSV, SSID, num("global", 0, 9, 9), VA, num("size", 1, 5, 0)],
  PRI_RESP: [SID, SSV, SSID, num("grpid", 1, 8, 0, "hex"), num("resp", 1, 13, 12)],
  RESUME: [SID, num("resp", 0, 13, 12), num("stag", 1, 15, 0, "hex")],
  STALL_TERM: [SID],
  CMD_SYNC: [
    num("cs", 0, 13, 12, "cs"),
    num("msh", 0, 23, 22),
    num("msiattr", 0, 27, 24, "hex"),
    num("msidata", 0, 63, 32, "hex"),
    adr("msiaddr", 1, 51, 2),
  ],
};

/**
 * A field compiled to word positions. Number fields: word `w`, `shift`, `width`.
 * Address fields: low part in word `w` bits [31:shift], high part in word `w + 1`
 * bits [hiWidth-1:0].
 */
interface Compiled {
  readonly name: string;
  readonly addr: boolean;
  readonly w: number;
  readonly shift: number;
  readonly width: number;
  readonly mask: number;
  readonly hiMask: number;
  readonly bigMask: bigint;
}

function compile(f: CmdField): Compiled {
  const width = f.hi - f.lo + 1;
  if (f.addr) {
    // An address field starts in the low word of its dword and ends in the high word.
    if (f.lo >= 32 || f.hi < 32) throw new Error(`layout: ${f.name} must span both words`);
    return {
      name: f.name,
      addr: true,
      w: f.dw * 2,
      shift: f.lo,
      width,
      mask: genmask(31, f.lo),
      hiMask: mask(f.hi - 31),
      bigMask: genmask64(f.hi, f.lo),
    };
  }
  const wordHi = f.hi >= 32 ? 1 : 0;
  const wordLo = f.lo >= 32 ? 1 : 0;
  if (wordHi !== wordLo) throw new Error(`layout: ${f.name} crosses a word boundary`);
  return {
    name: f.name,
    addr: false,
    w: f.dw * 2 + wordLo,
    shift: f.lo & 31,
    width,
    mask: mask(width),
    hiMask: 0,
    bigMask: 0n,
  };
}

const COMPILED: ReadonlyMap<number, { readonly name: OpName; readonly fields: Compiled[] }> =
  new Map(
    (Object.keys(OPCODE) as OpName[]).map((n) => [
      OPCODE[n],
      { name: n, fields: (CMD_LAYOUT[n] as readonly CmdField[]).map(compile) },
    ]),
  );

// ---------------------------------------------------------------------------------------
// Hot-path word accessors. No allocation, no bigint. spec: linux §5 table.
// ---------------------------------------------------------------------------------------

/** Opcode, dword0[7:0]. */
export function cmdOpcode(w0: number): number {
  return w0 & 0xff;
}

/** VMID, dword0[47:32] (= w1[15:0]). */
export function cmdVmid(w1: number): number {
  return w1 & 0xffff;
}

/** ASID, dword0[63:48] (= w1[31:16]). */
export function cmdAsid(w1: number): number {
  return w1 >>> 16;
}

/** StreamID, dword0[63:32] (= w1). */
export function cmdSid(w1: number): number {
  return w1 >>> 0;
}

/** CMD_SYNC.CS, dword0[13:12]. */
export function cmdSyncCs(w0: number): number {
  return (w0 >>> 12) & 3;
}

/**
 * w1 with the VMID field replaced: how a HYP_OWN=0 VINTF substitutes its own VMID into
 * a guest's TLBI (spec: linux §2.3 [inf]). A VMID wider than 16 bits is a model bug.
 */
export function withVmid(w1: number, vmid: number): number {
  if (vmid >>> 0 !== vmid || vmid > 0xffff) throw new RangeError(`VMID ${vmid} out of range`);
  return ((w1 & 0xffff_0000) | vmid) >>> 0;
}

/** w1 with the StreamID replaced (SID_MATCH/SID_REPLACE translation, linux §2.3 [inf]). */
export function withSid(_w1: number, sid: number): number {
  if (!Number.isInteger(sid) || sid < 0 || sid > 0xffff_ffff)
    throw new RangeError(`SID ${sid} out of range`);
  return sid >>> 0;
}

// ---------------------------------------------------------------------------------------
// Encode.
// ---------------------------------------------------------------------------------------

function fail(op: string, field: string, value: unknown, why: string): never {
  throw new RangeError(`${op}.${field} = ${String(value)}: ${why}`);
}

function checkU64(op: string, field: string, v: unknown): bigint {
  if (typeof v !== "bigint" || v < 0n || v > 0xffff_ffff_ffff_ffffn)
    fail(op, field, v, "not a u64 bigint");
  return v;
}

/**
 * Write `cmd` as four u32 words into `out[offset..offset+3]`, every field range-checked.
 * Throws RangeError for an out-of-range field: callers are tests and model drivers, never
 * guest-controlled input (a guest writes raw words into its ring).
 */
export function encodeWords(cmd: Command, out: Uint32Array, offset = 0): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + CMD_WORDS > out.length)
    throw new RangeError(`encodeWords: offset ${offset} outside a ${out.length}-word buffer`);
  if (cmd.op === "UNKNOWN") {
    const dw0 = checkU64("UNKNOWN", "dw0", cmd.dw0);
    const dw1 = checkU64("UNKNOWN", "dw1", cmd.dw1);
    const opcode = cmd.opcode;
    if (!Number.isInteger(opcode) || opcode < 0 || opcode > 0xff)
      fail("UNKNOWN", "opcode", opcode, "not an 8-bit opcode");
    if (isKnownOpcode(opcode))
      fail("UNKNOWN", "opcode", opcode, `is ${opcodeName(opcode)}; use that variant`);
    if (Number(dw0 & 0xffn) !== opcode)
      fail("UNKNOWN", "dw0", hex64(dw0), "dw0[7:0] differs from opcode");
    out[offset] = lo32(dw0);
    out[offset + 1] = hi32(dw0);
    out[offset + 2] = lo32(dw1);
    out[offset + 3] = hi32(dw1);
    return;
  }
  const opcode: number | undefined = OPCODE[cmd.op];
  const entry = opcode === undefined ? undefined : COMPILED.get(opcode);
  if (opcode === undefined || entry === undefined)
    throw new RangeError(`encode: unknown op ${String(cmd.op)}`);
  let w0 = opcode;
  let w1 = 0;
  let w2 = 0;
  let w3 = 0;
  const rec = cmd as unknown as Readonly<Record<string, unknown>>;
  for (const f of entry.fields) {
    const v = rec[f.name];
    let lo: number;
    let hi = 0;
    if (f.addr) {
      if (typeof v !== "bigint") fail(cmd.op, f.name, v, "address must be a bigint");
      if (v < 0n || (v & ~f.bigMask) !== 0n)
        fail(
          cmd.op,
          f.name,
          `0x${v.toString(16)}`,
          `bits outside [${f.shift + f.width - 1}:${f.shift}]`,
        );
      lo = lo32(v) & f.mask;
      hi = hi32(v) & f.hiMask;
    } else {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > f.mask)
        fail(cmd.op, f.name, v, `not an unsigned ${f.width}-bit integer`);
      lo = (v << f.shift) >>> 0;
    }
    switch (f.w) {
      case 0:
        w0 |= lo;
        break;
      case 1:
        w1 |= lo;
        break;
      case 2:
        w2 |= lo;
        w3 |= hi;
        break;
      default:
        w3 |= lo;
    }
  }
  out[offset] = w0 >>> 0;
  out[offset + 1] = w1 >>> 0;
  out[offset + 2] = w2 >>> 0;
  out[offset + 3] = w3 >>> 0;
}

const scratch = new Uint32Array(CMD_WORDS);

/** Encode to [dword0, dword1]. Throws RangeError for an out-of-range field. */
export function encode(cmd: Command): [bigint, bigint] {
  encodeWords(cmd, scratch, 0);
  return [join64(scratch[0]!, scratch[1]!), join64(scratch[2]!, scratch[3]!)];
}

// ---------------------------------------------------------------------------------------
// Decode. Never throws: reserved bits are ignored, unknown opcodes become UNKNOWN.
// ---------------------------------------------------------------------------------------

/** Decode a command from its four u32 words. Never throws. */
export function decodeWords(w0: number, w1: number, w2: number, w3: number): Command {
  const words = [w0 >>> 0, w1 >>> 0, w2 >>> 0, w3 >>> 0] as const;
  const opcode = words[0] & 0xff;
  const entry = COMPILED.get(opcode);
  if (entry === undefined) {
    return {
      op: "UNKNOWN",
      opcode,
      dw0: join64(words[0], words[1]),
      dw1: join64(words[2], words[3]),
    };
  }
  const out: Record<string, string | number | bigint> = { op: entry.name };
  for (const f of entry.fields) {
    const w = words[f.w as 0 | 1 | 2 | 3];
    if (f.addr) {
      const whi = words[(f.w + 1) as 1 | 3];
      out[f.name] = join64(w & f.mask, whi & f.hiMask);
    } else {
      out[f.name] = ((w >>> f.shift) & f.mask) >>> 0;
    }
  }
  return out as unknown as Command;
}

/** Decode a command from its two dwords. Never throws. */
export function decode(dw0: bigint, dw1: bigint): Command {
  const d0 = u64(dw0);
  const d1 = u64(dw1);
  return decodeWords(lo32(d0), hi32(d0), lo32(d1), hi32(d1));
}

// ---------------------------------------------------------------------------------------
// Byte buffers (little-endian), for laying rings out in test memory and model drivers.
// ---------------------------------------------------------------------------------------

function checkBuf(buf: Uint8Array, offset: number, what: string): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + CMD_BYTES > buf.length)
    throw new RangeError(`${what}: offset ${offset} outside a ${buf.length}-byte buffer`);
}

function getLe32(buf: Uint8Array, o: number): number {
  return (buf[o]! | (buf[o + 1]! << 8) | (buf[o + 2]! << 16) | (buf[o + 3]! << 24)) >>> 0;
}

function putLe32(buf: Uint8Array, o: number, v: number): void {
  buf[o] = v & 0xff;
  buf[o + 1] = (v >>> 8) & 0xff;
  buf[o + 2] = (v >>> 16) & 0xff;
  buf[o + 3] = v >>> 24;
}

/**
 * Read the four u32 words of the entry at `buf[offset]` into `out[outOffset..+3]` (a new
 * Uint32Array(4) when `out` is not given; pass one to avoid the allocation).
 */
export function readCommandWords(
  buf: Uint8Array,
  offset: number,
  out: Uint32Array = new Uint32Array(CMD_WORDS),
  outOffset = 0,
): Uint32Array {
  checkBuf(buf, offset, "readCommandWords");
  if (outOffset < 0 || outOffset + CMD_WORDS > out.length)
    throw new RangeError(`readCommandWords: outOffset ${outOffset} outside the output`);
  for (let i = 0; i < CMD_WORDS; i++) out[outOffset + i] = getLe32(buf, offset + 4 * i);
  return out;
}

/** Write four raw u32 words as a 16-byte little-endian entry at `buf[offset]`. */
export function writeCommandWords(
  buf: Uint8Array,
  offset: number,
  w0: number,
  w1: number,
  w2: number,
  w3: number,
): void {
  checkBuf(buf, offset, "writeCommandWords");
  putLe32(buf, offset, w0 >>> 0);
  putLe32(buf, offset + 4, w1 >>> 0);
  putLe32(buf, offset + 8, w2 >>> 0);
  putLe32(buf, offset + 12, w3 >>> 0);
}

/** Encode `cmd` (range-checked) into `buf[offset..offset+15]`, little-endian. */
export function writeCommand(buf: Uint8Array, offset: number, cmd: Command): void {
  checkBuf(buf, offset, "writeCommand");
  encodeWords(cmd, scratch, 0);
  writeCommandWords(buf, offset, scratch[0]!, scratch[1]!, scratch[2]!, scratch[3]!);
}

/** Decode the entry at `buf[offset]`. Throws only for an offset outside the buffer. */
export function readCommand(buf: Uint8Array, offset: number): Command {
  checkBuf(buf, offset, "readCommand");
  return decodeWords(
    getLe32(buf, offset),
    getLe32(buf, offset + 4),
    getLe32(buf, offset + 8),
    getLe32(buf, offset + 12),
  );
}

// ---------------------------------------------------------------------------------------
// Trace text.
// ---------------------------------------------------------------------------------------

const CS_NAME: readonly string[] = ["NONE", "IRQ", "SEV"];

/**
 * One line for traces, fields in layout order: ids and addresses in hex, small
 * parameters in decimal, CS by name. E.g.
 * `TLBI_NH_VA vmid=0x1 asid=0x2 addr=0x40001000 num=0 scale=0 leaf=1 ttl=0 tg=0`.
 */
export function formatCommand(cmd: Command): string {
  if (cmd.op === "UNKNOWN")
    return `${opcodeName(cmd.opcode)} dw0=${hex64(cmd.dw0)} dw1=${hex64(cmd.dw1)}`;
  const fields = CMD_LAYOUT[cmd.op] as readonly CmdField[];
  const rec = cmd as unknown as Readonly<Record<string, number | bigint>>;
  let s: string = cmd.op;
  for (const f of fields) {
    const v = rec[f.name];
    let text: string;
    if (v === undefined) text = "?";
    else if (f.fmt === "hex") text = `0x${v.toString(16)}`;
    else if (f.fmt === "cs") text = CS_NAME[Number(v)] ?? String(v);
    else text = String(v);
    s += ` ${f.name}=${text}`;
  }
  return s;
}
