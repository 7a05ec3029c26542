import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

describe("cmdqv --version", () => {
  it("prints the package's version and exits 0", () => {
    for (const flag of ["--version", "-V"]) {
      const r = spawnSync(process.execPath, ["bin/cmdqv.js", flag], {
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `cmdqv ${pkg.version}\n`);
      assert.equal(r.stderr, "");
    }
  });
});
