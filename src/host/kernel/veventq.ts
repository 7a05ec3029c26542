// vEVENTQs: IOMMU_VEVENTQ_ALLOC, iommufd_viommu_report_event and the queue's fd
// (drivers/iommu/iommufd/eventq.c, driver.c). spec: linux §3.9, §6.4, §6.6.
//
// The deliver list holds normal events and, at most once and only at the tail, the
// queue's own lost-events header. Each report consumes a sequence number (0..INT_MAX,
// then 0), the lost header included: when a report finds the queue at depth (or its
// allocation fails), the header is (re)appended with that report's number, so the
// reader sees the number of the newest lost event. A normal event appended later pushes
// the header out of the list, leaving a gap in the sequence as the only trace.

import { err, ok, type Result } from "../../util/result.js";
import type { Faults } from "../faults.js";
import { ERRNO } from "./errno.js";
import type { KernelCtx, Vevent, VeventqObj, ViommuObj } from "./objects.js";
import {
  TEGRA241_VEVENT_LEN,
  VEVENT_FLAG_LOST_EVENTS,
  VEVENT_HEADER_LEN,
  VEVENTQ_TYPE,
  type VeventqAllocArgs,
  type VeventRecord,
} from "./uapi.js";

const INT_MAX = 0x7fff_ffff;

/** What the file does on close (drop its refs, maybe release the iommufd). */
export interface VeventqFdHooks {
  /** The file takes a reference on the iommufd file (iommufd_ctx_get). */
  onOpen(fd: VeventqFd): void;
  onRead(fd: VeventqFd, bufLen: number, r: Result<Uint8Array, number>): void;
  /** `byUser`: close(2) by the VMM (false: the failed ioctl's __fput_sync). */
  onClose(fd: VeventqFd, byUser: boolean): void;
}

/**
 * The vEVENTQ file ("[iommufd-viommu-event]", O_CLOEXEC, non-seekable). While open it
 * holds a users reference on the vEVENTQ, so IOMMU_DESTROY of the queue is EBUSY.
 */
export class VeventqFd {
  readonly veventqId: number;
  private readonly q: VeventqObj;
  private readonly faults: Faults;
  private readonly hooks: VeventqFdHooks;
  private open = true;

  constructor(q: VeventqObj, faults: Faults, hooks: VeventqFdHooks) {
    this.q = q;
    this.veventqId = q.id;
    this.faults = faults;
    this.hooks = hooks;
    hooks.onOpen(this);
  }

  get isOpen(): boolean {
    return this.open;
  }

  /**
   * read(2) into a buffer of `bufLen` bytes (iommufd_veventq_fops_read): whole records
   * only; stops at the first record that does not fit; an empty result when nothing
   * fits or nothing is queued (O_NONBLOCK); reading a normal event frees a slot.
   */
  read(bufLen: number): Result<Uint8Array, number> {
    const r = this.doRead(bufLen);
    this.hooks.onRead(this, bufLen, r);
    return r;
  }

  private doRead(bufLen: number): Result<Uint8Array, number> {
    if (!this.open) return err(ERRNO.EBADF);
    const count = Number.isSafeInteger(bufLen) && bufLen > 0 ? bufLen : 0;
    const q = this.q;
    const out: Uint8Array[] = [];
    let done = 0;
    let rc = 0;
    for (;;) {
      const cur = q.deliver[0];
      if (cur === undefined) break;
      const lost = cur === q.lostHeader;
      if (done >= count || VEVENT_HEADER_LEN > count - done) break;
      if (!lost && VEVENT_HEADER_LEN + cur.data.length > count - done) break;
      if (this.faults.check("veventq_read:copy_to_user")) {
        rc = ERRNO.EFAULT;
        break;
      }
      const rec = new Uint8Array(VEVENT_HEADER_LEN + cur.data.length);
      const dv = new DataView(rec.buffer);
      dv.setUint32(0, cur.flags, true);
      dv.setUint32(4, cur.sequence, true);
      rec.set(cur.data, VEVENT_HEADER_LEN);
      out.push(rec);
      done += rec.length;
      q.deliver.shift();
      if (!lost) q.numEvents--;
    }
    if (done === 0 && rc !== 0) return err(rc);
    const bytes = new Uint8Array(done);
    let off = 0;
    for (const r of out) {
      bytes.set(r, off);
      off += r.length;
    }
    return ok(bytes);
  }

  /** Records waiting (the lost-events header counts as one). */
  pending(): number {
    return this.q.deliver.length;
  }

  /** poll(): EPOLLIN when the deliver list is not empty. */
  readable(): boolean {
    return this.q.deliver.length > 0;
  }

  /** close(2): drops the queue's users reference and the iommufd file reference. */
  close(): void {
    this.release(true);
  }

  /** iommufd_eventq_fops_release. */
  release(byUser: boolean): void {
    if (!this.open) return;
    this.open = false;
    this.q.fdOpen = false;
    this.q.users--;
    this.hooks.onClose(this, byUser);
  }
}

/** The vEVENTQ alloc result: the id and the new fd. */
export interface VeventqAllocOut {
  readonly veventqId: number;
  readonly fd: VeventqFd;
}

