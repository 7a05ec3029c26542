import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { consoleLine, LOG_ITEMS, type LogItem, logItemOf } from "./console.js";
import { VMM_LOG_KIND, type VmmLogKind } from "./log.js";

const line = (kind: VmmLogKind, text = "x") => ({ t: 0, kind, text });

describe("the VMM console as QEMU prints it", () => {
  it("prints error_report and warn_report lines always, after the program name", () => {
    const none = new Set<LogItem>();
    assert.equal(consoleLine(line("error", "boom"), none), "qemu-system-aarch64: boom");
    assert.equal(consoleLine(line("warn", "odd"), none), "qemu-system-aarch64: warning: odd");
  });

  it("prints a qemu_log_mask line bare, and only when its -d item is on", () => {
    for (const item of LOG_ITEMS) {
      const l = line(item.kind, "guest did it");
      assert.equal(consoleLine(l, new Set()), null, item.name);
      assert.equal(consoleLine(l, new Set([item.name])), "guest did it", item.name);
      const others = new Set(LOG_ITEMS.map((i) => i.name).filter((n) => n !== item.name));
      assert.equal(consoleLine(l, others), null, `${item.name} needs its own item`);
    }
  });

  it("gives every qemu_log_mask kind of the VMM log a -d item, and the others none", () => {
    const masked = Object.values(VMM_LOG_KIND).filter((k) => logItemOf(k) !== null);
    assert.deepEqual(masked.sort(), ["guest_error", "invalid_mem", "unimp"]);
    assert.deepEqual(
      LOG_ITEMS.map((i) => i.name),
      ["unimp", "guest_errors", "invalid_mem"],
    );
  });

  it("never prints the model's info notes (QEMU has no such line)", () => {
    const all = new Set(LOG_ITEMS.map((i) => i.name));
    assert.equal(consoleLine(line("info"), all), null);
  });
});
