import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const dir = mkdtempSync(join(tmpdir(), "cmdqv printed 'commands' "));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("the commands cmdqv prints", () => {
  it("reproduce a counterexample when pasted into a shell as they are, even from an awkward path", () => {
    const out = spawnSync(
      process.execPath,
      ["bin/cmdqv.js", "explore", "--profile", "qemu-v5", "--queues", "1", "--out", dir],
      { encoding: "utf8" },
    );
    assert.equal(out.status, 1, out.stderr);
    const line = out.stdout.split("\n").find((l) => l.trimStart().startsWith("replay: "));
    assert.ok(line, out.stdout);
    const command = line.trim().slice("replay: ".length);
    assert.match(command, /^npx cmdqv run --replay '/);
    const r = spawnSync("sh", ["-c", command], { encoding: "utf8" });
    assert.match(r.stdout, /\nreproduced: /, r.stderr);
    assert.equal(r.status, 1);
  });

  it("start with an npx that finds cmdqv in the checkout", () => {
    assert.match(
      execFileSync("sh", ["-c", "npx cmdqv --version"], { encoding: "utf8" }),
      /^cmdqv /,
    );
  });
});
