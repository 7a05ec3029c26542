import assert from "node:assert/strict";
import { test } from "node:test";
import { cpioNewc } from "./cpio.js";

const dec = new TextDecoder();

test("every header is 110 ASCII bytes and every name and body ends on a 4-byte boundary", () => {
  const a = cpioNewc([
    { kind: "dir", path: "bin" },
    { kind: "file", path: "bin/x", data: new Uint8Array([1, 2, 3]), perm: 0o755 },
  ]);
  assert.equal(dec.decode(a.subarray(0, 6)), "070701");
  // Entry 1: 110 + "bin\0" (4) = 114, padded to 116.
  assert.equal(dec.decode(a.subarray(116, 122)), "070701");
  // Entry 2: 110 + "bin/x\0" (6) = 116, data 3 padded to 4.
  const third = 116 + 116 + 4;
  assert.equal(dec.decode(a.subarray(third, third + 6)), "070701");
  assert.equal(dec.decode(a.subarray(third + 110, third + 120)), "TRAILER!!!");
  assert.equal(a.length % 4, 0);
});

test("the mode, size and device numbers are in their hex fields", () => {
  const a = cpioNewc([{ kind: "char", path: "dev/console", major: 5, minor: 1 }]);
  const field = (i: number) => Number.parseInt(dec.decode(a.subarray(6 + 8 * i, 14 + 8 * i)), 16);
  assert.equal(field(1), 0o020600);
  assert.equal(field(6), 0);
  assert.equal(field(9), 5);
  assert.equal(field(10), 1);
  assert.equal(field(11), "dev/console".length + 1);
});

test("the same entries give the same bytes", () => {
  const e = [{ kind: "file", path: "init", data: new Uint8Array([7]) }] as const;
  assert.deepEqual(cpioNewc(e), cpioNewc(e));
});

// The kernel unpacking it is the end-to-end check: test-real-guest boots from this format.
test("an absolute or empty path is refused", () => {
  assert.throws(() => cpioNewc([{ kind: "dir", path: "/bin" }]), /bad path/);
  assert.throws(() => cpioNewc([{ kind: "dir", path: "" }]), /bad path/);
});
