// Geometry of one CMDQV instance from its HwConfig: the counts PARAM advertises (spec:
// linux §1.7) and the limits the register space imposes on them (linux §1.3, §1.7).

import { apertureSize, param, VINTF } from "../../regs/cmdqv.js";
import type { HwConfig, HwGeometry } from "./types.js";

/**
 * LVCMDQ slots a VINTF page can decode: CMDQ_ALLOC.LVCMDQ is 7 bits and LVCMDQ_ERR_MAP
 * holds 128 bits. spec: linux §1.2, §1.7 [inf].
 */
export const LVCMDQ_SLOTS = 128;

/** CMDQ_ERR_MAP is 128 bits (NUM_CMDQ_LOG2 ≤ 7); VINTF_ERR_MAP and VIRT_INTF_INDX allow 64
 * VINTFs (NUM_VI_LOG2 ≤ 6). spec: linux §1.7 [inf]. */
const MAX_VCMDQ_LOG2 = 7;
const MAX_VINTF_LOG2 = 6;

function checkInt(name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi)
    throw new RangeError(`HwConfig.${name} = ${v}: expected an integer in ${lo}..${hi}`);
}

/**
 * Validate a configuration. A bad HwConfig is a bug in whoever builds the world (never
 * guest input), so it throws.
 */
export function checkHwConfig(cfg: HwConfig): void {
  checkInt("version", cfg.version, 0, 15);
  checkInt("numVcmdqLog2", cfg.numVcmdqLog2, 0, MAX_VCMDQ_LOG2);
  checkInt("numVintfLog2", cfg.numVintfLog2, 0, Math.min(MAX_VINTF_LOG2, cfg.numVcmdqLog2));
  checkInt("numSidLog2", cfg.numSidLog2, 0, 15);
  checkInt("effectsCapacity", cfg.effectsCapacity, 1, 2 ** 26);
  if (!Number.isSafeInteger(cfg.basePhys) || cfg.basePhys < 0 || cfg.basePhys % 0x1_0000 !== 0)
    throw new RangeError(`HwConfig.basePhys = ${cfg.basePhys}: expected a 64 KiB aligned address`);
  if (!(Number.isFinite(cfg.handshakeNs) && cfg.handshakeNs >= 0))
    throw new RangeError(`HwConfig.handshakeNs = ${cfg.handshakeNs}: expected a duration ≥ 0`);
  // A zero-cost command would let one step execute without time passing; the consumer
  // relies on every command taking some virtual time.
  if (!(Number.isFinite(cfg.cmdNs) && cfg.cmdNs > 0))
    throw new RangeError(`HwConfig.cmdNs = ${cfg.cmdNs}: expected a duration > 0`);
  if (cfg.configReset !== undefined) checkInt("configReset", cfg.configReset, 0, 0xffff_ffff);
}

export function geometryOf(cfg: HwConfig): HwGeometry {
  const numVcmdqs = 1 << cfg.numVcmdqLog2;
  const numVintfs = 1 << cfg.numVintfLog2;
  return {
    numVcmdqs,
    numVintfs,
    lvcmdqsPerVintf: numVcmdqs / numVintfs,
    // At most 16 SID slots fit between 0x40 and 0x80 of a VINTF block. spec: linux §1.3.
    numSids: Math.min(VINTF.MAX_SIDS, 2 ** cfg.numSidLog2),
    param: param(cfg.version, cfg.numVcmdqLog2, cfg.numVintfLog2, cfg.numSidLog2),
  };
}

/** Bytes of host MMIO the instance decodes. spec: linux §1.1 [inf]. */
export function hwApertureSize(g: HwGeometry): number {
  return apertureSize(g.numVintfs);
}
