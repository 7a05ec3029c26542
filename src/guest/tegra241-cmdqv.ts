// The tegra241-cmdqv driver in its guest role, as actor code: probe from PARAM, VINTF0
// with its LVCMDQs (rings in guest DMA memory), hw_reset in the exact register order of
// spec linux §4.4 (R1–R4, V1–V5, M with D1–D6 and I1–I3), command routing to a VCMDQ
// (§4.5), and the ISR (§4.6). Every message is the §4.7 format string.
//
// The guest drives its LVCMDQs through the VINTF pages (0x30000 / 0x40000 + 0x80·lidx)
// only. VINTF0's HYP_OWN reads back 0 in a guest (the VMM wires it), so the guest filter
// is installed: only TLBI_NH_ASID, TLBI_NH_VA and ATC_INV go to a VCMDQ.

import { APERTURE, BASE_ADDR_MASK, BITS, CFG, F, VCMDQ0, VCMDQ1, VINTF } from "../regs/cmdqv.js";
import { type Command, OPCODE } from "../smmu/commands.js";
import { sprintf } from "../util/printf.js";
import { type ActorBody, read, read64, write, write64 } from "./actor.js";
import { ArmSmmuCmdq, type ArmSmmuImpl, ArmSmmuQueue, type ArmSmmuV3 } from "./arm-smmu-v3.js";
import type { GuestDmesg } from "./dmesg.js";
import { ARM_SMMU_POLL_TIMEOUT_US, ERRNO, readlPollTimeout } from "./linux.js";

/** The ACPI companion's device name. spec: linux §4.1. */
export const CMDQV_COMPANION = "NVDA200C:00";

export interface Tegra241CmdqvOptions {
  /** Guest-physical base of the CMDQV window (the _CRS memory resource). */
  readonly base: number;
  /** The _CRS interrupt exists (default true). */
  readonly hasIrq?: boolean;
  /** Module parameter disable_cmdqv. spec: linux §4.2 step 4. */
  readonly disableCmdqv?: boolean;
  /** Module parameter / debugfs bypass_vcmdq: every command goes to the main CMDQ. */
  readonly bypassVcmdq?: boolean;
  /**
   * Tests only: place LVCMDQ lidx's ring `ringOffsets[lidx]` bytes past a naturally aligned
   * buffer (dma_alloc_coherent never does this; it is how a test forces a misaligned BASE).
   */
  readonly ringOffsets?: readonly number[];
  /**
   * Tests and scenarios: put LVCMDQ lidx's ring at exactly this guest-physical address
   * (null: the driver's own choice). Takes precedence over ringOffsets.
   */
  readonly ringAddrs?: readonly (number | null)[];
}

/** struct tegra241_vcmdq: one logical VCMDQ of a VINTF. */
export class Tegra241Vcmdq {
  /** Global VCMDQ index: vintf·N + lidx. */
  readonly idx: number;
  readonly lidx: number;
  readonly vintf: Tegra241Vintf;
  /** "VINTF%u: VCMDQ%u/LVCMDQ%u: ". */
  readonly header: string;
  readonly page0: number;
  readonly page1: number;
  readonly cmdq: ArmSmmuCmdq;
  /** Cached STATUS.CMDQ_EN_OK from the last enable/disable poll (vcmdq->enabled). */
  enabled = false;

  constructor(vintf: Tegra241Vintf, lidx: number, idx: number, base: number, maxNShift: number) {
    this.vintf = vintf;
    this.lidx = lidx;
    this.idx = idx;
    this.header = `VINTF${vintf.idx}: VCMDQ${idx}/LVCMDQ${lidx}: `;
    const pages = APERTURE.VINTF_STRIDE * vintf.idx + APERTURE.VCMDQ_STRIDE * lidx;
    this.page0 = base + APERTURE.VINTF_PAGE0 + pages;
    this.page1 = base + APERTURE.VINTF_PAGE1 + pages;
    this.cmdq = new ArmSmmuCmdq(
      new ArmSmmuQueue(
        `vcmdq${idx}`,
        this.page0 + VCMDQ0.PROD,
        this.page0 + VCMDQ0.CONS,
        maxNShift,
      ),
      true,
    );
  }
}

