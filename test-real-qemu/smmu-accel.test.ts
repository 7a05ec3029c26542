// The SMMUv3 accel core, model against real QEMU 11.1.3 on the same simulated host, step
// by step: the calls at realize, the vDEVICE at the first STE install, abort / bypass /
// stage-1 nested HWPTs as the guest's STE says, the vEVENTQ at EVENTQEN, GBPA updates,
// reset, and the failures (a vDEVICE, an attach, a GBPA attach) with their messages.
// Under qtest QEMU's PCI buses are not enumerated, so its VFIO device sits at SID 0; the
// model's machine is given vSID 0 to match.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, it } from "node:test";
import { MASKS } from "../src/differential/masks.js";
import { describeAll } from "../src/differential/report.js";
import { runScript } from "../src/differential/runner.js";
import { modelSide, QEMU_11_1_PROFILE, qemuSide } from "../src/differential/sides.js";
import { type Command, encode } from "../src/smmu/commands.js";

const SMMU = 0x0c00_0000;
const STRTAB = 0x4100_0000;
const CMDQ = 0x4030_0000;
const SYNC: Command = { op: "CMD_SYNC", cs: 0, msh: 3, msiattr: 0xf, msidata: 0, msiaddr: 0n };

const hex = (v: number | bigint) => `0x${v.toString(16)}`;
const bytes = (w0: bigint, w1: bigint) => {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(w0, 0);
  b.writeBigUInt64LE(w1, 8);
  return `0x${b.toString("hex")}`;
};

/** The guest side as qtest lines. */
class Script {
  readonly steps: string[] = [];
  private prod = 0;
  private gerrorn = 0;

  line(s: string): this {
    this.steps.push(s);
    return this;
  }

  writel(off: number, v: number): this {
    return this.line(`writel ${hex(SMMU + off)} ${hex(v)}`);
  }

  ste(sid: number, w0: bigint, w1 = 0n): this {
    return this.line(`write ${hex(STRTAB + 64 * sid)} 16 ${bytes(w0, w1)}`);
  }

  issue(...cmds: Command[]): this {
    for (const c of cmds) {
      const [d0, d1] = encode(c);
      this.line(`write ${hex(CMDQ + 16 * (this.prod % 32))} 16 ${bytes(d0, d1)}`);
      this.prod = (this.prod + 1) % 64;
    }
    this.writel(0x98, this.prod);
    return this.line(`readl ${hex(SMMU + 0x9c)}`);
  }

  /** Acknowledge the CMDQ error the previous issue stopped at (GERRORN toggles to GERROR). */
  ack(): this {
    this.gerrorn ^= 1;
    return this.writel(0x64, this.gerrorn).line(`readl ${hex(SMMU + 0x9c)}`);
  }
}

function script(): string[] {
  const s = new Script()
    .line(`writeq ${hex(SMMU + 0x80)} ${hex(STRTAB)}`)
    .writel(0x88, 16)
    .line(`writeq ${hex(SMMU + 0x90)} ${hex(CMDQ | 5)}`)
    .line(`writeq ${hex(SMMU + 0xa0)} ${hex(0x4040_0000 | 7)}`)
    .writel(0x20, 0x8)
    // CFGI_ALL with the SMMU off, its vDEVICE failing once: reported, retried on the ack.
    .line("cmdqv_fault vdevice_alloc:obj_alloc 1")
    .issue({ op: "CFGI_STE_RANGE", sid: 0, range: 31 }, SYNC)
    .ack()
    .writel(0x20, 0x9)
    // Stage-1 STEs: a nested HWPT each, the previous one freed after the attach.
    .ste(0, 0xbn | 0x4180_0000n, 0x1n)
    .issue({ op: "CFGI_STE", sid: 0, leaf: 1 }, SYNC)
    .ste(0, 0xbn | 0x4190_0000n)
    .line("cmdqv_fault device_attach:attach_dev 1")
    .issue({ op: "CFGI_STE", sid: 0, leaf: 1 }, SYNC)
    .ack()
    // Bypass, then abort (V=0), then a CFGI_STE for a SID with no device.
    .ste(0, 0x9n)
    .issue({ op: "CFGI_STE", sid: 0, leaf: 1 }, SYNC)
    .ste(0, 0n)
    .issue({ op: "CFGI_STE", sid: 0, leaf: 1 }, { op: "CFGI_STE", sid: 5, leaf: 1 }, SYNC)
    // The vEVENTQ, once; GBPA updates, one of them failing.
    .writel(0x20, 0xd)
    .writel(0x20, 0x9)
    .writel(0x20, 0xd)
    .writel(0x44, 0x8010_1000)
    .line("cmdqv_fault device_attach:attach_dev 1")
    .writel(0x44, 0x8000_1000)
    .line("system_reset");
  return s.steps;
}

describe("the SMMUv3 accel core under real QEMU 11.1.3 and in the model", () => {
  it("makes the same host calls at every step, with the same console lines", async () => {
    const o = await runScript(
      { name: "smmu-accel", description: "the accel core's host calls", steps: script() },
      {
        model: () => modelSide(QEMU_11_1_PROFILE, { virtSid: 0 }),
        qemu: () => qemuSide(),
      },
      MASKS,
    );
    // QEMU's guest errors go to its log file and its error_reports to stderr, which the
    // QEMU side reads one after the other: within a step only the order may differ.
    const real = o.comparison.differences.filter(
      (d) =>
        d.kind !== "console" || [...d.model].sort().join("\n") !== [...d.qemu].sort().join("\n"),
    );
    assert.deepEqual(real, [], describeAll(o, 2).join("\n"));
    const calls = o.qemu.flatMap((x) =>
      x.ioctls.map((e) => `${e.call}${e.errno ? ` ${e.errno}` : ""}`),
    );
    assert.deepEqual(
      calls.filter((c) => c.startsWith("IOMMU_VDEVICE") || c.startsWith("IOMMU_DESTROY")),
      [
        "IOMMU_VDEVICE_ALLOC ENOMEM",
        "IOMMU_VDEVICE_ALLOC",
        "IOMMU_DESTROY",
        "IOMMU_DESTROY",
        "IOMMU_DESTROY",
      ],
      "the vDEVICE retried after its failure; the HWPT of the failed attach, then the two stage-1 HWPTs replaced",
    );
    assert.equal(
      calls.filter((c) => c === "IOMMU_VEVENTQ_ALLOC").length,
      2,
      "type 2 at realize, type 1 once",
    );
    assert.match(o.qemu.at(-2)?.reply ?? "", /^OK/);
  });
});
