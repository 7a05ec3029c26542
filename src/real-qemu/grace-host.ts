// The simulated Grace host behind a real QEMU: every call the preload forwards gets its
// meaning here, from the same kernel and hardware code the model uses. iommufd ioctls go
// to the kernel's raw-bytes entry point, the VFIO device's to its cdev file; QEMU's memory
// is reached through PEEK/POKE while a call is open. Guest RAM is QEMU's memfd, opened
// through /proc and registered as the kernel's user memory; the VINTF page0 QEMU maps is
// a shared file mirrored onto the hardware's registers. tick() is the hardware's time: it
// forwards QEMU's page0 stores, copies the rings they announce into host memory, lets the
// clock run, writes the hardware's answers back and delivers vEVENTs to QEMU's pipe.

import { fstatSync, readSync } from "node:fs";
import type { Host } from "../host/host.js";
import { iommufdIoctl, iommufdIoctlName } from "../host/kernel/fops.js";
import type { Mapping } from "../host/kernel/mmap.js";
import type {
  InstalledFile,
  Syscall,
  SyscallReturn,
  UserAnswer,
} from "../host/kernel/user-copy.js";
import type { VeventqFd } from "../host/kernel/veventq.js";
import { VfioCdev, vfioIoctlName } from "../host/vfio/vfio-cdev.js";
import type { GuestRam } from "../mem/guest-ram.js";
import { Page0Mirror } from "./page0-mirror.js";
import type {
  Failure,
  HostCallHandler,
  MapOutcome,
  Outcome,
  PipeWriter,
  QemuMemory,
  Session,
  SharedFile,
} from "./plumbing-server.js";
import {
  type CloseCall,
  FdKind,
  type IoctlCall,
  type MmapCall,
  type MunmapCall,
  type PreadCall,
  type PwriteCall,
} from "./wire.js";

export interface GraceHostOptions {
  readonly host: Host;
  /** The passed-through device's physical StreamID. */
  readonly physSid: number;
  /** Host page size backing QEMU's RAM file in the model (contiguity of HW queue rings). */
  readonly ramPage: number;
  readonly seed: number;
}

interface RamFile {
  readonly qemuFd: number;
  readonly nodeFd: number;
  readonly size: number;
  readonly ram: GuestRam;
}

interface EventPipe {
  readonly file: VeventqFd;
  readonly writer: PipeWriter;
  readonly readFd: number;
  /** Bytes read from the vEVENTQ that the pipe did not take yet. */
  pending: Uint8Array | null;
}

/** User addresses the host gives QEMU's RAM files: far above anything else in the model. */
const RAM_FILE_BASE = 0x100_0000_0000;
/**
 * The most live mappings one QEMU may hold: each costs a shared file and its fd, so a
 * QEMU mapping page0 in a loop gets ENOMEM here, as past vm.max_map_count (QEMU maps it
 * once per vIOMMU).
 */
export const MAX_MAPPINGS = 64;
/** Call lines kept for `cmdqv_calls` (the kernel's own ioctl log has its own bound). */
const MAX_CALLS = 10_000;
/**
 * The vEVENTQ is read on QEMU's behalf with the size QEMU 11.1.3 reads its fd with: one
 * 8-byte header and one 16-byte Tegra241 error-map record (smmuv3_accel_event_read_validate,
 * read from the binary). So the host log shows QEMU's read, and each kernel read result
 * becomes one write to the pipe QEMU reads: a 24-byte record, or a lone lost-events
 * header the kernel returns when the next record does not fit after it.
 */
const VEVENT_READ = 24;

