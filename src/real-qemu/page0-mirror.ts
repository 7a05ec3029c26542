// The VINTF page0 QEMU maps: a file shared with QEMU (Node cannot mmap) standing for the
// hardware's LVCMDQ registers. A store by QEMU's guest lands in the file; sync() finds
// the words that changed and forwards them to the hardware through the kernel's mapping;
// publish() writes back the words the hardware changed (CONS, STATUS, GERROR, and any
// register the host itself rewrote). A word is forwarded or published only when it
// differs from what this mirror last saw, so neither side's store is replayed.
//
// The one race a polled mirror cannot close: QEMU storing a register in the instant the
// host rewrites the same register (a queue being torn down while the guest moves PROD).
// The hardware's value wins the next sync; docs/real-qemu.md says so.

import type { MmioDevice } from "../mem/types.js";
import { APERTURE } from "../regs/cmdqv.js";

/** Registers of one LVCMDQ page0 slot: CONS, PROD, CONFIG, STATUS, GERROR, GERRORN. */
const WORDS_PER_SLOT = 6;

export interface MirrorFile {
  read(offset: number, length: number): Uint8Array;
  write(offset: number, data: Uint8Array): void;
}

export class Page0Mirror {
  private readonly seen: Uint32Array;
  private readonly word = new Uint8Array(4);
  private readonly wordView = new DataView(this.word.buffer);
  private readonly span: number;
  private readonly file: MirrorFile;
  private readonly hw: MmioDevice;

  constructor(file: MirrorFile, hw: MmioDevice, slots: number) {
    this.file = file;
    this.hw = hw;
    this.seen = new Uint32Array(slots * WORDS_PER_SLOT);
    this.span = (slots - 1) * APERTURE.VCMDQ_STRIDE + 4 * WORDS_PER_SLOT;
    // QEMU reads the page as soon as it maps it: give it the hardware's reset values.
    for (let i = 0; i < this.seen.length; i++) {
      const v = this.hw.read(this.offsetOf(i), 4) >>> 0;
      this.seen[i] = v;
      this.put(i, v);
    }
  }

  /**
   * Forward QEMU's stores, reading the file once. `beforeSlot` runs once for each slot with
   * a store, before any of its words reach the hardware (the caller copies that queue's
   * ring, which a PROD store may have grown). Returns how many words moved.
   */
  sync(beforeSlot: (slot: number) => void): number {
    const image = this.file.read(0, this.span);
    const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
    let moved = 0;
    let announced = -1;
    for (let i = 0; i < this.seen.length; i++) {
      const off = this.offsetOf(i);
      if (off + 4 > image.length) break;
      const v = dv.getUint32(off, true);
      if (v === this.seen[i]) continue;
      const slot = Math.floor(i / WORDS_PER_SLOT);
      if (slot !== announced) {
        announced = slot;
        beforeSlot(slot);
      }
      this.seen[i] = v;
      this.hw.write(off, 4, v);
      moved++;
    }
    return moved;
  }

  /** Write back what the hardware changed; returns how many words moved. */
  publish(): number {
    let moved = 0;
    for (let i = 0; i < this.seen.length; i++) {
      const v = this.hw.read(this.offsetOf(i), 4) >>> 0;
      if (v === this.seen[i]) continue;
      this.seen[i] = v;
      this.put(i, v);
      moved++;
    }
    return moved;
  }

  private offsetOf(i: number): number {
    return Math.floor(i / WORDS_PER_SLOT) * APERTURE.VCMDQ_STRIDE + 4 * (i % WORDS_PER_SLOT);
  }

  private put(i: number, v: number): void {
    this.wordView.setUint32(0, v, true);
    this.file.write(this.offsetOf(i), this.word);
  }
}
