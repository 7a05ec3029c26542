// Fakes for the SMMUv3 tests: a tiny Uint8Array-backed guest memory, a recording host, and
// recording IRQ wires. Test support only; nothing in the model imports it.

import { invalidateEntry } from "../../host/kernel/uapi.js";
import { MEM_FAULT } from "../../mem/types.js";
import { writeCommandWords } from "../../smmu/commands.js";
import { VirtualClock } from "../../util/clock.js";
import { CountingIrq } from "../../util/irq.js";
import { VmmLog } from "../log.js";
import type { GuestMemoryPort, InvalidateResult, SmmuHostPort, Smmuv3Irqs } from "./ports.js";
import type { Smmuv3Profile } from "./profile.js";
import { type IdrOverrides, Smmuv3Accel } from "./smmuv3.js";

/** Guest RAM of `size` bytes at `base`; anything outside faults. */
export class TestGuestMemory implements GuestMemoryPort {
  readonly bytes: Uint8Array;
  readonly base: number;
  reads = 0;

  constructor(base: number, size: number) {
    this.base = base;
    this.bytes = new Uint8Array(size);
  }

  private inside(addr: number, size: number): boolean {
    return addr >= this.base && addr + size <= this.base + this.bytes.length;
  }

  read(addr: number, size: 1 | 2 | 4): number {
    this.reads++;
    if (!this.inside(addr, size)) return MEM_FAULT;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = (v << 8) | this.bytes[addr - this.base + i]!;
    return v >>> 0;
  }

  readWords(addr: number, out: Uint32Array): boolean {
    this.reads++;
    if (!this.inside(addr, 4 * out.length)) return false;
    for (let i = 0; i < out.length; i++) {
      const o = addr - this.base + 4 * i;
      const b = this.bytes;
      out[i] = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
    }
    return true;
  }

  write(addr: number, size: 1 | 2 | 4, value: number): number {
    if (!this.inside(addr, size)) return 1;
    for (let i = 0; i < size; i++) this.bytes[addr - this.base + i] = (value >>> (8 * i)) & 0xff;
    return 0;
  }

  /** Lay a command's four raw words at `addr`. */
  putWords(addr: number, w0: number, w1 = 0, w2 = 0, w3 = 0): void {
    writeCommandWords(this.bytes, addr - this.base, w0, w1, w2, w3);
  }
}

/** Records every host invalidation; `fail` makes the next calls fail with an errno. */
export class RecordingHost implements SmmuHostPort {
  readonly calls: [bigint, bigint][][] = [];
  fail: { errno: number; entryNum: number } | null = null;
  viommu = true;
  vdevSids: Set<number> | null = null;

  invalidate(words: Uint32Array): InvalidateResult {
    const n = words.length / 4;
    this.calls.push(Array.from({ length: n }, (_, i) => invalidateEntry(words, i)));
    if (this.fail) return { ok: false, errno: this.fail.errno, entryNum: this.fail.entryNum };
    return { ok: true, entryNum: n };
  }

  hasViommu(): boolean {
    return this.viommu;
  }

  hasVdev(sid: number): boolean {
    return this.vdevSids === null || this.vdevSids.has(sid);
  }

  /** The forwarded commands, flattened. */
  commands(): [bigint, bigint][] {
    return this.calls.flat();
  }
}

export const RAM_BASE = 0x4000_0000;
export const RAM_SIZE = 0x1_0000;

export interface Rig {
  readonly smmu: Smmuv3Accel;
  readonly mem: TestGuestMemory;
  readonly host: RecordingHost;
  readonly log: VmmLog;
  readonly irqs: { [K in keyof Smmuv3Irqs]: CountingIrq };
}

export function rig(
  o: { profile?: Smmuv3Profile; idrs?: IdrOverrides; minRamPageSize?: number } = {},
): Rig {
  const mem = new TestGuestMemory(RAM_BASE, RAM_SIZE);
  const host = new RecordingHost();
  const log = new VmmLog(new VirtualClock());
  const irqs = {
    eventq: new CountingIrq(),
    priq: new CountingIrq(),
    cmdSync: new CountingIrq(),
    gerror: new CountingIrq(),
  };
  const smmu = new Smmuv3Accel({
    mem,
    host,
    log,
    irqs,
    minRamPageSize: o.minRamPageSize ?? 0x1000,
    ...(o.profile ? { profile: o.profile } : {}),
    ...(o.idrs ? { idrs: o.idrs } : {}),
  });
  return { smmu, mem, host, log, irqs };
}
