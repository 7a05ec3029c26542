import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IoctlLogEntry } from "../host/kernel/ioctl-log.js";
import { compareRuns } from "./compare.js";
import { MASKS, maskNamed } from "./masks.js";
import type { Observation } from "./sides.js";

const call = (
  seq: number,
  name: string,
  args: object,
  result?: object,
  errno?: string,
): IoctlLogEntry => ({
  seq,
  t: 0,
  call: name,
  args: args as IoctlLogEntry["args"],
  ...(result ? { result: result as NonNullable<IoctlLogEntry["result"]> } : {}),
  ...(errno ? { errno } : {}),
});

const obs = (o: Partial<Observation> = {}): Observation => ({
  reply: "OK",
  irqs: [],
  ioctls: [],
  hwQueues: [],
  console: [],
  ...o,
});

describe("comparing two runs", () => {
  it("finds nothing when both sides observed the same", () => {
    const run = [obs({ reply: null }), obs({ reply: "OK 0x1" })];
    const c = compareRuns(["readl 0x0"], run, run, MASKS);
    assert.equal(c.difference, null);
    assert.equal(c.compared, 10, "five kinds of observation for each of two steps");
  });

  it("names the first step and kind that differ, with both values", () => {
    const model = [obs({ reply: null }), obs(), obs({ reply: "OK 0x1" })];
    const qemu = [obs({ reply: null }), obs(), obs({ reply: "OK 0x0" })];
    const c = compareRuns(["writel 0x0 0x1", "readl 0x0"], model, qemu, MASKS);
    assert.deepEqual(c.difference, {
      step: 2,
      line: "readl 0x0",
      kind: "reply",
      model: ["OK 0x1"],
      qemu: ["OK 0x0"],
    });
  });

  it("reports an IRQ that only one side raised", () => {
    const model = [obs({ reply: null }), obs({ irqs: ["IRQ raise 116"] })];
    const qemu = [obs({ reply: null }), obs()];
    assert.equal(compareRuns(["clock_step"], model, qemu, MASKS).difference?.kind, "irqs");
  });

  it("compares object ids as they are: one extra object shifts the ids after it", () => {
    const model = [obs({ reply: null, ioctls: [call(0, "IOMMU_IOAS_ALLOC", {}, { ioasId: 2 })] })];
    const qemu = [obs({ reply: null, ioctls: [call(0, "IOMMU_IOAS_ALLOC", {}, { ioasId: 3 })] })];
    assert.equal(compareRuns([], model, qemu, MASKS).difference?.kind, "ioctls");
  });

  it("takes QEMU's IOAS_MAP_FILE of guest RAM for the model's IOAS_MAP at the same IOVA", () => {
    const model = [
      obs({
        reply: null,
        ioctls: [call(0, "IOMMU_IOAS_MAP", { ioasId: 2, iova: 1, length: 2, gpa: 1 })],
      }),
    ];
    const qemu = [
      obs({
        reply: null,
        ioctls: [
          call(0, "IOMMU_IOAS_CHANGE_PROCESS", {}),
          call(1, "IOMMU_IOAS_MAP_FILE", { size: 48, ioasId: 2, fd: 9, iova: 1, length: 2 }),
        ],
      }),
    ];
    assert.equal(compareRuns([], model, qemu, MASKS).difference, null);
    const c = compareRuns(
      [],
      model,
      [
        obs({
          reply: null,
          ioctls: [call(1, "IOMMU_IOAS_MAP_FILE", { ioasId: 2, iova: 3, length: 2 })],
        }),
      ],
      MASKS,
    );
    assert.equal(c.difference?.kind, "ioctls", "a map at another IOVA still differs");
  });

  it("drops only a failed unmap, not a successful one", () => {
    const unmap = (errno?: string) =>
      call(0, "IOMMU_IOAS_UNMAP", { ioasId: 2, iova: 5, length: 1 }, undefined, errno);
    const base = [obs({ reply: null })];
    assert.equal(
      compareRuns(["x"], [...base, obs()], [...base, obs({ ioctls: [unmap("ENOENT")] })], MASKS)
        .difference,
      null,
    );
    assert.equal(
      compareRuns(["x"], [...base, obs()], [...base, obs({ ioctls: [unmap()] })], MASKS).difference
        ?.kind,
      "ioctls",
    );
  });

  it("stops at the shorter run, whose last reply says why it ended", () => {
    const model = [obs({ reply: null }), obs(), obs()];
    const qemu = [
      obs({ reply: null }),
      obs({ reply: "QEMU 11.1 failed: QEMU was killed by SIGSEGV" }),
    ];
    assert.equal(compareRuns(["a", "b"], model, qemu, MASKS).difference?.step, 1);
  });

  it("says why each mask exists", () => {
    for (const m of MASKS) assert.ok(m.why.length > 40, m.name);
    assert.equal(maskNamed("vfio-plumbing")?.name, "vfio-plumbing");
    assert.equal(maskNamed("nope"), undefined);
  });
});
