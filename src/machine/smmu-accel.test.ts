// The SMMUv3 accel core on the machine, against what QEMU 11.1.3 does on the same simulated
// host (each expectation below was first seen over qtest with cmdqv_ioctls): the calls at
// realize and reset, the vDEVICE at the first STE install, abort / bypass / stage-1 nested
// HWPTs as the guest's STE says, GBPA writes, the ARM_SMMUV3 vEVENTQ, and the console
// messages and CERROR_ILL of each failure.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SMMU_REG as R } from "../regs/smmuv3.js";
import { type Command, encode } from "../smmu/commands.js";
import { DEFAULT_MACHINE, type MachineConfig } from "./config.js";
import { createMachine, type Machine } from "./machine.js";

const SMMU = DEFAULT_MACHINE.smmuBase;
const SID = DEFAULT_MACHINE.virtSid;
const STRTAB = 0x4100_0000;
const CMDQ = 0x4030_0000;
const CMDQ_LOG2 = 5;
const SYNC: Command = { op: "CMD_SYNC", cs: 0, msh: 3, msiattr: 0xf, msidata: 0, msiaddr: 0n };
/** STE word 0 of an S1-translate STE with its CD table at `ctx`. */
const s1Ste = (ctx: number) => 0xbn | BigInt(ctx);

interface Call {
  readonly call: string;
  readonly args: unknown;
  readonly errno: string | null;
}

class Bench {
  readonly m: Machine;
  private seen = 0;
  private prod = 0;

  constructor(over: Partial<MachineConfig> = {}) {
    const r = createMachine({ ...DEFAULT_MACHINE, profile: "qemu-11.1", ...over });
    assert.ok(r.ok, r.ok ? "" : r.error);
    this.m = r.value;
  }

  /** Host calls since the last take. */
  calls(): Call[] {
    const all = this.m.host.iommufd.log.entries();
    const out = all.slice(this.seen).map((e) => ({
      call: e.call,
      args: e.args,
      errno: e.errno ?? null,
    }));
    this.seen = all.length;
    return out;
  }

  names(): string[] {
    return this.calls().map((c) => (c.errno ? `${c.call} ${c.errno}` : c.call));
  }

  w32(off: number, v: number): void {
    this.m.as.write(SMMU + off, 4, v);
  }

  r32(off: number): number {
    return this.m.as.read(SMMU + off, 4) >>> 0;
  }

  ram64(gpa: number, v: bigint): void {
    this.m.as.write64(gpa, v);
  }

  /** A linear stream table of 2^16 STEs and a 32-entry CMDQ; CR0 as given. */
  setUp(cr0: number): void {
    this.m.as.write64(SMMU + R.STRTAB_BASE, BigInt(STRTAB));
    this.w32(R.STRTAB_BASE_CFG, 16);
    this.m.as.write64(SMMU + R.CMDQ_BASE, BigInt(CMDQ | CMDQ_LOG2));
    this.w32(R.CR0, cr0);
  }

  ste(sid: number, w0: bigint, w1 = 0n): void {
    this.ram64(STRTAB + 64 * sid, w0);
    this.ram64(STRTAB + 64 * sid + 8, w1);
  }

  /** Commands into the ring, then PROD; CONS after. */
  issue(...cmds: Command[]): number {
    for (const c of cmds) {
      const [d0, d1] = encode(c);
      const slot = CMDQ + 16 * (this.prod % 2 ** CMDQ_LOG2);
      this.ram64(slot, d0);
      this.ram64(slot + 8, d1);
      this.prod = (this.prod + 1) % 2 ** (CMDQ_LOG2 + 1);
    }
    this.w32(R.CMDQ_PROD, this.prod);
    return this.r32(R.CMDQ_CONS);
  }

  /** Acknowledge a CMDQ error: the consume runs again. */
  ack(): void {
    this.w32(R.GERRORN, this.r32(R.GERROR));
  }

  console(): string[] {
    return this.m.log.text().filter((l) => !l.startsWith("Illegal command type"));
  }

  hwpt(which: "abort" | "bypass"): number {
    const s = this.m.accel.state();
    return which === "abort" ? s.abortHwptId : s.bypassHwptId;
  }
}