export class GraceHost implements HostCallHandler {
  readonly host: Host;
  readonly vfio: VfioCdev;
  private readonly session: Session;
  private readonly o: GraceHostOptions;
  private readonly ramFiles = new Map<number, RamFile>();
  private nextRamBase = RAM_FILE_BASE;
  /** QEMU's live mappings of page0, one per mmap (the same region may be mapped twice). */
  private readonly mirrors = new Map<
    number,
    { mirror: Page0Mirror; map: Mapping; file: SharedFile; offset: bigint }
  >();
  private nextMapping = 0;
  private readonly pipes = new Map<number, EventPipe>();
  /** vEVENT bytes written to QEMU's pipes so far (the relay waits for QEMU to read them). */
  private eventBytes = 0;
  /** One line per call, as strace would show it: the last MAX_CALLS, so a long run stays bounded. */
  private readonly callLines: string[] = [];
  private callsDropped = 0;
  private ended: string | null = null;
  /** An ioctl is being carried (its user copies may still be out). */
  private inCall = false;
  /** The session ended during that ioctl: the release waits for it to return. */
  private releaseDeferred = false;

  constructor(o: GraceHostOptions, session: Session) {
    this.o = o;
    this.host = o.host;
    this.session = session;
    this.vfio = new VfioCdev(o.physSid);
  }

  /** The calls kept, oldest first, after a line counting those dropped (if any). */
  calls(): string[] {
    return this.callsDropped > 0
      ? [`(${this.callsDropped} earlier calls dropped)`, ...this.callLines]
      : [...this.callLines];
  }

  private noteCall(line: string): void {
    if (this.callLines.length >= MAX_CALLS) {
      this.callLines.shift();
      this.callsDropped++;
    }
    this.callLines.push(line);
  }

  get endReason(): string | null {
    return this.ended;
  }

  async ioctl(call: IoctlCall, mem: QemuMemory): Promise<Outcome> {
    const k = this.host.iommufd;
    let sys: Syscall;
    let name: string;
    if (call.kind === FdKind.IOMMUFD) {
      name = iommufdIoctlName(call.request);
      sys = iommufdIoctl(k, call.request, call.arg, { memfd: (fd) => this.ramFile(fd) });
    } else if (call.kind === FdKind.VFIO) {
      name = vfioIoctlName(call.request);
      sys = this.vfio.ioctl(call.request, call.arg, (fd) =>
        fd === this.session.hello.iommufdFd ? k : null,
      );
    } else return { errno: 25 };
    let r: SyscallReturn;
    this.inCall = true;
    try {
      r = await drive(sys, mem, (f) => this.install(f, mem));
    } finally {
      this.inCall = false;
      if (this.releaseDeferred) this.release();
    }
    this.noteCall(`ioctl(${name}) = ${r.ret === 0 ? "0" : `-1 errno ${r.errno}`}`);
    return r.ret < 0 ? { errno: r.errno } : { ret: r.ret };
  }

  mmap(call: MmapCall): MapOutcome {
    if (call.kind !== FdKind.IOMMUFD) return { errno: 19 };
    if (this.mirrors.size >= MAX_MAPPINGS) return { errno: 12 };
    const r = this.host.iommufd.mmap({
      offset: Number(call.offset),
      length: Number(call.length),
      prot: call.prot,
      flags: call.flags,
    });
    this.noteCall(
      `mmap(iommufd, 0x${call.length.toString(16)}, 0x${call.offset.toString(16)}) = ${r.ok ? "ok" : `errno ${r.error}`}`,
    );
    if (!r.ok) return { errno: r.error };
    const file = this.session.sharedFile(r.value.length);
    if (!file.ok) {
      r.value.unmap();
      return { errno: file.error };
    }
    const slots = this.host.driver.numLvcmdqsPerVintf;
    const mirror = new Page0Mirror(file.value, r.value, slots);
    this.mirrors.set(this.nextMapping++, {
      mirror,
      map: r.value,
      file: file.value,
      offset: call.offset,
    });
    return { path: file.value.path, offset: 0n };
  }

  munmap(call: MunmapCall): void {
    for (const [key, m] of this.mirrors) {
      if (m.map.length !== Number(call.length)) continue;
      m.map.unmap();
      m.file.remove();
      this.mirrors.delete(key);
      this.noteCall(`munmap(page0 @0x${m.offset.toString(16)})`);
      return;
    }
  }

