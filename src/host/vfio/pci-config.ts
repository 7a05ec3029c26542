// The PCI configuration space of the passed-through device as the VFIO PCI driver shows
// it: a PCI Express endpoint with no BARs, no ROM and no INTx, just enough for QEMU's
// vfio-pci to realize it behind a root port. Only the command register and the interrupt
// line are writable; reads of everything else return what is there, writes are dropped.
//
// facts: PCI Local Bus 3.0 and PCIe Base 4.0 header layout (offsets 0x00-0x3f, status
//   CAP_LIST bit 4, capability pointer 0x34, PCIe capability id 0x10, version 2,
//   device/port type 0 = endpoint). Vendor 0x1b36 / device 0x0005 is QEMU's own PCI test
//   device id [I: a neutral identity; the host SMMU only cares about the StreamID].

export const PCI_CONFIG_SIZE = 4096;

const VENDOR = 0x1b36;
const DEVICE = 0x0005;
const CLASS_UNASSIGNED = 0xff_0000;
const STATUS_CAP_LIST = 0x0010;
const PCIE_CAP_OFFSET = 0x40;
const PCI_CAP_ID_EXP = 0x10;
const PCIE_CAP_VERSION_2 = 0x0002;

/** Writable bytes: the command register's defined bits and the interrupt line. */
const WRITE_MASK: readonly (readonly [number, number])[] = [
  [0x04, 0x47],
  [0x05, 0x05],
  [0x3c, 0xff],
];

export class PciConfig {
  readonly bytes = new Uint8Array(PCI_CONFIG_SIZE);
  private readonly mask = new Uint8Array(PCI_CONFIG_SIZE);

  constructor() {
    const dv = new DataView(this.bytes.buffer);
    dv.setUint16(0x00, VENDOR, true);
    dv.setUint16(0x02, DEVICE, true);
    dv.setUint16(0x06, STATUS_CAP_LIST, true);
    dv.setUint32(0x08, CLASS_UNASSIGNED << 8, true);
    this.bytes[0x34] = PCIE_CAP_OFFSET;
    this.bytes[PCIE_CAP_OFFSET] = PCI_CAP_ID_EXP;
    this.bytes[PCIE_CAP_OFFSET + 1] = 0;
    dv.setUint16(PCIE_CAP_OFFSET + 2, PCIE_CAP_VERSION_2, true);
    for (const [off, m] of WRITE_MASK) this.mask[off] = m;
  }

  /** pread of the config region: the bytes inside it (short at the end, as a file). */
  read(offset: number, len: number): Uint8Array {
    if (offset >= PCI_CONFIG_SIZE || len <= 0) return new Uint8Array(0);
    return this.bytes.slice(offset, Math.min(PCI_CONFIG_SIZE, offset + len));
  }

  /** pwrite: only writable bits change; returns the bytes accepted. */
  write(offset: number, data: Uint8Array): number {
    if (offset >= PCI_CONFIG_SIZE) return 0;
    const n = Math.min(data.length, PCI_CONFIG_SIZE - offset);
    for (let i = 0; i < n; i++) {
      const at = offset + i;
      const m = this.mask[at] ?? 0;
      this.bytes[at] = ((this.bytes[at] ?? 0) & ~m) | ((data[i] ?? 0) & m);
    }
    return n;
  }
}
