import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { UsageError } from "./options.js";
import { DEFAULT_TRACE, qemuTracePatterns, traceLine, traceSpec } from "./trace-flag.js";

const NAMES = ["smmuv3_read_mmio", "smmuv3_write_mmio", "tegra241_cmdqv_read_mmio"];

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
function file(text: string): string {
  const d = mkdtempSync(join(tmpdir(), "cmdqv-trace-flag-"));
  made.push(d);
  const p = join(d, "events");
  writeFileSync(p, text);
  return p;
}

function spec(values: string[]) {
  const warnings: string[] = [];
  const s = traceSpec(values, (w) => warnings.push(w), NAMES);
  return {
    rules: s?.rules.map((r) => `${r.enable ? "" : "-"}${r.pattern}`),
    file: s?.file,
    warnings,
  };
}

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
  return "(accepted)";
}

describe("--trace values (QEMU's -trace syntax)", () => {
  it("take a bare pattern as enable=, more patterns after commas, and keys combined with commas", () => {
    assert.deepEqual(spec(["smmuv3_*", "enable=-smmuv3_write_mmio,tegra*"]), {
      rules: ["smmuv3_*", "-smmuv3_write_mmio", "tegra*"],
      file: undefined,
      warnings: [],
    });
    assert.deepEqual(spec(["enable=smmuv3_read_mmio,file=out.jsonl"]), {
      rules: ["smmuv3_read_mmio"],
      file: "out.jsonl",
      warnings: [],
    });
  });

  it("turn every event on when only file= is given", () => {
    assert.deepEqual(spec(["file=out.jsonl"]).rules, ["*"]);
  });

  it("read events=FILE a pattern a line, skipping empty and # lines, warning with FILE:LINE", () => {
    const p = file("# mine\n\n  smmuv3_*  \n-smmuv3_write_mmio\nnope\r\n");
    assert.deepEqual(spec([`events=${p}`, "tegra241_cmdqv_read_mmio"]), {
      rules: ["smmuv3_*", "-smmuv3_write_mmio", "nope", "tegra241_cmdqv_read_mmio"],
      file: undefined,
      warnings: [`${p}:5: warning: trace event 'nope' does not exist`],
    });
    assert.deepEqual(
      spec([`events=${file("# nothing\n")}`]).rules,
      [],
      "a file of comments turns nothing on",
    );
  });

  it("refuse what QEMU would not parse, a second file, a missing events file and the old --trace FILE, in one line", () => {
    assert.equal(
      refusal(() => spec(["output=x"])),
      '--trace: unknown key "output" in "output=x" (enable=, events=, file=)',
    );
    assert.equal(
      refusal(() => spec(["file=a,b"])),
      '--trace: "b" in "file=a,b" has no key (enable=, events=, file=)',
    );
    assert.equal(
      refusal(() => spec(["enable="])),
      '--trace: enable= needs a value in "enable="',
    );
    assert.equal(
      refusal(() => spec(["file=a.jsonl", "file=b.jsonl"])),
      "--trace: file= given twice (a.jsonl, b.jsonl); one file takes the trace",
    );
    assert.match(
      refusal(() => spec(["events=/nonexistent/ev"])),
      /^--trace events=\/nonexistent\/ev: cannot read it \(ENOENT\)$/,
    );
    const big = file(`${"x\n".repeat(2 ** 19)}y`);
    assert.equal(
      refusal(() => spec([`events=${big}`])),
      `--trace events=${big}: 1048577 bytes, more than a pattern file's 1048576`,
    );
    assert.equal(
      refusal(() => spec(["run.jsonl"])),
      "--trace run.jsonl: a trace file is --trace file=run.jsonl (a bare value is an event pattern)",
    );
  });

  it("go to real QEMU as its own patterns; a bare --trace is the CMDQV and SMMUv3-accel events", () => {
    assert.deepEqual(qemuTracePatterns([DEFAULT_TRACE]), ["tegra241_cmdqv*", "smmuv3_accel*"]);
    assert.deepEqual(qemuTracePatterns([`events=${file("a*\n-ab\n")}`, "c"]), ["a*", "-ab", "c"]);
    assert.equal(qemuTracePatterns(undefined), undefined);
    assert.match(
      refusal(() => qemuTracePatterns(["file=x.jsonl"])),
      /^--trace file=: the JSON Lines trace is our model's/,
    );
  });
});

describe("trace lines on stderr", () => {
  it("print QEMU's line for QEMU's events and name key=value for the others, quoting what has spaces", () => {
    assert.equal(
      traceLine({
        t: 0,
        actor: "vmm.cmdqv",
        name: "tegra241_cmdqv_write_mmio",
        args: { offset: 0x200, val: "0x1", size: 4 },
      }),
      "tegra241_cmdqv_write_mmio offset: 0x200 val: 0x1 size: 0x4",
    );
    assert.equal(
      traceLine({
        t: 0,
        actor: "host.kernel",
        name: "IOMMU_IOAS_ALLOC",
        args: { ret: "ok", line: "IOAS_ALLOC() = 1", n: null },
      }),
      'IOMMU_IOAS_ALLOC ret=ok line="IOAS_ALLOC() = 1" n=null',
    );
  });

  it("are what cmdqv run --trace PATTERN prints, the chosen events only", () => {
    const r = spawnSync(
      process.execPath,
      ["bin/cmdqv.js", "run", "--invalidations", "20", "--trace", "tegra241_cmdqv_init_regs"],
      { encoding: "utf8", timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("tegra241_"));
    assert.deepEqual(lines, ["tegra241_cmdqv_init_regs register init, param=0x00004011"]);
    assert.doesNotMatch(r.stderr, /^(smmuv3|iommufd|IOMMU)_/m);
  });
});
