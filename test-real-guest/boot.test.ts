// A real Linux kernel (7.3, built by `cmdqv guest fetch`) on real QEMU 11.1 on the
// simulated Grace host, through `cmdqv qemu --guest linux --json`: Linux's own arm-smmu-v3
// and tegra241-cmdqv drivers find the CMDQV through ACPI, bring up VINTF0 and its VCMDQs,
// and the DMA map benchmark's invalidations are consumed by the simulated hardware with no
// VM exit. Then the review's Case 2 (a host failure at HW_QUEUE_ALLOC) with the real guest.
// Needs the fetched QEMU and guest (`cmdqv qemu fetch`, `cmdqv guest fetch`).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";

interface Run {
  status: number | null;
  stderr: string;
  r: {
    outcome: string;
    guestStatus: number | null;
    guestErrors: string[];
    serial: string[];
    qemuConsole: string[];
    trapped: { device: string; offset: number; value: string; size: number }[];
    mainCmdq: Record<string, number>;
    vcmdq: { commands: number; invalidations: number; syncs: number; errors: number };
    queuesAtUserspace: { index: number; gpa: number; length: number }[];
    ioctls: string[];
    failedCalls: string[];
    violations: { invariant: string; message: string }[];
    userspaceAt: number | null;
    bench: { from: number; to: number; invalidations: number } | null;
    qemuExit: string | null;
  };
}

/** The temp entries a run may make (QEMU's and the host's private dirs). */
const ours = () => readdirSync(tmpdir()).filter((n) => n.startsWith("cmdqv-"));

function guest(args: string[]): Run {
  const p = spawnSync(
    process.execPath,
    ["bin/cmdqv.js", "qemu", "--guest", "linux", "--json", "--timeout", "300", ...args],
    { encoding: "utf8", timeout: 400_000, maxBuffer: 256 * 1024 * 1024 },
  );
  assert.ok(p.stdout.trim().length > 0, `no JSON on stdout; stderr:\n${p.stderr}`);
  return { status: p.status, stderr: p.stderr, r: JSON.parse(p.stdout) as Run["r"] };
}

const has = (lines: readonly string[], re: RegExp) => lines.some((l) => re.test(l));

