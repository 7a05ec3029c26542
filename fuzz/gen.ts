// Shared pieces of the fuzzers: a seeded source of choices, values at their edges, and a
// structure-aware mutator for parsed YAML/JSON documents.

import { Prng } from "../src/util/prng.js";

export class Gen {
  private readonly p: Prng;

  constructor(seed: number) {
    this.p = new Prng(seed);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return this.p.int(Math.max(1, Math.min(n, 0x1_0000_0000)));
  }

  chance(pct: number): boolean {
    return this.int(100) < pct;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  u32(): number {
    return this.p.next();
  }

  u64(): bigint {
    return (BigInt(this.p.next()) << 32n) | BigInt(this.p.next());
  }

  /** Bytes of garbage without a newline (a line's worth). */
  garbage(max: number): string {
    const n = this.int(max + 1);
    let s = "";
    for (let i = 0; i < n; i++) {
      const c = this.int(256);
      s += String.fromCharCode(c === 10 ? 32 : c);
    }
    return s;
  }
}

/** Numbers as a hostile writer spells them: at the edges of every width, in every base. */
export function edgeNumber(g: Gen): string {
  return g.pick([
    "0",
    "1",
    "-1",
    "0x0",
    "0xffffffff",
    "0x100000000",
    "0xffffffffffffffff",
    "0x10000000000000000",
    "18446744073709551615",
    "18446744073709551616",
    "9007199254740991",
    "9007199254740992",
    "-9223372036854775808",
    "077",
    "08",
    "0x",
    "x10",
    "1e9",
    "",
    "+5",
    " 5",
    `0x${g.u64().toString(16)}`,
    String(g.u32()),
    "99999999999999999999999999999999",
  ]);
}

/** Values to put where the document had something else: every type, every edge. */
export function edgeValue(g: Gen): unknown {
  return g.pick<() => unknown>([
    () => 0,
    () => -1,
    () => 1e9,
    () => 2 ** 53,
    () => 1e308,
    () => -0,
    () => 0.5,
    () => Number.NaN,
    () => "",
    () => "x".repeat(g.int(5000)),
    () => "qemu-v5",
    () => "reference",
    () => "0x40000000",
    () => "1_000",
    () => "≥€\u0000\u202e",
    () => true,
    () => null,
    () => [],
    () => ({}),
    () => [1, 2, 3],
    () => ({ boot: {} }),
    () => ({ workload: { invalidations: 10 } }),
    () => g.u32(),
  ])();
}

type Json = unknown;

/** All paths to values in a document (objects and arrays walked). */
function paths(doc: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(prefix);
  if (Array.isArray(doc)) for (const [i, v] of doc.entries()) paths(v, [...prefix, i], out);
  else if (doc !== null && typeof doc === "object")
    for (const [k, v] of Object.entries(doc)) paths(v, [...prefix, k], out);
  return out;
}

function getAt(doc: Json, path: readonly (string | number)[]): Json {
  let cur: Json = doc;
  for (const k of path) cur = (cur as Record<string | number, Json>)[k];
  return cur;
}

/**
 * One structure-aware mutation in place (the root may be replaced: the result is the new
 * root): a value replaced by an edge value, a key dropped, an unknown key added, a list
 * item duplicated or dropped, a value wrapped in deeper nesting.
 */
export function mutate(g: Gen, doc: Json): Json {
  const all = paths(doc);
  const path = g.pick(all);
  const target = getAt(doc, path);
  const parentPath = path.slice(0, -1);
  const key = path[path.length - 1];
  const parent = path.length > 0 ? (getAt(doc, parentPath) as Record<string | number, Json>) : null;
  const set = (v: Json): Json => {
    if (parent === null || key === undefined) return v;
    parent[key] = v;
    return doc;
  };
  switch (g.int(7)) {
    case 0:
    case 1:
      return set(edgeValue(g));
    case 2:
      if (parent !== null && key !== undefined) {
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete parent[key];
      }
      return doc;
    case 3:
      if (target !== null && typeof target === "object" && !Array.isArray(target))
        (target as Record<string, Json>)[g.pick(["extra", "profile", "boot", "faults", "ß"])] =
          edgeValue(g);
      return doc;
    case 4:
      if (Array.isArray(target) && target.length > 0) {
        const item = target[g.int(target.length)];
        for (let i = 0, n = 1 + g.int(3); i < n; i++) target.push(structuredClone(item));
      }
      return doc;
    case 5: {
      let v: Json = target;
      for (let i = 0, n = 1 + g.int(4); i < n; i++) v = g.chance(50) ? [v] : { x: v };
      return set(v);
    }
    default:
      return set(typeof target === "number" ? -target || 1e12 : edgeValue(g));
  }
}
