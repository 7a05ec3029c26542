// The differential scripts: the architectural behaviour of the SMMUv3 main command queue,
// as the same qtest lines against QEMU 7.2 and `cmdqv qtest`. Both consume the main CMDQ
// synchronously on the CMDQ_PROD (or CR0, or GERRORN) write, so no script steps a clock
// (Debian's 7.2 has no qtest accelerator and answers clock_step with FAIL).
//
// Layout in guest RAM (both machines have 1 GiB at 0x4000_0000): rings at +1 MiB, the
// CMD_SYNC MSI target at +1.5 MiB.

import { CS } from "../src/smmu/commands.js";
import {
  CONS_ERR_ABT,
  CONS_ERR_ILL,
  CR0_CMDQEN,
  cmdqBase,
  commandBytes,
  differs,
  GERROR_CMDQ_ERR,
  IRQ_CMD_SYNC,
  IRQ_CTRL_GERROR_IRQEN,
  IRQ_GERROR,
  memset,
  pulse,
  RAM,
  REG,
  rawCommand,
  readl,
  readq,
  readRam,
  type Script,
  script,
  writeCommands,
  writel,
  writeq,
} from "./script.js";

const RING = RAM + 0x10_0000;
const MSI = RAM + 0x18_0000;
/** The vSID of the device behind the SMMU in our machine (a vDEVICE exists for it). */
const SID = 8;

const tlbiAsid = (asid: number) => commandBytes({ op: "TLBI_NH_ASID", vmid: 0, asid });
const sync = (cs: number, msidata = 0, msiaddr = 0n) =>
  commandBytes({ op: "CMD_SYNC", cs, msh: 3, msiattr: 0xf, msidata, msiaddr });
const syncIrq = () => sync(CS.IRQ, 0xcafe_f00d, BigInt(MSI));

/** CMDQ at RING with 2^log2 entries, GERROR interrupt enabled, queue enabled. */
function bringUp(log2: number) {
  return [
    writeq(REG.CMDQ_BASE, cmdqBase(RING, log2)),
    readq(REG.CMDQ_BASE, cmdqBase(RING, log2)),
    writel(REG.IRQ_CTRL, IRQ_CTRL_GERROR_IRQEN),
    readl(REG.IRQ_CTRLACK, IRQ_CTRL_GERROR_IRQEN),
    writel(REG.CR0, CR0_CMDQEN),
    readl(REG.CR0ACK, CR0_CMDQEN),
  ];
}

const resetValues = script("reset values of the SMMUv3 registers", [
  differs(readl(REG.IDR0), "idr0-vmid16-ats", 0x0d40_101a, 0x0d44_141a),
  differs(readl(REG.IDR1), "idr1-cmdqs-ssidsize", 0x0273_0010, 0x0233_0510),
  readl(REG.IDR2, 0),
  readl(REG.IDR3, 0x1404),
  readl(REG.IDR4, 0),
  differs(readl(REG.IDR5), "idr5-oas-auto", 0x74, 0x75),
  readl(REG.IIDR, 0),
  readl(REG.AIDR, 1),
  readl(REG.CR0, 0),
  readl(REG.CR0ACK, 0),
  readl(REG.CR1, 0),
  readl(REG.CR2, 0),
  readl(REG.STATUSR, 0),
  differs(readl(REG.GBPA), "gbpa", 0, 0x1000),
  readl(REG.IRQ_CTRL, 0),
  readl(REG.IRQ_CTRLACK, 0),
  readl(REG.GERROR, 0),
  readl(REG.GERRORN, 0),
  readq(REG.GERROR_IRQ_CFG0, 0),
  readq(REG.STRTAB_BASE, 0),
  readl(REG.STRTAB_BASE_CFG, 0),
  readq(REG.CMDQ_BASE, 0x13),
  readl(REG.CMDQ_PROD, 0),
  readl(REG.CMDQ_CONS, 0),
  readq(REG.EVENTQ_BASE, 0x13),
  readl(REG.EVENTQ_PROD, 0),
  readl(REG.EVENTQ_CONS, 0),
  readl(REG.PIDR0, 0x84),
  readl(REG.CIDR0, 0x0d),
  // GBPA with UPDATE: accepted at once where it exists, ignored where it does not.
  writel(REG.GBPA, 0x8000_0100),
  differs(readl(REG.GBPA), "gbpa", 0, 0x100),
  // STRTAB registers hold what is written (the CMDQ scripts need no stream table).
  writeq(REG.STRTAB_BASE, 0x4020_0000n),
  writel(REG.STRTAB_BASE_CFG, 0x10),
  readq(REG.STRTAB_BASE, 0x4020_0000n),
  readl(REG.STRTAB_BASE_CFG, 0x10),
]);