describe("a real Linux guest's tegra241-cmdqv driver on cmdqv's CMDQV", () => {
  let run: Run;
  let tempBefore: string[];
  before(() => {
    tempBefore = ours();
    run = guest(["--switches", "2", "--bench-seconds", "1"]);
  });

  it("boots to userspace, runs the workload and powers off: /init status 0, QEMU exits 0", () => {
    assert.equal(run.r.outcome, "done", run.stderr);
    assert.equal(run.r.guestStatus, 0, run.r.guestErrors.join("; "));
    assert.equal(run.r.qemuExit, null);
    assert.equal(run.status, 0);
    assert.ok(run.r.userspaceAt !== null && run.r.userspaceAt > 0);
  });

  it("the guest's dmesg shows arm-smmu-v3 finding the CMDQV and the driver bringing up VINTF0's VCMDQs", () => {
    const s = run.r.serial;
    assert.ok(has(s, /arm-smmu-v3 .*: found companion CMDQV device: NVDA200C:00/), "companion");
    assert.ok(has(s, /arm-smmu-v3 .*: allocated \d+ entries for vcmdq0/), "vcmdq0 ring");
    assert.ok(has(s, /arm-smmu-v3 .*: allocated \d+ entries for vcmdq1/), "vcmdq1 ring");
    // The driver's own dev_dbg lines (dynamic debug on for its file): each LVCMDQ
    // allocated, mapped into VINTF0 and enabled ("inited" once EN_OK is seen).
    for (const q of ["VCMDQ0/LVCMDQ0", "VCMDQ1/LVCMDQ1"])
      for (const step of ["allocated", "mapped", "inited"])
        assert.ok(has(s, new RegExp(`tegra241_cmdqv: VINTF0: ${q}: ${step}$`)), `${q} ${step}`);
    assert.ok(!has(s, /tegra241_cmdqv.*failed/), "no failure line");
    assert.ok(has(s, /pci 0000:02:00\.0: Adding to iommu group/), "the device is behind the SMMU");
  });

  it("the host allocated one HW queue for each VCMDQ the guest enabled, at the ring the guest programmed", () => {
    const q = run.r.queuesAtUserspace;
    assert.deepEqual(
      q.map((x) => x.index),
      [0, 1],
    );
    const bases = run.r.trapped
      .filter((w) => w.device === "cmdqv" && (w.offset === 0x4_0000 || w.offset === 0x4_0080))
      .map((w) => BigInt(w.value))
      .filter((v) => v !== 0n);
    for (const x of q) {
      const base = bases.find((b) => Number(b & 0xffff_ffff_ffe0n) === x.gpa);
      assert.ok(base !== undefined, `VCMDQ${x.index} at ${x.gpa.toString(16)} was programmed`);
      assert.equal(x.length, 2 ** (Number(base & 0x1fn) + 4));
    }
  });

  it("the workload's invalidations went through the VCMDQs, consumed by the hardware with no VM exit", () => {
    const b = run.r.bench;
    assert.ok(b !== null && b.invalidations > 0, "the benchmark's unmaps invalidated");
    assert.ok(run.r.vcmdq.invalidations >= b.invalidations);
    assert.ok(run.r.vcmdq.syncs > 0);
    assert.equal(run.r.vcmdq.errors, 0);
    // The VCMDQ takes TLBI_NH_VA: none reaches the trapped main CMDQ.
    assert.equal(run.r.mainCmdq["SMMU_CMD_TLBI_NH_VA"], undefined);
    // The trapped queue still carries what a guest VCMDQ does not take (CFGI_*).
    assert.ok((run.r.mainCmdq["SMMU_CMD_CFGI_STE"] ?? 0) > 0);
  });

  it("no invariant is violated, during the run or at QEMU's exit", () => {
    assert.deepEqual(run.r.violations, []);
  });

  it("the model guest programs the CMDQV in Linux's order, store by store (ring addresses aside)", () => {
    const dir = mkdtempSync(join(tmpdir(), "cmdqv-model-"));
    try {
      const trace = join(dir, "t.jsonl");
      const m = spawnSync(
        process.execPath,
        [
          ...["bin/cmdqv.js", "run", "--ram-page", "4K", "--invalidations", "100"],
          ...["--trace", `file=${trace}`],
        ],
        { encoding: "utf8" },
      );
      assert.equal(m.status, 0, m.stderr);
      const model = readFileSync(trace, "utf8")
        .split("\n")
        .filter((l) => l.includes('"tegra241_cmdqv_write_mmio"'))
        .map((l) => {
          const a = (JSON.parse(l) as { args: { offset: number; val: string; size: number } }).args;
          return norm(a.offset, BigInt(a.val), a.size);
        });
      const real = run.r.trapped
        .filter((w) => w.device === "cmdqv")
        .map((w) => norm(w.offset, BigInt(w.value), w.size));
      assert.ok(model.length > 50, `the model's bring-up has ${model.length} stores`);
      assert.deepEqual(real.slice(0, model.length), model);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("leaves no QEMU and no temp files behind", () => {
    const q = spawnSync("pgrep", ["-f", "qemu-system-aarch64.*vfio-pci,fd=101"], {
      encoding: "utf8",
    });
    assert.equal(q.stdout.trim(), "");
    assert.deepEqual(ours(), tempBefore);
  });
});

/** A store as "offset size value", with a BASE's ring address (bits 47:5) masked. */
function norm(offset: number, value: bigint, size: number): string {
  const base = offset === 0x4_0000 || offset === 0x4_0080;
  const v = base ? value & ~0xffff_ffff_ffe0n : value;
  return `${offset.toString(16)} ${size} ${v.toString(16)}${base && value !== 0n ? " ring" : ""}`;
}

describe("the review's Case 2 with a real guest: the host fails HW_QUEUE_ALLOC", () => {
  let run: Run;
  before(() => {
    run = guest(["--fault", "hw_queue_alloc:obj_alloc", "--switches", "0", "--bench-seconds", "0"]);
  });

  it("QEMU reports the failed IOMMU_HW_QUEUE_ALLOC on its console", () => {
    assert.ok(
      run.r.failedCalls.includes("IOMMU_HW_QUEUE_ALLOC → ENOMEM"),
      run.r.failedCalls.join(),
    );
    assert.ok(has(run.r.qemuConsole, /IOMMU_HW_QUEUE_ALLOC failed: Cannot allocate memory/));
  });

  it("Linux waits out its enable poll and sees STATUS=0 with no error bit: no CMDQ_INIT_ERR reaches it", () => {
    const s = run.r.serial;
    assert.ok(
      has(s, /tegra241_cmdqv: VINTF0: VCMDQ0\/LVCMDQ0: failed to enable, STATUS=0x00000000/),
    );
    assert.ok(has(s, /VCMDQ0\/LVCMDQ0: GERRORN=0x0, GERROR=0x0, CONS=0x0/));
  });

  it("the whole SMMU probe fails with ETIMEDOUT, so the device is left with no IOMMU", () => {
    const s = run.r.serial;
    assert.ok(has(s, /arm-smmu-v3 .*: failed to reset impl/));
    assert.ok(has(s, /probe with driver arm-smmu-v3 failed with error -110/));
    assert.ok(run.r.guestErrors.some((e) => /has no IOMMU group/.test(e)));
    assert.equal(run.r.vcmdq.commands, 0);
  });

  it("the run fails (exit 1) and the host is left empty: no invariant is violated", () => {
    assert.equal(run.status, 1);
    assert.equal(run.r.guestStatus, 1);
    assert.deepEqual(run.r.violations, []);
  });
});

describe("a failed vDEVICE allocation during Linux's SMMU reset wedges its main CMDQ", () => {
  let run: Run;
  before(() => {
    run = guest([
      ...["--fault", "vdevice_alloc:obj_alloc", "--switches", "0", "--bench-seconds", "0"],
      ...["--trace", "smmuv3_cmdq_consume_error", "--trace", "smmuv3_trigger_irq"],
      ...["--trace", "smmuv3_write_gerror"],
    ]);
  });

  it("QEMU turns the host's ENOMEM into an illegal CFGI and sets GERROR.CMDQ_ERR, with no interrupt", () => {
    assert.ok(run.r.failedCalls.includes("IOMMU_VDEVICE_ALLOC → ENOMEM"), run.r.failedCalls.join());
    const q = run.r.qemuConsole;
    assert.ok(has(q, /Error on SMMU_CMD_CFGI_STE_RANGE command execution: 1/));
    assert.ok(has(q, /smmuv3_write_gerror toggled=0x1, new GERROR=0x1/));
    assert.ok(!has(q, /smmuv3_trigger_irq/), "no interrupt is raised for it, then or later");
  });

  it("every later CMD_SYNC on the main CMDQ times out, and Linux never logs a CMDQ error", () => {
    const s = run.r.serial;
    assert.ok(has(s, /CMD_SYNC timeout at 0x[0-9a-f]+ \[hwprod 0x[0-9a-f]+, hwcons 0x01000000\]/));
    assert.ok(!has(s, /CMDQ error/));
    // The VCMDQs are not affected: the guest still boots and finishes.
    assert.equal(run.r.guestStatus, 0);
  });
});
