// The guest page0 window as the VMM installs it: the host VINTF page0 mmap becomes an
// AddressSpace overlay at CMDQV base + 0x30000 with priority 1 (QEMU's RAM-device
// subregion), so guest accesses reach hardware with no exit. spec: qemu §1.6.

import type { AddressSpace } from "../../mem/address-space.js";
import type { MmioDevice } from "../../mem/types.js";
import { APERTURE } from "../../regs/cmdqv.js";
import type { Page0Window } from "./ports.js";

/** The page0 RAM-device window at 0x30000 as an AddressSpace overlay (priority 1). */
export class OverlayPage0Window implements Page0Window {
  private present = false;
  private enabled = false;
  private readonly as: AddressSpace;
  private readonly name: string;
  private readonly base: number;

  constructor(as: AddressSpace, name: string, base: number) {
    this.as = as;
    this.name = name;
    this.base = base;
  }

  install(page: MmioDevice, persistent: boolean): void {
    if (persistent && this.present) {
      this.as.setOverlayEnabled(this.name, true);
    } else {
      const r = this.as.addOverlay(this.name, this.base, APERTURE.PAGE_SIZE, page, 1);
      if (!r.ok) throw new Error(r.error.message);
      this.present = true;
    }
    this.enabled = true;
  }

  remove(persistent: boolean): void {
    if (!this.enabled) return;
    if (persistent) this.as.setOverlayEnabled(this.name, false);
    else {
      this.as.removeOverlay(this.name);
      this.present = false;
    }
    this.enabled = false;
  }

  installed(): boolean {
    return this.enabled;
  }
}
