import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  ATC_INV_SIZE_ALL,
  CFGI_ALL_RANGE,
  CMD_LAYOUT,
  type Command,
  type CommandOf,
  CS,
  cmdAsid,
  cmdOpcode,
  cmdSid,
  cmdSyncCs,
  cmdVmid,
  decode,
  decodeWords,
  encode,
  encodeWords,
  formatCommand,
  isKnownOpcode,
  OPCODE,
  type OpName,
  opcodeName,
  readCommand,
  readCommandWords,
  SYNC_MSH_ISH,
  SYNC_MSIATTR_OIWB,
  withSid,
  withVmid,
  writeCommand,
  writeCommandWords,
} from "./commands.js";

const atcZero = { sid: 0, ssv: 0, ssid: 0, global: 0, addr: 0n, size: 0 } as const;

/** Encode and compare against hand-computed dwords, then check decode gives `cmd` back. */
function expectBits(cmd: Command, dw0: bigint, dw1: bigint): void {
  const [e0, e1] = encode(cmd);
  assert.equal(e0.toString(16), dw0.toString(16), "dword0");
  assert.equal(e1.toString(16), dw1.toString(16), "dword1");
  assert.deepEqual(decode(dw0, dw1), cmd);
}

describe("SMMUv3 command opcodes", () => {
  it("names every opcode of the spec table and prints others as UNKNOWN(0x..)", () => {
    assert.equal(opcodeName(0x11), "TLBI_NH_ASID");
    assert.equal(opcodeName(0x46), "CMD_SYNC");
    assert.equal(opcodeName(0x2a), "TLBI_S2_IPA");
    assert.equal(opcodeName(0x7f), "UNKNOWN(0x7f)");
    assert.equal(opcodeName(0x00), "UNKNOWN(0x00)");
    for (const [name, op] of Object.entries(OPCODE)) {
      assert.equal(opcodeName(op), name);
      assert.ok(isKnownOpcode(op));
    }
    assert.equal(Object.keys(OPCODE).length, 21);
  });

  it("gives CMD_SYNC.CS the values NONE 0, IRQ 1 and SEV 2", () => {
    assert.deepEqual(CS, { NONE: 0, IRQ: 1, SEV: 2 });
  });

  it("has a layout entry for every opcode and no field overlaps another in the same dword", () => {
    for (const name of Object.keys(OPCODE) as OpName[]) {
      const used = [0n, 0n];
      used[0] = 0xffn; // the opcode
      for (const f of CMD_LAYOUT[name]) {
        const m = ((1n << BigInt(f.hi - f.lo + 1)) - 1n) << BigInt(f.lo);
        assert.equal(used[f.dw]! & m, 0n, `${name}.${f.name} overlaps`);
        used[f.dw]! |= m;
      }
    }
  });
});

