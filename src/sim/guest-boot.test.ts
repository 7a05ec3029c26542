// The guest's SMMU + CMDQV bring-up against the device model and the simulated host:
// the exact register order of spec linux §4.4, both VCMDQs up on qemu-latest, and the
// review's Case 2 under qemu-v5 and its fix under qemu-v7 (spec qemu §3.6).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ActorBody, GuestOp } from "../guest/actor.js";
import { workload } from "../guest/workload.js";
import { CMDQV_BASE, SMMU_BASE } from "../machine/testbed.js";
import { TEGRA241_CMDQV_IO_LEN } from "../regs/cmdqv.js";
import { GuestRig } from "./guest-rig.js";

/** Forward an actor's ops unchanged, showing each to `see` first. */
function* tap<R>(body: ActorBody<R>, see: (op: GuestOp) => void): ActorBody<R> {
  let sent: number | bigint | undefined;
  for (;;) {
    const r = body.next(sent);
    if (r.done) return r.value;
    see(r.value);
    sent = yield r.value;
  }
}

const hex = (v: number | bigint) => `0x${v.toString(16)}`;

/**
 * The CMDQV window accesses as "R off" / "W off=val" / "W64 off=val" (offsets from the
 * window), plus the SMMU's CMDQ_PROD writes as "SMMU PROD=val"; consecutive identical
 * reads (polls) collapse into one.
 */
function recorder() {
  const out: string[] = [];
  const see = (op: GuestOp) => {
    if (op.op === "delay") return;
    const inCmdqv = op.addr >= CMDQV_BASE && op.addr < CMDQV_BASE + TEGRA241_CMDQV_IO_LEN;
    const off = op.addr - CMDQV_BASE;
    let s: string | null = null;
    if (inCmdqv) {
      if (op.op === "read") s = `R ${hex(off)}`;
      else if (op.op === "read64") s = `R64 ${hex(off)}`;
      else if (op.op === "write") s = `W ${hex(off)}=${hex(op.value)}`;
      else s = `W64 ${hex(off)}=${hex(op.value)}`;
    } else if (op.op === "write" && op.addr === SMMU_BASE + 0x98) {
      s = `SMMU PROD=${hex(op.value)}`;
    }
    if (s !== null && !(s.startsWith("R") && out[out.length - 1] === s)) out.push(s);
  };
  return { out, see };
}

/** spec linux §4.4 for N=2 LVCMDQs and 16 SIDs, written out from the table. */
function expectedReset(qBase: readonly bigint[]): string[] {
  const e: string[] = [];
  const p0 = (l: number, r: number) => hex(0x3_0000 + 0x80 * l + r);
  const p1 = (l: number, r: number) => hex(0x4_0000 + 0x80 * l + r);
  const alloc = (l: number) => hex(0x200 + 4 * l);
  let smmuProd = 4; // CFGI_ALL + sync, TLBI_NSNH_ALL + sync
  const deinit = (l: number) => {
    e.push(`W ${p0(l, 0x08)}=0x0`, `R ${p0(l, 0x0c)}`); // D1
    smmuProd += 2;
    e.push(`SMMU PROD=${hex(smmuProd)}`); // D2: CMD_SYNC(CS_NONE) + the driver's sync
    e.push(`W ${p0(l, 0x04)}=0x0`, `W ${p0(l, 0x00)}=0x0`); // D3
    e.push(`W64 ${p1(l, 0x00)}=0x0`, `W64 ${p1(l, 0x08)}=0x0`); // D4
    e.push(`R ${p0(l, 0x14)}`, `R ${p0(l, 0x10)}`); // D5
  };
  e.push("R 0x0", "W 0x0=0x20082", "R 0x8", "W 0x0=0x20083", "R 0x8"); // R1–R3
  e.push(`W ${alloc(0)}=0x0`, `W ${alloc(1)}=0x2`); // R4
  for (const l of [1, 0]) {
    deinit(l); // V1
    e.push(`R ${alloc(l)}`, `W ${alloc(l)}=${hex(l << 1)}`);
  }
  e.push("W 0x1000=0x0", "R 0x1004"); // V2
  for (let s = 0; s < 16; s++)
    e.push(`W ${hex(0x1040 + 4 * s)}=0x0`, `W ${hex(0x1080 + 4 * s)}=0x0`); // V3
  e.push("W 0x1000=0x20000", "W 0x1000=0x20001", "R 0x1004"); // V4
  e.push("R 0x1000"); // V5
  for (const l of [0, 1]) {
    e.push(`R ${alloc(l)}`, `W ${alloc(l)}=${hex((l << 1) | 1)}`); // M
    deinit(l);
    e.push(`W64 ${p1(l, 0x00)}=${hex(qBase[l] ?? 0n)}`); // I2
    e.push(`W ${p0(l, 0x08)}=0x1`, `R ${p0(l, 0x0c)}`); // I3
  }
  // Then the device's default domain on the main CMDQ: its CD and its STE, each written in
  // two hitless steps, each step a CFGI_CD / CFGI_STE + CMD_SYNC, then arm_smmu_write_ste's
  // PREFETCH_CONFIG with no sync (a real Linux 7.3 boot's CMDQ_PROD goes 0x14 → 0x15).
  for (let i = 0; i < 4; i++) {
    smmuProd += 2;
    e.push(`SMMU PROD=${hex(smmuProd)}`);
  }
  e.push(`SMMU PROD=${hex(smmuProd + 1)}`);
  return e;
}

