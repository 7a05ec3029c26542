// Every host-socket seed in fuzz/corpus/host-socket/ replayed against the simulated host's
// socket: each once crashed, hung or leaked the server, and must stay clean.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type HostSocketReplayer, openHostSocketReplayer } from "./host-socket.js";

const DIR = fileURLToPath(new URL("./corpus/host-socket/", import.meta.url));
const files = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort();

describe("the host-socket fuzzer's corpus", { timeout: 300_000 }, () => {
  let replayer: HostSocketReplayer;
  before(async () => {
    replayer = await openHostSocketReplayer();
  });
  after(() => replayer.close());

  it("holds at least one seed", () => {
    assert.ok(files.length > 0);
  });

  for (const file of files) {
    it(`replays ${file} with no failure`, async () => {
      const entry = JSON.parse(readFileSync(`${DIR}${file}`, "utf8")) as {
        seed: number;
        frames: number;
      };
      assert.deepEqual(await replayer.run(entry), []);
    });
  }
});
