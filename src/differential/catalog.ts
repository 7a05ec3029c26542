// The built-in differential scripts, generated from the register tables and the guest's
// programming model: every register read after reset, all-ones and zero written to each,
// all 120 orders of VCMDQ0's five gate writes and a seeded sample of the two-queue
// orders, the review's cases, the reverse-index order, hostile BASE/PROD values, vEVENT
// delivery with VI_INT_MASK set and clear, disables and system reset with live queues,
// and the trapped main CMDQ. Addresses are QEMU 11.1's virt layout (machine/config.ts).

import { DEFAULT_MACHINE, LAYOUTS } from "../machine/config.js";
import {
  APERTURE,
  CFG,
  configPage,
  slotPage,
  V_CONFIG_RESET,
  V_PARAM_RESET,
  VCMDQ0,
  VINTF,
  vcmdqPage0Slot,
  vcmdqPage1Slot,
} from "../regs/cmdqv.js";
import type { RegBlock } from "../regs/regdef.js";
import { SMMU_REG } from "../regs/smmuv3.js";
import { type Command, encode } from "../smmu/commands.js";
import { Prng } from "../util/prng.js";
import type { DiffScript } from "./script.js";
import { QTEST_VSID, SYSTEM_RESET } from "./sides.js";

const LAYOUT = LAYOUTS["qemu-11.1"];
const CMDQV = LAYOUT.cmdqvBase;
const SMMU = LAYOUT.smmuBase;
const RAM = DEFAULT_MACHINE.ramBase;
const VCMDQS = DEFAULT_MACHINE.vcmdqs;
/** QEMU 11.1's GIC as an unattached qdev (both sides accept the path). */
const GIC = "/machine/unattached/device[1]";
/** 64 KiB rings (LOG2SIZE 12: 4096 16-byte entries), one per queue, 2 MiB into RAM. */
const LOG2SIZE = 12;
const RING_BYTES = 16 << LOG2SIZE;
const ringOf = (q: number) => RAM + 0x20_0000 + q * RING_BYTES;
/** The main CMDQ's ring and the stream table, further into RAM. */
const MAIN_RING = RAM + 0x30_0000;
const STRTAB = RAM + 0x31_0000;

/** Every order of 0..n-1, lexicographic. */
function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  const out: number[][] = [];
  for (const rest of permutations(n - 1))
    for (let i = 0; i <= rest.length; i++) out.push([...rest.slice(0, i), n - 1, ...rest.slice(i)]);
  return out.sort((a, b) => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return 0;
  });
}

/** CMD_SYNC with no completion signal (CS=NONE), as VCMDQs accept. */
const SYNC: Command = { op: "CMD_SYNC", cs: 0, msh: 0, msiattr: 0, msidata: 0, msiaddr: 0n };

const hex = (n: number | bigint) => `0x${n.toString(16)}`;
const writel = (a: number, v: number) => `writel ${hex(a)} ${hex(v >>> 0)}`;
const readl = (a: number) => `readl ${hex(a)}`;
const writeq = (a: number, v: bigint) => `writeq ${hex(a)} ${hex(v)}`;
const step = (ns = 1_000_000) => `clock_step ${ns}`;

/** A command as a qtest `write` of its 16 little-endian bytes. */
function writeCmd(addr: number, cmd: Command): string {
  const [lo, hi] = encode(cmd);
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(lo, 0);
  b.writeBigUInt64LE(hi, 8);
  return `write ${hex(addr)} 16 0x${b.toString("hex")}`;
}

const at = {
  config: (off: number) => CMDQV + off,
  alloc: (q: number) => CMDQV + CFG.CMDQ_ALLOC_0 + 4 * q,
  vintf: (off: number) => CMDQV + CFG.VINTF_0 + off,
  /** VCMDQ q's page0 register through VINTF0's page0 (what Linux uses). */
  lvPage0: (q: number, off: number) =>
    CMDQV + APERTURE.VINTF_PAGE0 + APERTURE.VCMDQ_STRIDE * q + off,
  lvPage1: (q: number, off: number) =>
    CMDQV + APERTURE.VINTF_PAGE1 + APERTURE.VCMDQ_STRIDE * q + off,
  direct0: (q: number, off: number) =>
    CMDQV + APERTURE.VCMDQ_PAGE0 + APERTURE.VCMDQ_STRIDE * q + off,
};

