// Real QEMU 11.1 (Debian's build) on the simulated Grace host, end to end through the
// qtest relay that `cmdqv qtest --vmm qemu` serves: the probe and vIOMMU in the host log,
// VCMDQ0 brought up from qtest writes, 100 commands consumed from QEMU's guest RAM through
// the guest page0 window with no trap, an illegal command reported all the way back to
// the guest (CONS.ERR, GERROR, vEVENT, QEMU's error maps, the IRQ), a host fault at
// HW_QUEUE_ALLOC and what QEMU then shows, and a host left empty when QEMU exits.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type QtestSession, startQtestSession } from "../src/real-qemu/in-process.js";
import { QEMU_MAP, type QtestRelay } from "../src/real-qemu/qtest-relay.js";
import type { RealQemu } from "../src/real-qemu/session.js";
import { encode } from "../src/smmu/commands.js";

const CMDQV = QEMU_MAP["tegra241-cmdqv"].base;
const PAGE0 = CMDQV + 0x3_0000;
const PAGE1 = CMDQV + 0x4_0000;
const RING = 0x4020_0000;
const GIC = "/machine/unattached/device[1]";
/** The CMDQV's interrupt: QEMU 11.1's platform bus gives it SPI 116 (after the SMMU's four). */
const CMDQV_SPI = 116;

/** Helpers over an in-process qtest session with real QEMU. */
class Client {
  readonly s: QtestSession;
  readonly rq: RealQemu;
  readonly relay: QtestRelay;
  readonly irqs: string[];

  constructor(s: QtestSession) {
    this.s = s;
    this.rq = s.rq;
    this.relay = s.relay;
    this.irqs = s.irqs;
  }

  send(line: string): Promise<string> {
    return this.s.send(line);
  }

  async ok(line: string): Promise<string> {
    const r = await this.send(line);
    assert.match(r, /^OK/, `${line} → ${r}`);
    return r;
  }

  async readl(addr: number): Promise<number> {
    return Number.parseInt((await this.ok(`readl 0x${addr.toString(16)}`)).slice(3), 16);
  }

  writel(addr: number, v: number): Promise<string> {
    return this.ok(`writel 0x${addr.toString(16)} 0x${v.toString(16)}`);
  }
}

async function boot(opts: { fault?: { site: "hw_queue_alloc:obj_alloc"; nth: number } } = {}) {
  const s = await startQtestSession({
    ticker: (ms, fn) => {
      const t = setInterval(fn, ms);
      return () => clearInterval(t);
    },
    ...(opts.fault ? { faultPlan: { kind: "site", ...opts.fault } } : {}),
    trace: ["tegra241_cmdqv_*"],
  });
  return { rq: s.rq, c: new Client(s) };
}

/** The guest driver's bring-up of VCMDQ0 (spec §4.4 order) with a 64 KiB ring at RING. */
async function bringUpVcmdq0(c: Client): Promise<void> {
  await c.writel(CMDQV, 0x0002_0083); // CMDQV_EN
  await c.writel(CMDQV + 0x200, 0); // CMDQ_ALLOC_MAP_0 = VINTF0/LVCMDQ0
  await c.writel(CMDQV + 0x1000, 0x0002_0001); // VINTF0 CONFIG.EN
  await c.writel(CMDQV + 0x200, 1); // ALLOCATED
  await c.ok(`writeq 0x${PAGE1.toString(16)} 0x${(RING | 12).toString(16)}`); // BASE | LOG2SIZE 12
  await c.writel(PAGE0 + 0x08, 1); // CONFIG.CMDQ_EN through the guest page0 window
  await c.ok("clock_step 1000000");
}

function hex(words: [bigint, bigint]): string {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(words[0], 0);
  b.writeBigUInt64LE(words[1], 8);
  return `0x${b.toString("hex")}`;
}

