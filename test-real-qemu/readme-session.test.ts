// The README's real-QEMU qtest session, run as printed through `cmdqv qtest --vmm qemu`,
// so the example cannot rot: the hardware consumes the TLBI and CONS reads 1, and the
// same script runs unchanged on `--vmm model` with the same HW queue.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

describe("the README's real-QEMU session", () => {
  it("runs as printed: every line OK, CONS = 1, no invariant violated", () => {
    const start = readme.indexOf("A session with real QEMU");
    assert.ok(start > 0, "the README shows the session");
    const block = readme.slice(
      readme.indexOf("```", start) + 3,
      readme.indexOf("```", readme.indexOf("```", start) + 3),
    );
    const lines = block
      .split("\n")
      .map((l) => l.replace(/\s+#.*$/, "").trim())
      .filter((l) => l.length > 0);
    const r = spawnSync(process.execPath, ["bin/cmdqv.js", "qtest", "--vmm", "qemu"], {
      input: `${lines.join("\n")}\n`,
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const replies = r.stdout.trim().split("\n");
    assert.equal(replies.length, lines.length, r.stdout);
    assert.ok(
      replies.every((l) => l.startsWith("OK")),
      r.stdout,
    );
    assert.equal(replies[lines.indexOf("readl 0x0c0b0000")], "OK 0x0000000000000001");
    const info = JSON.parse(replies.at(-1)!.slice(3)) as {
      violations: string[];
      hw_queues: unknown[];
    };
    assert.deepEqual(info.violations, []);
    assert.equal(info.hw_queues.length, 1);

    // The same script, unchanged, on our model: the addresses are QEMU 11.1's in both.
    const m = spawnSync(process.execPath, ["bin/cmdqv.js", "qtest"], {
      input: `${lines.join("\n")}\n`,
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(m.status, 0, m.stderr);
    const model = m.stdout.trim().split("\n");
    assert.equal(model[lines.indexOf("readl 0x0c0b0000")], "OK 0x0000000000000001");
    const mi = JSON.parse(model.at(-1)!.slice(3)) as {
      hw_queues: { gpa: string; length: number }[];
    };
    assert.deepEqual(
      mi.hw_queues.map((q) => [q.gpa, q.length]),
      (info.hw_queues as { gpa: string; length: number }[]).map((q) => [q.gpa, q.length]),
    );
  });

  it("answers a cmdqv_* line sent first only after QEMU has realized on the host", () => {
    const r = spawnSync(process.execPath, ["bin/cmdqv.js", "qtest", "--vmm", "qemu"], {
      input: "cmdqv_info\n",
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout.trim().slice(3)) as { host_objects: { kind: string }[] };
    assert.ok(
      info.host_objects.some((o) => o.kind === "viommu"),
      r.stdout,
    );
  });
});
