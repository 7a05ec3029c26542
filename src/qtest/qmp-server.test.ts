import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  QMP_MAX_MESSAGE,
  QMP_MAX_NESTING,
  type QmpMachine,
  QmpRunState,
  QmpSession,
  qmpJson,
} from "./qmp-server.js";

const VERSION = { major: 11, minor: 1, micro: 3, package: "cmdqv test" };

function session() {
  const calls: string[] = [];
  const out: string[] = [];
  let seconds = 100;
  const runState = new QmpRunState(false);
  const machine: QmpMachine = {
    status: () => runState.status(),
    run: (running) => runState.run(running),
    reset: () => calls.push("reset"),
    quit: () => calls.push(`quit after ${out.length} messages`),
  };
  const s = new QmpSession(machine, (t) => out.push(t), {
    version: VERSION,
    now: () => ({ seconds: seconds++, microseconds: 7 }),
  });
  /** Feed text; the messages it caused, without their "\r\n". */
  const send = (text: string): string[] => {
    const from = out.length;
    s.feed(text);
    return out.slice(from).map((m) => {
      assert.ok(m.endsWith("\r\n"), `QEMU ends every message with CR LF: ${JSON.stringify(m)}`);
      return m.slice(0, -2);
    });
  };
  return { s, out, calls, send };
}

function negotiated() {
  const t = session();
  t.send('{"execute": "qmp_capabilities"}\n');
  return t;
}

