import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { droppedOptions, fragmentLines } from "./guest-fetch.js";
import { type GuestRunResult, kernelCommandLine } from "./guest-run.js";
import { benchRate, formatGuestSummary } from "./summary.js";

const base: GuestRunResult = {
  outcome: "done",
  guestStatus: 0,
  guestErrors: [],
  markers: [],
  serial: [],
  serialDropped: 0,
  qemuConsole: [],
  trapped: [],
  mainCmdq: { SMMU_CMD_SYNC: 5, SMMU_CMD_CFGI_STE: 2 },
  vcmdq: { commands: 10, invalidations: 5, syncs: 5, errors: 0, perQueue: [0, 0, 10] },
  queuesAtUserspace: [{ index: 0, gpa: 0x4093f000, length: 4096 }],
  forwardedInvalidations: 1,
  ioctls: ["A → 0", "B → 0", "B → 0"],
  failedCalls: [],
  hostDmesg: [],
  violations: [],
  userspaceAt: 1.5,
  bench: { from: 2, to: 4, invalidations: 600 },
  qemuExit: null,
};

describe("the real guest's summary", () => {
  test("the benchmark's rate is its invalidations over the guest time between its markers", () => {
    assert.equal(benchRate(base), 300);
    assert.equal(benchRate({ ...base, bench: null }), null);
    assert.equal(benchRate({ ...base, bench: { from: 3, to: 3, invalidations: 5 } }), null);
  });

  test("it says where the commands went, the HW queues, the host log and each invariant", () => {
    const s = formatGuestSummary(base, { wallSeconds: 9, timeoutS: 600 });
    assert.match(s, /\/init finished with status 0/);
    assert.match(s, /VCMDQ0 gpa=0x4093f000 4 KiB/);
    assert.match(s, /no VM exit: 10 \(invalidations 5, CMD_SYNC 5, errors 0; host VCMDQ2 10\)/);
    assert.match(s, /trapped by QEMU: 7 \(SYNC 5, CFGI_STE 2\); forwarded .*: 1/);
    assert.match(s, /600 invalidations through the VCMDQs in 2\.00 s .*\(300\/s\)/);
    assert.match(s, / {2}B → 0 {3}\(×2\)/);
    assert.match(s, /invariant hw-queues-match: held/);
    assert.doesNotMatch(s, /no-silent-hang/);
  });

  test("a timeout, a guest error and a violation are all named", () => {
    const s = formatGuestSummary(
      {
        ...base,
        outcome: "timeout",
        guestErrors: ["no IOMMU group"],
        violations: [{ invariant: "no-leak", t: 0, message: "obj7 kept" }],
      },
      { wallSeconds: 600, timeoutS: 600 },
    );
    assert.match(s, /did not finish within 600 s/);
    assert.match(s, /guest error: no IOMMU group/);
    assert.match(s, /invariant no-leak: VIOLATED: obj7 kept/);
  });
});

describe("the kernel's command line and configuration", () => {
  test("the command line carries the console, ACPI, the driver's debug lines and the workload", () => {
    const c = kernelCommandLine({ switches: 3, benchSeconds: 0, append: "quiet" });
    assert.match(c, /^console=ttyAMA0 acpi=force rdinit=\/init /);
    assert.match(c, /dyndbg="file tegra241-cmdqv.c \+p"/);
    assert.match(c, /cmdqv.switches=3 cmdqv.bench_seconds=0 quiet$/);
  });

  test("a fragment line Kconfig did not keep is reported by name", () => {
    const frag = fragmentLines("# comment\nCONFIG_A=y\n\nCONFIG_B=y\n");
    assert.deepEqual(frag, ["CONFIG_A=y", "CONFIG_B=y"]);
    assert.deepEqual(droppedOptions(frag, "CONFIG_A=y\n# CONFIG_B is not set\n"), ["CONFIG_B=y"]);
  });
});