/**
 * The SMMU register stores of a real Linux 7.3 boot on QEMU 11.1 (its trapped MMIO), from
 * the probe to the first device's STE and PREFETCH_CONFIG: offset as QEMU traces it (page
 * 1 folded onto page 0), size, value with the ring and table addresses masked.
 */
const REAL_SMMU_BRINGUP = [
  ...["0x20 4 0x0", "0x28 4 0xd75", "0x2c 4 0x6"], // disable; CR1, CR2
  ...["0x80 8 0x4000000000000000", "0x88 4 0x10210"], // STRTAB_BASE, _CFG
  ...["0x90 8 0x4000000000000008", "0x98 4 0x0", "0x9c 4 0x0", "0x20 4 0x8"], // CMDQ
  ...["0x98 4 0x2", "0x98 4 0x4"], // CFGI_ALL, TLBI_NSNH_ALL
  ...["0xa0 8 0x4000000000000011", "0xa8 4 0x0", "0xac 4 0x0", "0x20 4 0xc"], // EVTQ
  ...["0x50 4 0x0", "0x68 8 0x0", "0xb0 8 0x0", "0x50 4 0x5", "0x20 4 0xd"], // IRQs, SMMUEN
  ...["0x98 4 0x6", "0x98 4 0x8", "0x98 4 0xa", "0x98 4 0xc"], // the CMDQV's VCMDQ syncs
  ...["0x98 4 0xe", "0x98 4 0x10", "0x98 4 0x12", "0x98 4 0x14", "0x98 4 0x15"], // CD, STE
];

