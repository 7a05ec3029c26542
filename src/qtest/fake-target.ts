// An in-memory QtestTarget for tests: byte-addressed memory in a Map (absent bytes read
// 0), a counter clock with one-shot timers, and one device with an IRQ pin.
//
// Device "/machine/fake" (also "fake"): a register at FAKE_IRQ_REG whose writes set the
// level of output pin FAKE_IRQ_LINE (bit 0), reads return FAKE_ID at FAKE_ID_REG.

import type { ExtensionResult, IrqDirection, IrqReporter, QtestTarget } from "./target.js";

export const FAKE_IRQ_REG = 0x0900_0010;
export const FAKE_ID_REG = 0x0900_0000;
export const FAKE_ID = 0x4341_4b45;
export const FAKE_IRQ_LINE = 3;

export class FakeTarget implements QtestTarget {
  readonly memory = new Map<number, number>();
  /** Every call, for assertions: "read 0x10 4", "write64 0x20 0x1", … */
  readonly calls: string[] = [];
  private t = 0;
  private timers: { at: number; fire: () => void }[] = [];
  private reporter: IrqReporter | null = null;
  private level = false;

  read(addr: number, size: 1 | 2 | 4): number {
    this.calls.push(`read 0x${addr.toString(16)} ${size}`);
    if (addr === FAKE_ID_REG && size === 4) return FAKE_ID;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (this.memory.get(addr + i) ?? 0);
    return v >>> 0;
  }

  read64(addr: number): bigint {
    this.calls.push(`read64 0x${addr.toString(16)}`);
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(this.memory.get(addr + i) ?? 0);
    return v;
  }

  write(addr: number, size: 1 | 2 | 4, value: number): void {
    this.calls.push(`write 0x${addr.toString(16)} ${size} 0x${value.toString(16)}`);
    if (addr === FAKE_IRQ_REG) {
      this.setLevel((value & 1) === 1);
      return;
    }
    for (let i = 0; i < size; i++) this.memory.set(addr + i, (value >>> (8 * i)) & 0xff);
  }

  write64(addr: number, value: bigint): void {
    this.calls.push(`write64 0x${addr.toString(16)} 0x${value.toString(16)}`);
    for (let i = 0; i < 8; i++) this.memory.set(addr + i, Number((value >> BigInt(8 * i)) & 0xffn));
  }

  readBytes(addr: number, len: number): Uint8Array {
    this.calls.push(`readBytes 0x${addr.toString(16)} ${len}`);
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) out[i] = this.memory.get(addr + i) ?? 0;
    return out;
  }

  writeBytes(addr: number, data: Uint8Array): void {
    this.calls.push(`writeBytes 0x${addr.toString(16)} ${data.length}`);
    data.forEach((b, i) => {
      this.memory.set(addr + i, b);
    });
  }

  /** Arm a one-shot timer at absolute time `at`. */
  addTimer(at: number, fire: () => void): void {
    this.timers.push({ at, fire });
    this.timers.sort((a, b) => a.at - b.at);
  }

  clockStep(ns?: number): number {
    this.calls.push(`clockStep ${ns}`);
    if (ns === undefined) {
      const next = this.timers[0];
      return next === undefined ? this.t : this.advanceTo(next.at);
    }
    return this.advanceTo(this.t + ns);
  }

  clockSet(ns: number): number {
    this.calls.push(`clockSet ${ns}`);
    return this.advanceTo(ns);
  }

  now(): number {
    return this.t;
  }

  hasDevice(path: string): boolean {
    return path === "/machine/fake" || path === "fake" || path === "/machine/other";
  }

  irqIntercept(path: string, direction: IrqDirection, report: IrqReporter): boolean {
    this.calls.push(`irqIntercept ${path} ${direction}`);
    if (!this.hasDevice(path)) return false;
    this.reporter = report;
    return true;
  }

  setIrqIn(path: string, name: string | null, line: number, level: number): boolean {
    this.calls.push(`setIrqIn ${path} ${name} ${line} ${level}`);
    return this.hasDevice(path);
  }

  /** Set the device's output pin and report it (every call, even without a change). */
  setLevel(level: boolean): void {
    this.level = level;
    this.reporter?.(FAKE_IRQ_LINE, level);
  }

  get irqLevel(): boolean {
    return this.level;
  }

  extension(cmd: string, args: readonly string[]): ExtensionResult | undefined {
    switch (cmd) {
      case "cmdqv_echo":
        return { ok: true, reply: args.join(",") };
      case "cmdqv_nothing":
        return { ok: true, reply: "" };
      case "cmdqv_refuse":
        return { ok: false, error: `refused ${args.length}` };
      case "cmdqv_multiline":
        return { ok: true, reply: "a\nb" };
      case "cmdqv_throw":
        throw new Error("model bug");
      default:
        return undefined;
    }
  }

  private advanceTo(t: number): number {
    while (this.timers.length > 0 && (this.timers[0]?.at ?? Infinity) <= t) {
      const timer = this.timers.shift();
      if (timer === undefined) break;
      this.t = Math.max(this.t, timer.at);
      timer.fire();
    }
    if (t > this.t) this.t = t;
    return this.t;
  }
}