describe("QMP session (QEMU 11.1's monitor as a qtest harness uses it)", () => {
  it("greets with QEMU's version and the oob capability, in QEMU's key order and spacing", () => {
    const { s, out } = session();
    s.greet();
    assert.deepEqual(out, [
      '{"QMP": {"version": {"qemu": {"micro": 3, "minor": 1, "major": 11}, "package": "cmdqv test"}, "capabilities": ["oob"]}}\r\n',
    ]);
  });

  it("refuses commands before qmp_capabilities and qmp_capabilities after it, with QEMU's texts", () => {
    const { send } = session();
    assert.deepEqual(send('{"execute": "query-status", "id": 1}\n'), [
      '{"id": 1, "error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with \'qmp_capabilities\'"}}',
    ]);
    assert.deepEqual(send('{"execute": "qmp_capabilities"}\n'), ['{"return": {}}']);
    assert.deepEqual(send('{"execute": "qmp_capabilities"}\n'), [
      '{"error": {"class": "CommandNotFound", "desc": "Capabilities negotiation is already complete, command ignored"}}',
    ]);
  });

  it("answers query-status and query-version, echoing the id after the return", () => {
    const { send } = negotiated();
    assert.deepEqual(send('{"execute": "query-status", "id": "a"}'), [
      '{"return": {"status": "running", "running": true}, "id": "a"}',
    ]);
    assert.deepEqual(send('{"execute": "query-version", "id": [1.5, -2, true, null, {}]}'), [
      '{"return": {"qemu": {"micro": 3, "minor": 1, "major": 11}, "package": "cmdqv test"}, "id": [1.5, -2, true, null, {}]}',
    ]);
  });

  it("resets the machine on system_reset and sends the RESET event before the reply, as QEMU does", () => {
    const { send, calls } = negotiated();
    assert.deepEqual(send('{"execute": "system_reset"}'), [
      '{"timestamp": {"seconds": 100, "microseconds": 7}, "event": "RESET", "data": {"guest": false, "reason": "host-qmp-system-reset"}}',
      '{"return": {}}',
    ]);
    assert.deepEqual(calls, ["reset"]);
  });

  it("pauses and resumes on stop and cont with STOP and RESUME (no data) before the reply, only on a change", () => {
    const { send } = negotiated();
    assert.deepEqual(send('{"execute": "stop"}'), [
      '{"timestamp": {"seconds": 100, "microseconds": 7}, "event": "STOP"}',
      '{"return": {}}',
    ]);
    assert.deepEqual(send('{"execute": "stop"} {"execute": "query-status"}'), [
      '{"return": {}}',
      '{"return": {"status": "paused", "running": false}}',
    ]);
    assert.deepEqual(send('{"execute": "cont"}'), [
      '{"timestamp": {"seconds": 101, "microseconds": 7}, "event": "RESUME"}',
      '{"return": {}}',
    ]);
    assert.deepEqual(send('{"execute": "cont"}'), ['{"return": {}}']);
  });

  it("keeps QEMU's run state: prelaunch under -S until cont, stop only pauses a running machine", () => {
    const r = new QmpRunState(true);
    assert.deepEqual(r.status(), { status: "prelaunch", running: false });
    assert.equal(r.run(false), false, "stop in prelaunch changes nothing");
    assert.deepEqual(r.status(), { status: "prelaunch", running: false });
    assert.equal(r.run(true), true);
    assert.deepEqual(r.status(), { status: "running", running: true });
  });

  it("on quit sends SHUTDOWN and the reply, then tells the machine to end", () => {
    const { send, calls, out } = negotiated();
    assert.deepEqual(send('{"execute": "quit", "id": 5}'), [
      '{"timestamp": {"seconds": 100, "microseconds": 7}, "event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}',
      '{"return": {}, "id": 5}',
    ]);
    assert.deepEqual(calls, [`quit after ${out.length} messages`]);
  });

  it("sends no event before capabilities are negotiated", () => {
    const { s, out } = session();
    s.event("SHUTDOWN", { guest: false, reason: "host-signal" });
    assert.deepEqual(out, []);
  });

  it("answers unknown commands and malformed requests with QEMU's error classes and texts", () => {
    const { send } = negotiated();
    const error = (cls: string, desc: string) =>
      `{"error": {"class": "${cls}", "desc": "${desc}"}}`;
    assert.deepEqual(send('{"execute": "nope"}'), [
      error("CommandNotFound", "The command nope has not been found"),
    ]);
    assert.deepEqual(send('{"execute": "nope", "id": 4}'), [
      '{"id": 4, "error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}}',
    ]);
    assert.deepEqual(send("[1]"), [error("GenericError", "QMP input must be a JSON object")]);
    assert.deepEqual(send('"str" 5 '), [
      error("GenericError", "QMP input must be a JSON object"),
      error("GenericError", "QMP input must be a JSON object"),
    ]);
    assert.deepEqual(send('{"foo": 1}'), [
      error("GenericError", "QMP input member 'foo' is unexpected"),
    ]);
    assert.deepEqual(send("{}"), [error("GenericError", "QMP input lacks member 'execute'")]);
    assert.deepEqual(send('{"execute": 5}'), [
      error("GenericError", "QMP input member 'execute' must be a string"),
    ]);
    assert.deepEqual(send('{"execute": "query-status", "arguments": []}'), [
      error("GenericError", "QMP input member 'arguments' must be an object"),
    ]);
    assert.deepEqual(send('{"execute": "system_reset", "arguments": {"x": 1}}'), [
      error("GenericError", "Parameter 'x' is unexpected"),
    ]);
    assert.deepEqual(send('{"exec-oob": "query-status"}'), [
      error("GenericError", "QMP input member 'exec-oob' is unexpected"),
    ]);
  });

  it("takes exec-oob once oob is enabled, and says no command here runs out of band", () => {
    const { send } = session();
    assert.deepEqual(send('{"execute": "qmp_capabilities", "arguments": {"enable": ["foo"]}}'), [
      `{"error": {"class": "GenericError", "desc": "Parameter 'null' does not accept value 'foo'"}}`,
    ]);
    assert.deepEqual(send('{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}'), [
      '{"return": {}}',
    ]);
    assert.deepEqual(send('{"exec-oob": "query-status", "id": 3}'), [
      '{"id": 3, "error": {"class": "GenericError", "desc": "The command query-status does not support OOB"}}',
    ]);
    assert.deepEqual(send('{"execute": "query-status", "exec-oob": "x"}'), [
      `{"error": {"class": "GenericError", "desc": "QMP input member 'execute' clashes with 'exec-oob'"}}`,
    ]);
  });

  it("reads a JSON stream: two messages on a line, one split over chunks and lines, strings with braces", () => {
    const { send } = negotiated();
    assert.deepEqual(send('{"execute": "query-status"} {"execute": "query-status", "id": "}{"}'), [
      '{"return": {"status": "running", "running": true}}',
      '{"return": {"status": "running", "running": true}, "id": "}{"}',
    ]);
    assert.deepEqual(send('{"execute":\n "query-st'), []);
    assert.deepEqual(send('atus", "id": "\\"}"}'), [
      '{"return": {"status": "running", "running": true}, "id": "\\"}"}',
    ]);
  });

  it("writes ids as QEMU does: control and non-ASCII characters as upper-case \\u escapes", () => {
    const { send } = negotiated();
    assert.deepEqual(
      send('{"execute": "query-status", "id": "\\u00e9\\u0001/\\u2028 \\u2603\\n"}'),
      [
        '{"return": {"status": "running", "running": true}, "id": "\\u00E9\\u0001/\\u2028 \\u2603\\n"}',
      ],
    );
    assert.equal(
      qmpJson("\u{1F600}"),
      '"\\uD83D\\uDE00"',
      "a surrogate pair, escaped half by half",
    );
  });

  it("answers a message that is not JSON and goes on with the next one", () => {
    const { send } = negotiated();
    const replies = send('{bad json}\n{"execute": "query-status"}\n');
    assert.equal(replies.length, 2);
    assert.match(
      replies[0] ?? "",
      /^\{"error": \{"class": "GenericError", "desc": "JSON parse error, /,
    );
    assert.equal(replies[1], '{"return": {"status": "running", "running": true}}');
  });

  it("bounds a message: past QMP_MAX_MESSAGE bytes one error, the rest skipped unstored, then on", () => {
    const { s, send } = negotiated();
    const chunk = `"${"x".repeat(64 * 1024)}", `;
    const replies = send('{"execute": "query-status", "id": [');
    for (let i = 0; i * chunk.length <= QMP_MAX_MESSAGE + chunk.length; i++)
      replies.push(...send(chunk));
    assert.deepEqual(replies, [
      `{"error": {"class": "GenericError", "desc": "JSON message longer than ${QMP_MAX_MESSAGE} bytes"}}`,
    ]);
    assert.ok((s as unknown as { size: number }).size <= QMP_MAX_MESSAGE, "nothing more is stored");
    assert.deepEqual(send('1]}{"execute": "query-status"}'), [
      '{"return": {"status": "running", "running": true}}',
    ]);
  });

  it("bounds nesting at QMP_MAX_NESTING levels with one error", () => {
    const { send } = negotiated();
    const deep = "[".repeat(QMP_MAX_NESTING + 1) + "]".repeat(QMP_MAX_NESTING + 1);
    assert.deepEqual(send(`${deep}{"execute": "query-status"}`), [
      `{"error": {"class": "GenericError", "desc": "JSON nesting deeper than ${QMP_MAX_NESTING}"}}`,
      '{"return": {"status": "running", "running": true}}',
    ]);
  });

  it("never throws on any input, answers in QMP's shape, and stores at most one bounded message", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string(),
            fc.json(),
            fc.constantFrom("{", "}", "[", "]", '"', "\\", '{"execute": "quit"}', "\n"),
          ),
          { maxLength: 40 },
        ),
        (pieces) => {
          const { s, out } = negotiated();
          for (const p of pieces) s.feed(p);
          for (const m of out) {
            const msg = JSON.parse(m) as Record<string, unknown>;
            assert.ok("return" in msg || "error" in msg || "event" in msg, m);
          }
          assert.ok((s as unknown as { size: number }).size <= QMP_MAX_MESSAGE);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("stops answering once closed", () => {
    const { s, send } = negotiated();
    s.close();
    assert.deepEqual(send('{"execute": "query-status"}'), []);
  });
});
