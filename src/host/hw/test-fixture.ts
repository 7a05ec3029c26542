// Shared set-up for the hardware tests: a device over real HostMemory, a VirtualClock,
// register offset helpers and a way to lay commands into a ring. Not imported by the
// model itself.

import { HostMemory } from "../../mem/host-memory.js";
import { APERTURE, CFG, VCMDQ0, VCMDQ1 } from "../../regs/cmdqv.js";
import { type Command, encode } from "../../smmu/commands.js";
import type { Tracer } from "../../trace/trace.js";
import { VirtualClock } from "../../util/clock.js";
import { CmdqvHardware } from "./cmdqv-hw.js";
import { DEFAULT_HW_CONFIG, DEFAULT_HW_UNKNOWNS, type HwConfig, type HwUnknowns } from "./types.js";

export { CFG, VCMDQ0, VCMDQ1 };

/** Where test rings live (host-physical), and how much of it is backed. */
export const RING = 0x8000_0000;
export const RING_SPAN = 0x10_0000;

export interface Rig {
  readonly clock: VirtualClock;
  readonly mem: HostMemory;
  readonly hw: CmdqvHardware;
  readonly cfg: HwConfig;
  /** IRQ edges delivered to the test's sink. */
  readonly irq: { count: number };
}

export function rig(
  over: Partial<Omit<HwConfig, "unknowns">> = {},
  unknowns: Partial<HwUnknowns> = {},
  tracer?: (clock: VirtualClock) => Tracer,
): Rig {
  const clock = new VirtualClock();
  const mem = new HostMemory();
  mem.addBacked(RING, RING_SPAN);
  const cfg: HwConfig = {
    ...DEFAULT_HW_CONFIG,
    ...over,
    unknowns: { ...DEFAULT_HW_UNKNOWNS, ...unknowns },
  };
  const hw = new CmdqvHardware(cfg, mem, clock, tracer?.(clock));
  clock.subscribe(hw);
  const irq = { count: 0 };
  hw.onIrq({
    edge() {
      irq.count++;
    },
  });
  return { clock, mem, hw, cfg, irq };
}

// Offsets inside the aperture. spec: linux §1.1–§1.5.
export const alloc = (q: number): number => CFG.CMDQ_ALLOC_0 + 4 * q;
export const vintf = (v: number, r: number): number => CFG.VINTF_0 + CFG.VINTF_BLOCK_STRIDE * v + r;
export const gp0 = (q: number, r: number): number =>
  APERTURE.VCMDQ_PAGE0 + APERTURE.VCMDQ_STRIDE * q + r;
export const gp1 = (q: number, r: number): number =>
  APERTURE.VCMDQ_PAGE1 + APERTURE.VCMDQ_STRIDE * q + r;
export const vp0 = (v: number, l: number, r: number): number =>
  APERTURE.VINTF_PAGE0 + APERTURE.VINTF_STRIDE * v + APERTURE.VCMDQ_STRIDE * l + r;
export const vp1 = (v: number, l: number, r: number): number =>
  APERTURE.VINTF_PAGE1 + APERTURE.VINTF_STRIDE * v + APERTURE.VCMDQ_STRIDE * l + r;

/** CMDQ_ALLOC value {ALLOC=1, LVCMDQ=l, VIRT_INTF_INDX=v}. spec: linux §1.2. */
export const allocValue = (v: number, l: number): number => ((v << 15) | (l << 1) | 1) >>> 0;

/** VINTF CONFIG value. spec: linux §1.3. */
export const vintfConfig = (en: number, vmid: number, hypOwn: number): number =>
  (en | (vmid << 1) | (hypOwn << 17)) >>> 0;

/** Write `cmd` at entry `idx` of the ring at `base`. */
export function putCmd(mem: HostMemory, base: number, idx: number, cmd: Command): void {
  const [d0, d1] = encode(cmd);
  mem.write64(base + 16 * idx, d0);
  mem.write64(base + 16 * idx + 8, d1);
}

export interface QueueSetup {
  readonly v: number;
  readonly l: number;
  readonly q: number;
  readonly vmid?: number;
  readonly hypOwn?: number;
  readonly log2?: number;
  readonly base?: number;
}

/**
 * Program a queue as the host kernel would (linux §3.3, §3.5, §4.4): map VCMDQ q to
 * VINTF v slot l, enable the VINTF with VMID/HYP_OWN, write BASE through the VINTF page1,
 * enable the queue through the VINTF page0, and let both handshakes finish.
 */
export function setupQueue(r: Rig, s: QueueSetup): void {
  const { hw, clock, cfg } = r;
  hw.write(alloc(s.q), 4, allocValue(s.v, s.l));
  hw.write(vintf(s.v, 0), 4, vintfConfig(0, s.vmid ?? 0, s.hypOwn ?? 0));
  hw.write(vintf(s.v, 0), 4, vintfConfig(1, s.vmid ?? 0, s.hypOwn ?? 0));
  clock.advance(cfg.handshakeNs);
  hw.write64(vp1(s.v, s.l, VCMDQ1.BASE_L), BigInt(s.base ?? RING) | BigInt(s.log2 ?? 4));
  hw.write(vp0(s.v, s.l, VCMDQ0.CONFIG), 4, 1);
  clock.advance(cfg.handshakeNs);
}

/** Program an unmapped (hypervisor-owned) queue through the global pages. */
export function setupGlobalQueue(r: Rig, q: number, log2 = 4, base = RING): void {
  r.hw.write64(gp1(q, VCMDQ1.BASE_L), BigInt(base) | BigInt(log2));
  r.hw.write(gp0(q, VCMDQ0.CONFIG), 4, 1);
  r.clock.advance(r.cfg.handshakeNs);
}
