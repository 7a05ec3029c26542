// `cmdqv qtest`'s console, --log, --trace, --qtest-log and terminal behaviour, run in
// process through the command's I/O seam (QtestIo), plus a few spawned command lines.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { describe, it } from "node:test";
import { modelSide } from "../differential/sides.js";
import {
  ALLOC_ERROR_TEXT,
  CMDQV_2BYTE,
  READW_CMDQV,
  READW_SMMU,
  REFUSED_ALLOC,
  SMMU_2BYTE,
} from "../qtest/console-testkit.js";
import { TRACE_EVENT_NAMES } from "../trace/events.js";
import { fromJsonl } from "../trace/jsonl.js";
import { QEMU_PREFIX } from "../vmm/console.js";
import { cmdqv, scratchDirs } from "./cli-testkit.js";
import { logHelpText, parseLogItems } from "./log-flag.js";
import { UsageError } from "./options.js";
import { type QtestFlags, type QtestIo, qtestCommand } from "./qtest-cmd.js";

const scratch = scratchDirs("qtest-console");

/** Run `cmdqv qtest` in process on `lines`, stdin a pipe unless `tty`. */
async function qtest(
  f: QtestFlags,
  lines: readonly string[],
  o: { tty?: boolean; seconds?: () => number } = {},
): Promise<{ code: number; out: string[]; err: string[] }> {
  const input = new PassThrough();
  let out = "";
  const output = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString("latin1");
      done();
    },
  });
  let err = "";
  const io: QtestIo = {
    isatty: () => o.tty ?? false,
    stdin: () => input,
    stdout: () => output,
    stderr: (t) => {
      err += t;
    },
    fds: false,
    seconds: o.seconds ?? (() => 0),
  };
  input.end(lines.map((l) => `${l}\n`).join(""));
  const code = await qtestCommand({ profile: "qemu-11.1", ...f }, io);
  const split = (s: string) => (s === "" ? [] : s.replace(/\n$/, "").split("\n"));
  return { code, out: split(out), err: split(err) };
}

const ALLOC_ERROR = `${QEMU_PREFIX}${ALLOC_ERROR_TEXT}`;

describe("cmdqv qtest's console (the model VMM)", () => {
  it("prints a 2-byte CMDQV read's LOG_INVALID_MEM line on stderr only with --log invalid_mem", async () => {
    assert.deepEqual((await qtest({}, [READW_CMDQV])).err, []);
    assert.deepEqual((await qtest({ log: "guest_errors" }, [READW_CMDQV])).err, []);
    const r = await qtest({ log: "invalid_mem" }, [READW_CMDQV]);
    assert.deepEqual(r.err, [CMDQV_2BYTE]);
    assert.deepEqual(r.out, ["OK 0x0000000000000000"], "stdout stays the protocol's");
  });

  it("prints a 2-byte SMMUv3 read's guest error on stderr only with --log guest_errors", async () => {
    assert.deepEqual((await qtest({ log: "unimp,invalid_mem" }, [READW_SMMU])).err, []);
    assert.deepEqual((await qtest({ log: "guest_errors" }, [READW_SMMU])).err, [SMMU_2BYTE]);
    assert.deepEqual((await qtest({ log: "all" }, [READW_SMMU, READW_CMDQV])).err, [
      SMMU_2BYTE,
      CMDQV_2BYTE,
    ]);
  });

  it("prints a refused HW queue allocation's error_report line always, after QEMU's program name", async () => {
    for (const log of [undefined, "guest_errors"]) {
      const r = await qtest(log === undefined ? {} : { log }, [...REFUSED_ALLOC, READW_CMDQV]);
      assert.deepEqual(r.err, [ALLOC_ERROR], `--log ${log}`);
    }
  });

  it("prints, with every item on, the console the differential holds against real QEMU's stderr", async () => {
    const script = [READW_SMMU, ...REFUSED_ALLOC, READW_CMDQV, "readl 0x0c080003"];
    const r = await qtest({ log: "all" }, script);
    const side = modelSide("qemu-11.1");
    const expected = [...side.realize().console];
    for (const l of script) expected.push(...(await side.step(l)).console);
    await side.dispose();
    assert.ok(expected.length >= 4, expected.join("\n"));
    assert.deepEqual(
      r.err.map((l) => (l.startsWith(QEMU_PREFIX) ? l.slice(QEMU_PREFIX.length) : l)),
      expected,
    );
  });

  it("refuses an unknown --log item with the accepted ones, and lists them for help as -d help", () => {
    assert.throws(
      () => parseLogItems("guest_errors,bogus"),
      (e: unknown) =>
        e instanceof UsageError &&
        e.message ===
          '--log: unknown log item "bogus" (one of: unimp, guest_errors, invalid_mem, all, help)',
    );
    assert.throws(() => parseLogItems("guest_errors,"), UsageError);
    assert.deepEqual(logHelpText().split("\n").slice(0, 2), [
      "Log items (comma separated):",
      `${"unimp".padEnd(15)} log unimplemented functionality`,
    ]);
  });
});