describe("encoding and decoding TLB invalidations", () => {
  it("encodes TLBI_NH_VA with the VMID in bits 47:32 and the ASID in bits 63:48", () => {
    expectBits(
      {
        op: "TLBI_NH_VA",
        vmid: 1,
        asid: 2,
        addr: 0x4000_1000n,
        num: 0,
        scale: 0,
        leaf: 1,
        ttl: 0,
        tg: 0,
      },
      0x0002_0001_0000_0012n,
      0x0000_0000_4000_1001n,
    );
  });

  it("encodes TLBI_NH_VA NUM at 16:12, SCALE at 24:20, TTL at 9:8, TG at 11:10 and ADDR at 63:12", () => {
    expectBits(
      {
        op: "TLBI_NH_VA",
        vmid: 0xabcd,
        asid: 0x1234,
        addr: 0xffff_8000_1234_5000n,
        num: 3,
        scale: 5,
        leaf: 0,
        ttl: 2,
        tg: 1,
      },
      0x1234_abcd_0050_3012n,
      0xffff_8000_1234_5600n,
    );
  });

  it("encodes TLBI_NH_ALL and TLBI_NH_ASID with VMID and ASID only", () => {
    expectBits({ op: "TLBI_NH_ALL", vmid: 0xffff }, 0x0000_ffff_0000_0010n, 0n);
    expectBits({ op: "TLBI_NH_ASID", vmid: 5, asid: 0x77 }, 0x0077_0005_0000_0011n, 0n);
  });

  it("encodes TLBI_NH_VAA like NH_VA without an ASID", () => {
    expectBits(
      { op: "TLBI_NH_VAA", vmid: 3, addr: 0x1000n, num: 0, scale: 0, leaf: 1, ttl: 0, tg: 0 },
      0x0000_0003_0000_0013n,
      0x1001n,
    );
  });

  it("encodes the EL2 invalidations with an ASID and no VMID", () => {
    expectBits({ op: "TLBI_EL2_ALL" }, 0x20n, 0n);
    expectBits({ op: "TLBI_EL2_ASID", asid: 9 }, 0x0009_0000_0000_0021n, 0n);
    expectBits(
      { op: "TLBI_EL2_VA", asid: 9, addr: 0x2000n, num: 1, scale: 0, leaf: 0, ttl: 0, tg: 3 },
      0x0009_0000_0000_1022n,
      0x2c00n,
    );
  });

  it("encodes the stage-2 invalidations with the IPA in dword1 bits 51:12", () => {
    expectBits({ op: "TLBI_S12_VMALL", vmid: 7 }, 0x0000_0007_0000_0028n, 0n);
    expectBits(
      {
        op: "TLBI_S2_IPA",
        vmid: 2,
        ipa: 0x000f_ffff_ffff_f000n,
        num: 31,
        scale: 31,
        leaf: 1,
        ttl: 3,
        tg: 2,
      },
      0x0000_0002_01f1_f02an,
      0x000f_ffff_ffff_fb01n,
    );
    expectBits({ op: "TLBI_NSNH_ALL" }, 0x30n, 0n);
  });
});

describe("encoding and decoding configuration, prefetch, ATC, PRI and stall commands", () => {
  it("encodes ATC_INV with SSV at 11, GLOBAL at 9, SSID at 31:12, SID at 63:32 and SIZE at 5:0", () => {
    expectBits(
      {
        op: "ATC_INV",
        sid: 0x100,
        ssv: 1,
        ssid: 0xabcde,
        global: 0,
        addr: 0x1234_5000n,
        size: ATC_INV_SIZE_ALL,
      },
      0x0000_0100_abcd_e840n,
      0x1234_5034n,
    );
    expectBits(
      { op: "ATC_INV", sid: 0xffff_ffff, ssv: 0, ssid: 0, global: 1, addr: 0n, size: 0 },
      0xffff_ffff_0000_0240n,
      0n,
    );
  });

  it("encodes the configuration invalidations with the SID in bits 63:32", () => {
    expectBits({ op: "CFGI_STE", sid: 0xdead_beef, leaf: 1 }, 0xdead_beef_0000_0003n, 1n);
    expectBits({ op: "CFGI_STE_RANGE", sid: 0, range: CFGI_ALL_RANGE }, 0x04n, 0x1fn);
    expectBits({ op: "CFGI_CD", sid: 5, ssid: 0xfffff, leaf: 0 }, 0x0000_0005_ffff_f005n, 0n);
    expectBits({ op: "CFGI_CD_ALL", sid: 5 }, 0x0000_0005_0000_0006n, 0n);
  });

  it("encodes the prefetches with SIZE at dword1 4:0 and ADDR at 63:12", () => {
    expectBits({ op: "PREFETCH_CFG", sid: 1 }, 0x0000_0001_0000_0001n, 0n);
    expectBits(
      { op: "PREFETCH_ADDR", sid: 2, ssv: 1, ssid: 3, addr: 0x8000n, size: 4 },
      0x0000_0002_0000_3802n,
      0x8004n,
    );
  });

  it("encodes PRI_RESP with GRPID at dword1 8:0 and RESP at 13:12", () => {
    expectBits(
      { op: "PRI_RESP", sid: 3, ssv: 1, ssid: 1, grpid: 0x1ff, resp: 2 },
      0x0000_0003_0000_1841n,
      0x21ffn,
    );
  });

  it("encodes RESUME with RESP at dword0 13:12 and STAG at dword1 15:0, and STALL_TERM with a SID", () => {
    expectBits({ op: "RESUME", sid: 4, resp: 1, stag: 0xbeef }, 0x0000_0004_0000_1044n, 0xbeefn);
    expectBits({ op: "STALL_TERM", sid: 6 }, 0x0000_0006_0000_0045n, 0n);
  });
});

