import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_MACHINE, machineConfig } from "../machine/config.js";
import { createMachine } from "../machine/machine.js";
import { MachineTarget } from "./machine-target.js";
import { QtestSession } from "./protocol.js";

const IDR0 = `0x${DEFAULT_MACHINE.smmuBase.toString(16)}`;

/** A target on the default machine whose invariant checks are counted. */
function counted() {
  const m = createMachine(machineConfig({}));
  assert.ok(m.ok);
  const target = new MachineTarget(m.value);
  const checker = target.checker;
  const check = checker.check.bind(checker);
  const runs = { n: 0 };
  checker.check = () => {
    runs.n++;
    return check();
  };
  const out: string[] = [];
  const session = new QtestSession(target, (l) => out.push(l));
  return { target, session, runs, out };
}

describe("MachineTarget: the invariant check after each command", () => {
  it("runs once the transport says the replies are out, or before the next access", () => {
    const { session, runs, out } = counted();
    session.feed(`readl ${IDR0}\n`);
    assert.equal(out.length, 1);
    assert.equal(runs.n, 0, "not before the reply is written");
    session.idle();
    assert.equal(runs.n, 1);
    session.idle();
    assert.equal(runs.n, 1, "once per command");
    session.feed(`readl ${IDR0}\nwritel ${IDR0} 0x0\n`);
    assert.equal(runs.n, 2, "the first line's check ran before the second line's access");
    session.idle();
    assert.equal(runs.n, 3);
  });

  it("runs before handleLine returns and before the checker is read", () => {
    const { target, session, runs } = counted();
    session.handleLine(`readl ${IDR0}`);
    assert.equal(runs.n, 1);
    session.feed(`readl ${IDR0}\n`);
    assert.equal(runs.n, 1);
    assert.deepEqual(target.checker.violations(), []);
    assert.equal(runs.n, 2);
  });

  it("answers the next line FAIL internal error when a deferred check throws", () => {
    const { target, session, out } = counted();
    target.checker.check = () => {
      throw new Error("checker bug");
    };
    session.feed(`readl ${IDR0}\n`);
    session.idle();
    session.feed(`readl ${IDR0}\n`);
    assert.deepEqual(out.slice(1), ["FAIL internal error: checker bug"]);
  });
});