  pread(call: PreadCall): Uint8Array | Failure {
    if (call.kind !== FdKind.VFIO) return { errno: 22 };
    const r = this.vfio.pread(call.offset, call.length);
    return typeof r === "number" ? { errno: -r } : r;
  }

  pwrite(call: PwriteCall): Outcome {
    if (call.kind !== FdKind.VFIO) return { errno: 22 };
    const r = this.vfio.pwrite(call.offset, call.data);
    return r < 0 ? { errno: -r } : { ret: r };
  }

  close(call: CloseCall): void {
    this.noteCall(
      `close(${call.kind === FdKind.IOMMUFD ? "iommufd" : call.kind === FdKind.VFIO ? "vfio" : "veventq"})`,
    );
    if (call.kind === FdKind.VFIO) this.vfio.close();
    else if (call.kind === FdKind.IOMMUFD) this.host.iommufd.close();
    else if (call.kind === FdKind.EVENTQ) {
      for (const [id, p] of this.pipes) {
        if (p.readFd !== call.fd) continue;
        p.writer.close();
        p.file.close();
        this.pipes.delete(id);
      }
    }
  }

  end(reason: string): void {
    this.ended = reason;
    // As in the kernel, an ioctl in progress holds QEMU's files: a connection that ends
    // in the middle of one (its copies now fail) is released when that call returns, not
    // under it (the VFIO device unbound between an ioctl's copy-in and its op).
    if (this.inCall) this.releaseDeferred = true;
    else this.release();
  }

  /** QEMU is gone: its files close as the process exits (the kernel's release runs). */
  private release(): void {
    this.releaseDeferred = false;
    for (const p of this.pipes.values()) {
      p.writer.close();
      if (p.file.isOpen) p.file.close();
    }
    this.pipes.clear();
    for (const m of this.mirrors.values()) {
      if (m.map.mapped) m.map.unmap();
      m.file.remove();
    }
    this.mirrors.clear();
    this.vfio.close();
    if (!this.host.iommufd.isClosed) this.host.iommufd.close();
  }

  /**
   * One step of the hardware, `ns` of virtual time: QEMU's page0 stores reach the
   * hardware (after the rings they announce are copied in), the clock runs, the
   * hardware's answers go back, and queued vEVENTs go to QEMU. Returns words moved.
   */
  /** vEVENT bytes handed to QEMU so far. */
  eventBytesDelivered(): number {
    return this.eventBytes;
  }

  tick(ns: number): number {
    let moved = 0;
    for (const m of this.mirrors.values()) {
      moved += m.mirror.sync((slot) => this.copyRing(slot));
    }
    this.host.clock.advance(ns);
    for (const m of this.mirrors.values()) moved += m.mirror.publish();
    this.deliverEvents();
    return moved;
  }

  // ---- guest RAM -----------------------------------------------------------------------

  /** QEMU's memfd `fd` as the kernel's user memory (registered on first use), or null. */
  private ramFile(fd: number): { base: number; size: number } | null {
    const known = this.ramFiles.get(fd);
    if (known) return { base: known.ram.gpaBase, size: known.size };
    const opened = this.session.openFd(fd, "rw");
    if (!opened.ok) return null;
    const size = fstatSync(opened.value).size;
    if (size <= 0 || size % this.o.ramPage !== 0) {
      // Not RAM: nothing keeps this fd, so it goes now, not at the session's end (a QEMU
      // naming such a file in a loop would otherwise pile up descriptors here).
      this.session.closeOpened(opened.value);
      return null;
    }
    const base = Math.ceil(this.nextRamBase / this.o.ramPage) * this.o.ramPage;
    let ram: GuestRam;
    try {
      ram = this.host.allocGuestRam({
        gpaBase: base,
        size,
        pageSize: this.o.ramPage,
        seed: this.o.seed,
      });
    } catch (e) {
      // A file past what the model can address (GuestRam's bounds): refused like any other.
      this.session.log(
        `guest RAM: QEMU fd ${fd} of ${size} bytes refused: ${(e as Error).message}`,
      );
      this.session.closeOpened(opened.value);
      return null;
    }
    this.nextRamBase = base + size;
    this.ramFiles.set(fd, { qemuFd: fd, nodeFd: opened.value, size, ram });
    this.session.log(
      `guest RAM: QEMU fd ${fd}, ${size} bytes on ${this.o.ramPage}-byte host pages`,
    );
    return { base, size };
  }

