// The guest's initramfs as a "newc" cpio archive, written here rather than by the cpio
// tool (one dependency fewer, and the same bytes from the same inputs: every time stamp
// and owner is 0, so the archive's hash keys the cache).
//
// facts: the kernel's Documentation/driver-api/early-userspace/buffer-format.rst: magic
// "070701", thirteen 8-digit hex fields (ino, mode, uid, gid, nlink, mtime, filesize,
// devmajor, devminor, rdevmajor, rdevminor, namesize including the NUL, check), the name,
// header+name padded to 4 bytes, the data padded to 4 bytes, and a last entry named
// "TRAILER!!!". Modes are st_mode: 0o040000 directory, 0o100000 file, 0o020000 char device.

export type CpioEntry =
  | { readonly kind: "dir"; readonly path: string; readonly perm?: number }
  | {
      readonly kind: "file";
      readonly path: string;
      readonly data: Uint8Array;
      readonly perm?: number;
    }
  | {
      readonly kind: "char";
      readonly path: string;
      readonly major: number;
      readonly minor: number;
      readonly perm?: number;
    };

const MAGIC = "070701";
const HEADER_BYTES = 110;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;
const TRAILER = "TRAILER!!!";

const pad4 = (n: number): number => (4 - (n % 4)) % 4;
const hex8 = (v: number): string => v.toString(16).padStart(8, "0");

function header(
  ino: number,
  mode: number,
  size: number,
  rdev: readonly [number, number],
  nameSize: number,
): string {
  const nlink = (mode & 0o170000) === S_IFDIR ? 2 : 1;
  const fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0], rdev[1], nameSize, 0];
  return MAGIC + fields.map(hex8).join("");
}

/** The archive of `entries`, in order (a directory must come before what it holds). */
export function cpioNewc(entries: readonly CpioEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  let total = 0;
  const push = (b: Uint8Array): void => {
    parts.push(b);
    total += b.length;
  };
  const entry = (
    ino: number,
    mode: number,
    path: string,
    data: Uint8Array,
    rdev: readonly [number, number],
  ) => {
    if (path.length === 0 || path.startsWith("/") || path.includes("\0"))
      throw new Error(`cpio: bad path "${path}" (relative, not empty, no NUL)`);
    const name = enc.encode(`${path}\0`);
    push(enc.encode(header(ino, mode, data.length, rdev, name.length)));
    push(name);
    push(new Uint8Array(pad4(HEADER_BYTES + name.length)));
    push(data);
    push(new Uint8Array(pad4(data.length)));
  };
  let ino = 1;
  for (const e of entries) {
    const perm = e.perm ?? (e.kind === "dir" ? 0o755 : e.kind === "file" ? 0o644 : 0o600);
    if (e.kind === "dir") entry(ino++, S_IFDIR | perm, e.path, new Uint8Array(0), [0, 0]);
    else if (e.kind === "file") entry(ino++, S_IFREG | perm, e.path, e.data, [0, 0]);
    else entry(ino++, S_IFCHR | perm, e.path, new Uint8Array(0), [e.major, e.minor]);
  }
  entry(0, 0, TRAILER, new Uint8Array(0), [0, 0]);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
