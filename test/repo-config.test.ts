// What a fresh clone and a run leave behind: npm installs without skipping an install
// script nobody reviewed, and the files runs write by default are ignored by git.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

const json = (path: string) => JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;

function ignored(path: string): boolean {
  return spawnSync("git", ["check-ignore", "-q", "--no-index", path]).status === 0;
}

describe("npm install scripts", () => {
  it("are each approved or denied in package.json's allowScripts", () => {
    const lock = json("package-lock.json")["packages"] as Record<string, Record<string, unknown>>;
    const withScripts = Object.entries(lock)
      .filter(([, p]) => p["hasInstallScript"] === true)
      .map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length));
    assert.ok(withScripts.includes("esbuild"), "tsx's esbuild runs an install script");
    const allow = (json("package.json")["allowScripts"] ?? {}) as Record<string, unknown>;
    for (const name of withScripts)
      assert.equal(typeof allow[name], "boolean", `${name} is not in allowScripts`);
  });
});

describe(".gitignore", () => {
  it("covers explore's default replay directory", () => {
    const help = spawnSync(process.execPath, ["bin/cmdqv.js", "explore", "--help"], {
      encoding: "utf8",
      timeout: 60_000,
    }).stdout;
    const out = /--out <dir>[^(]*\(default:\s+"([^"]+)"\)/.exec(help)?.[1];
    assert.ok(out, help);
    assert.ok(ignored(`${out}/qemu-v5-no-silent-hang.json`), out);
  });

  it("covers the files the README's examples write", () => {
    const readme = readFileSync("README.md", "utf8");
    const files = [...readme.matchAll(/--(?:perfetto|trace|out|report) ([\w./-]+)/g)].map(
      (m) => m[1]!,
    );
    assert.ok(files.length > 0, "the README shows a run that writes a file");
    for (const f of files) assert.ok(ignored(f), f);
  });

  it("covers Node's CPU and heap profiles, and not the committed files", () => {
    for (const f of [
      "CPU.20261203.153000.42.0.001.cpuprofile",
      "Heap.1.heapprofile",
      "x.heapsnapshot",
    ])
      assert.ok(ignored(f), f);
    for (const f of [
      "fuzz/corpus/scenario/11.json",
      "docs/scenario.schema.json",
      "scenarios/default.yaml",
    ])
      assert.equal(ignored(f), false, f);
  });
});
