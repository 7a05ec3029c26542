import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { PRELOAD_SOURCE } from "./native-build.js";
import {
  decodeMessage,
  encode,
  FdKind,
  FrameDecoder,
  FrameType,
  MAX_PAYLOAD,
  type Message,
  PROTOCOL_VERSION,
  type RawFrame,
} from "./wire.js";

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const kind = fc.constantFrom(...Object.values(FdKind));
const bytes = fc.uint8Array({ maxLength: 64 });
const len = fc.integer({ min: 0, max: MAX_PAYLOAD });
const path = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes("\0"));

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({
    type: fc.constant("HELLO" as const),
    version: u32,
    pid: u32,
    iommufdFd: i32,
    vfioFd: i32,
    guardPatched: fc.boolean(),
  }),
  fc.record({ type: fc.constant("IOCTL" as const), fd: i32, kind, request: u32, arg: u64 }),
  fc.record({
    type: fc.constant("MMAP" as const),
    fd: i32,
    kind,
    addr: u64,
    length: u64,
    prot: u32,
    flags: u32,
    offset: u64,
  }),
  fc.record({ type: fc.constant("MUNMAP" as const), fd: i32, kind, addr: u64, length: u64 }),
  fc.record({ type: fc.constant("PREAD" as const), fd: i32, kind, offset: u64, length: len }),
  fc.record({ type: fc.constant("PWRITE" as const), fd: i32, kind, offset: u64, data: bytes }),
  fc.record({ type: fc.constant("READ" as const), fd: i32, kind, length: len }),
  fc.record({ type: fc.constant("WRITE" as const), fd: i32, kind, data: bytes }),
  fc.record({ type: fc.constant("CLOSE" as const), fd: i32, kind }),
  fc.record({ type: fc.constant("DATA" as const), data: bytes }),
  fc.record({ type: fc.constant("OK" as const) }),
  fc.record({ type: fc.constant("FAULT" as const), errno: i32 }),
  fc.record({ type: fc.constant("PIPE" as const), readFd: i32, writeFd: i32 }),
  fc.record({ type: fc.constant("PEEK" as const), addr: u64, length: len }),
  fc.record({ type: fc.constant("POKE" as const), addr: u64, data: bytes }),
  fc.record({ type: fc.constant("NEWPIPE" as const) }),
  fc.record({ type: fc.constant("CLOSEFD" as const), fd: i32 }),
  fc.record({
    type: fc.constant("RESULT" as const),
    ret: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
    errno: i32,
  }),
  fc.record({ type: fc.constant("RESULT_DATA" as const), data: bytes }),
  fc.record({ type: fc.constant("RESULT_MAP" as const), offset: u64, path }),
);