  /** Copy HW queue `index`'s ring from QEMU's RAM file into the host memory the hardware reads. */
  private copyRing(index: number): void {
    const k = this.host.iommufd;
    const q = k.hwQueues().find((x) => x.index === index);
    if (!q) return;
    const user = k.userAddressOf(q.iova);
    for (const f of this.ramFiles.values()) {
      const off = user - f.ram.gpaBase;
      if (user < 0 || off < 0 || off + q.length > f.size) continue;
      const page = this.o.ramPage;
      const buf = new Uint8Array(Math.min(q.length, page));
      for (let done = 0; done < q.length; ) {
        const chunk = Math.min(q.length - done, page - ((user + done) % page));
        const got = readSync(f.nodeFd, buf, 0, chunk, off + done);
        const hpa = f.ram.hpaOf(user + done);
        if (hpa >= 0) this.host.mem.writeBytes(hpa, buf.subarray(0, got));
        done += chunk;
      }
      return;
    }
  }

  // ---- vEVENTs -------------------------------------------------------------------------

  private async install(f: InstalledFile, mem: QemuMemory): Promise<number> {
    const p = await mem.newEventPipe();
    if (!p.ok) return -p.error;
    if (this.ended !== null) {
      // QEMU went away during the call: end() already closed every pipe.
      p.value.writer.close();
      return -5; // EIO
    }
    this.pipes.set(f.id, {
      file: f.fd,
      writer: p.value.writer,
      readFd: p.value.readFd,
      pending: null,
    });
    return p.value.readFd;
  }

  private deliverEvents(): void {
    for (const p of this.pipes.values()) {
      for (let guard = 0; guard < 64; guard++) {
        if (p.pending === null) {
          if (!p.file.isOpen || !p.file.readable()) break;
          const r = p.file.read(VEVENT_READ);
          if (!r.ok || r.value.length === 0) break;
          p.pending = r.value;
        }
        const short = p.pending.length < VEVENT_READ;
        const w = p.writer.write(p.pending);
        if (!w.ok) break; // EAGAIN: QEMU has not read yet; EPIPE: it closed the fd
        this.eventBytes += w.value;
        p.pending = w.value >= p.pending.length ? null : p.pending.subarray(w.value);
        if (p.pending !== null) break;
        // A pipe keeps no record boundaries: a short result followed at once by the next
        // record would reach QEMU's 24-byte read as one made-up record. The next goes once
        // QEMU has read this one (the next tick; the relay's probes make that one).
        if (short) break;
      }
    }
  }
}

/** Run a system call, answering its user-memory requests through QEMU's memory. */
async function drive(
  sys: Syscall,
  mem: QemuMemory,
  install: (f: InstalledFile) => Promise<number>,
): Promise<SyscallReturn> {
  let answer: UserAnswer = null;
  for (;;) {
    const r = sys.next(answer);
    if (r.done) return r.value;
    const q = r.value;
    if (q.op === "read") {
      const p = await mem.peek(q.addr, q.len);
      answer = p.ok ? p.value : null;
    } else if (q.op === "write") {
      const p = await mem.poke(q.addr, q.bytes);
      answer = p.ok;
    } else answer = await install(q.file);
  }
}
