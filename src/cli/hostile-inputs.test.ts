// Hostile inputs to the cmdqv command, end to end through bin/cmdqv.js: each is refused
// with one line naming the offending value (exit 2) before any work, never a stack trace.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { exploreMachine } from "../explore/explorer.js";
import { buildSteps } from "../explore/orderings.js";
import { cmdqv, scratchDirs } from "./cli-testkit.js";
import { EXIT } from "./exit.js";
import { UNIX_SOCKET_PATH_MAX } from "./options.js";

const scratch = scratchDirs("hostile");

/** Exit 2 with exactly one line on stderr, matching `message`, and no stack trace. */
function refused(r: ReturnType<typeof cmdqv>, message: RegExp | string): void {
  assert.equal(r.code, EXIT.usage, `exit ${r.code}: ${r.err}`);
  const lines = r.err.trim().split("\n");
  assert.equal(lines.length, 1, r.err);
  if (typeof message === "string") assert.equal(lines[0], message);
  else assert.match(lines[0]!, message);
  assert.doesNotMatch(r.err, /\n\s+at /);
}

describe("explore --out that cannot be written", () => {
  const regular = join(scratch(), "a-file");
  writeFileSync(regular, "");
  const cases: [string, string | RegExp][] = [
    ["/dev/null/x", 'cmdqv: --out: cannot make "/dev/null/x": "/dev/null" is not a directory'],
    [regular, `cmdqv: --out: ${JSON.stringify(regular)} is not a directory`],
    [
      join(regular, "sub"),
      `cmdqv: --out: cannot make ${JSON.stringify(join(regular, "sub"))}: ${JSON.stringify(regular)} is not a directory`,
    ],
    ["", 'cmdqv: --out: expected a value, got ""'],
  ];
  // /proc refuses a mkdir with ENOENT, on which Node's recursive mkdir loops forever.
  if (process.platform === "linux")
    cases.push([
      "/proc/cmdqv-x",
      /^cmdqv: --out: cannot make "\/proc\/cmdqv-x": cannot write into "\/proc" \((ENOENT|EACCES)\)$/,
    ]);
  for (const [out, message] of cases)
    it(`refuses --out ${JSON.stringify(out)} before exploring anything`, () => {
      const r = cmdqv(
        ["explore", "--profile", "qemu-v5", "--queues", "1", "--max-paths", "20", "--out", out],
        { timeout: 30_000 },
      );
      refused(r, message);
      assert.equal(r.out, "", "nothing was explored");
    });

  it("refuses an --out that cannot be written before starting real QEMU too", () => {
    refused(
      cmdqv(["explore", "--vmm", "qemu", "--out", "/dev/null/x"]),
      /^cmdqv: --out: cannot make "\/dev\/null\/x"/,
    );
  });

  it("still makes a missing --out, parents and all, when a violation is found", () => {
    const out = join(scratch(), "a", "b");
    const r = cmdqv(["explore", "--profile", "qemu-v5", "--queues", "1", "--json", "--out", out]);
    assert.equal(r.code, EXIT.violation, r.err);
    assert.ok(readdirSync(out).includes("qemu-v5-no-silent-hang.json"));
  });
});