/** The five gate writes of queue q (BASE, ALLOC, queue enable) and the two shared ones. */
function gates(q: number, ring = ringOf(q), log2 = LOG2SIZE) {
  return {
    [`BASE${q}`]: writeq(at.lvPage1(q, 0), BigInt(ring) | BigInt(log2)),
    [`ALLOC${q}`]: writel(at.alloc(q), 1 | (q << 1)),
    [`ENABLE${q}`]: writel(at.lvPage0(q, VCMDQ0.CONFIG), 1),
  } as Record<string, string>;
}
const CMDQV_EN = writel(at.config(CFG.CONFIG), V_CONFIG_RESET);
const CMDQV_DIS = writel(at.config(CFG.CONFIG), V_CONFIG_RESET & ~1);
const VINTF_EN = writel(at.vintf(VINTF.CONFIG), 1);
const VINTF_DIS = writel(at.vintf(VINTF.CONFIG), 0);

/** Reset CONFIG has CMDQV_EN=1; gate orders start from it disabled, so the order counts. */
const PREAMBLE = [`irq_intercept_in ${GIC}`, CMDQV_DIS];

/** What the guest then sees of queue q, and whether a CMD_SYNC is consumed. */
function probe(q: number, prod = 1): string[] {
  return [
    step(),
    readl(at.lvPage0(q, VCMDQ0.STATUS)),
    readl(at.lvPage0(q, VCMDQ0.GERROR)),
    readl(at.vintf(VINTF.STATUS)),
    readl(at.config(CFG.STATUS)),
    writeCmd(ringOf(q) + 16 * (prod - 1), SYNC),
    writel(at.lvPage0(q, VCMDQ0.PROD), prod),
    step(),
    readl(at.lvPage0(q, VCMDQ0.CONS)),
    readl(at.direct0(q, VCMDQ0.CONS)),
    readl(at.direct0(q, VCMDQ0.GERROR)),
  ];
}

/** A full bring-up of queues 0..n-1 in the Linux driver's order. */
function bringUp(n: number): string[] {
  const out = [CMDQV_EN, VINTF_EN];
  for (let q = 0; q < n; q++) {
    const g = gates(q);
    out.push(g[`ALLOC${q}`]!, g[`BASE${q}`]!, g[`ENABLE${q}`]!);
  }
  return out;
}

function regsOf(block: RegBlock, base: number): { name: string; addr: number }[] {
  return block.regs.map((r) => ({ name: r.name, addr: base + r.offset }));
}

/** Every register of every CMDQV page, by the register tables. */
function allRegisters(): { name: string; addr: number }[] {
  const p0 = vcmdqPage0Slot();
  const p1 = vcmdqPage1Slot();
  return [
    ...regsOf(configPage(VCMDQS, 1, VINTF.MAX_SIDS, V_PARAM_RESET), CMDQV),
    ...regsOf(slotPage("vcmdq0", "VCMDQ", VCMDQS, p0), CMDQV + APERTURE.VCMDQ_PAGE0),
    ...regsOf(slotPage("vcmdq1", "VCMDQ", VCMDQS, p1), CMDQV + APERTURE.VCMDQ_PAGE1),
    ...regsOf(slotPage("vintf0", "VINTF0_LVCMDQ", VCMDQS, p0), CMDQV + APERTURE.VINTF_PAGE0).map(
      (r) => ({ ...r, name: `PAGE0_${r.name}` }),
    ),
    ...regsOf(slotPage("vintf1", "VINTF0_LVCMDQ", VCMDQS, p1), CMDQV + APERTURE.VINTF_PAGE1).map(
      (r) => ({ ...r, name: `PAGE1_${r.name}` }),
    ),
  ];
}

function script(name: string, description: string, steps: readonly string[]): DiffScript {
  return { name, description, steps };
}

