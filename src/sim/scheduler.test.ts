import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ActorBody, delay, read, write } from "../guest/actor.js";
import { DEFAULT_TIMING } from "../guest/execute.js";
import { AddressSpace } from "../mem/address-space.js";
import type { MmioDevice, SmallSize } from "../mem/types.js";
import { VirtualClock } from "../util/clock.js";
import { ExhaustiveChoice, RandomChoice, ReplayChoice } from "./choice.js";
import { Scheduler } from "./scheduler.js";

/** A device that remembers the order of writes. */
class Journal implements MmioDevice {
  readonly name = "journal";
  readonly writes: number[] = [];
  read(offset: number, _size: SmallSize): number {
    return offset;
  }
  write(_offset: number, _size: SmallSize, value: number): void {
    this.writes.push(value);
  }
  read64(): bigint {
    return 0n;
  }
  write64(): void {}
}

function rig(choice: RandomChoice | ReplayChoice | ExhaustiveChoice) {
  const clock = new VirtualClock();
  const as = new AddressSpace();
  const dev = new Journal();
  const r = as.addMmio("journal", 0x1000, 0x100, dev);
  assert.ok(r.ok);
  return { clock, as, dev, sched: new Scheduler(clock, as, DEFAULT_TIMING, choice) };
}

function* writer(tag: number): ActorBody<void> {
  yield write(0x1000, tag);
  yield write(0x1000, tag + 1);
}

describe("Scheduler", () => {
  it("runs actors to completion, charging a VM exit per trapped access", () => {
    const { sched, dev, clock } = rig(new RandomChoice(1));
    sched.spawn("a", writer(10));
    assert.equal(sched.run(), "done");
    assert.deepEqual(dev.writes, [10, 11]);
    assert.equal(clock.now(), 2 * DEFAULT_TIMING.trapNs);
    assert.equal(sched.actors()[0]?.counters.exits, 2);
  });

  it("sends each read's value back into the actor", () => {
    const { sched } = rig(new RandomChoice(1));
    let seen = -1;
    sched.spawn(
      "r",
      (function* (): ActorBody<void> {
        seen = (yield read(0x1008)) as number;
      })(),
    );
    sched.run();
    assert.equal(seen, 8);
  });

  it("lets another actor run while one sleeps, and jumps time when all sleep", () => {
    // Always the first runnable actor: the sleeper starts its delay at t = 0.
    const { sched, dev, clock } = rig(new ReplayChoice([]));
    sched.spawn(
      "sleeper",
      (function* (): ActorBody<void> {
        yield delay(1_000_000);
        yield write(0x1000, 1);
      })(),
    );
    sched.spawn("busy", writer(20));
    sched.run();
    assert.deepEqual(dev.writes, [20, 21, 1]);
    assert.equal(clock.now(), 1_000_000 + DEFAULT_TIMING.trapNs);
  });

  it("enumerates every interleaving of two actors exactly once with the exhaustive source", () => {
    const c = new ExhaustiveChoice();
    const seen = new Set<string>();
    do {
      const { sched, dev } = rig(c);
      sched.spawn("a", writer(10));
      sched.spawn("b", writer(20));
      sched.run();
      seen.add(dev.writes.join(","));
    } while (c.next());
    // C(4,2) = 6 interleavings of two 2-step actors.
    assert.equal(seen.size, 6);
  });

  it("replays a random interleaving from its recorded choices", () => {
    const r = new RandomChoice(77);
    const a = rig(r);
    for (let i = 0; i < 4; i++) a.sched.spawn(`w${i}`, writer(10 * i));
    a.sched.run();
    const b = rig(new ReplayChoice(r.recorded()));
    for (let i = 0; i < 4; i++) b.sched.spawn(`w${i}`, writer(10 * i));
    b.sched.run();
    assert.deepEqual(b.dev.writes, a.dev.writes);
  });

  it("runs a service only while it has work and never waits on it alone", () => {
    const { sched } = rig(new RandomChoice(3));
    let work = 2;
    sched.addService({ name: "svc", pending: () => work > 0, run: () => work-- });
    sched.spawn("a", writer(1));
    sched.run();
    assert.equal(work, 0);
    assert.equal(sched.step(), false, "no actor left and no pending work");
  });

  it("drops a finished actor from the slots it scans, so thousands of short-lived actors leave one live slot", () => {
    const { sched, dev } = rig(new RandomChoice(5));
    // A long-lived actor and, as a guest interrupt storm does, one short actor after another.
    let spawned = 0;
    sched.addService({
      name: "irq",
      pending: () => spawned < 5000 && sched.liveActors() === 1,
      run: () => {
        spawned++;
        sched.spawn("isr", writer(1));
      },
    });
    sched.spawn(
      "vcpu",
      (function* (): ActorBody<void> {
        for (let i = 0; i < 20_000; i++) yield delay(10);
      })(),
    );
    let most = 0;
    assert.equal(
      sched.run({ afterStep: () => (most = Math.max(most, sched.liveActors())) }),
      "done",
    );
    assert.equal(spawned, 5000);
    assert.equal(dev.writes.length, 10_000);
    assert.equal(most, 2, "the long-lived actor and at most one short one");
    assert.equal(sched.liveActors(), 0);
    // Finished actors still count: one entry per name, with every actor's counters.
    assert.deepEqual(
      sched.actors().map((a) => [a.name, a.done, a.counters.exits, a.counters.ops]),
      [
        ["vcpu", true, 0, 20_000],
        ["isr", true, 10_000, 10_000],
      ],
    );
  });

  it("picks among live actors in spawn order whether or not finished ones came before", () => {
    // Same choices, same writes: a finished actor leaving the list changes no pick.
    const r = new RandomChoice(9);
    const a = rig(r);
    a.sched.spawn("short", writer(100));
    for (let i = 0; i < 3; i++) a.sched.spawn(`w${i}`, writer(10 * i));
    a.sched.run();
    const b = rig(new ReplayChoice(r.recorded()));
    b.sched.spawn("short", writer(100));
    for (let i = 0; i < 3; i++) b.sched.spawn(`w${i}`, writer(10 * i));
    b.sched.run();
    assert.deepEqual(b.dev.writes, a.dev.writes);
  });
});