describe("real QEMU 11.1 on the simulated Grace host", () => {
  let rq: RealQemu;
  let c: Client;

  before(async () => {
    ({ rq, c } = await boot());
    await c.ok(`irq_intercept_in ${GIC}`);
  });
  after(async () => {
    await rq.dispose();
  });

  it("realizes: the probe and the vIOMMU allocation are in the host's ioctl log", async () => {
    await c.send("cmdqv_info");
    const calls = rq.host.iommufd.log.condensed().join("\n");
    assert.match(calls, /IOMMU_GET_HW_INFO flags=0x1 dev=1 data_len=8 type=3 → type=3/);
    assert.match(
      calls,
      /IOMMU_VIOMMU_ALLOC type=2 .* → viommu=\d+ mmap_offset=0x1000 mmap_len=0x10000/,
    );
    assert.match(calls, /IOMMU_VEVENTQ_ALLOC .*type=2 depth=524288/);
    assert.equal(rq.host.iommufd.liveObjects().filter((o) => o.kind === "hwpt_nested").length, 2);
  });

  it("allocates VCMDQ0's HW queue at the BASE GPA with 64 KiB when the guest brings it up", async () => {
    await bringUpVcmdq0(c);
    assert.deepEqual(
      rq.host.iommufd.hwQueues().map((q) => [q.index, q.iova, q.length]),
      [[0, RING, 0x1_0000]],
    );
    assert.equal((await c.readl(PAGE0 + 0x0c)) & 1, 1, "STATUS.CMDQ_EN_OK");
    assert.equal(c.relay.account.ready(0), true, "the stream says VCMDQ0 is owed a queue");
    assert.deepEqual(c.relay.checker.violations(), [], "hw-queues-match and the rest hold");
  });

  it("consumes 100 commands written to guest RAM once PROD moves, with no trap into QEMU", async () => {
    const tlbi = hex(encode({ op: "TLBI_NH_ASID", vmid: 0, asid: 5 }));
    for (let i = 0; i < 100; i++) await c.ok(`write 0x${(RING + 16 * i).toString(16)} 16 ${tlbi}`);
    const before = rq.qemu.consoleLines().filter((l) => l.includes("write_mmio")).length;
    const fx = rq.host.hw.effects.totals().vcmdq;
    await c.writel(PAGE0 + 0x04, 100);
    await c.ok("clock_step 1000000");
    assert.equal(await c.readl(PAGE0), 100, "CONS reached PROD");
    assert.equal(rq.host.hw.effects.totals().vcmdq - fx, 100);
    const after = rq.qemu.consoleLines().filter((l) => l.includes("write_mmio")).length;
    assert.equal(after, before, "the page0 window is not trapped: QEMU traced no MMIO write");
  });

  it("reports an illegal command back: CONS.ERR and GERROR, a vEVENT, QEMU's error maps and the IRQ", async () => {
    const cfgiSte = hex(encode({ op: "CFGI_STE", sid: 8, leaf: 1 }));
    await c.ok(`write 0x${(RING + 16 * 100).toString(16)} 16 ${cfgiSte}`);
    c.irqs.length = 0;
    await c.writel(PAGE0 + 0x04, 101);
    await c.ok("clock_step 1000000");
    const cons = await c.readl(PAGE0);
    assert.equal(cons & 0xfffff, 100, "CONS stops at the illegal command");
    assert.equal((cons >>> 24) & 0x7f, 1, "CONS.ERR = ILL");
    assert.equal((await c.readl(PAGE0 + 0x10)) & 1, 1, "GERROR.CMDQ_ERR");
    assert.equal(await c.readl(CMDQV + 0x14), 1, "VI_ERR_MAP_0: VINTF0");
    assert.equal(await c.readl(CMDQV + 0x1000 + 0xc0), 1, "VINTF0 LVCMDQ_ERR_MAP: LVCMDQ0");
    assert.ok(c.irqs.includes(`IRQ raise ${CMDQV_SPI}`), c.irqs.join(", "));
    assert.deepEqual(rq.host.hw.effects.totals().byOpcode["CFGI_STE"], undefined, "never executed");
  });
});

describe("the trapped main CMDQ under real QEMU", () => {
  it("forwards a TLBI_NH_ASID as one IOMMU_HWPT_INVALIDATE on the vIOMMU, which the host SMMU runs", async () => {
    const { rq, c } = await boot();
    try {
      const smmu = QEMU_MAP.smmuv3.base;
      await c.ok(`writeq 0x${(smmu + 0x90).toString(16)} 0x40300005`); // CMDQ_BASE, 32 entries
      await c.writel(smmu + 0x20, 0x8); // CR0.CMDQEN
      const tlbi = hex(encode({ op: "TLBI_NH_ASID", vmid: 0, asid: 5 }));
      await c.ok(`write 0x40300000 16 ${tlbi}`);
      const fx = rq.host.hw.effects.totals().mainCmdq;
      await c.writel(smmu + 0x98, 1); // CMDQ_PROD
      assert.equal(await c.readl(smmu + 0x9c), 1, "QEMU's main CMDQ consumed it");
      const inv = rq.host.iommufd.log.entries().filter((e) => e.call === "IOMMU_HWPT_INVALIDATE");
      assert.equal(inv.length, 1);
      const args = inv[0]!.args as {
        hwptId: number;
        dataType: number;
        entryLen: number;
        entries: unknown[];
      };
      const viommu = rq.host.iommufd.liveObjects().find((o) => o.kind === "viommu")!.id;
      assert.deepEqual(
        [args.hwptId, args.dataType, args.entryLen, args.entries.length],
        [viommu, 1, 16, 1],
      );
      assert.equal(inv[0]!.errno, undefined);
      assert.ok(rq.host.hw.effects.totals().mainCmdq > fx, "the host SMMU executed it");
    } finally {
      await rq.dispose();
    }
  });
});