function registerScripts(): DiffScript[] {
  const regs = allRegisters();
  const out = [
    script(
      "registers/reset",
      "every register of every CMDQV page read after reset (32-bit reads)",
      regs.map((r) => readl(r.addr)),
    ),
  ];
  for (const r of regs)
    out.push(
      script(
        `registers/write/${r.name}`,
        `all-ones then zero written to ${r.name}, each read back (with the config page's state around it)`,
        [
          writel(r.addr, 0xffff_ffff),
          readl(r.addr),
          readl(at.config(CFG.CONFIG)),
          writel(r.addr, 0),
          readl(r.addr),
          readl(at.config(CFG.CONFIG)),
        ],
      ),
    );
  return out;
}

/** 1- and 2-byte and 8-byte accesses, which the memory core refuses or splits. */
function accessSizeScripts(): DiffScript[] {
  const c = at.config(CFG.CONFIG);
  const p0 = at.lvPage0(0, VCMDQ0.PROD);
  return [
    script(
      "registers/access-sizes",
      "byte, halfword and doubleword accesses to the config page, page0 and page1",
      [
        `readb ${hex(c)}`,
        `readw ${hex(c + 2)}`,
        `writeb ${hex(c)} 0x0`,
        `writew ${hex(c)} 0x0`,
        readl(c),
        `readq ${hex(c)}`,
        `writeq ${hex(at.config(CFG.VI_INT_MASK_0))} 0xffffffffffffffff`,
        readl(at.config(CFG.VI_INT_MASK_0)),
        readl(at.config(CFG.VI_INT_MASK_1)),
        `readw ${hex(p0)}`,
        `writeb ${hex(p0)} 0x1`,
        `readq ${hex(at.lvPage0(0, VCMDQ0.CONS))}`,
        `readq ${hex(at.lvPage1(0, 0))}`,
        `writew ${hex(at.lvPage1(0, 0))} 0x1234`,
        readl(at.lvPage1(0, 0)),
      ],
    ),
  ];
}

function gateOrderScripts(): DiffScript[] {
  const g: Record<string, string> = { ...gates(0), CMDQV_EN, VINTF_EN };
  const names = Object.keys(g);
  return permutations(names.length).map((perm, i) =>
    script(
      `gates/vcmdq0/${String(i).padStart(3, "0")}`,
      `VCMDQ0's five gate writes in the order ${perm.map((k) => names[k]).join(" → ")}, then a CMD_SYNC`,
      [...PREAMBLE, ...perm.map((k) => g[names[k]!]!), ...probe(0)],
    ),
  );
}

/** A seeded sample of the 8! orders of both queues' gates and the two shared enables. */
function twoQueueScripts(count: number, seed: number): DiffScript[] {
  const g: Record<string, string> = { ...gates(0), ...gates(1), CMDQV_EN, VINTF_EN };
  const names = Object.keys(g);
  const rng = new Prng(seed);
  const out: DiffScript[] = [];
  for (let i = 0; i < count; i++) {
    const order = [...names];
    for (let j = order.length - 1; j > 0; j--) {
      const k = rng.int(j + 1);
      [order[j], order[k]] = [order[k]!, order[j]!];
    }
    out.push(
      script(
        `gates/two-queues/${String(i).padStart(2, "0")}`,
        `both queues' gates in the order ${order.join(" → ")} (seed ${seed}), then a CMD_SYNC on each`,
        [...PREAMBLE, ...order.map((k) => g[k]!), ...probe(0), ...probe(1)],
      ),
    );
  }
  return out;
}

