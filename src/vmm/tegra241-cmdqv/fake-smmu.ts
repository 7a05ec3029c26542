// A stand-in for the SMMUv3 the CMDQV device model extends, for unit tests of the device
// on its own: IDR1.CMDQS as a plain field and a fixed smallest RAM page size.

import type { SmmuPort } from "./ports.js";

export class FakeSmmu implements SmmuPort {
  cmdqs: number;
  readonly pageSize: number;
  constructor(cmdqs: number, pageSize: number) {
    this.cmdqs = cmdqs;
    this.pageSize = pageSize;
  }
  getCmdqs(): number {
    return this.cmdqs;
  }
  setCmdqs(v: number): void {
    this.cmdqs = v;
  }
  minRamPageSize(): number {
    return this.pageSize;
  }
}
