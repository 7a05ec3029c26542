import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FAKE_IRQ_LINE, FAKE_IRQ_REG, FakeTarget } from "./fake-target.js";
import { QtestSession } from "./protocol.js";
import { QtestLogWriter } from "./qtest-log.js";

/** A session logging to a string, on a clock the test moves by hand (seconds). */
function logged() {
  let now = 100;
  let text = "";
  const replies: string[] = [];
  const log = new QtestLogWriter(
    (t) => {
      text += t;
    },
    () => now,
  );
  const session = new QtestSession(new FakeTarget(), (l) => replies.push(l), { log });
  return {
    session,
    replies,
    text: () => text,
    advance: (s: number) => {
      now += s;
    },
  };
}

describe("the qtest log (--qtest-log, QEMU's -qtest-log)", () => {
  it("holds the open, each line received and sent with its time since the open, and the close", () => {
    const s = logged();
    s.advance(0.25);
    s.session.handleLine("irq_intercept_in /machine/fake");
    s.advance(0.000002);
    s.session.handleLine(`writel ${FAKE_IRQ_REG} 1`);
    s.session.handleLine("bogus  two");
    s.session.handleLine("");
    s.advance(1);
    s.session.close();
    s.session.close();
    assert.equal(
      s.text(),
      [
        "[I 0.000000] OPENED",
        "[R +0.250000] irq_intercept_in /machine/fake",
        "[S +0.250000] OK",
        `[R +0.250002] writel ${FAKE_IRQ_REG} 1`,
        `[S +0.250002] IRQ raise ${FAKE_IRQ_LINE}`,
        "[S +0.250002] OK",
        "[R +0.250002] bogus  two",
        "[S +0.250002] FAIL Unknown command 'bogus'",
        "[R +0.250002]",
        "[S +0.250002] FAIL empty command",
        "[I +1.250002] CLOSED",
        "",
      ].join("\n"),
    );
    assert.deepEqual(s.replies.slice(0, 3), ["OK", `IRQ raise ${FAKE_IRQ_LINE}`, "OK"]);
  });

  it("takes lines fed in pieces as the session runs them, \\r\\n ends included", () => {
    const s = logged();
    s.session.feed("endian");
    s.session.feed("ness\r\nreadb 0x10\n");
    assert.equal(
      s.text(),
      [
        "[I 0.000000] OPENED",
        "[R +0.000000] endianness",
        "[S +0.000000] OK little",
        "[R +0.000000] readb 0x10",
        "[S +0.000000] OK 0x0000000000000000",
        "",
      ].join("\n"),
    );
  });
});