function reviewScripts(): DiffScript[] {
  const g0 = gates(0);
  const bad1 = gates(1, ringOf(1) + 0x1000);
  return [
    script(
      "review/case1",
      "VCMDQ0 allocates; VCMDQ1's ring is not aligned to its size, so the host refuses it (EINVAL)",
      [
        ...PREAMBLE,
        CMDQV_EN,
        VINTF_EN,
        g0["ALLOC0"]!,
        g0["BASE0"]!,
        g0["ENABLE0"]!,
        bad1["ALLOC1"]!,
        bad1["BASE1"]!,
        bad1["ENABLE1"]!,
        ...probe(0),
        ...probe(1),
      ],
    ),
    script(
      "review/case1-fault",
      "as Case 1, with VCMDQ1's HW_QUEUE_ALLOC failed by the host (the second allocation)",
      [
        "cmdqv_fault hw_queue_alloc:obj_alloc 2",
        ...PREAMBLE,
        ...bringUp(2),
        ...probe(0),
        ...probe(1),
      ],
    ),
    script("review/case2", "the review's Case 2: VCMDQ0's HW_QUEUE_ALLOC fails on the host", [
      "cmdqv_fault hw_queue_alloc:obj_alloc 1",
      ...PREAMBLE,
      ...bringUp(1),
      ...probe(0),
    ]),
    script(
      "findings/2-enable-before-alloc",
      "finding 2: Case 2 with the queue enabled before VINTF enable, so the cache's emulated enable said EN_OK",
      [
        "cmdqv_fault hw_queue_alloc:obj_alloc 1",
        ...PREAMBLE,
        g0["BASE0"]!,
        g0["ALLOC0"]!,
        g0["ENABLE0"]!,
        CMDQV_EN,
        VINTF_EN,
        ...probe(0),
      ],
    ),
    script(
      "order/reverse-index",
      "VCMDQ1 is made ready before VCMDQ0 (the kernel wants ascending order)",
      [
        ...PREAMBLE,
        CMDQV_EN,
        VINTF_EN,
        gates(1)["ALLOC1"]!,
        gates(1)["BASE1"]!,
        gates(1)["ENABLE1"]!,
        g0["ALLOC0"]!,
        g0["BASE0"]!,
        g0["ENABLE0"]!,
        ...probe(0),
        ...probe(1),
      ],
    ),
  ];
}

/**
 * What the VMM copies from its cache into the host page after an allocation: GERRORN,
 * CONS and PROD written through the trapped page0 before the queue exists, read back
 * from the hardware (the direct aperture) after it does.
 */
function syncScripts(): DiffScript[] {
  const g0 = gates(0);
  return [
    script(
      "sync/cached-registers",
      "GERRORN, PROD and CONS cached before VCMDQ0 is allocated, read from the hardware after",
      [
        ...PREAMBLE,
        writel(at.lvPage0(0, VCMDQ0.GERRORN), 0x5),
        writel(at.lvPage0(0, VCMDQ0.PROD), 0x3),
        writel(at.lvPage0(0, VCMDQ0.CONS), 0x2),
        readl(at.lvPage0(0, VCMDQ0.GERRORN)),
        g0["BASE0"]!,
        g0["ALLOC0"]!,
        CMDQV_EN,
        VINTF_EN,
        step(),
        readl(at.direct0(0, VCMDQ0.GERRORN)),
        readl(at.direct0(0, VCMDQ0.PROD)),
        readl(at.direct0(0, VCMDQ0.CONS)),
        readl(at.lvPage0(0, VCMDQ0.GERRORN)),
      ],
    ),
  ];
}

/** docs/findings.md's minimal sequences as qtest lines. */
function findingScripts(): DiffScript[] {
  const g0 = gates(0);
  const g1 = gates(1);
  return [
    script("findings/3-config-rewrite", "finding 3: CONFIG.EN=1 re-written over a live queue", [
      ...PREAMBLE,
      g0["BASE0"]!,
      g0["ALLOC0"]!,
      g0["ENABLE0"]!,
      CMDQV_EN,
      VINTF_EN,
      step(),
      CMDQV_EN,
      ...probe(0),
    ]),
    script(
      "findings/5-zeroed-base",
      "finding 5: an allocated queue's BASE written 0 while it is live",
      [
        ...PREAMBLE,
        ...bringUp(1),
        ...probe(0),
        writeq(at.lvPage1(0, 0), 0n),
        step(),
        readl(at.lvPage0(0, VCMDQ0.STATUS)),
        readl(at.direct0(0, VCMDQ0.CONS)),
      ],
    ),
    script("findings/4-realloc-with-higher", "finding 4: VCMDQ0 re-allocated while VCMDQ1 exists", [
      ...PREAMBLE,
      g0["BASE0"]!,
      g0["ALLOC0"]!,
      g1["BASE1"]!,
      g1["ALLOC1"]!,
      g0["ENABLE0"]!,
      g1["ENABLE1"]!,
      VINTF_EN,
      CMDQV_EN,
      ...probe(0),
      ...probe(1),
    ]),
  ];
}

