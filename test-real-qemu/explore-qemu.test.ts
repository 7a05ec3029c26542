// `cmdqv explore --vmm qemu` and the findings on upstream QEMU 11.1.3 itself: the whole
// one-queue space with HW_QUEUE_ALLOC failing, explored on real QEMU (a process per path),
// finds exactly what docs/findings.md says it finds there; every finding whose entry says
// "reproduced" on real QEMU reproduces with the replay the entry gives (and one that says
// "not reproduced" does not); and the command line prints the explorer's table and writes
// replays that `cmdqv run --replay --vmm qemu` and `cmdqv qtest --vmm qemu` play back.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { exploreQemuOrderings, replayOnQemu } from "../src/explore/qemu-orderings.js";
import { loadReplayFile } from "../src/explore/replay-load.js";
import { startQtestSession } from "../src/real-qemu/in-process.js";
import { qemusStartedBy } from "../src/real-qemu/testkit.js";

const noTicks = () => () => {};
const watchdog = (ms: number, fn: () => void) => {
  const t = setInterval(fn, ms);
  return () => clearInterval(t);
};

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function cmdqv(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ["bin/cmdqv.js", ...args], {
    encoding: "utf8",
    timeout: 300_000,
    ...(input !== undefined ? { input } : {}),
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("cmdqv explore on real QEMU 11.1.3", () => {
  it("explores every order of one queue's steps with HW_QUEUE_ALLOC failing and finds finding 2's silent hang, and nothing else", async () => {
    const r = await exploreQemuOrderings({
      ticker: noTicks,
      watchdog,
      queues: 1,
      extras: [],
      faults: true,
      faultSites: ["hw_queue_alloc:obj_alloc"],
      jobs: 2,
    });
    assert.equal(r.complete, true);
    // 720 orders; those that allocate once branch on "does that allocation fail".
    assert.ok(r.paths > 720, `${r.paths} paths`);
    assert.match(r.qemu, /^QEMU .*11\.1\.3/);
    assert.deepEqual(
      r.violations.map((v) => v.invariant),
      ["no-silent-hang"],
    );
    assert.deepEqual(r.violations[0]!.replay.steps, [
      "BASE_L0",
      "BASE_H0",
      "ALLOC0",
      "ENABLE0",
      "CMDQV_EN",
      "VINTF_EN [fail hw_queue_alloc:obj_alloc (call 31)]",
      "SYNC0",
    ]);
    const script = r.runs.get("no-silent-hang")!.script;
    assert.ok(script.includes("cmdqv_fault hw_queue_alloc:obj_alloc 1"));
    assert.ok(
      script.indexOf("cmdqv_fault hw_queue_alloc:obj_alloc 1") <
        script.indexOf("writel 0xc081000 0x20001"),
      "the fault is armed before VINTF_EN's write",
    );
  });
});

/** Each finding of docs/findings.md: its title, its real-QEMU verdict, its replays there. */
function findingsOnQemu(): {
  title: string;
  reproduced: boolean;
  invariants: string[];
  replays: string[];
}[] {
  const text = readFileSync("docs/findings.md", "utf8");
  const out = [];
  for (const section of text.split(/^## /m).slice(1)) {
    const title = section.split("\n")[0]!;
    const verdict = /\*\*Real QEMU 11\.1\.3:\*\* (reproduced|not reproduced)/.exec(section);
    if (!verdict) continue;
    // The bullet: its line and the continuation lines up to the next bullet.
    const at = section.indexOf("**Replay on real QEMU:**");
    assert.ok(at >= 0, `${title}: no "Replay on real QEMU" line`);
    const bullet = section.slice(at).split(/\n- /)[0]!;
    const inv = /\*\*Invariants?:\*\* ([^.]+)\./.exec(section);
    out.push({
      title,
      reproduced: verdict[1] === "reproduced",
      invariants: (inv?.[1] ?? "").split(/,\s*/).filter((x) => x !== ""),
      replays: [
        ...bullet.matchAll(/docs\/(?:findings|upstream-reports)\/[\w./-]+\.(?:json|qtest)/g),
      ].map((m) => m[0]),
    });
  }
  return out;
}

describe("the findings on upstream QEMU 11.1.3", () => {
  const findings = findingsOnQemu();

  it("gives every finding of docs/findings.md a verdict on real QEMU and a replay that runs there", () => {
    const titles = readFileSync("docs/findings.md", "utf8")
      .split("\n")
      .filter((l) => /^## \d+\./.test(l));
    assert.equal(findings.length, titles.length, "one verdict per numbered finding");
    for (const f of findings) {
      assert.ok(f.replays.length > 0, `${f.title}: no replay`);
      for (const r of f.replays) assert.ok(existsSync(r), `${f.title}: ${r} does not exist`);
    }
  });

  for (const f of findings)
    it(`${f.reproduced ? "reproduces" : "does not reproduce"} finding ${f.title.split(".")[0]} on real QEMU, as the docs say`, async () => {
      for (const path of f.replays) {
        if (path.endsWith(".json")) {
          const file = loadReplayFile(path);
          assert.ok(file.ok && file.value.mode === "orderings", path);
          const out = await replayOnQemu(file.value.steps, { ticker: noTicks, watchdog });
          const got = out.violations.some((v) => v.invariant === file.value.invariant);
          assert.equal(
            got,
            f.reproduced,
            `${path}: ${out.violations.map((v) => v.message).join("; ")}`,
          );
        } else {
          const lines = readFileSync(path, "utf8")
            .split("\n")
            .filter((l) => l.trim() !== "");
          const s = await startQtestSession({ ticker: noTicks });
          try {
            for (const l of lines) await s.send(l);
          } finally {
            await s.dispose();
          }
          const got = s.relay.checker.violations().map((v) => v.invariant);
          for (const inv of f.invariants)
            assert.equal(
              got.includes(inv as never),
              f.reproduced,
              `${path}: ${inv} (${got.join(", ")})`,
            );
        }
      }
    });
});

describe("the cmdqv explore --vmm qemu command", () => {
  it("prints the explorer's table, writes a replay and a qtest script per violated invariant, and both play back", () => {
    const out = mkdtempSync(join(tmpdir(), "cmdqv-explore-qemu-"));
    made.push(out);
    const r = cmdqv([
      "explore",
      "--vmm",
      "qemu",
      "--queues",
      "1",
      "--fault-sites",
      "hw_queue_alloc:obj_alloc",
      "--max-paths",
      "8",
      "--out",
      out,
    ]);
    assert.equal(r.code, 1, r.err);
    for (const row of [
      /^vmm\s+QEMU .*11\.1\.3/m,
      /^paths\s+8$/m,
      /^QEMU processes\s+8 \(one per path\)$/m,
      /^space\s+cut by --max-paths$/m,
      /^hw-queues-match\s+ok$/m,
      /^no-silent-hang\s+VIOLATED in \d+ runs$/m,
    ])
      assert.match(r.out, row);
    const json = join(out, "qemu-no-silent-hang.json");
    const qtest = join(out, "qemu-no-silent-hang.qtest");
    assert.ok(r.out.includes(`replay: npx cmdqv run --replay ${json} --vmm qemu`), r.out);
    const replay = cmdqv(["run", "--replay", json]);
    assert.equal(replay.code, 1, replay.err);
    assert.match(replay.out, /^reproduced on real QEMU: no-silent-hang$/m);
    // The script alone: the relay judges the host side; the guest's hang shows in its reads.
    const played = cmdqv(["qtest", "--vmm", "qemu"], readFileSync(qtest, "utf8"));
    assert.equal(played.code, 0, played.err);
    const replies = played.out.trim().split("\n");
    assert.equal(replies.length, readFileSync(qtest, "utf8").trim().split("\n").length);
    assert.ok(
      replies.every((l) => l.startsWith("OK")),
      played.out,
    );
  });

  it("stops at Ctrl-C after the paths in hand, prints the table so far, exits 130 and leaves no QEMU", async () => {
    const out = mkdtempSync(join(tmpdir(), "cmdqv-explore-qemu-"));
    made.push(out);
    const child = spawn(
      process.execPath,
      ["bin/cmdqv.js", "explore", "--vmm", "qemu", "--queues", "1", "--jobs", "2", "--out", out],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let text = "";
    child.stdout.on("data", (d) => {
      text += d;
    });
    child.stderr.on("data", (d) => {
      text += d;
    });
    await new Promise((r) => setTimeout(r, 4000));
    child.kill("SIGINT");
    const code = await new Promise<number | null>((r) => child.on("close", r));
    assert.equal(code, 130, text);
    assert.match(text, /^space\s+stopped at Ctrl-C$/m);
    assert.match(text, /stopped at Ctrl-C; the table covers the paths run/);
    // Every QEMU that run started carries its pid in CMDQV_PARENT_PID.
    const left = qemusStartedBy(child.pid!);
    assert.deepEqual(left, [], "no QEMU of that run is left");
  });
});