describe("encoding and decoding CMD_SYNC", () => {
  it("encodes CS at 13:12, MSH at 23:22 and MSIATTR at 27:24", () => {
    expectBits(
      {
        op: "CMD_SYNC",
        cs: CS.SEV,
        msh: SYNC_MSH_ISH,
        msiattr: SYNC_MSIATTR_OIWB,
        msidata: 0,
        msiaddr: 0n,
      },
      0x0fc0_2046n,
      0n,
    );
  });

  it("encodes MSIDATA at 63:32 and MSIADDR at dword1 51:2", () => {
    expectBits(
      {
        op: "CMD_SYNC",
        cs: CS.IRQ,
        msh: 0,
        msiattr: 0,
        msidata: 0xcafe_f00d,
        msiaddr: 0x000f_ffff_ffff_fffcn,
      },
      0xcafe_f00d_0000_1046n,
      0x000f_ffff_ffff_fffcn,
    );
  });

  it("encodes the CS=NONE sync a VCMDQ uses as the bare opcode", () => {
    expectBits(
      { op: "CMD_SYNC", cs: CS.NONE, msh: 0, msiattr: 0, msidata: 0, msiaddr: 0n },
      0x46n,
      0n,
    );
  });
});

describe("decoding what a guest may write", () => {
  it("decodes an opcode outside the table as UNKNOWN with both dwords verbatim", () => {
    const c = decode(0xffff_ffff_ffff_ff7fn, 0x1234n);
    assert.deepEqual(c, {
      op: "UNKNOWN",
      opcode: 0x7f,
      dw0: 0xffff_ffff_ffff_ff7fn,
      dw1: 0x1234n,
    });
    assert.deepEqual(encode(c), [0xffff_ffff_ffff_ff7fn, 0x1234n]);
  });

  it("ignores reserved bits when decoding a known opcode", () => {
    assert.deepEqual(decode(0x0077_0005_ffff_ff11n, 0xffff_ffff_ffff_ffffn), {
      op: "TLBI_NH_ASID",
      vmid: 5,
      asid: 0x77,
    });
    // Address bits below 12 belong to LEAF/TTL/TG or are reserved, never to ADDR.
    const va = decode(0x12n, 0xffff_ffff_ffff_ffffn);
    assert.equal(va.op, "TLBI_NH_VA");
    if (va.op === "TLBI_NH_VA") assert.equal(va.addr, 0xffff_ffff_ffff_f000n);
  });

  it("normalises negative or oversize bigints instead of throwing", () => {
    assert.deepEqual(decode(-1n, 1n << 70n), decode(0xffff_ffff_ffff_ffffn, 0n));
  });
});