function hostileScripts(): DiffScript[] {
  const bring = (ring: number, log2 = LOG2SIZE) => {
    const g = gates(0, ring, log2);
    return [...PREAMBLE, CMDQV_EN, VINTF_EN, g["ALLOC0"]!, g["BASE0"]!, g["ENABLE0"]!, step()];
  };
  const status = [readl(at.lvPage0(0, VCMDQ0.STATUS)), readl(at.direct0(0, VCMDQ0.GERROR))];
  return [
    script("hostile/base-in-mmio", "VCMDQ0's BASE points at the SMMU's MMIO", [
      ...bring(SMMU),
      ...status,
    ]),
    script("hostile/base-beyond-ram", "VCMDQ0's BASE is past the end of RAM", [
      ...bring(RAM + DEFAULT_MACHINE.ramSize + 0x1000_0000),
      ...status,
    ]),
    script("hostile/base-unaligned", "VCMDQ0's BASE is not aligned to the ring's size", [
      ...bring(ringOf(0) + 0x800),
      ...status,
    ]),
    script("hostile/log2size-max", "LOG2SIZE 31, the field's largest value", [
      ...bring(RAM, 31),
      ...status,
    ]),
    script("hostile/prod-past-ring", "PROD written past the ring's 4096 entries", [
      ...bring(ringOf(0)),
      writel(at.lvPage0(0, VCMDQ0.PROD), 0x1_2345),
      step(),
      readl(at.lvPage0(0, VCMDQ0.CONS)),
      ...status,
    ]),
    script("hostile/overlapping-queues", "both queues' rings at the same address", [
      ...PREAMBLE,
      CMDQV_EN,
      VINTF_EN,
      gates(0)["ALLOC0"]!,
      gates(0)["BASE0"]!,
      gates(1, ringOf(0))["ALLOC1"]!,
      gates(1, ringOf(0))["BASE1"]!,
      gates(0)["ENABLE0"]!,
      gates(1, ringOf(0))["ENABLE1"]!,
      ...probe(0),
      step(),
      readl(at.lvPage0(1, VCMDQ0.STATUS)),
    ]),
  ];
}

/** An illegal command in VCMDQ0: the hardware's error comes back as a vEVENT. */
function veventScripts(): DiffScript[] {
  const illegal = (masked: boolean) => [
    ...PREAMBLE,
    writel(at.config(CFG.VI_INT_MASK_0), masked ? 1 : 0),
    ...bringUp(1),
    step(),
    writeCmd(ringOf(0), { op: "CFGI_STE", sid: 8, leaf: 1 }),
    writel(at.lvPage0(0, VCMDQ0.PROD), 1),
    step(),
    readl(at.lvPage0(0, VCMDQ0.CONS)),
    readl(at.lvPage0(0, VCMDQ0.GERROR)),
    readl(at.config(CFG.VI_ERR_MAP_0)),
    readl(at.vintf(VINTF.LVCMDQ_ERR_MAP_0)),
    readl(at.config(CFG.CMDQ_ERR_MAP_0)),
  ];
  return [
    script(
      "vevent/mask-clear",
      "an illegal command with VI_INT_MASK_0 clear: maps set, IRQ raised",
      illegal(false),
    ),
    script(
      "vevent/mask-set",
      "an illegal command with VI_INT_MASK_0 bit 0 set: maps set, no IRQ",
      illegal(true),
    ),
  ];
}

function disableScripts(): DiffScript[] {
  const live = [...PREAMBLE, ...bringUp(2), ...probe(0), ...probe(1, 1)];
  const after = [
    step(),
    readl(at.lvPage0(0, VCMDQ0.STATUS)),
    readl(at.lvPage0(1, VCMDQ0.STATUS)),
    readl(at.vintf(VINTF.STATUS)),
    readl(at.config(CFG.STATUS)),
    readl(at.lvPage0(0, VCMDQ0.CONS)),
  ];
  return [
    script("disable/vintf", "VINTF0 disabled with two live queues", [...live, VINTF_DIS, ...after]),
    script("disable/cmdqv", "CMDQV disabled with two live queues", [...live, CMDQV_DIS, ...after]),
    script("disable/system-reset", "system_reset with two live queues, then a fresh bring-up", [
      ...live,
      SYSTEM_RESET,
      ...after,
      ...bringUp(1),
      ...probe(0),
    ]),
  ];
}