const batch = script("a batch of commands: CONS reaches PROD, no error", [
  ...bringUp(8),
  writeCommands(RING, 0, [
    commandBytes({ op: "PREFETCH_CFG", sid: SID }),
    commandBytes({ op: "CFGI_STE", sid: SID, leaf: 1 }),
    commandBytes({ op: "CFGI_CD", sid: SID, ssid: 0, leaf: 1 }),
    tlbiAsid(1),
    commandBytes({
      op: "TLBI_NH_VA",
      vmid: 0,
      asid: 1,
      addr: 0x1000n,
      num: 0,
      scale: 0,
      leaf: 1,
      ttl: 0,
      tg: 0,
    }),
    commandBytes({ op: "TLBI_NH_ALL", vmid: 0 }),
    sync(CS.NONE),
  ]),
  writel(REG.CMDQ_PROD, 7),
  readl(REG.CMDQ_CONS, 7),
  readl(REG.CMDQ_PROD, 7),
  readl(REG.GERROR, 0),
  // A second batch after the first, ending in a CMD_SYNC with CS=SEV (no interrupt).
  writeCommands(RING, 7, [
    commandBytes({ op: "TLBI_EL2_ALL" }),
    commandBytes({ op: "CFGI_CD_ALL", sid: SID }),
    commandBytes({ op: "CFGI_STE_RANGE", sid: 0, range: 31 }),
    commandBytes({ op: "TLBI_NSNH_ALL" }),
    commandBytes({ op: "ATC_INV", sid: SID, ssv: 0, ssid: 0, global: 0, addr: 0n, size: 52 }),
    sync(CS.SEV),
  ]),
  writel(REG.CMDQ_PROD, 13),
  readl(REG.CMDQ_CONS, 13),
  readl(REG.GERROR, 0),
  // Writing PROD = CONS consumes nothing.
  writel(REG.CMDQ_PROD, 13),
  readl(REG.CMDQ_CONS, 13),
]);

const syncIrqScript = script(
  "CMD_SYNC with CS=IRQ pulses the CMD_SYNC interrupt and writes no MSI",
  [
    ...bringUp(4),
    // A pattern at MSIADDR: a write of MSIDATA would show.
    memset(MSI, 16, 0xee),
    writeCommands(RING, 0, [tlbiAsid(1), syncIrq()]),
    writel(REG.CMDQ_PROD, 2, pulse(IRQ_CMD_SYNC)),
    readl(REG.CMDQ_CONS, 2),
    readRam(MSI, 16, 0xee),
    // Neither IRQ_CTRL nor anything else gates the CMD_SYNC wire in QEMU's model.
    writel(REG.IRQ_CTRL, 0),
    writeCommands(RING, 2, [syncIrq(), syncIrq()]),
    writel(REG.CMDQ_PROD, 4, [...pulse(IRQ_CMD_SYNC), ...pulse(IRQ_CMD_SYNC)]),
    readl(REG.CMDQ_CONS, 4),
    // CS=SEV and CS=NONE raise nothing; the reserved CS=3 has the IRQ bit set and pulses.
    writeCommands(RING, 4, [
      sync(CS.SEV, 1, BigInt(MSI)),
      sync(CS.NONE, 2, BigInt(MSI)),
      sync(3, 3, BigInt(MSI)),
    ]),
    writel(REG.CMDQ_PROD, 7, pulse(IRQ_CMD_SYNC)),
    readl(REG.CMDQ_CONS, 7),
    readRam(MSI, 16, 0xee),
    readl(REG.GERROR, 0),
  ],
);

