// Differential tests: the same qtest scripts (test-qemu/scripts.ts) against Debian's
// qemu-system-aarch64 7.2 and `node bin/cmdqv.js qtest`, compared reply by reply. A
// difference passes only where its step names a documented reason (DIFFERENCES) and pins
// both answers. Run with `npm run test:qemu` (not part of `npm test`: it needs QEMU).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type PeerName, QEMU_BINARY, qemuVersion, withPeer } from "./peers.js";
import {
  compare,
  DIFFERENCES,
  type DifferenceName,
  play,
  REG,
  readl,
  type Script,
  script,
  sideBySide,
  type Transcript,
} from "./script.js";
import { SCRIPTS } from "./scripts.js";

const version = qemuVersion();

async function both(s: Script): Promise<Record<PeerName, Transcript>> {
  const [qemu, cmdqv] = await Promise.all([
    withPeer("qemu", (p) => play(p, s)),
    withPeer("cmdqv", (p) => play(p, s)),
  ]);
  return { qemu, cmdqv };
}

describe("the peer", () => {
  it("is QEMU 7.2, the version whose differences from cmdqv the scripts document", () => {
    assert.ok(
      version !== null,
      `${QEMU_BINARY} cannot be run: install it (apt-get install qemu-system-arm) or set QEMU_SYSTEM_AARCH64`,
    );
    assert.match(version, /^7\.2\./);
  });
});

describe("the main command queue on QEMU 7.2 and on cmdqv", () => {
  for (const s of SCRIPTS) {
    // Each request has its own limit (test-qemu/peers.ts); this bounds the whole script.
    it(`${s.name}: the same answers, except documented differences`, {
      timeout: 90_000,
    }, async () => {
      const t = await both(s);
      const problems = compare(s, t.qemu, t.cmdqv);
      assert.deepEqual(problems, [], `\n${sideBySide(s, t)}\n`);
    });
  }
});

describe("the comparison itself", () => {
  const s = script("one read", [readl(REG.IDR2, 0)]);

  it("fails a difference that names no reason", () => {
    const problems = compare(s, [["OK"], ["OK 0x0000000000000000"]], [["OK"], ["OK 0x01"]]);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /no documented reason/);
  });

  it("fails an answer both peers give when it is not the expected one", () => {
    const r = ["OK 0x0000000000000001"];
    assert.match(compare(s, [["OK"], r], [["OK"], r])[0] ?? "", /expected OK 0x0{16}/);
  });

  it("fails a documented difference that did not happen, or not as pinned", () => {
    const d = script("gbpa", [
      { send: "readl 0x9050044", differs: { because: "gbpa", qemu: ["OK 0"], cmdqv: ["OK 1"] } },
    ]);
    const same = compare(d, [["OK"], ["OK 0"]], [["OK"], ["OK 0"]]);
    assert.ok(same.some((p) => /expected to differ \(gbpa\)/.test(p)));
    const other = compare(d, [["OK"], ["OK 0"]], [["OK"], ["OK 2"]]);
    assert.deepEqual(other, ["step 1 (readl 0x9050044): cmdqv answered OK 2, pinned OK 1"]);
  });

  it("fails a transcript that is cut short (a peer that went away)", () => {
    assert.match(
      compare(s, [["OK"]], [["OK"], ["OK 0x0000000000000000"]])[0] ?? "",
      /qemu \(nothing\)/,
    );
  });

  it("has every documented difference used by some script, each with its one-line reason", () => {
    const used = new Set<string>();
    for (const x of SCRIPTS) for (const st of x.steps) if (st.differs) used.add(st.differs.because);
    for (const name of Object.keys(DIFFERENCES) as DifferenceName[]) {
      assert.ok(used.has(name), `${name} is in DIFFERENCES but no step uses it`);
      assert.doesNotMatch(DIFFERENCES[name], /\n/);
    }
  });
});
