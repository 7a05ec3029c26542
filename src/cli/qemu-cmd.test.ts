import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UsageError } from "./options.js";
import { faultPlanOf } from "./qemu-cmd.js";

describe("--fault SITE[:N]", () => {
  it("takes a site name (which has a colon of its own) with an optional count", () => {
    assert.deepEqual(faultPlanOf("hw_queue_alloc:obj_alloc"), {
      kind: "site",
      site: "hw_queue_alloc:obj_alloc",
      nth: 1,
    });
    assert.deepEqual(faultPlanOf("ioas_map:pin:3"), { kind: "site", site: "ioas_map:pin", nth: 3 });
    assert.deepEqual(faultPlanOf(undefined), { kind: "none" });
  });

  it("names the offending value for an unknown site or a bad count", () => {
    assert.throws(
      () => faultPlanOf("hw_queue_alloc"),
      (e: Error) => {
        assert.ok(e instanceof UsageError);
        return e.message.includes('"hw_queue_alloc"');
      },
    );
    assert.throws(() => faultPlanOf("ioas_map:pin:0"), /N must be an integer ≥ 1, got "0"/);
  });
});
