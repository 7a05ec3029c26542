import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Faults, formatFault } from "./faults.js";

describe("Faults", () => {
  it("fails nothing without a plan, but counts every call", () => {
    const f = new Faults();
    assert.equal(f.check("hw_queue_alloc:pin"), false);
    assert.equal(f.check("viommu_alloc:obj_alloc"), false);
    assert.equal(f.callCount(), 2);
    assert.deepEqual(f.injectedFaults(), []);
  });

  it("fails exactly the nth call across all sites, as iommufd_fail_nth does", () => {
    const f = new Faults({ kind: "nth", nth: 2 });
    assert.equal(f.check("ioas_alloc:obj_alloc"), false);
    assert.equal(f.check("viommu_alloc:obj_alloc"), true);
    assert.equal(f.check("viommu_alloc:obj_alloc"), false);
    assert.deepEqual(f.injectedFaults(), [{ site: "viommu_alloc:obj_alloc", call: 2 }]);
  });

  it("fails the nth call at one named site only", () => {
    const f = new Faults({ kind: "site", site: "hw_queue_alloc:pin", nth: 2 });
    assert.equal(f.check("hw_queue_alloc:pin"), false);
    assert.equal(f.check("hw_queue_alloc:obj_alloc"), false);
    assert.equal(f.check("hw_queue_alloc:pin"), true);
  });

  it("draws probabilistic faults from its seed, reproducibly", () => {
    const run = () => {
      const f = new Faults({ kind: "probability", seed: 5, p: { "hw_queue_alloc:pin": 0.5 } });
      return Array.from({ length: 32 }, () => f.check("hw_queue_alloc:pin"));
    };
    const a = run();
    assert.deepEqual(a, run());
    assert.ok(a.includes(true) && a.includes(false));
  });

  it("fires an armed one-shot fault on the nth next call at its site", () => {
    const f = new Faults();
    f.arm("mmap:vma_alloc", 2);
    assert.equal(f.check("mmap:vma_alloc"), false);
    assert.equal(f.check("mmap:vma_alloc"), true);
    assert.equal(f.check("mmap:vma_alloc"), false);
    assert.throws(() => f.arm("mmap:vma_alloc", 0), RangeError);
  });

  it("keeps numbering calls from its creation when the plan changes", () => {
    const f = new Faults();
    f.check("ioas_alloc:obj_alloc");
    f.check("hw_queue_alloc:pin");
    f.setPlan({ kind: "nth", nth: 3 });
    assert.equal(f.check("hw_queue_alloc:pin"), true);
    f.setPlan({ kind: "site", site: "hw_queue_alloc:pin", nth: 3 });
    assert.equal(f.check("hw_queue_alloc:pin"), true);
    assert.deepEqual(f.injectedFaults(), [
      { site: "hw_queue_alloc:pin", call: 3 },
      { site: "hw_queue_alloc:pin", call: 4 },
    ]);
    assert.equal(formatFault(f.injectedFaults()[1]!), "hw_queue_alloc:pin (call 4)");
  });

  it("recognises site names so user input can be validated", () => {
    assert.equal(Faults.isSite("hw_queue_alloc:pin"), true);
    assert.equal(Faults.isSite("nope"), false);
  });
});

describe("Faults chooser", () => {
  it("asks the chooser at every call and records what it failed", () => {
    const f = new Faults();
    const asked: string[] = [];
    f.setChooser((site, call) => {
      asked.push(`${site}#${call}`);
      return call === 2;
    });
    assert.equal(f.check("hw_queue_alloc:pin"), false);
    assert.equal(f.check("hw_queue_alloc:obj_alloc"), true);
    f.setChooser(null);
    assert.equal(f.check("hw_queue_alloc:pin"), false);
    assert.deepEqual(asked, ["hw_queue_alloc:pin#1", "hw_queue_alloc:obj_alloc#2"]);
    assert.deepEqual(f.injectedFaults(), [{ site: "hw_queue_alloc:obj_alloc", call: 2 }]);
  });
});