/**
 * IOMMU_VEVENTQ_ALLOC (iommufd_veventq_alloc), in order. The type is not checked against
 * the driver: any non-zero type can be queued (spec: linux §6.4).
 */
export function veventqAlloc(
  ctx: KernelCtx,
  a: VeventqAllocArgs,
  hooks: VeventqFdHooks,
): Result<VeventqAllocOut, number> {
  if (a.flags !== 0 || (a.reserved ?? 0) !== 0 || a.type === VEVENTQ_TYPE.DEFAULT)
    return err(ERRNO.EOPNOTSUPP);
  if (a.depth === 0) return err(ERRNO.EINVAL);
  const viommu = ctx.objs.get(a.viommuId, "viommu");
  if (!viommu) return err(ERRNO.ENOENT);
  if (viommu.veventqs.some((q) => q.type === a.type)) return err(ERRNO.EEXIST);
  if (ctx.faults.check("veventq_alloc:obj_alloc")) return err(ERRNO.ENOMEM);
  const id = ctx.objs.reserve();
  if (id === 0) return err(ERRNO.EBUSY);
  const q: VeventqObj = {
    kind: "veventq",
    id,
    users: 1,
    viommu,
    type: a.type,
    depth: a.depth >>> 0,
    deliver: [],
    numEvents: 0,
    sequence: 0,
    lostHeader: { flags: VEVENT_FLAG_LOST_EVENTS, sequence: 0, data: new Uint8Array(0) },
    fdOpen: false,
  };
  viommu.users++;
  viommu.veventqs.push(q);
  const abort = (rc: number, fd: VeventqFd | null): Result<VeventqAllocOut, number> => {
    // __fput_sync of the file, then the destroy op.
    if (fd !== null) fd.release(false);
    veventqDestroy(q);
    ctx.objs.unreserve(id);
    return err(rc);
  };
  // iommufd_eventq_init: anon_inode_getfile, then the file holds the queue.
  if (ctx.faults.check("veventq_alloc:fd_alloc")) return abort(ERRNO.ENOMEM, null);
  q.fdOpen = true;
  q.users++;
  const fd = new VeventqFd(q, ctx.faults, hooks);
  if (ctx.faults.check("veventq_alloc:copy_to_user")) return abort(ERRNO.EFAULT, fd);
  ctx.objs.publish(q);
  return ok({ veventqId: id, fd });
}

/** iommufd_veventq_destroy: free what is queued, unlink from the vIOMMU, drop its ref. */
export function veventqDestroy(q: VeventqObj): void {
  q.deliver.length = 0;
  q.numEvents = 0;
  const i = q.viommu.veventqs.indexOf(q);
  if (i >= 0) q.viommu.veventqs.splice(i, 1);
  q.viommu.users--;
}

/**
 * iommufd_viommu_report_event: queue `data` on the vIOMMU's vEVENTQ of `type`. Returns 0,
 * EOPNOTSUPP when there is no such queue (the event is dropped), or ENOMEM when the
 * event could not be allocated (a lost-events header stands in for it).
 */
export function reportEvent(
  faults: Faults,
  viommu: ViommuObj,
  type: number,
  data: Uint8Array,
): number {
  if (data.length === 0) return ERRNO.EINVAL;
  const q = viommu.veventqs.find((x) => x.type === type);
  if (q === undefined) return ERRNO.EOPNOTSUPP;
  let rc = 0;
  let ev: Vevent;
  if (q.numEvents === q.depth) {
    ev = q.lostHeader;
  } else if (faults.check("report_event:alloc")) {
    rc = ERRNO.ENOMEM;
    ev = q.lostHeader;
  } else {
    ev = { flags: 0, sequence: 0, data: data.slice() };
    q.numEvents++;
  }
  // iommufd_vevent_handler: drop a trailing lost header, append, number it.
  if (q.deliver.length > 0 && q.deliver[q.deliver.length - 1] === q.lostHeader) q.deliver.pop();
  q.deliver.push(ev);
  ev.sequence = q.sequence;
  q.sequence = (q.sequence + 1) & INT_MAX;
  return rc;
}

/**
 * Decode what read() returned: {flags u32, sequence u32} headers, each followed by
 * `dataLen` bytes (16 for Tegra241: two little-endian u64 LVCMDQ error maps) unless it
 * is a LOST_EVENTS header. A truncated tail is ignored.
 */
export function parseVevents(bytes: Uint8Array, dataLen = TEGRA241_VEVENT_LEN): VeventRecord[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: VeventRecord[] = [];
  let off = 0;
  while (off + VEVENT_HEADER_LEN <= bytes.length) {
    const flags = dv.getUint32(off, true);
    const sequence = dv.getUint32(off + 4, true);
    off += VEVENT_HEADER_LEN;
    if ((flags & VEVENT_FLAG_LOST_EVENTS) !== 0) {
      out.push({ flags, sequence });
      continue;
    }
    if (off + dataLen > bytes.length) break;
    if (dataLen >= 16) {
      out.push({
        flags,
        sequence,
        lvcmdqErrMap: [dv.getBigUint64(off, true), dv.getBigUint64(off + 8, true)],
      });
    } else {
      out.push({ flags, sequence });
    }
    off += dataLen;
  }
  return out;
}
