// Small pieces of the Linux kernel the guest drivers share: errno values and
// readl_poll_timeout as an actor. Facts only (constants and behaviour),
// no kernel code.

import { type ActorBody, delay, type GuestContext, read } from "./actor.js";

/** Errno values the drivers return (negated, as the kernel does). */
export const ERRNO = {
  ENXIO: 6,
  ENOMEM: 12,
  ENODEV: 19,
  EINVAL: 22,
  ERANGE: 34,
  ETIMEDOUT: 110,
} as const;

export const NS_PER_US = 1_000;

/** ARM_SMMU_POLL_TIMEOUT_US: every register poll of both drivers gives up after 1 s. spec: linux §2.1. */
export const ARM_SMMU_POLL_TIMEOUT_US = 1_000_000;

/**
 * readl_poll_timeout(addr, val, cond, sleep_us, timeout_us) as the kernel's
 * read_poll_timeout does it: read; stop when `cond` holds; once the deadline has passed,
 * read one last time and stop; else sleep `sleepUs` (usleep_range(sleep/4 + 1, sleep),
 * which is 1 µs for the 1 µs polls of these drivers) and read again.
 * Returns [ok, last value read].
 */
export function* readlPollTimeout(
  ctx: GuestContext,
  addr: number,
  cond: (v: number) => boolean,
  sleepUs: number,
  timeoutUs: number,
): ActorBody<[boolean, number]> {
  const deadline = ctx.now() + timeoutUs * NS_PER_US;
  for (;;) {
    let v = (yield read(addr)) as number;
    if (cond(v)) return [true, v];
    if (ctx.now() > deadline) {
      v = (yield read(addr)) as number;
      return [cond(v), v];
    }
    if (sleepUs > 0) yield delay(Math.max(1, (sleepUs >> 2) + 1) * NS_PER_US);
  }
}