describe("guest bring-up on qemu-latest", () => {
  it("programs the CMDQV in the exact order of spec linux §4.4 (R1–R4, V1–V5, M with D1–D6 and I1–I3)", () => {
    const rig = new GuestRig({ profile: "qemu-latest" });
    const rec = recorder();
    assert.equal(rig.run(tap(rig.smmu.probe(), rec.see)), 0);
    const lv = rig.cmdqv?.vintf0()?.lvcmdqs ?? [];
    const qBase = lv.map((v) => v?.cmdq.q.qBase ?? 0n);
    const start = rec.out.indexOf("R 0x0");
    // Probe read CONFIG and PARAM first; hw_reset starts at the next CONFIG read.
    assert.deepEqual(rec.out.slice(0, 2), ["R 0x0", "R 0x4"]);
    const fromReset = rec.out.slice(rec.out.indexOf("R 0x0", start + 1));
    assert.deepEqual(fromReset, expectedReset(qBase));
  });

  it("programs the SMMU store by store as a real Linux 7.3 boot does, the event queue's PROD/CONS in page 1", () => {
    const rig = new GuestRig({ profile: "qemu-latest", ramPage: "4K" });
    const stores: string[] = [];
    const page1: number[] = [];
    const see = (op: GuestOp) => {
      if (op.op !== "write" && op.op !== "write64") return;
      const off = op.addr - SMMU_BASE;
      if (off < 0 || off >= 0x2_0000) return;
      if (off & 0x1_0000) page1.push(off);
      const v = op.op === "write64" ? op.value & ~0x000f_ffff_ffff_ffe0n : op.value;
      stores.push(`${hex(off & ~0x1_0000)} ${op.op === "write64" ? 8 : op.size} ${hex(v)}`);
    };
    assert.equal(rig.run(tap(rig.smmu.probe(), see)), 0);
    assert.deepEqual(stores, REAL_SMMU_BRINGUP);
    assert.deepEqual(page1, [0x1_00a8, 0x1_00ac]);
  });

  it("brings both VCMDQs up: hardware EN_OK, two host HW queues, the guest filter installed", () => {
    const rig = new GuestRig({ profile: "qemu-latest" });
    assert.equal(rig.boot(), 0);
    const hw = rig.host.hw;
    const queues = rig.machine.cmdqv!.hwQueues();
    assert.equal(queues.length, 2);
    for (const lidx of [0, 1]) {
      const q = Array.from({ length: hw.geometry.numVcmdqs }, (_, i) => hw.vcmdq(i)).find(
        (v) => v.vintf > 0 && v.lvcmdq === lidx,
      );
      assert.ok(q, `LVCMDQ${lidx} mapped in hardware`);
      assert.equal(q.status & 1, 1, `LVCMDQ${lidx} STATUS.CMDQ_EN_OK`);
      const vcmdq = rig.cmdqv?.vintf0()?.lvcmdqs[lidx];
      assert.equal(vcmdq?.enabled, true);
      assert.equal(queues[lidx]?.gpa, vcmdq?.cmdq.q.baseDma);
    }
    const vintf = rig.cmdqv?.vintf0();
    assert.equal(vintf?.enabled, true);
    assert.equal(vintf?.hypOwn, false, "the VMM wires HYP_OWN to 0");
    assert.ok(rig.cmdqv?.vintf0()?.lvcmdqs[0]?.cmdq.supportsCmd, "guest filter installed");
    // The lines and order of a real Linux 7.3 boot on QEMU 11.1 (ring sizes aside).
    assert.deepEqual(rig.dmesg.messages(), [
      "arm-smmu-v3 arm-smmu-v3.0.auto: found companion CMDQV device: NVDA200C:00",
      "arm-smmu-v3 arm-smmu-v3.0.auto: option mask 0x10",
      "arm-smmu-v3 arm-smmu-v3.0.auto: oas 48-bit (features 0x01008305)",
      "arm-smmu-v3 arm-smmu-v3.0.auto: allocated 131072 entries for cmdq",
      "arm-smmu-v3 arm-smmu-v3.0.auto: allocated 131072 entries for evtq",
      "arm-smmu-v3 arm-smmu-v3.0.auto: allocated 131072 entries for vcmdq0",
      "arm-smmu-v3 arm-smmu-v3.0.auto: allocated 131072 entries for vcmdq1",
      "pci 0000:00:01.0: Adding to iommu group 0",
    ]);
  });

  it("sizes the rings from IDR1.CMDQS as the VMM clamps it for the RAM page size", () => {
    const rig = new GuestRig({ profile: "qemu-latest", ramPage: "64K" });
    assert.equal(rig.boot(), 0);
    assert.equal(rig.smmu.cmdqs, 12);
    assert.equal(rig.cmdqv?.vintf0()?.lvcmdqs[1]?.cmdq.q.maxNShift, 12);
    assert.ok(
      rig.dmesg
        .messages()
        .includes("arm-smmu-v3 arm-smmu-v3.0.auto: allocated 4096 entries for vcmdq1"),
    );
  });

  it("falls back to the main CMDQ with disable_cmdqv and clears CONFIG.EN", () => {
    const rig = new GuestRig({ profile: "qemu-latest", cmdqv: { disableCmdqv: true } });
    assert.equal(rig.boot(), 0);
    assert.equal(rig.smmu.impl, null);
    // After "found companion" and "option mask": the impl probe runs after the ACPI probe.
    assert.deepEqual(rig.dmesg.messages().slice(2, 4), [
      "platform NVDA200C:00: tegra241_cmdqv: Detected disable_cmdqv=true",
      "platform NVDA200C:00: tegra241_cmdqv: Falling back to standard SMMU CMDQ",
    ]);
    assert.equal(rig.as.read(CMDQV_BASE, 4) & 1, 0);
    assert.equal(rig.machine.cmdqv!.hwQueues().length, 0);
  });
});