describe("encode range checks", () => {
  const va: CommandOf<"TLBI_NH_VA"> = {
    op: "TLBI_NH_VA",
    vmid: 1,
    asid: 2,
    addr: 0x1000n,
    num: 0,
    scale: 0,
    leaf: 0,
    ttl: 0,
    tg: 0,
  };

  it("rejects a field wider than its bits", () => {
    assert.throws(() => encode({ ...va, vmid: 0x1_0000 }), RangeError);
    assert.throws(() => encode({ ...va, num: 32 }), RangeError);
    assert.throws(() => encode({ op: "ATC_INV", ...atcZero, size: 64 }), RangeError);
    assert.throws(() => encode({ op: "CFGI_STE", sid: 2 ** 32, leaf: 0 }), RangeError);
  });

  it("rejects negative, fractional and non-number fields", () => {
    assert.throws(() => encode({ ...va, asid: -1 }), RangeError);
    assert.throws(() => encode({ ...va, ttl: 1.5 }), RangeError);
    assert.throws(() => encode({ ...va, tg: Number.NaN }), RangeError);
  });

  it("rejects address bits outside the address field", () => {
    assert.throws(() => encode({ ...va, addr: 0x1001n }), RangeError);
    assert.throws(() => encode({ ...va, addr: -0x1000n }), RangeError);
    assert.throws(() => encode({ ...va, addr: 1n << 64n }), RangeError);
    const ipa: CommandOf<"TLBI_S2_IPA"> = {
      op: "TLBI_S2_IPA",
      vmid: 0,
      ipa: 1n << 52n,
      num: 0,
      scale: 0,
      leaf: 0,
      ttl: 0,
      tg: 0,
    };
    assert.throws(() => encode(ipa), RangeError);
    const sync = { op: "CMD_SYNC", cs: 0, msh: 0, msiattr: 0, msidata: 0 } as const;
    assert.throws(() => encode({ ...sync, msiaddr: 0x2n }), RangeError);
    assert.deepEqual(encode({ ...sync, msiaddr: 0x4n }), [0x46n, 0x4n]);
  });

  it("rejects an UNKNOWN command that names a known opcode or disagrees with dw0", () => {
    assert.throws(() => encode({ op: "UNKNOWN", opcode: 0x11, dw0: 0x11n, dw1: 0n }), RangeError);
    assert.throws(() => encode({ op: "UNKNOWN", opcode: 0x7f, dw0: 0x7en, dw1: 0n }), RangeError);
    assert.throws(() => encode({ op: "UNKNOWN", opcode: 0x7f, dw0: 0x7fn, dw1: -1n }), RangeError);
  });

  it("rejects an output offset that does not leave room for four words", () => {
    assert.throws(() => encodeWords(va, new Uint32Array(4), 1), RangeError);
  });
});

describe("hot-path word accessors", () => {
  it("reads opcode, VMID, ASID, SID and CS from the words without decoding", () => {
    const w0 = 0x0050_3012;
    const w1 = 0x1234_abcd;
    assert.equal(cmdOpcode(w0), 0x12);
    assert.equal(cmdVmid(w1), 0xabcd);
    assert.equal(cmdAsid(w1), 0x1234);
    assert.equal(cmdSid(w1), 0x1234_abcd);
    assert.equal(cmdSyncCs(0x0fc0_2046), CS.SEV);
    assert.equal(cmdSid(0xffff_ffff | 0), 0xffff_ffff);
  });

  it("replaces the VMID or the SID in w1 and keeps the other bits", () => {
    assert.equal(withVmid(0x1234_abcd, 7), 0x1234_0007);
    assert.equal(withVmid(0xffff_ffff, 0), 0xffff_0000);
    assert.equal(withSid(0x1234_abcd, 0x8000_0001), 0x8000_0001);
    assert.throws(() => withVmid(0, 0x1_0000), RangeError);
    assert.throws(() => withSid(0, -1), RangeError);
  });

  it("encodes words without bigint at an offset and leaves the rest of the array alone", () => {
    const out = new Uint32Array(8).fill(0xaaaa_aaaa);
    encodeWords({ op: "TLBI_NH_ASID", vmid: 5, asid: 0x77 }, out, 2);
    assert.deepEqual(
      [...out],
      [0xaaaa_aaaa, 0xaaaa_aaaa, 0x11, 0x0077_0005, 0, 0, 0xaaaa_aaaa, 0xaaaa_aaaa],
    );
  });
});

