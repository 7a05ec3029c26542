// A machine reused from run to run: its object graph's data is recorded once, right after
// it is built, and written back in place before each run, so the explorer does not build
// a machine per run (building one was 70% of the orderings search's time; restoring one
// costs about a twentieth of building it). The objects keep their identities, so every callback the model
// wired between its parts (closures over those objects) still points at the right one.
//
// What is recorded: every object reachable from the machine through own data properties,
// array elements, Map and Set entries; the bytes of every ArrayBuffer behind a typed
// array; and the entries of every WeakMap met whose keys are objects of the graph (not
// frozen ones). Frozen objects are constants: not recorded, only walked through. What a
// snapshot cannot see: variables captured by closures and reassigned after the build.
// The model keeps its state in objects (src/explore/machine-snapshot.test.ts compares a
// restored machine with a new one, object for object, after runs that reach every step).

import type { Machine } from "../machine/machine.js";

/** Restores an object graph's data, as recorded when made, into the same objects. */
export class GraphSnapshot {
  // Own data properties and array elements: objects[i][keys[i]] = values[i].
  private readonly propObjects: Record<PropertyKey, unknown>[] = [];
  private readonly propKeys: PropertyKey[] = [];
  private readonly propValues: unknown[] = [];
  private readonly arrays: unknown[][] = [];
  private readonly arrayLengths: number[] = [];
  private readonly maps: Map<unknown, unknown>[] = [];
  private readonly mapEntries: (readonly (readonly [unknown, unknown])[])[] = [];
  private readonly sets: Set<unknown>[] = [];
  private readonly setValues: (readonly unknown[])[] = [];
  /** Each ArrayBuffer as bytes, and a copy of them. */
  private readonly bytes: Uint8Array[] = [];
  private readonly byteCopies: Uint8Array[] = [];
  private readonly weakMaps: WeakMap<object, unknown>[] = [];
  private readonly weakEntries: (readonly (readonly [object, unknown])[])[] = [];
  /**
   * Objects of the graph a run may make WeakMap keys of: all but arrays, collections and
   * frozen objects (constant tables, which the model never keys state by).
   */
  private readonly keyCandidates: object[] = [];
  private readonly restoreProps: PropertyWriter;

  constructor(root: object) {
    const seen = new Set<object>();
    const stack: unknown[] = [root];
    const weak: WeakMap<object, unknown>[] = [];
    while (stack.length > 0) {
      const o = stack.pop();
      if (o === null || typeof o !== "object" || seen.has(o)) continue;
      seen.add(o);
      if (ArrayBuffer.isView(o)) {
        stack.push(o.buffer);
        continue;
      }
      if (o instanceof ArrayBuffer) {
        const b = new Uint8Array(o);
        this.bytes.push(b);
        this.byteCopies.push(b.slice());
        continue;
      }
      if (o instanceof WeakMap) {
        weak.push(o);
        continue;
      }
      if (Array.isArray(o)) {
        stack.push(...o);
        if (Object.isFrozen(o)) continue;
        this.arrays.push(o);
        this.arrayLengths.push(o.length);
        for (let i = 0; i < o.length; i++) {
          this.propObjects.push(o as unknown as Record<PropertyKey, unknown>);
          this.propKeys.push(i);
          this.propValues.push(o[i]);
        }
        continue;
      }
      if (o instanceof Map) {
        const entries = [...o];
        this.maps.push(o);
        this.mapEntries.push(entries);
        for (const [k, v] of entries) stack.push(k, v);
        continue;
      }
      if (o instanceof Set) {
        const values = [...o];
        this.sets.push(o);
        this.setValues.push(values);
        stack.push(...values);
        continue;
      }
      if (o instanceof WeakSet || o instanceof Promise || o instanceof WeakRef)
        throw new Error(`GraphSnapshot: cannot record a ${o.constructor.name}`);
      const frozen = Object.isFrozen(o);
      if (!frozen) this.keyCandidates.push(o);
      for (const k of Reflect.ownKeys(o)) {
        const d = Object.getOwnPropertyDescriptor(o, k);
        if (d === undefined || !("value" in d)) continue;
        if (!frozen && d.writable === true) {
          this.propObjects.push(o as Record<PropertyKey, unknown>);
          this.propKeys.push(k);
          this.propValues.push(d.value);
        }
        stack.push(d.value);
      }
    }
    this.restoreProps = propertyWriter(this.propObjects, this.propKeys);
    for (const w of weak) {
      const entries: [object, unknown][] = [];
      for (const k of this.keyCandidates) if (w.has(k)) entries.push([k, w.get(k)]);
      this.weakMaps.push(w);
      this.weakEntries.push(entries);
      // Values reachable only through the WeakMap are part of the graph too.
      for (const [, v] of entries)
        if (v !== null && typeof v === "object" && !seen.has(v))
          throw new Error("GraphSnapshot: a WeakMap holds an object reachable only through it");
    }
  }

  /** Every recorded object holds again what it held when the snapshot was made. */
  restore(): void {
    for (let i = 0; i < this.arrays.length; i++) {
      const a = this.arrays[i]!;
      const n = this.arrayLengths[i]!;
      if (a.length !== n) a.length = n;
    }
    this.restoreProps(this.propObjects, this.propKeys, this.propValues);
    for (let i = 0; i < this.maps.length; i++) {
      const m = this.maps[i]!;
      m.clear();
      for (const [k, v] of this.mapEntries[i]!) m.set(k, v);
    }
    for (let i = 0; i < this.sets.length; i++) {
      const s = this.sets[i]!;
      s.clear();
      for (const v of this.setValues[i]!) s.add(v);
    }
    for (let i = 0; i < this.bytes.length; i++) this.bytes[i]!.set(this.byteCopies[i]!);
    const cands = this.keyCandidates;
    for (let i = 0; i < this.weakMaps.length; i++) {
      const w = this.weakMaps[i]!;
      // A key of the graph given an entry during the run loses it; recorded ones come back.
      for (let j = 0; j < cands.length; j++) w.delete(cands[j]!);
      for (const [k, v] of this.weakEntries[i]!) w.set(k, v);
    }
  }
}

type PropertyWriter = (
  objects: readonly Record<PropertyKey, unknown>[],
  keys: readonly PropertyKey[],
  values: readonly unknown[],
) => void;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * `(objects, keys, values) => { objects[i][keys[i]] = values[i] for each i }` as straight
 * code, one store per property with the key written out: each store meets one kind of
 * object, where a loop's one store meets them all (three times as slow over a machine).
 */
function propertyWriter(objects: readonly object[], keys: readonly PropertyKey[]): PropertyWriter {
  const lines: string[] = [];
  let last: object | undefined;
  for (let i = 0; i < objects.length; i++) {
    if (objects[i] !== last) {
      lines.push(`o = O[${i}];`);
      last = objects[i];
    }
    const k = keys[i];
    const store =
      typeof k === "number"
        ? `o[${k}]`
        : IDENTIFIER.test(String(k))
          ? `o.${String(k)}`
          : `o[K[${i}]]`;
    lines.push(`${store} = V[${i}];`);
  }
  return new Function("O", "K", "V", `"use strict"; let o; ${lines.join("\n")}`) as PropertyWriter;
}

/** One machine for many runs: `fresh()` gives it back as it was built. */
export class ReusedMachine {
  private readonly m: Machine;
  private readonly snapshot: GraphSnapshot;

  constructor(m: Machine) {
    this.m = m;
    this.snapshot = new GraphSnapshot(m);
  }

  /** The machine, restored to its state right after the build (valid until the next call). */
  fresh(): Machine {
    this.snapshot.restore();
    return this.m;
  }
}
