// The figures `npm run bench` prints. Each sets up a small world and returns a body that
// performs `n` operations of the kind named.

import { performance } from "node:perf_hooks";
import { explore } from "../src/explore/explorer.js";
import { CmdqvHardware } from "../src/host/hw/cmdqv-hw.js";
import { DEFAULT_HW_CONFIG } from "../src/host/hw/types.js";
import { machineConfig } from "../src/machine/config.js";
import { CMDQV_BASE, createTestbed } from "../src/machine/testbed.js";
import { AddressSpace } from "../src/mem/address-space.js";
import { HostMemory } from "../src/mem/host-memory.js";
import type { MmioDevice, SmallSize } from "../src/mem/types.js";
import { APERTURE, CFG, VCMDQ0, VCMDQ1 } from "../src/regs/cmdqv.js";
import { CS, encode } from "../src/smmu/commands.js";
import { VirtualClock } from "../src/util/clock.js";
import { linuxBringUp, OFF } from "../src/vmm/tegra241-cmdqv/guest-steps.js";
import type { Figure, OnceFigure } from "./harness.js";
import { RING_CMD_WORDS, readRing } from "./ring-read.js";

/** A register file behind the bus: the cheapest device, so the figure measures the bus. */
class Scratch implements MmioDevice {
  readonly name = "scratch";
  private readonly regs = new Uint32Array(64);
  read(offset: number, _size: SmallSize): number {
    return this.regs[(offset >>> 2) & 63]!;
  }
  write(offset: number, _size: SmallSize, value: number): void {
    this.regs[(offset >>> 2) & 63] = value;
  }
  read64(): bigint {
    return 0n;
  }
  write64(): void {}
}

const busMmio: Figure = {
  name: "bus_mmio_per_s",
  unit: "accesses/s",
  what: "4-byte MMIO accesses through the guest address space to a device (half reads, half writes)",
  setup() {
    const as = new AddressSpace();
    const r = as.addMmio("scratch", 0x0905_0000, 0x1000, new Scratch());
    if (!r.ok) throw new Error(r.error.message);
    return (n) => {
      let acc = 0;
      for (let i = 0; i < n; i += 2) {
        as.write(0x0905_0000 + ((i & 15) << 2), 4, i);
        acc ^= as.read(0x0905_0000 + ((i & 15) << 2), 4);
      }
      if (acc === -2) throw new Error("unreachable");
    };
  },
};

/**
 * The ring both consumer figures read: 4096 entries in host memory, 63 TLBI_NH_ASID then a
 * CMD_SYNC (CS=NONE), repeated.
 */
function consumerRing() {
  const mem = new HostMemory();
  const ring = 0x8000_0000;
  const log2 = 12;
  const entries = 1 << log2;
  mem.addBacked(ring, 16 * entries);
  for (let i = 0; i < entries; i++) {
    const [d0, d1] =
      i % 64 === 63
        ? encode({ op: "CMD_SYNC", cs: CS.NONE, msh: 0, msiattr: 0, msidata: 0, msiaddr: 0n })
        : encode({ op: "TLBI_NH_ASID", vmid: 0, asid: i & 0xff });
    mem.write64(ring + 16 * i, d0);
    mem.write64(ring + 16 * i + 8, d1);
  }
  return { mem, ring, log2, entries };
}

/**
 * The hardware consumer on a guest-owned VINTF (filter, VMID substitution, effects log):
 * batches of 63 TLBI_NH_ASID and one CMD_SYNC (CS=NONE) per PROD doorbell.
 */
const hwConsumer: Figure = {
  name: "hw_consumer_cmds_per_s",
  unit: "commands/s",
  what: "commands consumed by the CMDQV hardware model (batches of TLBI_NH_ASID ending in CMD_SYNC)",
  setup() {
    const clock = new VirtualClock();
    const { mem, ring, log2, entries } = consumerRing();
    const hw = new CmdqvHardware({ ...DEFAULT_HW_CONFIG, effectsCapacity: 1 << 12 }, mem, clock);
    clock.subscribe(hw);
    // VINTF1, guest-owned, VMID 5, with LVCMDQ0 = global VCMDQ 2.
    const v = 1;
    const q = 2;
    const vintf = CFG.VINTF_0 + CFG.VINTF_BLOCK_STRIDE * v;
    hw.write(CFG.CMDQ_ALLOC_0 + 4 * q, 4, (v << 15) | 1);
    hw.write(vintf, 4, 5 << 1);
    hw.write(vintf, 4, (5 << 1) | 1);
    hw.write64(
      APERTURE.VCMDQ_PAGE1 + APERTURE.VCMDQ_STRIDE * q + VCMDQ1.BASE_L,
      BigInt(ring) | BigInt(log2),
    );
    const p0 = APERTURE.VCMDQ_PAGE0 + APERTURE.VCMDQ_STRIDE * q;
    hw.write(p0 + VCMDQ0.CONFIG, 4, 1);
    clock.advance(10_000);
    let prod = 0;
    const mask = (2 * entries - 1) >>> 0;
    const cmdNs = DEFAULT_HW_CONFIG.cmdNs;
    return (n) => {
      for (let done = 0; done < n; done += 64) {
        prod = (prod + 64) & mask;
        hw.write(p0 + VCMDQ0.PROD, 4, prod);
        clock.advance(64 * cmdNs);
      }
      if (hw.read(p0 + VCMDQ0.CONS, 4) !== prod)
        throw new Error("consumer fell behind: the figure would be wrong");
    };
  },
};

