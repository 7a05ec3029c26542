import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { formatScenarioError, loadScenarioFile } from "./load.js";
import type { Scenario } from "./schema.js";

const dir = fileURLToPath(new URL("../../scenarios/", import.meta.url));
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

function loaded(file: string): Scenario {
  const r = loadScenarioFile(`${dir}${file}`);
  assert.ok(r.ok, r.ok ? "" : r.error.map(formatScenarioError).join("\n"));
  return r.value;
}

function expectations(s: Scenario) {
  return s.guest.flatMap((g) => (g.kind === "expect" ? [g] : []));
}

describe("the example scenarios", () => {
  it("include the default run, both review cases under v5 and v7, and raw registers", () => {
    for (const f of [
      "default.yaml",
      "review-case1.yaml",
      "review-case2.yaml",
      "review-case1-v7.yaml",
      "review-case2-v7.yaml",
      "registers.yaml",
    ])
      assert.ok(files.includes(f), f);
  });

  for (const f of files) {
    it(`${f} loads, is named after its file and says at the top what it shows`, () => {
      const s = loaded(f);
      assert.equal(s.name, basename(f, ".yaml"));
      const text = readFileSync(`${dir}${f}`, "utf8");
      const header = text.split("\n").filter((l) => l.startsWith("#") && !l.includes("$schema"));
      assert.ok(header.join(" ").length > 80, "a top comment that explains the scenario");
      assert.ok(expectations(s).length > 0, "at least one expect step");
    });
  }

  it("run Case 1 and Case 2 under the profiles the review and the merged series name", () => {
    assert.equal(loaded("review-case1.yaml").machine.profile, "qemu-v5");
    assert.equal(loaded("review-case2.yaml").machine.profile, "qemu-v5");
    assert.equal(loaded("review-case1-v7.yaml").machine.profile, "qemu-v7");
    assert.equal(loaded("review-case2-v7.yaml").machine.profile, "qemu-v7");
  });

  it("expect the review's exact lines: a failed VCMDQ1 enable in Case 1, CMD_SYNC timeouts in Case 2", () => {
    const all = (f: string) => expectations(loaded(f)).flatMap((e) => e.dmesgContains);
    assert.ok(
      all("review-case1.yaml").some((l) =>
        l.endsWith("VCMDQ1/LVCMDQ1: failed to enable, STATUS=0x00000000"),
      ),
    );
    assert.ok(
      all("review-case2.yaml").some((l) =>
        l.endsWith("CMD_SYNC timeout at 0x00000002 [hwprod 0x00000002, hwcons 0x00000000]"),
      ),
    );
    assert.ok(all("review-case2-v7.yaml").some((l) => l.endsWith("failed to reset impl")));
    const logs = expectations(loaded("review-case2.yaml")).flatMap((e) => e.vmmLogContains);
    assert.ok(logs.includes("IOMMU_HW_QUEUE_ALLOC failed: error -22"));
  });

  it("misplace exactly the ring each case names, with 64 KiB rings", () => {
    const rings = (f: string) => {
      const boot = loaded(f).guest.find((g) => g.kind === "boot");
      assert.ok(boot?.kind === "boot");
      assert.equal(boot.cmdqMaxSzShift, 12, "4096 entries of 16 bytes");
      return boot.vcmdqRings;
    };
    assert.deepEqual(rings("review-case1.yaml"), ["auto", 0x4060_1000]);
    assert.deepEqual(rings("review-case2.yaml"), [0x4060_1000, "auto"]);
    assert.notEqual(0x4060_1000 % 0x1_0000, 0, "misaligned for a 64 KiB ring");
  });
});