/** struct tegra241_vintf. */
export class Tegra241Vintf {
  readonly idx: number;
  /** Register block in the config page. */
  readonly base: number;
  /** "VINTF%u: ". */
  readonly header: string;
  /** Cached VINTF STATUS.ENABLED from the last poll (vintf->enabled). */
  enabled = false;
  /** HYP_OWN as read back at V5 (a guest reads 0). */
  hypOwn = false;
  /** VINTF0's VMID is 0: the struct is zero-allocated. spec: linux §4.4 notes. */
  readonly vmid = 0;
  readonly lvcmdqs: (Tegra241Vcmdq | null)[];

  constructor(idx: number, cmdqvBase: number, numLvcmdqs: number) {
    this.idx = idx;
    this.base = cmdqvBase + CFG.VINTF_0 + CFG.VINTF_BLOCK_STRIDE * idx;
    this.header = `VINTF${idx}: `;
    this.lvcmdqs = new Array<Tegra241Vcmdq | null>(numLvcmdqs).fill(null);
  }
}

/**
 * tegra241_guest_vcmdq_supports_cmd: what a guest-owned (HYP_OWN=0) VCMDQ accepts.
 * spec: linux §2.3.
 */
export function tegra241GuestVcmdqSupportsCmd(cmd: Command): boolean {
  return cmd.op === "TLBI_NH_ASID" || cmd.op === "TLBI_NH_VA" || cmd.op === "ATC_INV";
}

export class Tegra241Cmdqv implements ArmSmmuImpl {
  readonly companion = CMDQV_COMPANION;
  readonly base: number;
  readonly hasIrq: boolean;
  readonly disableCmdqv: boolean;
  bypassVcmdq: boolean;
  private readonly ringOffsets: readonly number[];
  private readonly ringAddrs: readonly (number | null)[];
  private smmuRef: ArmSmmuV3 | null = null;

  numVintfs = 0;
  numVcmdqs = 0;
  numLvcmdqsPerVintf = 0;
  numSidsPerVintf = 0;
  /** The PARAM value read at probe. */
  param = 0;
  vintfs: (Tegra241Vintf | null)[] = [];
  /** ISR runs (diagnostics). */
  isrRuns = 0;

  constructor(opts: Tegra241CmdqvOptions) {
    this.base = opts.base;
    this.hasIrq = opts.hasIrq ?? true;
    this.disableCmdqv = opts.disableCmdqv ?? false;
    this.bypassVcmdq = opts.bypassVcmdq ?? false;
    this.ringOffsets = opts.ringOffsets ?? [];
    this.ringAddrs = opts.ringAddrs ?? [];
  }

  /** The SMMU this CMDQV was probed with (a model bug to use it before probe). */
  private smmu(): ArmSmmuV3 {
    if (this.smmuRef === null) throw new Error("tegra241-cmdqv: used before probe");
    return this.smmuRef;
  }

  private log(): GuestDmesg {
    return this.smmu().dmesg;
  }

  /** REG_CMDQV: a config-page register. */
  private regCmdqv(off: number): number {
    return this.base + off;
  }

  /** VINTF0, once init_structures has created it. */
  vintf0(): Tegra241Vintf | null {
    return this.vintfs[0] ?? null;
  }

  // ------------------------------------------------------------------ probe ----

  /**
   * tegra241_cmdqv_probe / __tegra241_cmdqv_probe: read CONFIG (disable_cmdqv clears EN
   * and falls back), read PARAM and derive the counts. spec: linux §4.2, §1.7.
   */
  *probe(smmu: ArmSmmuV3): ActorBody<boolean> {
    this.smmuRef = smmu;
    const d = this.log();
    if (!this.hasIrq) d.cmdqv("warn", "no interrupt. errors will not be reported");
    const config = (yield read(this.regCmdqv(CFG.CONFIG))) as number;
    if (this.disableCmdqv) {
      d.cmdqv("info", "Detected disable_cmdqv=true");
      yield write(this.regCmdqv(CFG.CONFIG), config & ~BITS.CMDQV_EN);
      d.cmdqv("info", "Falling back to standard SMMU CMDQ");
      return false;
    }
    const param = ((yield read(this.regCmdqv(CFG.PARAM))) as number) >>> 0;
    this.param = param;
    const P = F.PARAM;
    const field = (f: { shift: number; width: number }) =>
      (param >>> f.shift) & ((1 << f.width) - 1);
    this.numVintfs = 1 << field(P.NUM_VINTF_LOG2);
    this.numVcmdqs = 1 << field(P.NUM_VCMDQ_LOG2);
    this.numLvcmdqsPerVintf = this.numVcmdqs / this.numVintfs;
    this.numSidsPerVintf = 1 << field(P.NUM_SID_PER_VINTF_LOG2);
    this.vintfs = new Array<Tegra241Vintf | null>(this.numVintfs).fill(null);
    return true;
  }