describe("commands in byte buffers", () => {
  it("lays a command out as 16 little-endian bytes", () => {
    const buf = new Uint8Array(48);
    writeCommand(buf, 16, { op: "TLBI_NH_ASID", vmid: 5, asid: 0x77 });
    assert.deepEqual(
      [...buf.subarray(16, 32)],
      [0x11, 0, 0, 0, 0x05, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    assert.deepEqual([...readCommandWords(buf, 16)], [0x11, 0x0077_0005, 0, 0]);
    assert.deepEqual(readCommand(buf, 16), { op: "TLBI_NH_ASID", vmid: 5, asid: 0x77 });
    assert.ok(buf.subarray(0, 16).every((b) => b === 0));
  });

  it("reads words into a caller's array and writes raw words", () => {
    const buf = new Uint8Array(16);
    writeCommandWords(buf, 0, 0x8765_4321, 0xffff_ffff, 1, 0x8000_0000);
    const out = new Uint32Array(6);
    readCommandWords(buf, 0, out, 2);
    assert.deepEqual([...out], [0, 0, 0x8765_4321, 0xffff_ffff, 1, 0x8000_0000]);
  });

  it("refuses offsets that run past the buffer", () => {
    const buf = new Uint8Array(32);
    assert.throws(() => readCommand(buf, 17), RangeError);
    assert.throws(() => readCommandWords(buf, -1), RangeError);
    assert.throws(() => writeCommand(buf, 32, { op: "TLBI_NSNH_ALL" }), RangeError);
  });
});

describe("trace text", () => {
  it("prints TLBI_NH_VA ids and address in hex and parameters in decimal", () => {
    assert.equal(
      formatCommand({
        op: "TLBI_NH_VA",
        vmid: 1,
        asid: 2,
        addr: 0x4000_1000n,
        num: 0,
        scale: 0,
        leaf: 1,
        ttl: 0,
        tg: 0,
      }),
      "TLBI_NH_VA vmid=0x1 asid=0x2 addr=0x40001000 num=0 scale=0 leaf=1 ttl=0 tg=0",
    );
  });

  it("prints CMD_SYNC's CS by name, a field-less command as its name, and UNKNOWN raw", () => {
    assert.equal(
      formatCommand(decode(0x46n, 0n)),
      "CMD_SYNC cs=NONE msh=0 msiattr=0x0 msidata=0x0 msiaddr=0x0",
    );
    assert.equal(formatCommand({ op: "TLBI_NSNH_ALL" }), "TLBI_NSNH_ALL");
    assert.equal(
      formatCommand(decode(0x7fn, 1n)),
      "UNKNOWN(0x7f) dw0=0x000000000000007f dw1=0x0000000000000001",
    );
    assert.equal(
      formatCommand({ op: "ATC_INV", ...atcZero, sid: 0x10, size: 52 }),
      "ATC_INV sid=0x10 ssv=0 ssid=0x0 global=0 addr=0x0 size=52",
    );
  });
});

// ---------------------------------------------------------------------------------------
// Properties. The arbitraries spell out the spec ranges independently of CMD_LAYOUT, so a
// wrong width in the table fails here.
// ---------------------------------------------------------------------------------------

/** Unsigned integers of `width` bits (1..32). */
function u(width: number): fc.Arbitrary<number> {
  if (width === 32) return fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }).map((x) => x >>> 0);
  return fc.integer({ min: 0, max: 2 ** width - 1 });
}

/** Byte addresses with only bits [hi:lo] set. */
function addrBits(hi: number, lo: number): fc.Arbitrary<bigint> {
  return fc.bigInt({ min: 0n, max: (1n << BigInt(hi - lo + 1)) - 1n }).map((x) => x << BigInt(lo));
}

/** Records with Object.prototype, so deepStrictEqual matches decode's plain objects. */
function rec<T extends object>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

const tail = { num: u(5), scale: u(5), leaf: u(1), ttl: u(2), tg: u(2) };
const va = addrBits(63, 12);

