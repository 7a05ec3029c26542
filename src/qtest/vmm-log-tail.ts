// `cmdqv_vmm_log`: the VMM's console lines since the last call (the first call: since the
// machine was built), whatever `--log` prints, so a client can assert on what the VMM said
// after each step as the differential does. Lines wait here until asked for, at most
// VMM_LOG_PENDING_MAX of them; past that they are counted as dropped, not kept (a hostile
// guest can make unbounded guest errors).

import type { VmmLog, VmmLogLine } from "../vmm/log.js";
import type { ExtensionResult } from "./target.js";

/** Lines kept between two `cmdqv_vmm_log` calls. */
export const VMM_LOG_PENDING_MAX = 10_000;

export class VmmLogTail {
  private pending: VmmLogLine[];
  private dropped: number;

  constructor(log: VmmLog) {
    // What the machine said while it was built (and any line its own cap dropped).
    this.pending = log.all().slice(0, VMM_LOG_PENDING_MAX);
    this.dropped = log.total() - this.pending.length;
    log.onLine((l) => {
      if (this.pending.length < VMM_LOG_PENDING_MAX) this.pending.push(l);
      else this.dropped++;
    });
  }

  /** `OK {"lines":[{t, kind, text}…],"dropped":N}`, and start afresh. */
  take(): ExtensionResult {
    const reply = JSON.stringify({
      lines: this.pending.map((l) => ({ t: l.t, kind: l.kind, text: l.text })),
      dropped: this.dropped,
    });
    this.pending = [];
    this.dropped = 0;
    return { ok: true, reply };
  }
}
