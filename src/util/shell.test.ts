import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import fc from "fast-check";
import { shellWord } from "./shell.js";

describe("shellWord", () => {
  it("leaves a plain path as it is", () => {
    assert.equal(
      shellWord(".cmdqv/replays/qemu-v5-no-leak.json"),
      ".cmdqv/replays/qemu-v5-no-leak.json",
    );
  });

  it("gives back any string, spaces, quotes and newlines included, when a shell reads it", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes("\0")),
        (s) => {
          const out = execFileSync("sh", ["-c", `printf %s ${shellWord(s)}`], { encoding: "utf8" });
          assert.equal(out, s);
        },
      ),
      { numRuns: 40 },
    );
  });
});