describe("cmdqv qtest --trace", () => {
  it("prints the events its patterns turn on, in order, QEMU's log-backend lines for QEMU's events", async () => {
    const r = await qtest(
      { trace: ["tegra241_cmdqv_*_mmio", "enable=-tegra241_cmdqv_read_mmio"] },
      ["writel 0x0c080000 0x00020083", "readl 0x0c080000", "readl 0x0c000000"],
    );
    assert.deepEqual(r.err, ["tegra241_cmdqv_write_mmio offset: 0x0 val: 0x20083 size: 0x4"]);
    const all = await qtest({ trace: ["tegra241_cmdqv_*_mmio"] }, ["readl 0x0c080000"]);
    assert.deepEqual(all.err, ["tegra241_cmdqv_read_mmio offset: 0x0 val: 0x20083 size: 0x4"]);
  });

  it("prints other events as name key=value", async () => {
    const r = await qtest({ trace: ["smmuv3_read_mmio"] }, ["readl 0x0c000000"]);
    assert.equal(r.err.length, 1);
    assert.match(r.err[0] ?? "", /^smmuv3_read_mmio( \w+=\S+)+$/);
  });

  it("warns in QEMU's words about a name that is no event, and goes on", async () => {
    const r = await qtest({ trace: ["smmuv3_raed_mmio", "vfio_*"] }, ["endianness"]);
    assert.equal(r.code, 0);
    assert.deepEqual(r.err, [
      "cmdqv: warning: trace event 'smmuv3_raed_mmio' does not exist",
      "cmdqv: warning: trace pattern 'vfio_*' matches no event",
    ]);
    assert.deepEqual(r.out, ["OK little"]);
  });

  it("reads patterns from events=FILE, skipping comments, and names the file and line it warns about", async () => {
    const dir = scratch();
    const events = join(dir, "events");
    writeFileSync(events, "# the CMDQV writes\n\ntegra241_cmdqv_write_mmio\nno_such_event\n");
    const r = await qtest({ trace: [`events=${events}`] }, ["writel 0x0c080000 0x1"]);
    assert.deepEqual(r.err, [
      `cmdqv: ${events}:4: warning: trace event 'no_such_event' does not exist`,
      "tegra241_cmdqv_write_mmio offset: 0x0 val: 0x1 size: 0x4",
    ]);
  });

  it("writes JSON Lines to file=FILE: the matching events only, every event with no pattern", async () => {
    const dir = scratch();
    const some = join(dir, "some.jsonl");
    const all = join(dir, "all.jsonl");
    const script = ["writel 0x0c080000 0x00020083", "readl 0x0c000000"];
    const r = await qtest({ trace: [`enable=tegra241_cmdqv_write_mmio,file=${some}`] }, script);
    assert.deepEqual(r.err, [], "nothing on stderr");
    const picked = fromJsonl(readFileSync(some, "utf8"));
    assert.deepEqual(picked.errors, []);
    assert.deepEqual(
      picked.events.map((e) => [e.name, e.args["offset"]]),
      [["tegra241_cmdqv_write_mmio", 0]],
    );
    await qtest({ trace: [`file=${all}`] }, script);
    const every = fromJsonl(readFileSync(all, "utf8")).events;
    const names = new Set(every.map((e) => e.name));
    for (const n of ["tegra241_cmdqv_init_regs", "tegra241_cmdqv_write_mmio", "smmuv3_read_mmio"])
      assert.ok(names.has(n), n);
    for (const n of names) assert.ok(TRACE_EVENT_NAMES.includes(n), `${n} is a catalogued event`);
  });
});