const illegal = script(
  "an illegal opcode stops the queue with CONS.ERR=ILL; the GERRORN ack restarts it",
  [
    ...bringUp(4),
    writeCommands(RING, 0, [tlbiAsid(1), rawCommand(0x7fn), syncIrq()]),
    writel(REG.CMDQ_PROD, 3, pulse(IRQ_GERROR)),
    readl(REG.CMDQ_CONS, CONS_ERR_ILL | 1),
    readl(REG.GERROR, GERROR_CMDQ_ERR),
    readl(REG.GERRORN, 0),
    // While CMDQ_ERR is pending nothing is consumed and no second GERROR pulse comes.
    writel(REG.CMDQ_PROD, 3),
    readl(REG.CMDQ_CONS, CONS_ERR_ILL | 1),
    // Acking with the bad command still there stops the queue again at once.
    writel(REG.GERRORN, GERROR_CMDQ_ERR, pulse(IRQ_GERROR)),
    readl(REG.CMDQ_CONS, CONS_ERR_ILL | 1),
    readl(REG.GERROR, 0),
    readl(REG.GERRORN, GERROR_CMDQ_ERR),
    // What Linux does: replace the bad command with a CMD_SYNC, then ack. The queue restarts
    // at CONS, runs to PROD, and CONS keeps its ERR field.
    writeCommands(RING, 1, [sync(CS.NONE)]),
    writel(REG.GERRORN, 0, pulse(IRQ_CMD_SYNC)),
    readl(REG.CMDQ_CONS, CONS_ERR_ILL | 3),
    readl(REG.GERROR, 0),
    readl(REG.GERRORN, 0),
    // More illegal commands: opcode 0 and CFGI_ALL (0x07, a name without a case in QEMU).
    writeCommands(RING, 3, [rawCommand(0x00n)]),
    writel(REG.CMDQ_PROD, 4, pulse(IRQ_GERROR)),
    readl(REG.CMDQ_CONS, CONS_ERR_ILL | 3),
    readl(REG.GERROR, GERROR_CMDQ_ERR),
    writeCommands(RING, 3, [rawCommand(0x07n)]),
    writel(REG.GERRORN, GERROR_CMDQ_ERR, pulse(IRQ_GERROR)),
    readl(REG.CMDQ_CONS, CONS_ERR_ILL | 3),
    // CFGI_STE with SSEC (dword0 bit 10) is illegal too.
    writeCommands(RING, 3, [rawCommand(0x403n | (BigInt(SID) << 32n))]),
    writel(REG.GERRORN, 0, pulse(IRQ_GERROR)),
    readl(REG.CMDQ_CONS, CONS_ERR_ILL | 3),
    // Without GERROR_IRQEN an error is recorded with no pulse. The error is still pending
    // here: PROD moves, nothing runs; the ack runs entry 3 and stops again at entry 4.
    writel(REG.IRQ_CTRL, 0),
    writeCommands(RING, 3, [tlbiAsid(2), rawCommand(0xffn), sync(CS.NONE)]),
    writel(REG.CMDQ_PROD, 6),
    readl(REG.CMDQ_CONS, CONS_ERR_ILL | 3),
    writel(REG.GERRORN, GERROR_CMDQ_ERR),
    readl(REG.CMDQ_CONS, CONS_ERR_ILL | 4),
    readl(REG.GERROR, 0),
    readl(REG.GERRORN, GERROR_CMDQ_ERR),
    // The guest may write CONS itself: that clears ERR and skips the entry; the ack then
    // runs the rest.
    writel(REG.CMDQ_CONS, 5),
    readl(REG.CMDQ_CONS, 5),
    writel(REG.GERRORN, 0),
    readl(REG.CMDQ_CONS, 6),
    readl(REG.GERROR, 0),
    readl(REG.GERRORN, 0),
  ],
);

const wrap = script("index wrap: a 4-entry queue goes round with the wrap bit", [
  ...bringUp(2),
  writeCommands(RING, 0, [tlbiAsid(1), tlbiAsid(2), syncIrq(), tlbiAsid(3)]),
  writel(REG.CMDQ_PROD, 3, pulse(IRQ_CMD_SYNC)),
  readl(REG.CMDQ_CONS, 3),
  // Entries 3, 0, 1: PROD's wrap bit (bit 2) flips.
  writel(REG.CMDQ_PROD, 0x4 | 1),
  readl(REG.CMDQ_CONS, 0x4 | 1),
  // A full queue (same index, other wrap): all four entries, the sync at 2 included.
  writel(REG.CMDQ_PROD, 0x1, pulse(IRQ_CMD_SYNC)),
  readl(REG.CMDQ_CONS, 0x1),
  writel(REG.CMDQ_PROD, 0x4 | 1, pulse(IRQ_CMD_SYNC)),
  readl(REG.CMDQ_CONS, 0x4 | 1),
  // Bits above the wrap bit are stored in PROD and ignored by the queue.
  writel(REG.CMDQ_PROD, 0x8000_0000 | 0x4 | 3, pulse(IRQ_CMD_SYNC)),
  readl(REG.CMDQ_CONS, 0x4 | 3),
  readl(REG.CMDQ_PROD, 0x8000_0000 | 0x4 | 3),
  readl(REG.GERROR, 0),
]);