const ARBS: { readonly [K in OpName]: fc.Arbitrary<CommandOf<K>> } = {
  PREFETCH_CFG: rec({ op: fc.constant("PREFETCH_CFG"), sid: u(32) }),
  PREFETCH_ADDR: rec({
    op: fc.constant("PREFETCH_ADDR"),
    sid: u(32),
    ssv: u(1),
    ssid: u(20),
    addr: va,
    size: u(5),
  }),
  CFGI_STE: rec({ op: fc.constant("CFGI_STE"), sid: u(32), leaf: u(1) }),
  CFGI_STE_RANGE: rec({ op: fc.constant("CFGI_STE_RANGE"), sid: u(32), range: u(5) }),
  CFGI_CD: rec({ op: fc.constant("CFGI_CD"), sid: u(32), ssid: u(20), leaf: u(1) }),
  CFGI_CD_ALL: rec({ op: fc.constant("CFGI_CD_ALL"), sid: u(32) }),
  TLBI_NH_ALL: rec({ op: fc.constant("TLBI_NH_ALL"), vmid: u(16) }),
  TLBI_NH_ASID: rec({ op: fc.constant("TLBI_NH_ASID"), vmid: u(16), asid: u(16) }),
  TLBI_NH_VA: rec({
    op: fc.constant("TLBI_NH_VA"),
    vmid: u(16),
    asid: u(16),
    addr: va,
    ...tail,
  }),
  TLBI_NH_VAA: rec({ op: fc.constant("TLBI_NH_VAA"), vmid: u(16), addr: va, ...tail }),
  TLBI_EL2_ALL: rec({ op: fc.constant("TLBI_EL2_ALL") }),
  TLBI_EL2_ASID: rec({ op: fc.constant("TLBI_EL2_ASID"), asid: u(16) }),
  TLBI_EL2_VA: rec({ op: fc.constant("TLBI_EL2_VA"), asid: u(16), addr: va, ...tail }),
  TLBI_S12_VMALL: rec({ op: fc.constant("TLBI_S12_VMALL"), vmid: u(16) }),
  TLBI_S2_IPA: rec({
    op: fc.constant("TLBI_S2_IPA"),
    vmid: u(16),
    ipa: addrBits(51, 12),
    ...tail,
  }),
  TLBI_NSNH_ALL: rec({ op: fc.constant("TLBI_NSNH_ALL") }),
  ATC_INV: rec({
    op: fc.constant("ATC_INV"),
    sid: u(32),
    ssv: u(1),
    ssid: u(20),
    global: u(1),
    addr: va,
    size: u(6),
  }),
  PRI_RESP: rec({
    op: fc.constant("PRI_RESP"),
    sid: u(32),
    ssv: u(1),
    ssid: u(20),
    grpid: u(9),
    resp: u(2),
  }),
  RESUME: rec({ op: fc.constant("RESUME"), sid: u(32), resp: u(2), stag: u(16) }),
  STALL_TERM: rec({ op: fc.constant("STALL_TERM"), sid: u(32) }),
  CMD_SYNC: rec({
    op: fc.constant("CMD_SYNC"),
    cs: u(2),
    msh: u(2),
    msiattr: u(4),
    msidata: u(32),
    msiaddr: addrBits(51, 2),
  }),
};

const unknownArb: fc.Arbitrary<Command> = fc
  .tuple(
    u(8).filter((op) => !isKnownOpcode(op)),
    fc.bigInt({ min: 0n, max: (1n << 56n) - 1n }),
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  )
  .map(([opcode, hi, dw1]) => ({ op: "UNKNOWN", opcode, dw0: (hi << 8n) | BigInt(opcode), dw1 }));

const anyCommand: fc.Arbitrary<Command> = fc.oneof(
  ...(Object.values(ARBS) as fc.Arbitrary<Command>[]),
  unknownArb,
);

const anyWords = fc.tuple(u(32), u(32), u(32), u(32));