describe("cmdqv qtest --qtest-log", () => {
  it("writes every line in and out with its time since the session opened, as QEMU's -qtest-log", async () => {
    const dir = scratch();
    const file = join(dir, "qtest.log");
    let t = 5;
    const seconds = () => {
      t += 0.5;
      return t;
    };
    const r = await qtest({ qtestLog: file }, ["endianness", "readb 0x40000000"], { seconds });
    assert.deepEqual(r.out, ["OK little", "OK 0x0000000000000000"]);
    assert.equal(
      readFileSync(file, "utf8"),
      [
        "[I 0.500000] OPENED",
        "[R +1.000000] endianness",
        "[S +1.500000] OK little",
        "[R +2.000000] readb 0x40000000",
        "[S +2.500000] OK 0x0000000000000000",
        "[I +3.000000] CLOSED",
        "",
      ].join("\n"),
    );
  });
});

describe("cmdqv qtest on a terminal and on a pipe", () => {
  it("on a terminal, says what it is on stderr and answers help with one line per command", async () => {
    const r = await qtest({}, ["help", "readb 0x40000000"], { tty: true });
    assert.equal(r.err.length, 1);
    assert.match(
      r.err[0] ?? "",
      /^cmdqv qtest: QEMU's qtest protocol on the model VMM \(profile qemu-11\.1, 1 GiB RAM, 2 VCMDQs\); type 'help' for the commands/,
    );
    const help = r.out.slice(0, -1);
    for (const c of [
      "readl",
      "writeq",
      "clock_step",
      "irq_intercept_in",
      "cmdqv_info",
      "cmdqv_vmm_log",
    ])
      assert.equal(help.filter((l) => l.startsWith(`${c} `)).length, 1, c);
    assert.equal(r.out.at(-1), "OK 0x0000000000000000");
  });

  it("on a pipe, prints nothing extra and answers help as QEMU answers an unknown command", async () => {
    const r = await qtest({}, ["help"]);
    assert.deepEqual(r.err, []);
    assert.deepEqual(r.out, ["FAIL Unknown command 'help'"]);
  });
});

describe("the --log and --trace command lines", () => {
  it("list the log items and the trace events for help, and exit 0", () => {
    const log = cmdqv(["qtest", "--log", "help"]);
    assert.equal(log.code, 0, log.err);
    assert.equal(log.out, logHelpText());
    const trace = cmdqv(["run", "--trace", "help"]);
    assert.equal(trace.code, 0, trace.err);
    assert.deepEqual(trace.out.trimEnd().split("\n"), [...TRACE_EVENT_NAMES]);
  });

  it("refuse an unknown log item, an unknown trace key and the old --trace FILE with one line, exit 2", () => {
    for (const [args, message] of [
      [["qtest", "--log", "nope"], /^cmdqv: --log: unknown log item "nope" \(one of: .*\)\n$/],
      [["run", "--trace", "output=x"], /^cmdqv: --trace: unknown key "output" in "output=x"/],
      [
        ["run", "--invalidations", "1", "--trace", "out.jsonl"],
        /^cmdqv: --trace out\.jsonl: a trace file is --trace file=out\.jsonl/,
      ],
      [["qtest", "--vmm", "qemu", "--log", "unimp"], /^cmdqv: --log needs --vmm model\n$/],
      [["qtest", "--log", ""], /^cmdqv: --log: expected a value, got ""\n$/],
      [["qtest", "--qtest-log", ""], /^cmdqv: --qtest-log: expected a value, got ""\n$/],
      [
        ["qtest", "--qtest-log", "/nonexistent/q.log"],
        /^cmdqv: --qtest-log: cannot write "\/nonexistent\/q\.log" \(ENOENT\)\n$/,
      ],
    ] as const) {
      const r = cmdqv([...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, message);
    }
  });

  it("run --log prints the run's VMM console live on stderr, as QEMU's -d would", () => {
    const quiet = cmdqv(["run", "scenarios/registers.yaml"]);
    assert.equal(quiet.code, 0, quiet.err);
    assert.doesNotMatch(quiet.err, /qemu-system-aarch64: /);
    const r = cmdqv(["run", "scenarios/registers.yaml", "--log", "unimp"]);
    assert.equal(r.code, 0, r.err);
    const lines = r.err.trimEnd().split("\n");
    assert.ok(lines.includes("tegra241_cmdqv_writel_mmio unhandled write access at 0x4"), r.err);
    assert.ok(lines.includes(`${QEMU_PREFIX}IOMMU_HW_QUEUE_ALLOC failed: Invalid argument`), r.err);
  });
});