describe("the accel core at realize", () => {
  it("issues QEMU 11.1.3's calls: VFIO's cold-plug, the host check, the CMDQV's vIOMMU, abort and bypass HWPTs, the GBPA attach at realize and again at reset", () => {
    const b = new Bench();
    const calls = b.calls();
    assert.deepEqual(
      calls.map((c) => c.call),
      [
        "VFIO_DEVICE_BIND_IOMMUFD",
        "IOMMU_IOAS_ALLOC",
        "IOMMU_GET_HW_INFO",
        "IOMMU_HWPT_ALLOC",
        "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
        "IOMMU_IOAS_MAP",
        "IOMMU_GET_HW_INFO",
        "IOMMU_GET_HW_INFO",
        "IOMMU_GET_HW_INFO",
        "IOMMU_VIOMMU_ALLOC",
        "mmap",
        "IOMMU_VEVENTQ_ALLOC",
        "IOMMU_HWPT_ALLOC",
        "IOMMU_HWPT_ALLOC",
        "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
        "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
      ],
    );
    const viommu = b.m.viommuId;
    assert.deepEqual(calls[12]!.args, {
      flags: 0,
      devId: b.m.devId,
      ptId: viommu,
      dataType: 2,
      dataLen: 16,
      data: "0x01000000000000000000000000000000",
    });
    assert.equal((calls[13]!.args as { data: string }).data, "0x09000000000000000000000000000000");
    const bypass = b.hwpt("bypass");
    assert.deepEqual(calls[14]!.args, { devId: b.m.devId, ptId: bypass });
    assert.deepEqual(calls[15]!.args, { devId: b.m.devId, ptId: bypass });
    assert.equal(
      b.m.host.liveObjects().filter((o) => o.kind === "vdevice").length,
      0,
      "no vDEVICE until the guest installs an STE",
    );
    assert.deepEqual(b.console(), []);
  });

  it("takes ATS, SSIDSIZE, RIL and OAS from the host SMMU (the auto accel properties)", () => {
    const b = new Bench();
    assert.equal(b.r32(R.IDR0), 0x0d44_141a, "VMID16 and the host's ATS");
    assert.equal((b.r32(R.IDR1) >>> 6) & 0x1f, 20, "the host's SSIDSIZE");
    assert.equal(b.r32(R.IDR3), 0x1404, "the host's RIL (1)");
    assert.equal(b.r32(R.IDR5), 0x75, "the host's 48-bit OAS");
  });

  it("with cmdqv=off allocates a plain ARM_SMMUV3 vIOMMU, then the same HWPTs and attaches", () => {
    const b = new Bench({ cmdqv: "off" });
    const names = b.names();
    assert.deepEqual(names.slice(8), [
      "IOMMU_VIOMMU_ALLOC",
      "IOMMU_HWPT_ALLOC",
      "IOMMU_HWPT_ALLOC",
      "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
      "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
    ]);
  });
});