const disabled = script("a disabled queue consumes nothing until CR0.CMDQEN is set", [
  writeq(REG.CMDQ_BASE, cmdqBase(RING, 4)),
  writeCommands(RING, 0, [tlbiAsid(1), syncIrq()]),
  writel(REG.CMDQ_PROD, 2),
  readl(REG.CMDQ_CONS, 0),
  // Enabling the queue consumes what is pending.
  writel(REG.CR0, CR0_CMDQEN, pulse(IRQ_CMD_SYNC)),
  readl(REG.CR0ACK, CR0_CMDQEN),
  readl(REG.CMDQ_CONS, 2),
  writel(REG.CR0, 0),
  readl(REG.CR0ACK, 0),
  writeCommands(RING, 2, [syncIrq()]),
  writel(REG.CMDQ_PROD, 3),
  readl(REG.CMDQ_CONS, 2),
]);

const abort = script("a ring outside guest RAM stops the queue with CONS.ERR=ABT", [
  writel(REG.IRQ_CTRL, IRQ_CTRL_GERROR_IRQEN),
  writeq(REG.CMDQ_BASE, cmdqBase(0x1_0000_0000, 4)),
  writel(REG.CR0, CR0_CMDQEN),
  writel(REG.CMDQ_PROD, 1, pulse(IRQ_GERROR)),
  readl(REG.CMDQ_CONS, CONS_ERR_ABT),
  readl(REG.GERROR, GERROR_CMDQ_ERR),
]);

const stage2 = script("stage-2 invalidations: accepted by 7.2, CERROR_ILL in the accel-era front", [
  ...bringUp(4),
  writeCommands(RING, 0, [
    commandBytes({ op: "TLBI_S12_VMALL", vmid: 1 }),
    commandBytes({
      op: "TLBI_S2_IPA",
      vmid: 1,
      ipa: 0x1000n,
      num: 0,
      scale: 0,
      leaf: 0,
      ttl: 0,
      tg: 0,
    }),
    sync(CS.NONE),
  ]),
  differs(writel(REG.CMDQ_PROD, 3), "stage2-check", ["OK"], [...pulse(IRQ_GERROR), "OK"]),
  differs(readl(REG.CMDQ_CONS), "stage2-check", 3, CONS_ERR_ILL | 0),
  differs(readl(REG.GERROR), "stage2-check", 0, GERROR_CMDQ_ERR),
  // Past the first: a CMD_SYNC in its place and the ack; cmdqv stops at TLBI_S2_IPA.
  writeCommands(RING, 0, [sync(CS.NONE)]),
  differs(
    writel(REG.GERRORN, GERROR_CMDQ_ERR),
    "stage2-check",
    ["OK"],
    [...pulse(IRQ_GERROR), "OK"],
  ),
  differs(readl(REG.CMDQ_CONS), "stage2-check", 3, CONS_ERR_ILL | 1),
  // GERROR toggled back on cmdqv (pending again, with GERRORN 1); QEMU has nothing pending.
  readl(REG.GERROR, 0),
  readl(REG.GERRORN, GERROR_CMDQ_ERR),
]);

const forwarded = script("a forwarded invalidation that the host fails stops the accel-era queue", [
  ...bringUp(4),
  differs(
    { send: "cmdqv_fault hwpt_invalidate:copy_from_user 1" },
    "cmdqv-extension",
    ["FAIL Unknown command 'cmdqv_fault'"],
    ["OK"],
  ),
  writeCommands(RING, 0, [tlbiAsid(1), sync(CS.NONE)]),
  differs(writel(REG.CMDQ_PROD, 2), "accel-forward", ["OK"], [...pulse(IRQ_GERROR), "OK"]),
  differs(readl(REG.CMDQ_CONS), "accel-forward", 2, CONS_ERR_ILL | 0),
  differs(readl(REG.GERROR), "accel-forward", 0, GERROR_CMDQ_ERR),
  // The fault was for one call: the ack retries the TLBI, which the host now accepts.
  writel(REG.GERRORN, GERROR_CMDQ_ERR),
  differs(readl(REG.CMDQ_CONS), "accel-forward", 2, CONS_ERR_ILL | 2),
]);

export const SCRIPTS: readonly Script[] = [
  resetValues,
  batch,
  syncIrqScript,
  illegal,
  wrap,
  disabled,
  abort,
  stage2,
  forwarded,
];
