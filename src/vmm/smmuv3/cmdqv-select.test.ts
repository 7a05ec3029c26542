import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { err, ok } from "../../util/result.js";
import { checkCmdqvColdPlug, selectCmdqv } from "./cmdqv-select.js";

const supported = () => ok("tegra241");
const unsupported = () => err("Host CMDQV: unexpected data type");

describe("CMDQV selection on the first device attach", () => {
  it("picks nothing for cmdqv=off and does not probe", () => {
    let probed = false;
    const r = selectCmdqv("off", () => {
      probed = true;
      return supported();
    });
    assert.deepEqual(r, { ok: true, cmdqv: null });
    assert.equal(probed, false);
  });

  it("takes the probed CMDQV for auto and on when the probe succeeds", () => {
    assert.deepEqual(selectCmdqv("auto", supported), { ok: true, cmdqv: "tegra241" });
    assert.deepEqual(selectCmdqv("on", supported), { ok: true, cmdqv: "tegra241" });
  });

  it("falls back quietly to plain accel for auto when the probe fails", () => {
    assert.deepEqual(selectCmdqv("auto", unsupported), { ok: true, cmdqv: null });
  });

  it("fails the attach for on with the probe's detail", () => {
    assert.deepEqual(selectCmdqv("on", unsupported), {
      ok: false,
      error: "CMDQV requested but not supported: Host CMDQV: unexpected data type",
    });
  });
});

describe("the machine-init-done check", () => {
  it("makes cmdqv=on without a cold-plugged VFIO device an error", () => {
    assert.deepEqual(checkCmdqvColdPlug("on", 0), {
      ok: false,
      error: "arm-smmuv3 cmdqv=on requires at least one cold-plugged VFIO device",
    });
  });

  it("passes cmdqv=on with a device and auto or off without one", () => {
    assert.equal(checkCmdqvColdPlug("on", 1).ok, true);
    assert.equal(checkCmdqvColdPlug("auto", 0).ok, true);
    assert.equal(checkCmdqvColdPlug("off", 0).ok, true);
  });
});