function mainCmdqScripts(): DiffScript[] {
  const vsid = QTEST_VSID;
  /** A linear stream table of 2^5 STEs; the device's STE is valid with Config=bypass. */
  const setup = [
    `irq_intercept_in ${GIC}`,
    writeq(SMMU + SMMU_REG.STRTAB_BASE, BigInt(STRTAB)),
    writel(SMMU + SMMU_REG.STRTAB_BASE_CFG, 5),
    writeq(SMMU + SMMU_REG.CMDQ_BASE, BigInt(MAIN_RING) | 8n), // 256 entries
    writel(SMMU + SMMU_REG.CR0, 0x9), // SMMUEN | CMDQEN
    readl(SMMU + SMMU_REG.CR0ACK),
  ];
  const ste = `write ${hex(STRTAB + 64 * vsid)} 16 0x${Buffer.from([9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).toString("hex")}`;
  const cmds = (list: Command[], from: number) =>
    list.map((c, i) => writeCmd(MAIN_RING + 16 * (from + i), c));
  const sync = SYNC;
  const tlbi = (asid: number): Command => ({ op: "TLBI_NH_ASID", vmid: 0, asid });
  const batch = Array.from({ length: 63 }, (_, i) => tlbi(i + 1));
  return [
    script(
      "main-cmdq/tlbi-cfgi-sync",
      "the trapped main CMDQ: a bypass STE, CFGI_STE, TLBI_NH_ASID, CMD_SYNC",
      [
        ...setup,
        ste,
        ...cmds([{ op: "CFGI_STE", sid: vsid, leaf: 1 }, sync], 0),
        writel(SMMU + SMMU_REG.CMDQ_PROD, 2),
        readl(SMMU + SMMU_REG.CMDQ_CONS),
        ...cmds([tlbi(5), sync], 2),
        writel(SMMU + SMMU_REG.CMDQ_PROD, 4),
        readl(SMMU + SMMU_REG.CMDQ_CONS),
        readl(SMMU + SMMU_REG.GERROR),
      ],
    ),
    script("main-cmdq/batch-63", "63 TLBI_NH_ASID and a CMD_SYNC published with one PROD write", [
      ...setup,
      ...cmds([...batch, sync], 0),
      writel(SMMU + SMMU_REG.CMDQ_PROD, 64),
      readl(SMMU + SMMU_REG.CMDQ_CONS),
      readl(SMMU + SMMU_REG.GERROR),
    ]),
  ];
}

/**
 * The trapped main CMDQ as a guest drives it: STEs written to a linear stream table,
 * commands published by PROD with CONS read back, a stopped queue acknowledged by toggling
 * GERRORN.CMDQ_ERR.
 */
class MainCmdq {
  readonly steps: string[] = [];
  private prod = 0;
  private gerrorn = 0;
  private readonly ring: number;
  private readonly strtab: number;

  constructor(ring: number, strtab: number) {
    this.ring = ring;
    this.strtab = strtab;
  }

  line(s: string): this {
    this.steps.push(s);
    return this;
  }

  writel(off: number, v: number): this {
    return this.line(writel(SMMU + off, v));
  }

  ste(sid: number, w0: bigint, w1 = 0n): this {
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(w0, 0);
    b.writeBigUInt64LE(w1, 8);
    return this.line(`write ${hex(this.strtab + 64 * sid)} 16 0x${b.toString("hex")}`);
  }

  /** Commands into a 32-entry ring, then PROD, then CONS. */
  issue(...cmds: Command[]): this {
    for (const c of cmds) {
      this.line(writeCmd(this.ring + 16 * (this.prod % 32), c));
      this.prod = (this.prod + 1) % 64;
    }
    return this.writel(SMMU_REG.CMDQ_PROD, this.prod).line(readl(SMMU + SMMU_REG.CMDQ_CONS));
  }

