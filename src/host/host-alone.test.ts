// The host stands on its own: kernel, CMDQV hardware and host memory on an injected
// clock, with no VMM and no guest. This is what `cmdqv host` serves to a real QEMU, so
// the test drives it the way QEMU does: ioctls on the iommufd file, an mmap of the VINTF
// page0, and plain loads and stores on that mapping.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VCMDQ0 } from "../regs/cmdqv.js";
import { encode, OPCODE } from "../smmu/commands.js";
import { VirtualClock } from "../util/clock.js";
import { createHost } from "./host.js";
import { unwrap } from "./kernel/testkit.js";
import {
  HW_QUEUE_TYPE,
  HWPT_ALLOC_NEST_PARENT,
  MAP,
  PROT,
  TEGRA241_VIOMMU_DATA_LEN,
  VIOMMU_TYPE,
} from "./kernel/uapi.js";

const RAM = 0x4000_0000;
const RING = RAM + 0x10_0000;
const RING_BYTES = 0x1000; // 256 commands

describe("the host alone (createHost, no VMM)", () => {
  it("allocates a HW queue and its hardware consumes a command written through page0", () => {
    const clock = new VirtualClock();
    const host = createHost({ clock });
    const ram = host.allocGuestRam({
      gpaBase: RAM,
      size: 0x400_0000,
      pageSize: 0x20_0000,
      seed: 1,
    });
    const k = host.iommufd;
    const devId = host.bindDevice(0x100);
    const ioasId = unwrap(k.ioasAlloc()).ioasId;
    unwrap(k.ioasMap({ ioasId, iova: RAM, length: ram.size, gpa: RAM }));
    const hwptId = unwrap(
      k.hwptAlloc({ flags: HWPT_ALLOC_NEST_PARENT, devId, ptId: ioasId }),
    ).hwptId;
    const v = unwrap(
      k.viommuAlloc({
        flags: 0,
        type: VIOMMU_TYPE.TEGRA241_CMDQV,
        devId,
        hwptId,
        dataLen: TEGRA241_VIOMMU_DATA_LEN,
        data: new Uint8Array(TEGRA241_VIOMMU_DATA_LEN),
      }),
    );
    unwrap(
      k.hwQueueAlloc({
        flags: 0,
        viommuId: v.viommuId,
        type: HW_QUEUE_TYPE.TEGRA241_CMDQV,
        index: 0,
        iova: RING,
        length: RING_BYTES,
      }),
    );
    assert.deepEqual(
      host.iommufd.hwQueues().map((q) => [q.index, q.iova, q.length]),
      [[0, RING, RING_BYTES]],
    );

    const page0 = unwrap(
      k.mmap({
        offset: v.vintfMmapOffset,
        length: v.vintfMmapLength,
        prot: PROT.READ | PROT.WRITE,
        flags: MAP.SHARED,
      }),
    );
    // The guest's part, done by hand: enable the queue, write one command, move PROD.
    page0.write(VCMDQ0.CONFIG, 4, 1);
    clock.advance(10_000);
    assert.equal(page0.read(VCMDQ0.STATUS, 4) & 1, 1, "EN_OK");
    const [dw0, dw1] = encode({ op: "TLBI_NH_ASID", vmid: 0, asid: 5 });
    const hpa = ram.hpaOf(RING);
    host.mem.write64(hpa, dw0);
    host.mem.write64(hpa + 8, dw1);
    const before = host.hw.effects.totals().vcmdq;
    page0.write(VCMDQ0.PROD, 4, 1);
    clock.advance(10_000);

    assert.equal(page0.read(VCMDQ0.CONS, 4), 1, "CONS reached PROD");
    assert.equal(page0.read(VCMDQ0.GERROR, 4), 0);
    const fx = host.hw.effects.entries().slice(-1)[0];
    assert.equal(host.hw.effects.totals().vcmdq, before + 1);
    assert.equal(fx?.opcode, OPCODE.TLBI_NH_ASID);
    assert.equal(fx?.asid, 5);
  });
});