describe("unix socket paths longer than a socket address holds", () => {
  /** A path of exactly `bytes` bytes in a fresh scratch directory. */
  function socketPath(bytes: number): { dir: string; path: string } {
    const dir = scratch();
    const path = join(dir, "s".repeat(bytes - dir.length - 1));
    assert.equal(Buffer.byteLength(path), bytes);
    return { dir, path };
  }

  for (const args of [["qtest"], ["host"], ["qtest", "--vmm", "qemu"]])
    it(`${args.join(" ")} refuses a ${UNIX_SOCKET_PATH_MAX + 1}-byte --socket and binds nothing`, () => {
      const { dir, path } = socketPath(UNIX_SOCKET_PATH_MAX + 1);
      const r = cmdqv([...args, "--socket", path], { timeout: 15_000 });
      refused(
        r,
        `cmdqv: --socket: ${JSON.stringify(path)} is ${UNIX_SOCKET_PATH_MAX + 1} bytes; a unix socket path holds at most ${UNIX_SOCKET_PATH_MAX} (use a shorter or relative path)`,
      );
      assert.deepEqual(readdirSync(dir), [], "no truncated socket file is left");
    });

  it(`qtest serves a ${UNIX_SOCKET_PATH_MAX}-byte --socket under its own name and removes it on a SIGTERM sent as soon as it says it listens`, async () => {
    const { dir, path } = socketPath(UNIX_SOCKET_PATH_MAX);
    // Five times: the signal lands at once, while the server settles in.
    for (let round = 0; round < 5; round++) {
      const child = spawn(process.execPath, ["bin/cmdqv.js", "qtest", "--socket", path], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      let err = "";
      const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
      await new Promise<void>((resolve, reject) => {
        child.stderr.on("data", (d: Buffer) => {
          err += d.toString();
          if (!err.includes("listening on")) return;
          assert.deepEqual(readdirSync(dir), [path.slice(dir.length + 1)]);
          child.kill("SIGTERM");
          resolve();
        });
        child.on("exit", () => reject(new Error(`exited before listening: ${err}`)));
      });
      assert.equal(await exited, 0, `round ${round}: ${err}`);
      assert.deepEqual(readdirSync(dir), [], "the socket file is gone");
    }
  });
});

describe("replay files whose machine fields do not fit together", () => {
  const finding = JSON.parse(
    readFileSync("docs/findings/two-queues/qemu-v7-no-leak.json", "utf8"),
  ) as { machine: Record<string, unknown>; [k: string]: unknown };
  // QEMU 11.1's layout: SMMUv3 at 0x0c00_0000, CMDQV at 0x0c08_0000, RAM at 1 GiB.
  const machine = { ...finding.machine, smmuBase: 0x0c00_0000, cmdqvBase: 0x0c08_0000 };
  const dir = scratch();
  const file = (name: string, f: object): string => {
    const path = join(dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(f));
    return path;
  };
  const orderings = (over: object) => ({ ...finding, machine: { ...machine, ...over } });

  it("replays the finding itself once moved to QEMU 11.1's layout", () => {
    const r = cmdqv(["run", "--replay", file("layout", orderings({}))]);
    assert.equal(r.code, EXIT.violation, r.err);
    assert.match(r.out, /reproduced: no-leak/);
  });

  for (const [name, over, message] of [
    ["vcmdqs 3", { vcmdqs: 3 }, "machine.vcmdqs: expected a power of two from 1 to 128, got 3"],
    ["vcmdqs 0", { vcmdqs: 0 }, "machine.vcmdqs: expected a power of two from 1 to 128, got 0"],
    ["ramSize 0", { ramSize: 0 }, "machine.ramSize: expected 1 byte to 2^46 bytes of RAM, got 0"],
    ["ramSize 1", { ramSize: 1 }, "machine.ramSize: RAM size 0x1 is not a multiple of the 2M page"],
    [
      "an unaligned ramBase",
      { ramBase: 0x4000_1000 },
      "machine.ramBase: RAM base 0x40001000 is not aligned to the 2M page",
    ],
    [
      "RAM over the SMMUv3 window",
      { ramBase: 0x0c00_0000 },
      "machine.smmuBase: the SMMUv3 window [0xc000000, 0xc020000) overlaps RAM [0xc000000, 0x4c000000)",
    ],
    [
      "smmuBase == cmdqvBase",
      { smmuBase: 0x0c08_0000 },
      "machine.cmdqvBase: the CMDQV window [0xc080000, 0xc0d0000) overlaps the SMMUv3 window [0xc080000, 0xc0a0000)",
    ],
  ] as const)
    it(`refuses a replay file with ${name}, naming the field, with exit 2`, () => {
      const path = file(name.replace(/\W+/g, "-"), orderings(over));
      refused(cmdqv(["run", "--replay", path]), `cmdqv: ${path}: ${message}`);
    });

  it("refuses an orderings file exploring more queues than its VINTF has", () => {
    const path = file("queues", { ...orderings({ vcmdqs: 2 }), queues: 4 });
    refused(
      cmdqv(["run", "--replay", path]),
      `cmdqv: ${path}: queues: 4 queues explored, but machine.vcmdqs gives the VINTF 2`,
    );
  });

  it("refuses an interleavings file whose fault plan fails the device's cold-plug", () => {
    const path = file("interleavings", {
      cmdqv_replay: 1,
      mode: "interleavings",
      machine: { ...machine, faultPlan: { kind: "nth", nth: 1 } },
      invalidations: 4,
      vcpus: 2,
      inject: true,
      choices: [],
      invariant: "no-silent-hang",
      message: "",
      steps: [],
    });
    refused(
      cmdqv(["run", "--replay", path]),
      `cmdqv: ${path}: machine.faultPlan: the machine cannot be built under it (IOMMU_IOAS_ALLOC failed: errno 12)`,
    );
  });
});

describe("empty strings for files, paths and names", () => {
  for (const [args, flag] of [
    [["run", "", "--invalidations", "1"], "run <scenario>"],
    [["run", "--replay", ""], "--replay"],
    [["run", "--invalidations", "1", "--trace", ""], "--trace"],
    [["run", "--invalidations", "1", "--perfetto", ""], "--perfetto"],
    [["run", "--profile", ""], "--profile"],
    [["run", "--replay", "x.json", "--vmm", "qemu", "--qemu", ""], "--qemu"],
    [["qtest", "--socket", ""], "--socket"],
    [["qtest", "--vmm", "qemu", "--socket", ""], "--socket"],
    [["host", "--socket", ""], "--socket"],
    [["qemu", "--qemu", ""], "--qemu"],
    [["explore", "--out", ""], "--out"],
    [["explore", "--vmm", "qemu", "--qemu", ""], "--qemu"],
    [["explore", "--extras", ""], "--extras"],
    [["diff", ""], "diff <scripts>"],
    [["diff", "--unmask", ""], "--unmask"],
  ] as const)
    it(`refuses ${args.map((a) => JSON.stringify(a)).join(" ")} instead of taking it for not given`, () => {
      refused(cmdqv([...args], { timeout: 30_000 }), `cmdqv: ${flag}: expected a value, got ""`);
    });
});

describe("explore --jobs and --max-paths", () => {
  const json = (r: ReturnType<typeof cmdqv>) => {
    assert.ok(r.code === EXIT.ok || r.code === EXIT.violation, r.err);
    return JSON.parse(r.out) as { paths: number; workers: number; complete: boolean };
  };
  const explore = (...extra: string[]) =>
    json(cmdqv(["explore", "--queues", "1", "--json", "--out", scratch(), ...extra]));

  it("runs --max-paths paths in all, not --max-paths per worker", () => {
    const o = explore("--jobs", "4", "--max-paths", "50");
    assert.equal(o.paths, 50);
    assert.equal(o.workers, 4);
    assert.equal(o.complete, false);
  });

  it("starts a worker only for a shard with work: no more than there are first steps or paths", () => {
    const firstSteps = buildSteps({
      machine: exploreMachine("qemu-latest", "2M", 1),
      queues: 1,
      extras: [],
      faults: true,
    }).length;
    const all = explore("--jobs", "64");
    assert.equal(all.workers, firstSteps);
    assert.equal(all.complete, true);
    assert.equal(explore("--jobs", "64", "--max-paths", "3").workers, 3);
  });
});

describe("exit statuses", () => {
  it("are each documented in the README's table", () => {
    const readme = readFileSync("README.md", "utf8");
    const table = readme.slice(readme.indexOf("## Exit status"));
    for (const code of Object.values(EXIT))
      assert.match(table, new RegExp(`^\\| ${code} \\| \\S`, "m"), `status ${code}`);
  });

  it("names the flag when machine flags do not fit together", () => {
    refused(
      cmdqv(["run", "--ram-size", "3M", "--invalidations", "1"]),
      "cmdqv: --ram-size: RAM size 0x300000 is not a multiple of the 2M page",
    );
  });

  it("answers an unexpected error with exit 70 and one line asking for a report, the stack only under CMDQV_DEBUG", () => {
    // A thread pool that cannot start a thread: an error no command expects.
    const dir = scratch();
    const preload = join(dir, "no-threads.cjs");
    writeFileSync(
      preload,
      [
        'const wt = require("node:worker_threads");',
        'wt.Worker = class { constructor() { throw new TypeError("no threads here"); } };',
        'require("node:module").syncBuiltinESMExports();',
      ].join("\n"),
    );
    const args = ["explore", "--queues", "1", "--jobs", "2", "--max-paths", "4", "--out", dir];
    const r = cmdqv(args, { node: ["--require", preload] });
    assert.equal(r.code, EXIT.internal, r.err);
    assert.equal(
      r.err,
      "cmdqv: internal error: TypeError: no threads here (a bug in cmdqv: please report it with the command that led to it; CMDQV_DEBUG=1 prints the stack trace)\n",
    );
    const debug = cmdqv(args, {
      node: ["--require", preload],
      env: { ...process.env, CMDQV_DEBUG: "1" },
    });
    assert.equal(debug.code, EXIT.internal);
    assert.match(debug.err, /\nTypeError: no threads here\n\s+at /);
  });
});
