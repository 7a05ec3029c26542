// The device model's register cache: plain data, one u32 per register (BASE and
// CONS_INDX_BASE as 64-bit bigints), as QEMU's Tegra241CMDQV state struct.
// Reset values: spec qemu §2.7 (tegra241_cmdqv_init_regs).

import { param, V_CONFIG_RESET } from "../../regs/cmdqv.js";

export interface RegsCache {
  config: number;
  param: number;
  status: number;
  viErrMap: number[];
  viIntMask: number[];
  cmdqErrMap: number[];
  allocMap: number[];
  vintfConfig: number;
  vintfStatus: number;
  sidMatch: number[];
  sidReplace: number[];
  lvcmdqErrMap: number[];
  /** Per VCMDQ page0. */
  cons: number[];
  prod: number[];
  vcmdqConfig: number[];
  vcmdqStatus: number[];
  gerror: number[];
  gerrorn: number[];
  /** Per VCMDQ page1, as u32 halves so the 4-byte MMIO path never builds a bigint. */
  baseLo: number[];
  baseHi: number[];
  consIndxBaseLo: number[];
  consIndxBaseHi: number[];
}

/** PARAM as QEMU computes it: VER 1, log2 VCMDQs, one VINTF, 16 SIDs (0x4011 for 2 VCMDQs). */
export function emulatedParam(numVcmdqs: number): number {
  return param(1, Math.log2(numVcmdqs), 0, 4);
}

export function newRegsCache(numVcmdqs: number): RegsCache {
  const zeros = (n: number) => new Array<number>(n).fill(0);
  const c: RegsCache = {
    config: 0,
    param: 0,
    status: 0,
    viErrMap: zeros(2),
    viIntMask: zeros(2),
    cmdqErrMap: zeros(4),
    allocMap: zeros(numVcmdqs),
    vintfConfig: 0,
    vintfStatus: 0,
    // SID_MATCH/REPLACE are zero at creation only; init_regs leaves them alone.
    sidMatch: zeros(16),
    sidReplace: zeros(16),
    lvcmdqErrMap: zeros(4),
    cons: zeros(numVcmdqs),
    prod: zeros(numVcmdqs),
    vcmdqConfig: zeros(numVcmdqs),
    vcmdqStatus: zeros(numVcmdqs),
    gerror: zeros(numVcmdqs),
    gerrorn: zeros(numVcmdqs),
    baseLo: zeros(numVcmdqs),
    baseHi: zeros(numVcmdqs),
    consIndxBaseLo: zeros(numVcmdqs),
    consIndxBaseHi: zeros(numVcmdqs),
  };
  initRegs(c);
  return c;
}

/** tegra241_cmdqv_init_regs (v7 24). Everything but SID_MATCH/REPLACE. spec: qemu §2.7. */
export function initRegs(c: RegsCache): void {
  const n = c.allocMap.length;
  c.config = V_CONFIG_RESET;
  c.param = emulatedParam(n);
  c.status = 1;
  c.viErrMap.fill(0);
  c.viIntMask.fill(0);
  c.cmdqErrMap.fill(0);
  c.lvcmdqErrMap.fill(0);
  c.vintfConfig = 0;
  c.vintfStatus = 0;
  c.allocMap.fill(0);
  for (let i = 0; i < n; i++) resetPage0(c, i);
  c.baseLo.fill(0);
  c.baseHi.fill(0);
  c.consIndxBaseLo.fill(0);
  c.consIndxBaseHi.fill(0);
}

/** Zero one VCMDQ's cached page0 registers (the v7 cache reset on free). spec: qemu §2.6. */
export function resetPage0(c: RegsCache, i: number): void {
  c.cons[i] = 0;
  c.prod[i] = 0;
  c.vcmdqConfig[i] = 0;
  c.vcmdqStatus[i] = 0;
  c.gerror[i] = 0;
  c.gerrorn[i] = 0;
}

export function cloneRegs(c: RegsCache): RegsCache {
  return structuredClone(c);
}
