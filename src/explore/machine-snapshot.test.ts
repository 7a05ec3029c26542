import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { machineConfig } from "../machine/config.js";
import type { Machine } from "../machine/machine.js";
import { RandomChoice } from "../sim/choice.js";
import { Hasher, machineFingerprint } from "./fingerprint.js";
import { GraphSnapshot, ReusedMachine } from "./machine-snapshot.js";
import { EXTRA_STEPS, type OrderingsOptions, runMachine, runOrderings } from "./orderings.js";

const o: OrderingsOptions = {
  machine: machineConfig({ profile: "qemu-v7", vcmdqs: 2 }),
  queues: 2,
  extras: EXTRA_STEPS,
  faults: true,
};

/** Random runs, every other one cut after a few steps as the search cuts them. */
function runs(n: number) {
  return Array.from({ length: n }, (_, k) => ({
    seed: k + 1,
    limits: k % 2 === 0 ? {} : { stopAfter: 1 + (k % 9) },
  }));
}

/**
 * The differences between two object graphs, walked side by side from their roots: data
 * compared by value, objects by position, functions by their source.
 */
function differences(a: unknown, b: unknown): string[] {
  const out: string[] = [];
  const pairs = new Map<object, object>();
  const weak: [WeakMap<object, unknown>, WeakMap<object, unknown>, string][] = [];
  const walk = (x: unknown, y: unknown, path: string): void => {
    if (out.length > 10) return;
    if (typeof x !== typeof y) {
      out.push(`${path}: ${typeof x} / ${typeof y}`);
      return;
    }
    if (typeof x === "function") {
      if (String(x) !== String(y)) out.push(`${path}: another function`);
      return;
    }
    if (x === null || typeof x !== "object") {
      if (!Object.is(x, y)) out.push(`${path}: ${String(x)} / ${String(y)}`);
      return;
    }
    const yo = y as object;
    const seen = pairs.get(x);
    if (seen !== undefined) {
      if (seen !== yo) out.push(`${path}: shared differently`);
      return;
    }
    pairs.set(x, yo);
    if (Object.getPrototypeOf(x) !== Object.getPrototypeOf(yo)) {
      out.push(`${path}: another kind of object`);
      return;
    }
    if (ArrayBuffer.isView(x)) {
      const u = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
      const v = new Uint8Array((yo as ArrayBufferView).buffer, x.byteOffset, x.byteLength);
      if (!u.every((byte, i) => byte === v[i])) out.push(`${path}: other bytes`);
      return;
    }
    if (x instanceof WeakMap) {
      weak.push([x, yo as WeakMap<object, unknown>, path]);
      return;
    }
    if (x instanceof Map || x instanceof Set) {
      const xs = [...x];
      const ys = [...(yo as Map<unknown, unknown> | Set<unknown>)];
      walk(xs, ys, `${path}<entries>`);
      return;
    }
    const kx = Reflect.ownKeys(x);
    const ky = Reflect.ownKeys(yo);
    if (kx.join() !== ky.join()) {
      out.push(`${path}: keys ${kx.join()} / ${ky.join()}`);
      return;
    }
    for (const k of kx)
      walk(
        (x as Record<PropertyKey, unknown>)[k],
        (yo as Record<PropertyKey, unknown>)[k],
        `${path}.${String(k)}`,
      );
  };
  walk(a, b, "machine");
  for (const [wx, wy, path] of weak)
    for (const [x, y] of pairs) {
      if (wx.has(x) !== wy.has(y)) out.push(`${path}: an entry on one side only`);
      else if (wx.has(x)) walk(wx.get(x), wy.get(y), `${path}<value>`);
    }
  return out;
}

function fingerprint(m: Machine): number {
  return machineFingerprint(m, new Hasher()).digest();
}

describe("a machine reused from run to run", () => {
  it("is, object for object, the machine just built once restored after runs that fail, cut and tear down", () => {
    const reused = new ReusedMachine(runMachine(o.machine));
    for (const r of runs(120))
      runOrderings(o, new RandomChoice(r.seed), null, false, r.limits, reused);
    const restored = reused.fresh();
    const built = runMachine(o.machine);
    assert.deepEqual(differences(restored, built), []);
    assert.equal(fingerprint(restored), fingerprint(built));
  });

  it("runs as machines built for each run do: the same steps, failed calls, states, violations and end state", () => {
    const reused = new ReusedMachine(runMachine(o.machine));
    let violated = 0;
    for (const r of runs(200)) {
      const a = runOrderings(o, new RandomChoice(r.seed), null, false, r.limits, reused);
      const fa = a.machine ? fingerprint(a.machine) : 0;
      const b = runOrderings(o, new RandomChoice(r.seed), null, false, r.limits);
      const fb = b.machine ? fingerprint(b.machine) : 0;
      assert.deepEqual(
        [a.steps, a.states, a.fingerprint, a.checker.violations(), fa],
        [b.steps, b.states, b.fingerprint, b.checker.violations(), fb],
        `seed ${r.seed}`,
      );
      if (a.checker.violations().length > 0) violated++;
    }
    assert.ok(violated > 0, "some of the runs violate an invariant");
  });
});

describe("GraphSnapshot", () => {
  it("puts back properties, array elements, map and set entries, bytes and weak entries, in the same objects", () => {
    const key = { k: 1 };
    const other = { k: 2 };
    const weak = new WeakMap<object, number>([[key, 1]]);
    const inner = { n: 1, list: [1, 2, 3] };
    const root = {
      inner,
      map: new Map([["a", inner]]),
      set: new Set([1, 2]),
      words: new Uint32Array([7, 8]),
      weak,
      keys: [key, other],
    };
    const snap = new GraphSnapshot(root);
    inner.n = 5;
    inner.list.push(4);
    inner.list[0] = 9;
    root.map.set("b", { n: 0, list: [] });
    root.set.delete(1);
    root.words[1] = 0;
    weak.delete(key);
    weak.set(other, 2);
    snap.restore();
    assert.equal(root.inner, inner);
    assert.deepEqual(inner, { n: 1, list: [1, 2, 3] });
    assert.deepEqual([...root.map], [["a", inner]]);
    assert.deepEqual([...root.set], [1, 2]);
    assert.deepEqual([...root.words], [7, 8]);
    assert.deepEqual([weak.get(key), weak.has(other)], [1, false]);
  });
});