describe("a host fault at HW_QUEUE_ALLOC under real QEMU", () => {
  it("leaves no HW queue; QEMU logs the failure and the guest never sees the queue enabled", async () => {
    const { rq, c } = await boot({ fault: { site: "hw_queue_alloc:obj_alloc", nth: 1 } });
    try {
      await bringUpVcmdq0(c);
      assert.deepEqual(rq.host.iommufd.hwQueues(), []);
      const log = rq.host.iommufd.log.condensed().join("\n");
      assert.match(log, /IOMMU_HW_QUEUE_ALLOC .* → ENOMEM/);
      assert.equal((await c.readl(PAGE0 + 0x0c)) & 1, 0, "STATUS.CMDQ_EN_OK stays 0");
      assert.ok(
        rq.qemu
          .consoleLines()
          .includes("qemu-system-aarch64: IOMMU_HW_QUEUE_ALLOC failed: Cannot allocate memory"),
        rq.qemu.consoleLines().join("\n"),
      );
      assert.equal(await c.readl(PAGE0 + 0x10), 0, "and no GERROR: only EN_OK's absence tells");
    } finally {
      await rq.dispose();
    }
  });
});

describe("teardown", () => {
  it("leaves the host empty once QEMU has exited, and nothing running", async () => {
    const { rq, c } = await boot();
    await bringUpVcmdq0(c);
    assert.equal(rq.host.iommufd.hwQueues().length, 1);
    // QEMU is killed, as SIGTERM does it: it makes no destroy call; its files close as it
    // exits, and the kernel's release must take everything down in dependency order.
    await rq.dispose();
    assert.equal(rq.host.iommufd.isReleased, true);
    assert.deepEqual(rq.host.iommufd.liveObjects(), []);
    const release = rq.host.iommufd.log.condensed().find((l) => l.startsWith("release"));
    assert.match(release ?? "", /leaked=\[0\]/);
    assert.throws(() => process.kill(-rq.qemu.pid, 0));
  });
});

describe("system_reset under real QEMU", () => {
  it("runs through QEMU's monitor: live HW queues are freed, registers read their reset values, the account starts again", async () => {
    const s = await startQtestSession({ ticker: () => () => {}, qmp: true });
    try {
      const c = new Client(s);
      await bringUpVcmdq0(c);
      assert.equal(s.rq.host.iommufd.hwQueues().length, 1);
      assert.equal(await c.send("system_reset"), "OK");
      assert.deepEqual(s.rq.host.iommufd.hwQueues(), [], "QEMU's reset freed the HW queue");
      assert.equal(await c.readl(CMDQV + 0x1004), 0, "VINTF0 STATUS after reset");
      assert.equal(await c.readl(CMDQV), 0x0002_0083, "CONFIG after reset");
      assert.equal(s.relay.account.ready(0), false, "the guest's programming is forgotten");
      assert.deepEqual(s.relay.checker.violations(), []);
      // And the machine comes up again as from power-on.
      await bringUpVcmdq0(c);
      assert.equal(s.rq.host.iommufd.hwQueues().length, 1);
      assert.deepEqual(s.relay.checker.violations(), []);
    } finally {
      await s.dispose();
    }
  });

  it("is refused with FAIL when the session has no monitor", async () => {
    const s = await startQtestSession({ ticker: () => () => {} });
    try {
      assert.match(await s.send("system_reset"), /^FAIL system_reset needs QEMU's monitor \(QMP\)/);
      assert.equal(
        await s.send("readl 0x0c080000"),
        "OK 0x0000000000020083",
        "the session goes on",
      );
    } finally {
      await s.dispose();
    }
  });
});