/** Feeds `stream` cut at `cuts`, decoding every frame; throws on a wire error. */
function decodeAll(stream: Uint8Array, cuts: number[]): Message[] {
  const d = new FrameDecoder();
  const out: Message[] = [];
  let at = 0;
  for (const cut of [
    ...cuts.map((c) => c % (stream.length + 1)).sort((a, b) => a - b),
    stream.length,
  ]) {
    const r = d.push(stream.subarray(at, Math.max(at, cut)));
    at = Math.max(at, cut);
    assert.ok(r.ok, r.ok ? "" : r.error.reason);
    for (const raw of r.value) {
      const m = decodeMessage(raw);
      assert.ok(m.ok, m.ok ? "" : m.error.reason);
      out.push(m.value);
    }
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function header(length: number, type: number): Uint8Array {
  const h = new Uint8Array(8);
  new DataView(h.buffer).setUint32(0, length, true);
  new DataView(h.buffer).setUint32(4, type, true);
  return h;
}

describe("wire codec", () => {
  it("round-trips every message, however the stream is cut", () => {
    fc.assert(
      fc.property(
        fc.array(message, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (ms, cuts) => {
          const got = decodeAll(concat(ms.map(encode)), cuts);
          assert.deepEqual(
            got,
            ms.map((m) => ({ ...m })),
          ); // fc.record objects have no prototype
        },
      ),
    );
  });

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 5 }), (chunks) => {
        const d = new FrameDecoder();
        for (const c of chunks) {
          const r = d.push(c);
          if (!r.ok) return;
          for (const raw of r.value) decodeMessage(raw);
        }
      }),
    );
  });

  it("never throws on well-framed garbage payloads of every type", () => {
    const types = Object.values(FrameType);
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(...types), u32),
        fc.uint8Array({ maxLength: 64 }),
        (type, payload) => {
          decodeMessage({ type, payload } satisfies RawFrame);
        },
      ),
    );
  });

  it("refuses a length beyond the bound before allocating, and stays failed", () => {
    const d = new FrameDecoder();
    const r = d.push(header(MAX_PAYLOAD + 5, FrameType.DATA));
    assert.equal(r.ok, false);
    assert.equal(d.push(encode({ type: "OK" })).ok, false);
  });

  it("accepts exactly the largest payload", () => {
    const big = encode({ type: "DATA", data: new Uint8Array(MAX_PAYLOAD) });
    const d = new FrameDecoder();
    const r = d.push(big);
    assert.ok(r.ok);
    assert.equal(r.value[0]!.payload.length, MAX_PAYLOAD);
    assert.throws(
      () => encode({ type: "DATA", data: new Uint8Array(MAX_PAYLOAD + 1) }),
      RangeError,
    );
  });

  it("refuses a length below the type field", () => {
    assert.equal(new FrameDecoder().push(header(3, 0)).ok, false);
  });

  it("gives errors as values for unknown types, wrong sizes and bad fields", () => {
    const cases: RawFrame[] = [
      { type: 0x99, payload: new Uint8Array(0) },
      { type: FrameType.RESULT, payload: new Uint8Array(11) },
      { type: FrameType.OK, payload: new Uint8Array(1) },
      { type: FrameType.PWRITE, payload: new Uint8Array(15) },
      { type: FrameType.IOCTL, payload: new Uint8Array(24) }, // fd kind 0
      { type: FrameType.RESULT_MAP, payload: new Uint8Array(9) }, // path "\0"
      { type: FrameType.RESULT_MAP, payload: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0xff) },
    ];
    for (const c of cases)
      assert.equal(decodeMessage(c).ok, false, `type 0x${c.type.toString(16)}`);
    const hugePeek = encode({ type: "PEEK", addr: 0n, length: 0 });
    new DataView(hugePeek.buffer).setBigUint64(16, BigInt(MAX_PAYLOAD) + 1n, true);
    assert.equal(decodeMessage({ type: FrameType.PEEK, payload: hugePeek.slice(8) }).ok, false);
  });

  it("refuses to encode an mmap path the C side could not open", () => {
    assert.throws(() => encode({ type: "RESULT_MAP", offset: 0n, path: "" }), RangeError);
    assert.throws(() => encode({ type: "RESULT_MAP", offset: 0n, path: "a\0b" }), RangeError);
  });

  it("lays out a frame as u32 length-of-rest, u32 type, payload (little-endian)", () => {
    const f = encode({ type: "RESULT", ret: -1, errno: 25 });
    assert.deepEqual(
      [...f],
      [16, 0, 0, 0, 0x50, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 25, 0, 0, 0],
    );
  });

  it("matches the numbers in native/cmdqv-preload.c", () => {
    const c = readFileSync(PRELOAD_SOURCE, "utf8");
    for (const [name, code] of Object.entries(FrameType)) {
      const m = new RegExp(`\\bFR_${name} = (0x[0-9a-f]+)`).exec(c);
      assert.ok(m, `FR_${name} missing in the C file`);
      assert.equal(Number(m[1]), code, name);
    }
    for (const [name, code] of Object.entries(FdKind)) {
      const m = new RegExp(`\\bK_${name} = (\\d+)`).exec(c);
      assert.equal(Number(m?.[1]), code, name);
    }
    assert.match(c, new RegExp(`#define PROTOCOL_VERSION ${PROTOCOL_VERSION}\\b`));
    assert.equal(MAX_PAYLOAD, 16 << 20);
    assert.match(c, /#define MAX_PAYLOAD \(16u << 20\)/);
  });
});