describe("STE installs (CFGI_STE, CFGI_STE_RANGE)", () => {
  it("allocates the vDEVICE at the first CFGI_ALL and attaches the GBPA HWPT while the SMMU is off", () => {
    const b = new Bench();
    b.calls();
    b.setUp(1 << 3);
    assert.equal(b.issue({ op: "CFGI_STE_RANGE", sid: 0, range: 31 }, SYNC), 2);
    const calls = b.calls();
    assert.deepEqual(
      calls.map((c) => c.call),
      ["IOMMU_VDEVICE_ALLOC", "VFIO_DEVICE_ATTACH_IOMMUFD_PT"],
    );
    assert.deepEqual(calls[0]!.args, {
      viommuId: b.m.viommuId,
      devId: b.m.devId,
      virtId: `0x${SID.toString(16)}`,
    });
    assert.deepEqual(calls[1]!.args, { devId: b.m.devId, ptId: b.hwpt("bypass") });
  });

  it("allocates the vDEVICE even when no STE is found (an empty 2-level L1), and nothing else", () => {
    const b = new Bench();
    b.calls();
    b.m.as.write64(SMMU + R.STRTAB_BASE, BigInt(STRTAB));
    b.w32(R.STRTAB_BASE_CFG, (1 << 16) | (8 << 6) | 16);
    b.m.as.write64(SMMU + R.CMDQ_BASE, BigInt(CMDQ | CMDQ_LOG2));
    b.w32(R.CR0, (1 << 3) | 1);
    b.issue({ op: "CFGI_STE_RANGE", sid: 0, range: 31 }, SYNC);
    assert.deepEqual(b.names(), ["IOMMU_VDEVICE_ALLOC"]);
  });

  it("turns a stage-1 STE into a nested HWPT with the masked vSTE, replaces it on the next install and frees the old one after the attach", () => {
    const b = new Bench();
    b.calls();
    b.setUp((1 << 3) | 1);
    b.ste(SID, s1Ste(0x4180_0000), 0x1n);
    assert.equal(b.issue({ op: "CFGI_STE", sid: SID, leaf: 1 }, SYNC), 2);
    let calls = b.calls();
    assert.deepEqual(
      calls.map((c) => c.call),
      ["IOMMU_VDEVICE_ALLOC", "IOMMU_HWPT_ALLOC", "VFIO_DEVICE_ATTACH_IOMMUFD_PT"],
    );
    assert.deepEqual(calls[1]!.args, {
      flags: 0,
      devId: b.m.devId,
      ptId: b.m.viommuId,
      dataType: 2,
      dataLen: 16,
      data: "0x0b008041000000000100000000000000",
    });
    const first = b.m.accel.state().devices[0]!.s1HwptId;
    assert.deepEqual(calls[2]!.args, { devId: b.m.devId, ptId: first });
    b.ste(SID, s1Ste(0x4190_0000));
    b.issue({ op: "CFGI_STE", sid: SID, leaf: 1 }, SYNC);
    calls = b.calls();
    assert.deepEqual(
      calls.map((c) => c.call),
      ["IOMMU_HWPT_ALLOC", "VFIO_DEVICE_ATTACH_IOMMUFD_PT", "IOMMU_DESTROY"],
    );
    assert.deepEqual(calls[2]!.args, { id: first });
    const second = b.m.accel.state().devices[0]!.s1HwptId;
    b.ste(SID, 0x9n);
    b.issue({ op: "CFGI_STE", sid: SID, leaf: 1 }, SYNC);
    calls = b.calls();
    assert.deepEqual(
      calls.map((c) => [c.call, c.args]),
      [
        ["VFIO_DEVICE_ATTACH_IOMMUFD_PT", { devId: b.m.devId, ptId: b.hwpt("bypass") }],
        ["IOMMU_DESTROY", { id: second }],
      ],
    );
    b.ste(SID, 0n);
    b.issue({ op: "CFGI_STE", sid: SID, leaf: 1 }, SYNC);
    assert.deepEqual(
      b.calls().map((c) => [c.call, c.args]),
      [["VFIO_DEVICE_ATTACH_IOMMUFD_PT", { devId: b.m.devId, ptId: b.hwpt("abort") }]],
      "an invalid STE attaches abort",
    );
    assert.deepEqual(b.console(), []);
  });

  it("ignores a CFGI_STE for a SID with no VFIO device behind the SMMU", () => {
    const b = new Bench();
    b.calls();
    b.setUp((1 << 3) | 1);
    assert.equal(b.issue({ op: "CFGI_STE", sid: SID + 1, leaf: 1 }, SYNC), 2);
    assert.deepEqual(b.names(), []);
  });

  it("stops the queue on a config it cannot install (stage 2): CERROR_ILL and QEMU's message", () => {
    const b = new Bench();
    b.calls();
    b.setUp((1 << 3) | 1);
    b.ste(SID, 0xdn);
    const cons = b.issue({ op: "CFGI_STE", sid: SID, leaf: 1 }, SYNC);
    assert.equal(cons, 0x0100_0000, "CONS.ERR = ILL at the CFGI_STE");
    assert.equal(b.r32(R.GERROR) & 1, 1);
    assert.deepEqual(b.names(), ["IOMMU_VDEVICE_ALLOC"]);
    assert.deepEqual(b.console(), [`Invalid STE config for sid 0x${SID.toString(16)}`]);
  });

  it("reports a failed vDEVICE in a range as QEMU does (message, hint, then the summary) and retries it on the ack", () => {
    const b = new Bench();
    b.calls();
    b.setUp((1 << 3) | 1);
    b.ste(SID, s1Ste(0x4180_0000));
    b.m.host.faults.arm("vdevice_alloc:obj_alloc", 1);
    assert.equal(b.issue({ op: "CFGI_STE_RANGE", sid: 0, range: 31 }, SYNC), 0x0100_0000);
    assert.deepEqual(b.names(), ["IOMMU_VDEVICE_ALLOC ENOMEM"]);
    assert.deepEqual(b.console(), [
      "IOMMU_VDEVICE_ALLOC failed: Cannot allocate memory",
      `Device 0x${SID.toString(16)}: Failed to install STE`,
      "Failed to install all STEs properly",
    ]);
    b.ack();
    assert.deepEqual(b.names(), [
      "IOMMU_VDEVICE_ALLOC",
      "IOMMU_HWPT_ALLOC",
      "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
    ]);
    assert.equal(b.r32(R.CMDQ_CONS), 0x0100_0002, "consumed, CONS.ERR kept");
  });

  it("frees the new stage-1 HWPT when the attach fails, and names the device as QEMU does", () => {
    const b = new Bench();
    b.calls();
    b.setUp((1 << 3) | 1);
    b.ste(SID, s1Ste(0x4180_0000));
    b.m.host.faults.arm("device_attach:attach_dev", 1);
    b.issue({ op: "CFGI_STE", sid: SID, leaf: 1 }, SYNC);
    const calls = b.calls();
    assert.deepEqual(
      calls.map((c) => (c.errno ? `${c.call} ${c.errno}` : c.call)),
      [
        "IOMMU_VDEVICE_ALLOC",
        "IOMMU_HWPT_ALLOC",
        "VFIO_DEVICE_ATTACH_IOMMUFD_PT ENOMEM",
        "IOMMU_DESTROY",
      ],
    );
    const id = (calls[2]!.args as { ptId: number }).ptId;
    assert.deepEqual(b.console(), [
      `[iommufd=100] error attach vfio0 (101) pasid 0 to id=${id}: Cannot allocate memory`,
    ]);
    assert.equal(b.m.accel.state().devices[0]!.s1HwptId, 0);
  });

  it("passes a vSTE the kernel refuses back as the HWPT failure (EIO)", () => {
    const b = new Bench();
    b.calls();
    b.setUp((1 << 3) | 1);
    b.ste(SID, 0xbn | (1n << 53n));
    assert.equal(b.issue({ op: "CFGI_STE", sid: SID, leaf: 1 }, SYNC), 0x0100_0000);
    assert.deepEqual(b.names(), ["IOMMU_VDEVICE_ALLOC", "IOMMU_HWPT_ALLOC EIO"]);
    assert.deepEqual(b.console(), ["Failed to allocate hwpt: Input/output error"]);
  });
});

