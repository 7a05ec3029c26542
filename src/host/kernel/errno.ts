// Linux errno values (asm-generic/errno-base.h, errno.h) that the simulated kernel returns.
// Values are the kernel's; an ioctl fails with -errno, which we keep as a positive code.

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOTTY: 25,
  ENOSPC: 28,
  ESPIPE: 29,
  ERANGE: 34,
  EOVERFLOW: 75,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  ETIMEDOUT: 110,
} as const;

export type ErrnoName = keyof typeof ERRNO;
export type Errno = (typeof ERRNO)[ErrnoName];

const NAMES = new Map<number, ErrnoName>(
  (Object.entries(ERRNO) as [ErrnoName, number][]).map(([name, code]) => [code, name]),
);

/** "EINVAL" for 22; "E?123" for a code we do not know. */
export function errnoName(code: number): string {
  return NAMES.get(code) ?? `E?${code}`;
}