  /** Acknowledge the CMDQ error the queue stopped at (GERRORN toggles to GERROR). */
  ack(): this {
    this.gerrorn ^= 1;
    return this.writel(SMMU_REG.GERRORN, this.gerrorn).line(readl(SMMU + SMMU_REG.CMDQ_CONS));
  }
}

/**
 * The accel core's STE installs: the vDEVICE at the first CFGI (failed once, retried on the
 * ack), stage-1 STEs as nested HWPTs (one attach failing), bypass and abort STEs, a CFGI
 * for a SID with no device, the ARM vEVENTQ at EVENTQEN, GBPA updates (one attach
 * failing), and system_reset.
 */
function steInstallScript(): DiffScript {
  const ring = RAM + 0x30_0000;
  const strtab = RAM + 0x100_0000;
  const q = new MainCmdq(ring, strtab)
    .line(writeq(SMMU + SMMU_REG.STRTAB_BASE, BigInt(strtab)))
    .writel(SMMU_REG.STRTAB_BASE_CFG, 16)
    .line(writeq(SMMU + SMMU_REG.CMDQ_BASE, BigInt(ring) | 5n))
    .line(writeq(SMMU + SMMU_REG.EVENTQ_BASE, BigInt(RAM + 0x40_0000) | 7n))
    .writel(SMMU_REG.CR0, 0x8)
    .line("cmdqv_fault vdevice_alloc:obj_alloc 1")
    .issue({ op: "CFGI_STE_RANGE", sid: 0, range: 31 }, SYNC)
    .ack()
    .writel(SMMU_REG.CR0, 0x9)
    .ste(QTEST_VSID, 0xbn | 0x4180_0000n, 0x1n)
    .issue({ op: "CFGI_STE", sid: QTEST_VSID, leaf: 1 }, SYNC)
    .ste(QTEST_VSID, 0xbn | 0x4190_0000n)
    .line("cmdqv_fault device_attach:attach_dev 1")
    .issue({ op: "CFGI_STE", sid: QTEST_VSID, leaf: 1 }, SYNC)
    .ack()
    .ste(QTEST_VSID, 0x9n)
    .issue({ op: "CFGI_STE", sid: QTEST_VSID, leaf: 1 }, SYNC)
    .ste(QTEST_VSID, 0n)
    .issue({ op: "CFGI_STE", sid: QTEST_VSID, leaf: 1 }, { op: "CFGI_STE", sid: 5, leaf: 1 }, SYNC)
    .writel(SMMU_REG.CR0, 0xd)
    .writel(SMMU_REG.CR0, 0x9)
    .writel(SMMU_REG.CR0, 0xd)
    .writel(SMMU_REG.GBPA, 0x8010_1000)
    .line("cmdqv_fault device_attach:attach_dev 1")
    .writel(SMMU_REG.GBPA, 0x8000_1000)
    .line(SYSTEM_RESET);
  return script(
    "main-cmdq/ste-install",
    "the accel core's STE installs, vEVENTQ and GBPA attaches, with failures, through the trapped main CMDQ",
    q.steps,
  );
}

/** How many two-queue orders the catalog samples, and from which seed. */
export const TWO_QUEUE_SAMPLE = { count: 24, seed: 11 } as const;

/** Every built-in script, in a stable order. */
export function builtinScripts(): DiffScript[] {
  return [
    ...registerScripts(),
    ...accessSizeScripts(),
    ...gateOrderScripts(),
    ...twoQueueScripts(TWO_QUEUE_SAMPLE.count, TWO_QUEUE_SAMPLE.seed),
    ...reviewScripts(),
    ...syncScripts(),
    ...findingScripts(),
    ...hostileScripts(),
    ...veventScripts(),
    ...disableScripts(),
    ...mainCmdqScripts(),
    steInstallScript(),
  ];
}

/** Scripts whose name matches a glob (`*` within a path segment, `**` across). */
export function selectScripts(all: readonly DiffScript[], pattern: string): DiffScript[] {
  const re = new RegExp(
    `^${pattern
      .split("**")
      .map((p) =>
        p
          .split("*")
          .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
          .join("[^/]*"),
      )
      .join(".*")}$`,
  );
  return all.filter((s) => re.test(s.name));
}