/**
 * The consumer's physical limit: the same ring, in the same memory object, read through the
 * same call the consumer fetches with (bench/ring-read.ts), and nothing else.
 */
const ringReadLimit: Figure = {
  name: "ring_read_limit_cmds_per_s",
  unit: "commands/s",
  what: "16-byte commands read from the VCMDQ ring in guest RAM (both 64-bit words, no decode)",
  setup() {
    const { mem, ring, log2 } = consumerRing();
    const w = new Uint32Array(RING_CMD_WORDS);
    let pos = 0;
    let sink = 0;
    return (n) => {
      sink ^= readRing(mem, ring, log2, pos, n, w);
      pos = (pos + n) >>> 0;
      if (sink === 0.5) throw new Error("unreachable");
    };
  },
};

/** hw_consumer_cmds_per_s next to its limit: the share of the limit the consumer reaches. */
export const CONSUMER_VS_LIMIT = {
  consumer: hwConsumer.name,
  limit: ringReadLimit.name,
} as const;

/** A guest on the default machine with VCMDQ0 allocated and VCMDQ1 not. */
function vmmMachine() {
  const tb = createTestbed({ profile: "qemu-latest" });
  linuxBringUp(tb, [{ gpa: 0x4020_0000, log2size: 12 }]);
  tb.step(10_000);
  return tb;
}

const vmmTrapped: Figure = {
  name: "vmm_trapped_mmio_per_s",
  unit: "accesses/s",
  what: "trapped 4-byte register accesses through the address space and the CMDQV device model (cache path)",
  setup() {
    const tb = vmmMachine();
    const prod = CMDQV_BASE + OFF.page0(1, VCMDQ0.PROD, false);
    const as = tb.as;
    return (n) => {
      let acc = 0;
      for (let i = 0; i < n; i += 2) {
        as.write(prod, 4, i & 0xff);
        acc ^= as.read(prod, 4);
      }
      if (acc === -2) throw new Error("unreachable");
    };
  },
};

const vmmPage0: Figure = {
  name: "vmm_page0_mmio_per_s",
  unit: "accesses/s",
  what: "4-byte accesses through the guest page0 RAM-device map to the host hardware (no trap)",
  setup() {
    const tb = vmmMachine();
    const cons = CMDQV_BASE + OFF.page0(0, VCMDQ0.CONS);
    const prod = CMDQV_BASE + OFF.page0(0, VCMDQ0.PROD);
    const as = tb.as;
    const traps = as.traps();
    return (n) => {
      let acc = 0;
      for (let i = 0; i < n; i += 2) {
        acc ^= as.read(cons, 4);
        as.write(prod, 4, 0);
      }
      if (as.traps() !== traps)
        throw new Error("page0 accesses trapped: the figure would be wrong");
      if (acc === -2) throw new Error("unreachable");
    };
  },
};

export const figures: readonly Figure[] = [
  busMmio,
  hwConsumer,
  ringReadLimit,
  vmmTrapped,
  vmmPage0,
];

/**
 * Issue 5's figure: every order of the 2-VCMDQ gate writes and enables, with "which host
 * call fails" (at most one per run) explored at every host call, for qemu-latest.
 */
const explore2q: OnceFigure = {
  names: [
    { name: "explore_2q_faults_s", unit: "s" },
    { name: "explore_2q_faults_paths", unit: "runs" },
    { name: "explore_2q_faults_distinct_states", unit: "states" },
    { name: "explore_states_per_s", unit: "states/s" },
  ],
  what: "exhaustive orderings of 2 VCMDQs with fail-nth on every host call (qemu-latest)",
  run() {
    const t0 = performance.now();
    const r = explore({
      mode: "orderings",
      machine: machineConfig({ profile: "qemu-latest" }),
      queues: 2,
      extras: [],
      faults: true,
    });
    const s = (performance.now() - t0) / 1000;
    return {
      explore_2q_faults_s: Number(s.toFixed(2)),
      explore_2q_faults_paths: r.paths,
      explore_2q_faults_distinct_states: r.distinctStates,
      explore_states_per_s: Math.round(r.states / s),
    };
  },
};

export const onceFigures: readonly OnceFigure[] = [explore2q];