describe("command properties", () => {
  for (const name of Object.keys(ARBS) as OpName[]) {
    it(`decodes what it encodes for every ${name}`, () => {
      fc.assert(
        fc.property(ARBS[name] as fc.Arbitrary<Command>, (c) => {
          const [dw0, dw1] = encode(c);
          assert.deepEqual(decode(dw0, dw1), c);
          assert.equal(Number(dw0 & 0xffn), OPCODE[name]);
        }),
        { numRuns: 300 },
      );
    });
  }

  it("decodes what it encodes for every unknown opcode", () => {
    fc.assert(
      fc.property(unknownArb, (c) => {
        const [dw0, dw1] = encode(c);
        assert.deepEqual(decode(dw0, dw1), c);
      }),
    );
  });

  it("gives the same words through encodeWords, encode and a byte buffer", () => {
    const words = new Uint32Array(4);
    const buf = new Uint8Array(16);
    fc.assert(
      fc.property(anyCommand, (c) => {
        encodeWords(c, words, 0);
        const [dw0, dw1] = encode(c);
        assert.equal((BigInt(words[1]!) << 32n) | BigInt(words[0]!), dw0);
        assert.equal((BigInt(words[3]!) << 32n) | BigInt(words[2]!), dw1);
        assert.deepEqual(decodeWords(words[0]!, words[1]!, words[2]!, words[3]!), c);
        writeCommand(buf, 0, c);
        assert.deepEqual(readCommand(buf, 0), c);
      }),
    );
  });

  it("decodes any four words without throwing, and re-encoding the result is stable", () => {
    fc.assert(
      fc.property(anyWords, ([w0, w1, w2, w3]) => {
        const c = decodeWords(w0, w1, w2, w3);
        const [dw0, dw1] = encode(c);
        // Encoding drops reserved bits only: every bit it sets was set in the input.
        const in0 = (BigInt(w1) << 32n) | BigInt(w0);
        const in1 = (BigInt(w3) << 32n) | BigInt(w2);
        assert.equal(dw0 & ~in0, 0n);
        assert.equal(dw1 & ~in1, 0n);
        assert.deepEqual(decode(dw0, dw1), c);
      }),
    );
  });

  it("agrees between the word accessors and decode on any words", () => {
    fc.assert(
      fc.property(anyWords, ([w0, w1, w2, w3]) => {
        const c = decodeWords(w0, w1, w2, w3);
        const op = c.op === "UNKNOWN" ? c.opcode : OPCODE[c.op];
        assert.equal(cmdOpcode(w0), op);
        if ("vmid" in c) assert.equal(cmdVmid(w1), c.vmid);
        if ("asid" in c) assert.equal(cmdAsid(w1), c.asid);
        if ("sid" in c) assert.equal(cmdSid(w1), c.sid);
        if (c.op === "CMD_SYNC") assert.equal(cmdSyncCs(w0), c.cs);
      }),
    );
  });

  it("agrees between the word accessors and encoded commands", () => {
    const words = new Uint32Array(4);
    fc.assert(
      fc.property(anyCommand, (c) => {
        encodeWords(c, words, 0);
        if ("vmid" in c) assert.equal(cmdVmid(words[1]!), c.vmid);
        if ("asid" in c) assert.equal(cmdAsid(words[1]!), c.asid);
        if ("sid" in c) assert.equal(cmdSid(words[1]!), c.sid);
        if (c.op === "CMD_SYNC") assert.equal(cmdSyncCs(words[0]!), c.cs);
      }),
    );
  });

  it("changes only the VMID or only the SID when w1 is rewritten", () => {
    const words = new Uint32Array(4);
    fc.assert(
      fc.property(anyCommand, u(16), u(32), (c, vmid, sid) => {
        encodeWords(c, words, 0);
        const [w0, w1, w2, w3] = [words[0]!, words[1]!, words[2]!, words[3]!];
        const v = decodeWords(w0, withVmid(w1, vmid), w2, w3);
        if ("vmid" in c) assert.deepEqual(v, { ...c, vmid });
        else if (!("asid" in c) && !("sid" in c) && !("msidata" in c) && c.op !== "UNKNOWN")
          assert.deepEqual(v, c);
        const s = decodeWords(w0, withSid(w1, sid), w2, w3);
        if ("sid" in c) assert.deepEqual(s, { ...c, sid });
      }),
    );
  });

  it("prints every command on one line starting with its name", () => {
    fc.assert(
      fc.property(anyCommand, (c) => {
        const text = formatCommand(c);
        assert.ok(!text.includes("\n"));
        const name = c.op === "UNKNOWN" ? opcodeName(c.opcode) : c.op;
        assert.ok(text.startsWith(name));
        assert.ok(!text.includes("?"));
      }),
    );
  });
});