/** A VCMDQ0 ring 4 KiB past a 64 KiB-aligned buffer: the host refuses it (EINVAL). */
const MISALIGNED_VCMDQ0 = { cmdqMaxSzShift: 12, cmdqv: { ringOffsets: [0x1000] } } as const;

describe("the review's Case 2 with a real guest (spec qemu §3.6)", () => {
  it("under qemu-v5 the guest believes VCMDQ0 is up and prints repeated CMD_SYNC timeouts", () => {
    const rig = new GuestRig({ profile: "qemu-v5", ...MISALIGNED_VCMDQ0 });
    assert.equal(rig.boot(), 0, "the probe succeeds: the cache faked EN_OK");
    assert.equal(rig.machine.log.text("error")[0], "IOMMU_HW_QUEUE_ALLOC failed: error -22");
    assert.equal(rig.cmdqv?.vintf0()?.lvcmdqs[0]?.enabled, true);
    const opts = { seed: 3, batches: 1, vsid: 8, kinds: ["TLBI_NH_ASID"] } as const;
    const run = rig.runConcurrent([
      { name: "cpu0", body: workload(rig.smmu, 0, opts) },
      { name: "cpu1", body: workload(rig.smmu, 1, opts) },
    ]);
    assert.equal(run.outcome, "done");
    assert.deepEqual(
      run.results.map((r) => r?.timeouts),
      [1, 1],
    );
    const timeouts = rig.dmesg.messages().filter((m) => m.includes("CMD_SYNC timeout"));
    const line =
      "arm-smmu-v3 arm-smmu-v3.0.auto: CMD_SYNC timeout at 0x00000002 [hwprod 0x00000002, hwcons 0x00000000]";
    assert.deepEqual(timeouts, [line, line]);
    assert.ok(rig.clock.now() >= 1_000_000_000, "each wait gave up after 1 s");
  });

  it("under qemu-v7 the same guest sees VCMDQ0 fail to enable and the SMMU probe fails", () => {
    const rig = new GuestRig({ profile: "qemu-v7", ...MISALIGNED_VCMDQ0 });
    assert.equal(rig.boot(), -110);
    assert.deepEqual(rig.dmesg.messages().slice(-3), [
      "platform NVDA200C:00: tegra241_cmdqv: VINTF0: VCMDQ0/LVCMDQ0: failed to enable, STATUS=0x00000000",
      "platform NVDA200C:00: tegra241_cmdqv: VINTF0: VCMDQ0/LVCMDQ0: GERRORN=0x0, GERROR=0x0, CONS=0x0",
      "arm-smmu-v3 arm-smmu-v3.0.auto: failed to reset impl",
    ]);
    assert.equal(rig.cmdqv?.vintf0()?.enabled, false, "VINTF0 was deinited after the failure");
    assert.equal(rig.machine.cmdqv!.hwQueues().length, 0);
  });
});
