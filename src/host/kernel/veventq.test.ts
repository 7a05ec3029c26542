// vEVENTQs end to end: a guest-owned LVCMDQ hits an illegal command, the hardware raises
// its IRQ, the host ISR forwards the LVCMDQ error map as a TEGRA241_CMDQV vEVENT, and the
// VMM reads it from the fd (spec: linux §2.2, §3.9, §6.6).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VCMDQ0 } from "../../regs/cmdqv.js";
import type { Mapping } from "./mmap.js";
import { expectErrno, PAGE, RAM_BASE, rig, unwrap } from "./testkit.js";
import { HW_QUEUE_TYPE, MAP, PROT, VEVENT_FLAG_LOST_EVENTS, VEVENTQ_TYPE } from "./uapi.js";
import { parseVevents } from "./veventq.js";

/** CFGI_STE: not allowed on a guest-owned (HYP_OWN=0) VCMDQ (spec: linux §2.3). */
const BAD_CMD = 0x03n;

function setup(depth: number) {
  const r = rig();
  const { k, host, ram } = r;
  unwrap(
    k.hwQueueAlloc({
      flags: 0,
      viommuId: r.viommuId,
      type: HW_QUEUE_TYPE.TEGRA241_CMDQV,
      index: 0,
      iova: RAM_BASE,
      length: PAGE,
    }),
  );
  const m = unwrap(
    k.mmap({
      offset: r.mmapOffset,
      length: r.mmapLength,
      prot: PROT.READ | PROT.WRITE,
      flags: MAP.SHARED,
    }),
  );
  const q = unwrap(
    k.veventqAlloc({ flags: 0, viommuId: r.viommuId, type: VEVENTQ_TYPE.TEGRA241_CMDQV, depth }),
  );
  // The guest lays a bad command at entry 0 and enables the queue through page0.
  const hpa = ram.hpaOf(RAM_BASE);
  host.mem.write64(hpa, BAD_CMD);
  host.mem.write64(hpa + 8, 0n);
  m.write(VCMDQ0.CONFIG, 4, 1);
  host.clock.advance(10_000);
  return { ...r, m, q };
}

/** Ring the doorbell (first error) or ack GERROR so the bad entry is fetched again. */
function raise(host: ReturnType<typeof rig>["host"], m: Mapping, first: boolean): void {
  if (first) m.write(VCMDQ0.PROD, 4, 1);
  else m.write(VCMDQ0.GERRORN, 4, m.read(VCMDQ0.GERROR, 4));
  host.clock.advance(10_000);
}

describe("vEVENTQ reporting of LVCMDQ errors", () => {
  it("reports an illegal command as a TEGRA241 vEVENT with sequence 0, then 1, LVCMDQ0's bit set", () => {
    const { host, m, q } = setup(4);
    raise(host, m, true);
    // The hardware stopped the queue; the host did not ack it (the guest must).
    assert.equal((m.read(VCMDQ0.CONS, 4) >>> 24) & 0x7f, 1, "CONS.ERR = ILL");
    assert.notEqual(m.read(VCMDQ0.GERROR, 4), m.read(VCMDQ0.GERRORN, 4));
    assert.equal(q.fd.pending(), 1);
    const first = parseVevents(unwrap(q.fd.read(4096)));
    assert.deepEqual(first, [{ flags: 0, sequence: 0, lvcmdqErrMap: [1n, 0n] }]);
    raise(host, m, false);
    const second = parseVevents(unwrap(q.fd.read(4096)));
    assert.deepEqual(second, [{ flags: 0, sequence: 1, lvcmdqErrMap: [1n, 0n] }]);
    assert.ok(
      host
        .hostDmesg()
        .includes(
          "tegra241_cmdqv: unexpected error reported. vintf_map: 0000000000000002, vcmdq_map 00000000:00000000:00000000:00000004",
        ),
    );
  });

  it("returns 0 bytes when the buffer cannot hold a whole record, and keeps the record", () => {
    const { host, m, q } = setup(4);
    raise(host, m, true);
    assert.equal(unwrap(q.fd.read(23)).length, 0);
    assert.equal(unwrap(q.fd.read(8)).length, 0);
    assert.equal(q.fd.pending(), 1);
    assert.equal(unwrap(q.fd.read(24)).length, 24);
    assert.equal(unwrap(q.fd.read(24)).length, 0, "nothing left");
  });

  it("copies whole records only: a 40-byte buffer takes one of two 24-byte records", () => {
    const { host, m, q } = setup(4);
    raise(host, m, true);
    raise(host, m, false);
    assert.equal(unwrap(q.fd.read(40)).length, 24);
    assert.equal(q.fd.pending(), 1);
  });

  it("replaces events beyond the depth by one trailing LOST_EVENTS header carrying the newest sequence", () => {
    const { host, m, q } = setup(1);
    raise(host, m, true); // seq 0, queued
    raise(host, m, false); // seq 1, lost
    raise(host, m, false); // seq 2, lost: the header moves to the tail with 2
    assert.equal(q.fd.pending(), 2);
    // Too small for the event but big enough for a header: nothing (the event comes first).
    assert.equal(unwrap(q.fd.read(8)).length, 0);
    const recs = parseVevents(unwrap(q.fd.read(4096)));
    assert.deepEqual(recs, [
      { flags: 0, sequence: 0, lvcmdqErrMap: [1n, 0n] },
      { flags: VEVENT_FLAG_LOST_EVENTS, sequence: 2 },
    ]);
    // Reading the event freed its slot: the next one is queued with the next sequence.
    raise(host, m, false);
    assert.deepEqual(parseVevents(unwrap(q.fd.read(4096))), [
      { flags: 0, sequence: 3, lvcmdqErrMap: [1n, 0n] },
    ]);
  });

  it("drops the trailing LOST_EVENTS header when a normal event follows it, leaving a sequence gap", () => {
    const { host, m, q } = setup(1);
    raise(host, m, true); // 0 queued
    raise(host, m, false); // 1 lost → header(1)
    // Read only the event (24 bytes): the header stays, alone.
    assert.equal(parseVevents(unwrap(q.fd.read(24)))[0]!.sequence, 0);
    raise(host, m, false); // 2 queued: the header is taken off the tail
    assert.deepEqual(parseVevents(unwrap(q.fd.read(4096))), [
      { flags: 0, sequence: 2, lvcmdqErrMap: [1n, 0n] },
    ]);
  });

  it("drops events when the vIOMMU has no vEVENTQ of the type (report returns EOPNOTSUPP)", () => {
    const { host, m, q } = setup(4);
    q.fd.close();
    unwrap(host.iommufd.destroy(q.veventqId));
    raise(host, m, true);
    const s = host.driver.isrStats();
    assert.equal(s.dropped, 1);
    assert.equal(s.reported, 0);
  });

  it("reads EBADF after close, and frees the queue's users reference", () => {
    const { k, q } = setup(4);
    expectErrno(k.destroy(q.veventqId), "EBUSY");
    q.fd.close();
    expectErrno(q.fd.read(64), "EBADF");
    unwrap(k.destroy(q.veventqId));
  });
});
