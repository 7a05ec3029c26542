// The per-file object table: ids from 1, published or reserved, and lookups that never
// serve an object the table no longer holds at that id.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type IoasObj, ObjectTable } from "./objects.js";

function ioas(id: number): IoasObj {
  return { kind: "ioas", id, users: 0, areas: [], domains: [] };
}

describe("the object table", () => {
  it("finds a published object again and forgets it once erased, tombstoned or cleared", () => {
    const t = new ObjectTable();
    const id = t.reserve();
    assert.equal(id, 1);
    assert.equal(t.any(id), undefined, "reserved, not yet published");
    const a = ioas(id);
    t.publish(a);
    assert.equal(t.any(id), a);
    assert.equal(t.any(id), a, "looked up twice");
    t.erase(id);
    assert.equal(t.any(id), undefined, "erased");
    const b = ioas(t.reserve());
    assert.equal(b.id, 1, "the lowest free id comes back");
    assert.equal(t.any(1), undefined, "reserved again: not the old object");
    t.publish(b);
    assert.equal(t.any(1), b, "the new object at the old id");
    t.erase(1, true);
    assert.equal(t.any(1), undefined, "tombstoned");
    const c = ioas(t.reserve());
    t.publish(c);
    assert.equal(t.any(c.id), c);
    t.clear();
    assert.equal(t.any(c.id), undefined, "cleared");
  });
});