  // ------------------------------------------------------- init_structures ----

  /**
   * tegra241_cmdqv_init_structures: VINTF0 for the kernel and its N LVCMDQs, each with a
   * ring of 2^min(CMDQ_MAX_SZ_SHIFT, IDR1.CMDQS) entries. spec: linux §4.3.
   */
  *initStructures(smmu: ArmSmmuV3): ActorBody<number> {
    const vintf = new Tegra241Vintf(0, this.base, this.numLvcmdqsPerVintf);
    this.vintfs[0] = vintf;
    const maxNShift = Math.min(smmu.cmdqMaxSzShift, smmu.cmdqs);
    for (let lidx = 0; lidx < this.numLvcmdqsPerVintf; lidx++) {
      const idx = vintf.idx * this.numLvcmdqsPerVintf + lidx;
      const vcmdq = new Tegra241Vcmdq(vintf, lidx, idx, this.base, maxNShift);
      const q = vcmdq.cmdq.q;
      const off = this.ringOffsets[lidx] ?? 0;
      const at = this.ringAddrs[lidx] ?? null;
      const place =
        at !== null
          ? () => at
          : off === 0
            ? undefined
            : (size: number) => {
                const b = smmu.ctx.allocDma(size + off, size);
                return b === undefined ? undefined : b + off;
              };
      const ret = smmu.initOneQueue(q, place);
      if (ret !== 0) return ret;
      // q_base = (dma & [47:5]) | LOG2SIZE. spec: linux §4.3.
      q.qBase = (BigInt(q.baseDma) & BASE_ADDR_MASK) | BigInt(q.maxNShift);
      vintf.lvcmdqs[lidx] = vcmdq;
    }
    // No MMIO here: the rings are DMA memory. (An empty delegation keeps it an actor.)
    yield* [];
    return 0;
  }

  // ------------------------------------------------------------ hw_reset ----

  /**
   * The enable/disable handshake shared by the three levels: write CONFIG, poll STATUS[0]
   * until it equals the written bit 0 (1 µs steps, 1 s), log "%sfailed to %sable,
   * STATUS=0x%08X" on timeout. Returns [0 | -ETIMEDOUT, last STATUS bit 0].
   * spec: linux §2.1.
   */
  private *writeConfig(
    configAddr: number,
    statusAddr: number,
    regval: number,
    header: string,
  ): ActorBody<[number, boolean]> {
    const en = (regval & 1) !== 0;
    yield write(configAddr, regval);
    const [ok, status] = yield* readlPollTimeout(
      this.smmu().ctx,
      statusAddr,
      (v) => ((v & 1) !== 0) === en,
      1,
      ARM_SMMU_POLL_TIMEOUT_US,
    );
    if (!ok)
      this.log().cmdqv(
        "err",
        sprintf("%sfailed to %sable, STATUS=0x%08X", header, en ? "en" : "dis", status),
      );
    return [ok ? 0 : -ERRNO.ETIMEDOUT, (status & 1) !== 0];
  }

  private *cmdqvWriteConfig(regval: number): ActorBody<number> {
    const [ret] = yield* this.writeConfig(
      this.regCmdqv(CFG.CONFIG),
      this.regCmdqv(CFG.STATUS),
      regval,
      "CMDQV: ",
    );
    return ret;
  }

  private *vintfWriteConfig(vintf: Tegra241Vintf, regval: number): ActorBody<number> {
    const [ret, en] = yield* this.writeConfig(
      vintf.base + VINTF.CONFIG,
      vintf.base + VINTF.STATUS,
      regval,
      vintf.header,
    );
    vintf.enabled = en;
    return ret;
  }

  private *vcmdqWriteConfig(vcmdq: Tegra241Vcmdq, regval: number): ActorBody<number> {
    const [ret, en] = yield* this.writeConfig(
      vcmdq.page0 + VCMDQ0.CONFIG,
      vcmdq.page0 + VCMDQ0.STATUS,
      regval,
      vcmdq.header,
    );
    vcmdq.enabled = en;
    return ret;
  }

