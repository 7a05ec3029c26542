// glibc's strerror() texts, as QEMU's `%m` and error_setg_errno print them.

import { ERRNO } from "../host/kernel/errno.js";

const TEXT: Readonly<Record<number, string>> = {
  [ERRNO.EPERM]: "Operation not permitted",
  [ERRNO.ENOENT]: "No such file or directory",
  [ERRNO.EIO]: "Input/output error",
  [ERRNO.ENXIO]: "No such device or address",
  [ERRNO.E2BIG]: "Argument list too long",
  [ERRNO.ENOMEM]: "Cannot allocate memory",
  [ERRNO.EFAULT]: "Bad address",
  [ERRNO.EBUSY]: "Device or resource busy",
  [ERRNO.EEXIST]: "File exists",
  [ERRNO.EINVAL]: "Invalid argument",
  [ERRNO.ENOTTY]: "Inappropriate ioctl for device",
  [ERRNO.ENOSPC]: "No space left on device",
  [ERRNO.ESPIPE]: "Illegal seek",
  [ERRNO.ERANGE]: "Numerical result out of range",
  [ERRNO.EOVERFLOW]: "Value too large for defined data type",
  [ERRNO.EOPNOTSUPP]: "Operation not supported",
  [ERRNO.ETIMEDOUT]: "Connection timed out",
};

export function strerror(errno: number): string {
  return TEXT[errno] ?? `Unknown error ${errno}`;
}