describe("GBPA, EVENTQ and reset", () => {
  it("attaches the HWPT GBPA.ABORT picks on every GBPA update, whatever CR0.SMMUEN says", () => {
    const b = new Bench();
    b.calls();
    b.w32(R.GBPA, 0x8010_1000);
    assert.deepEqual(
      b.calls().map((c) => [c.call, c.args]),
      [["VFIO_DEVICE_ATTACH_IOMMUFD_PT", { devId: b.m.devId, ptId: b.hwpt("abort") }]],
    );
    b.w32(R.GBPA, 0x0000_1000);
    assert.deepEqual(b.names(), [], "no UPDATE: ignored");
  });

  it("words a failed GBPA attach as QEMU prints it (the hint runs into the summary line)", () => {
    const b = new Bench();
    b.calls();
    b.m.host.faults.arm("device_attach:attach_dev", 1);
    b.w32(R.GBPA, 0x8010_1000);
    const abort = b.hwpt("abort");
    assert.deepEqual(b.console(), [
      `[iommufd=100] error attach vfio0 (101) pasid 0 to id=${abort}: Cannot allocate memory`,
      `Failed to attach GBPA hwpt ${abort} for hiodi devid ${b.m.devId}qemu-system-aarch64: Failed to attach all GBPA based HWPTs properly`,
    ]);
  });

  it("allocates the ARM_SMMUV3 vEVENTQ once CR0.EVENTQEN is set, with 2^EVENTQ log2size entries, once", () => {
    const b = new Bench();
    b.calls();
    b.m.as.write64(SMMU + R.EVENTQ_BASE, BigInt(0x4040_0000 | 7));
    b.w32(R.CR0, 1);
    assert.deepEqual(b.names(), []);
    b.w32(R.CR0, 1 | (1 << 2));
    const calls = b.calls();
    assert.deepEqual(
      calls.map((c) => [c.call, c.args]),
      [["IOMMU_VEVENTQ_ALLOC", { flags: 0, viommuId: b.m.viommuId, type: 1, depth: 128 }]],
    );
    b.w32(R.CR0, 0);
    b.w32(R.CR0, 1 << 2);
    assert.deepEqual(b.names(), [], "kept across CR0 toggles");
  });

  it("attaches the GBPA HWPT at reset before the CMDQV frees its queues, and keeps the stage-1 HWPT", () => {
    const b = new Bench();
    b.setUp((1 << 3) | 1);
    b.ste(SID, s1Ste(0x4180_0000));
    b.issue({ op: "CFGI_STE", sid: SID, leaf: 1 }, SYNC);
    b.calls();
    b.m.reset();
    assert.deepEqual(
      b.calls().map((c) => [c.call, c.args]),
      [["VFIO_DEVICE_ATTACH_IOMMUFD_PT", { devId: b.m.devId, ptId: b.hwpt("bypass") }]],
    );
    assert.notEqual(b.m.accel.state().devices[0]!.s1HwptId, 0);
  });

  it("leaves everything to the kernel's release at exit: no destroy, nothing left", () => {
    const b = new Bench();
    b.setUp((1 << 3) | 1 | (1 << 2));
    b.ste(SID, s1Ste(0x4180_0000));
    b.issue({ op: "CFGI_STE", sid: SID, leaf: 1 }, SYNC);
    b.calls();
    assert.deepEqual(b.m.teardown(), []);
    assert.ok(!b.names().includes("IOMMU_DESTROY"));
    assert.deepEqual(b.m.host.liveObjects(), []);
  });
});
