import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { scratchDirs } from "./cli-testkit.js";
import { workerBundle } from "./explore-worker-bundle.js";

const scratch = scratchDirs("worker-bundle");

describe("the explore worker's bundle", () => {
  it("is kept and loaded again while its sources hash the same, and made again when they do not", async () => {
    const dir = scratch();
    const first = await workerBundle(dir);
    assert.equal(first.protocol, "file:");
    const file = fileURLToPath(first);
    const made = statSync(file).mtimeMs;
    const record = JSON.parse(readFileSync(join(dir, "explore-worker.json"), "utf8"));
    assert.ok(record.files.includes("src/cli/explore-worker.ts"), record.files.join(" "));
    assert.ok(record.files.includes("src/explore/explorer.ts"));
    // Unchanged sources: the same file, not written again.
    assert.equal((await workerBundle(dir)).href, first.href);
    assert.equal(statSync(file).mtimeMs, made);
    // Sources that no longer hash as recorded: bundled again.
    writeFileSync(join(dir, "explore-worker.json"), JSON.stringify({ ...record, hash: "0" }));
    const again = await workerBundle(dir);
    assert.equal(again.href, first.href, "the same sources make the same bundle name");
    assert.ok(statSync(file).mtimeMs >= made);
    assert.equal(
      JSON.parse(readFileSync(join(dir, "explore-worker.json"), "utf8")).hash,
      record.hash,
    );
  });

  it("is made in memory, as a data: URL, where the directory cannot be made", async () => {
    const notADir = join(scratch(), "a-file");
    writeFileSync(notADir, "");
    const url = await workerBundle(join(notADir, "cache"));
    assert.equal(url.protocol, "data:");
    assert.match(Buffer.from(url.pathname.split(",")[1]!, "base64").toString(), /expandItems/);
  });
});
