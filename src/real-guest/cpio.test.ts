import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

test("an absolute or empty path is refused", () => {
  assert.throws(() => cpioNewc([{ kind: "dir", path: "/bin" }]), /bad path/);
  assert.throws(() => cpioNewc([{ kind: "dir", path: "" }]), /bad path/);
});

test("GNU cpio reads the archive back with its contents and modes", (t) => {
  if (spawnSync("cpio", ["--version"]).error) {
    t.diagnostic("cpio is not installed; the byte-level tests above still hold the format");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "cmdqv-cpio-"));
  try {
    const archive = join(dir, "a.cpio");
    writeFileSync(
      archive,
      cpioNewc([
        { kind: "dir", path: "bin" },
        { kind: "file", path: "bin/tool", data: new TextEncoder().encode("hello\n"), perm: 0o755 },
        { kind: "file", path: "init", data: new Uint8Array(5) },
      ]),
    );
    const out = join(dir, "out");
    const r = spawnSync("sh", [
      "-c",
      `mkdir "$1" && cd "$1" && cpio -id --quiet < "$2"`,
      "sh",
      out,
      archive,
    ]);
    assert.equal(r.status, 0, String(r.stderr));
    assert.equal(readFileSync(join(out, "bin/tool"), "utf8"), "hello\n");
    assert.equal(statSync(join(out, "bin/tool")).mode & 0o777, 0o755);
    assert.equal(statSync(join(out, "init")).size, 5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