  /** "%sGERRORN=0x%X, GERROR=0x%X, CONS=0x%X" after a failed D1 or I3. spec: linux §4.7. */
  private *logQueueRegs(vcmdq: Tegra241Vcmdq): ActorBody<void> {
    const gerrorn = (yield read(vcmdq.page0 + VCMDQ0.GERRORN)) as number;
    const gerror = (yield read(vcmdq.page0 + VCMDQ0.GERROR)) as number;
    const cons = (yield read(vcmdq.page0 + VCMDQ0.CONS)) as number;
    this.log().cmdqv(
      "err",
      sprintf("%sGERRORN=0x%X, GERROR=0x%X, CONS=0x%X", vcmdq.header, gerrorn, gerror, cons),
    );
  }

  /**
   * tegra241_vcmdq_hw_deinit, D1–D6: disable (not fatal), the ATC-timeout flush on the main
   * CMDQ, zero PROD/CONS/BASE/CONS_INDX_BASE, ack an uncleared error. spec: linux §4.4, §2.6.
   */
  private *vcmdqHwDeinit(smmu: ArmSmmuV3, vcmdq: Tegra241Vcmdq): ActorBody<void> {
    const d = this.log();
    // D1
    if ((yield* this.vcmdqWriteConfig(vcmdq, 0)) !== 0) yield* this.logQueueRegs(vcmdq);
    // D2: tegra241_vcmdq_hw_flush_timeout: a hand-built CMD_SYNC (CS=NONE) issued as a
    // command on the main CMDQ, with the driver's own CMD_SYNC after it, waited.
    yield* smmu.issueCmdlist(smmu.cmdq, [BigInt(OPCODE.CMD_SYNC), 0n], 1, true);
    // D3, D4
    yield write(vcmdq.page0 + VCMDQ0.PROD, 0);
    yield write(vcmdq.page0 + VCMDQ0.CONS, 0);
    yield write64(vcmdq.page1 + VCMDQ1.BASE_L, 0n);
    yield write64(vcmdq.page1 + VCMDQ1.CONS_INDX_BASE_L, 0n);
    // D5
    const gerrorn = ((yield read(vcmdq.page0 + VCMDQ0.GERRORN)) as number) >>> 0;
    const gerror = ((yield read(vcmdq.page0 + VCMDQ0.GERROR)) as number) >>> 0;
    if (gerror !== gerrorn) {
      d.cmdqv("warn", `${vcmdq.header}uncleared error detected, resetting`);
      yield write(vcmdq.page0 + VCMDQ0.GERRORN, gerror);
    }
    // D6
    d.cmdqv("debug", `${vcmdq.header}deinited`);
  }

  /** I1–I3 after D1–D6. 0 or the enable's error. spec: linux §4.4. */
  private *vcmdqHwInit(smmu: ArmSmmuV3, vcmdq: Tegra241Vcmdq): ActorBody<number> {
    yield* this.vcmdqHwDeinit(smmu, vcmdq);
    // I1: hyp_own is the HW state finalized at V5.
    if (!vcmdq.vintf.hypOwn) vcmdq.cmdq.supportsCmd = tegra241GuestVcmdqSupportsCmd;
    // I2
    yield write64(vcmdq.page1 + VCMDQ1.BASE_L, vcmdq.cmdq.q.qBase);
    // The rings restart at 0 with the registers zeroed at D3 [inf].
    vcmdq.cmdq.q.llq.prod = 0;
    vcmdq.cmdq.q.llq.cons = 0;
    // I3
    const ret = yield* this.vcmdqWriteConfig(vcmdq, BITS.CMDQ_EN);
    if (ret !== 0) {
      yield* this.logQueueRegs(vcmdq);
      return ret;
    }
    this.log().cmdqv("debug", `${vcmdq.header}inited`);
    return 0;
  }

  private allocReg(vcmdq: Tegra241Vcmdq): number {
    return this.regCmdqv(CFG.CMDQ_ALLOC_0 + 4 * vcmdq.idx);
  }

  /** tegra241_vcmdq_map_lvcmdq: CMDQ_ALLOC(q) |= ALLOCATED (read-modify-write). */
  private *mapLvcmdq(vcmdq: Tegra241Vcmdq): ActorBody<void> {
    const v = (yield read(this.allocReg(vcmdq))) as number;
    yield write(this.allocReg(vcmdq), v | BITS.ALLOC);
    this.log().cmdqv("debug", `${vcmdq.header}mapped`);
  }

