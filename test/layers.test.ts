// The layer rules (.dependency-cruiser.cjs, run by `npm test`) must bite: the real tree
// passes, and a guest module reaching into the VMM, or a host module reaching up into the
// machine, fails with the rule's name. The probes are written under src/ only for the
// run and removed afterwards.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";

const probes: string[] = [];
after(() => {
  for (const p of probes) rmSync(p, { force: true });
});

function cruise(files: string[]) {
  const r = spawnSync(
    process.execPath,
    [
      "node_modules/dependency-cruiser/bin/dependency-cruise.mjs",
      ...files,
      "--config",
      ".dependency-cruiser.cjs",
      "--output-type",
      "err",
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function probe(path: string, text: string): string {
  writeFileSync(path, text);
  probes.push(path);
  return path;
}

describe("the layer rules", () => {
  it("pass on the tree as it is", () => {
    const r = cruise(["src"]);
    assert.equal(r.code, 0, r.out);
  });

  it("refuse a guest module that imports the VMM, and a host module that imports the machine", () => {
    const guest = probe(
      "src/guest/zz-layer-probe.ts",
      'import { VmmLog } from "../vmm/log.js";\nexport const x = VmmLog;\n',
    );
    const host = probe(
      "src/host/zz-layer-probe.ts",
      'import { createMachine } from "../machine/machine.js";\nexport const y = createMachine;\n',
    );
    const r = cruise([guest, host]);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /guest-is-not-the-host: src\/guest\/zz-layer-probe\.ts/);
    assert.match(r.out, /no-upward-from-host: src\/host\/zz-layer-probe\.ts/);
  });
});