  /** tegra241_vcmdq_unmap_lvcmdq: CMDQ_ALLOC(q) &= ~ALLOCATED. */
  private *unmapLvcmdq(vcmdq: Tegra241Vcmdq): ActorBody<void> {
    const v = (yield read(this.allocReg(vcmdq))) as number;
    yield write(this.allocReg(vcmdq), v & ~BITS.ALLOC);
    this.log().cmdqv("debug", `${vcmdq.header}unmapped`);
  }

  /**
   * tegra241_vintf_hw_deinit, V1–V3: LVCMDQs deinit + unmap in descending order, VINTF
   * disable (logged, not fatal), SID_MATCH/SID_REPLACE zeroed. spec: linux §4.4.
   */
  private *vintfHwDeinit(smmu: ArmSmmuV3, vintf: Tegra241Vintf): ActorBody<void> {
    for (let lidx = this.numLvcmdqsPerVintf - 1; lidx >= 0; lidx--) {
      const vcmdq = vintf.lvcmdqs[lidx];
      if (!vcmdq) continue;
      yield* this.vcmdqHwDeinit(smmu, vcmdq);
      yield* this.unmapLvcmdq(vcmdq);
    }
    yield* this.vintfWriteConfig(vintf, 0);
    for (let s = 0; s < this.numSidsPerVintf; s++) {
      yield write(vintf.base + VINTF.SID_MATCH_0 + 4 * s, 0);
      yield write(vintf.base + VINTF.SID_REPLACE_0 + 4 * s, 0);
    }
  }

  /**
   * tegra241_vintf_hw_init(vintf, hyp_own=true), V1–V5 and M: the VINTF comes up with
   * HYP_OWN|VMID, HYP_OWN is read back, then each LVCMDQ is mapped and initialised in
   * ascending order; a failed LVCMDQ deinits the whole VINTF. spec: linux §4.4.
   */
  private *vintfHwInit(smmu: ArmSmmuV3, vintf: Tegra241Vintf, hypOwn: boolean): ActorBody<number> {
    yield* this.vintfHwDeinit(smmu, vintf);
    // V4
    const regval = ((hypOwn ? BITS.VINTF_HYP_OWN : 0) | (vintf.vmid << 1)) >>> 0;
    yield write(vintf.base + VINTF.CONFIG, regval);
    const ret = yield* this.vintfWriteConfig(vintf, regval | BITS.VINTF_ENABLE);
    if (ret !== 0) return ret;
    // V5: a guest reads HYP_OWN as 0 (the VMM wires it).
    const cfg = (yield read(vintf.base + VINTF.CONFIG)) as number;
    vintf.hypOwn = (cfg & BITS.VINTF_HYP_OWN) !== 0;
    // M: "HW requires to map LVCMDQs in ascending order". spec: linux §2.5.
    for (let lidx = 0; lidx < this.numLvcmdqsPerVintf; lidx++) {
      const vcmdq = vintf.lvcmdqs[lidx];
      if (!vcmdq) continue;
      yield* this.mapLvcmdq(vcmdq);
      const r = yield* this.vcmdqHwInit(smmu, vcmdq);
      if (r !== 0) {
        yield* this.vintfHwDeinit(smmu, vintf);
        return r;
      }
    }
    return 0;
  }

  /**
   * tegra241_cmdqv_hw_reset (impl device_reset): R1–R4 then VINTF0's hw_init.
   * spec: linux §4.4.
   */
  *deviceReset(smmu: ArmSmmuV3): ActorBody<number> {
    // R1
    const v = ((yield read(this.regCmdqv(CFG.CONFIG))) as number) >>> 0;
    // R2, R3
    let ret = yield* this.cmdqvWriteConfig((v & ~BITS.CMDQV_EN) >>> 0);
    if (ret !== 0) return ret;
    ret = yield* this.cmdqvWriteConfig((v | BITS.CMDQV_EN) >>> 0);
    if (ret !== 0) return ret;
    // R4: static partition, ALLOCATED=0 (since 81f81db6328b).
    let q = 0;
    for (let vi = 0; vi < this.numVintfs; vi++) {
      for (let lidx = 0; lidx < this.numLvcmdqsPerVintf; lidx++) {
        yield write(this.regCmdqv(CFG.CMDQ_ALLOC_0 + 4 * q++), ((vi << 15) | (lidx << 1)) >>> 0);
      }
    }
    const vintf = this.vintf0();
    if (!vintf) return -ERRNO.ENODEV;
    return yield* this.vintfHwInit(smmu, vintf, true);
  }

  // ----------------------------------------------------------- commands ----

  /**
   * tegra241_cmdqv_get_cmdq: NULL (the main CMDQ) when bypassed, when VINTF0 or the
   * chosen LVCMDQ is not enabled (cached flags), or when the LVCMDQ does not support the
   * command; lidx = cpu % N. spec: linux §4.5.
   */
  getSecondaryCmdq(smmu: ArmSmmuV3, cmd: Command, cpu: number): ArmSmmuCmdq | null {
    if (this.bypassVcmdq) return null;
    const vintf = this.vintf0();
    if (!vintf?.enabled) return null;
    const vcmdq = vintf.lvcmdqs[cpu % this.numLvcmdqsPerVintf];
    if (!vcmdq?.enabled) return null;
    if (!smmu.cmdqSupportsCmd(vcmdq.cmdq, cmd)) return null;
    return vcmdq.cmdq;
  }

  // ---------------------------------------------------------------- ISR ----

  /**
   * tegra241_cmdqv_isr: read VINTF_ERR_MAP as two 32-bit reads, print it with CMDQ_ERR_MAP
   * 3..0 (rate-limited, L-new), and handle VINTF0's LVCMDQ errors. A guest has no user
   * VINTFs, so other bits are only printed. spec: linux §2.2, §4.6.
   */
  *isr(smmu: ArmSmmuV3): ActorBody<void> {
    this.isrRuns++;
    const d = this.log();
    // C leaves the order of the two reads to the compiler; low then high here.
    const lo = ((yield read(this.regCmdqv(CFG.VI_ERR_MAP_0))) as number) >>> 0;
    const hi = ((yield read(this.regCmdqv(CFG.VI_ERR_MAP_1))) as number) >>> 0;
    const vintfMap = (BigInt(hi) << 32n) | BigInt(lo);
    const maps: number[] = [];
    for (let m = 3; m >= 0; m--)
      maps.push(((yield read(this.regCmdqv(CFG.CMDQ_ERR_MAP_0 + 4 * m))) as number) >>> 0);
    if (d.ratelimit("tegra241_cmdqv_isr"))
      d.cmdqv(
        "warn",
        sprintf(
          "unexpected error reported. vintf_map: %016llx, vcmdq_map %08x:%08x:%08x:%08x",
          vintfMap,
          ...maps,
        ),
      );
    if (vintfMap & 1n) {
      const vintf = this.vintf0();
      if (vintf) yield* this.vintf0HandleError(smmu, vintf);
    }
    // Other VINTFs belong to user space and exist only on a host (vEVENT forwarding,
    // spec linux §3.9); a guest has VINTF0 alone, so their bits are only printed.
  }

  /**
   * tegra241_vintf0_handle_error: readq both LVCMDQ_ERR_MAP words; for each flagged LVCMDQ
   * read GERROR, skip the bad command, then GERRORN = GERROR. Bits past N are skipped
   * (L-new's bounds check). spec: linux §4.6.
   */
  private *vintf0HandleError(smmu: ArmSmmuV3, vintf: Tegra241Vintf): ActorBody<void> {
    for (let i = 0; i < 2; i++) {
      let map = BigInt.asUintN(
        64,
        (yield read64(vintf.base + VINTF.LVCMDQ_ERR_MAP_0 + 8 * i)) as bigint,
      );
      while (map !== 0n) {
        let bit = 0;
        while (((map >> BigInt(bit)) & 1n) === 0n) bit++;
        map &= ~(1n << BigInt(bit));
        const lidx = 64 * i + bit;
        const vcmdq = lidx < this.numLvcmdqsPerVintf ? vintf.lvcmdqs[lidx] : null;
        if (!vcmdq) continue;
        const gerror = ((yield read(vcmdq.page0 + VCMDQ0.GERROR)) as number) >>> 0;
        yield* smmu.skipErr(vcmdq.cmdq);
        yield write(vcmdq.page0 + VCMDQ0.GERRORN, gerror);
      }
    }
  }
}
