import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FAKE_ID_REG, FAKE_IRQ_LINE, FAKE_IRQ_REG, FakeTarget } from "./fake-target.js";
import {
  QTEST_MAX_LINE,
  QTEST_MAX_TRANSFER,
  QtestSession,
  type QtestSessionOptions,
} from "./protocol.js";

function session(target = new FakeTarget(), options: QtestSessionOptions = {}) {
  const out: string[] = [];
  const s = new QtestSession(target, (line) => out.push(line), options);
  const run = (...lines: string[]): string[] => {
    out.length = 0;
    for (const l of lines) s.handleLine(l);
    return [...out];
  };
  return { s, out, run, target };
}

const RAM = 0x4000_0000;

describe("qtest session: memory access replies", () => {
  it("answers readb/readw/readl/readq with 0x and sixteen hex digits whatever the width", () => {
    const { run, target } = session();
    target.write64(RAM, 0x1122_3344_5566_7788n);
    assert.deepEqual(
      run("readb 0x40000000", "readw 0x40000000", "readl 0x40000000", "readq 0x40000000"),
      [
        "OK 0x0000000000000088",
        "OK 0x0000000000007788",
        "OK 0x0000000055667788",
        "OK 0x1122334455667788",
      ],
    );
  });

  it("answers writes with a bare OK and truncates the value to the width", () => {
    const { run } = session();
    assert.deepEqual(run("writeb 0x40000000 0x1ff", "readl 0x40000000"), [
      "OK",
      "OK 0x00000000000000ff",
    ]);
    assert.deepEqual(run("writew 0x40000000 0x12345", "readl 0x40000000"), [
      "OK",
      "OK 0x0000000000002345",
    ]);
    assert.deepEqual(run("writel 0x40000000 0x1deadbeef", "readl 0x40000000"), [
      "OK",
      "OK 0x00000000deadbeef",
    ]);
    assert.deepEqual(run("writeq 0x40000000 0xfedcba9876543210", "readq 0x40000000"), [
      "OK",
      "OK 0xfedcba9876543210",
    ]);
  });

  it("routes 1/2/4-byte accesses to the target's sized path and 8-byte ones to the bigint path", () => {
    const { run, target } = session();
    run("readl 0x9000000", "writew 0x10 7", "readq 0x20", "writeq 0x20 1");
    assert.deepEqual(target.calls, [
      "read 0x9000000 4",
      "write 0x10 2 0x7",
      "read64 0x20",
      "write64 0x20 0x1",
    ]);
    assert.deepEqual(run(`readl ${FAKE_ID_REG}`), ["OK 0x0000000043414b45"]);
  });

  it("parses numbers as strtoull with base 0: hex, octal, decimal, signs and leading whitespace", () => {
    const { run, target } = session();
    target.write(RAM, 1, 0xd0);
    assert.deepEqual(
      run(
        "readb 010000000000",
        "readb 1073741824",
        "readb 0X40000000",
        "readb +0x40000000",
        "readb \t0x40000000",
      ),
      Array(5).fill("OK 0x00000000000000d0"),
    );
    // A negative value wraps modulo 2^64, as strtoull does: -1 is the top byte of the space.
    assert.deepEqual(run("writeq 0x40000000 -1", "readq 0x40000000"), [
      "OK",
      "OK 0xffffffffffffffff",
    ]);
    assert.deepEqual(run("writeq 0x40000000 -18446744073709551615", "readq 0x40000000"), [
      "OK",
      "OK 0x0000000000000001",
    ]);
  });

  it("answers read with two lowercase hex digits per byte", () => {
    const { run } = session();
    run("writel 0x40000000 0x12345678");
    assert.deepEqual(run("read 0x40000000 6"), ["OK 0x785634120000"]);
  });

  it("answers b64read with padded base64 and an empty read with OK and a trailing space", () => {
    const { run } = session();
    run("writel 0x40000000 0x12345678");
    assert.deepEqual(run("b64read 0x40000000 8", "b64read 0x40000000 0"), [
      "OK eFY0EgAAAAA=",
      "OK ",
    ]);
  });

  it("writes hex data, zero-filling a short DATA and ignoring an odd last digit", () => {
    const { run } = session();
    assert.deepEqual(run("write 0x40000000 4 0x0102", "read 0x40000000 4"), [
      "OK",
      "OK 0x01020000",
    ]);
    assert.deepEqual(run("write 0x40000000 2 0x123", "read 0x40000000 2"), ["OK", "OK 0x1200"]);
    assert.deepEqual(run("write 0x40000000 2 0x010203", "read 0x40000000 3"), [
      "OK",
      "OK 0x010200",
    ]);
  });

  it("skips the first two characters of write DATA unread and maps non-hex digits as hex2nib's -1", () => {
    const { run } = session();
    assert.deepEqual(run("write 0x40000000 4 123456789", "read 0x40000000 4"), [
      "OK",
      "OK 0x34567800",
    ]);
    assert.deepEqual(run("write 0x40000000 3 0xzz1zz1", "read 0x40000000 3"), [
      "OK",
      "OK 0xfffff1",
    ]);
  });

  it("answers write and b64write with a DATA shorter than three characters with ERR", () => {
    const { run } = session();
    assert.deepEqual(run("write 0x40000000 4 0x", "b64write 0x40000000 4 AQ", "write 0 0 0x"), [
      "ERR invalid argument size",
      "ERR invalid argument size",
      "ERR invalid argument size",
    ]);
  });

  it("writes decoded base64 and, like QEMU's in-place decode, the leftover text when SIZE is larger", () => {
    const { run } = session();
    assert.deepEqual(run("b64write 0x40000000 4 AQIDBA==", "read 0x40000000 4"), [
      "OK",
      "OK 0x01020304",
    ]);
    assert.deepEqual(run("b64write 0x40000000 9 AQIDBA==", "read 0x40000000 10"), [
      "OK",
      "OK 0x0102030442413d3d0000",
    ]);
    assert.deepEqual(run("b64write 0x40000000 4 AQID", "read 0x40000000 4"), [
      "OK",
      "OK 0x01020344",
    ]);
    assert.deepEqual(run("b64write 0x40000000 4 ====", "read 0x40000000 4"), [
      "OK",
      "OK 0x003d3d3d",
    ]);
    assert.deepEqual(run("b64write 0x40000000 4 AQ=DBA==", "read 0x40000000 4"), [
      "OK",
      "OK 0x01030444",
    ]);
  });

  it("skips characters outside the base64 alphabet instead of failing, as glib does", () => {
    const { run } = session();
    assert.deepEqual(run("b64write 0x40000000 2 A!Q@I#D$", "read 0x40000000 2"), [
      "OK",
      "OK 0x0102",
    ]);
  });

  it("memsets with the low byte of VALUE and accepts a zero SIZE", () => {
    const { run } = session();
    assert.deepEqual(run("memset 0x40000000 4 0x1ab", "readl 0x40000000"), [
      "OK",
      "OK 0x00000000abababab",
    ]);
    assert.deepEqual(run("memset 0x40000000 4 -2", "readl 0x40000000"), [
      "OK",
      "OK 0x00000000fefefefe",
    ]);
    assert.deepEqual(run("memset 0x40000000 0 5", "readl 0x40000000"), [
      "OK",
      "OK 0x00000000fefefefe",
    ]);
  });

  it("reads 0 and drops writes at addresses from 2^53 up, without asking the target", () => {
    const { run, target } = session();
    assert.deepEqual(
      run(
        "readq 0xfffffffffffffffc",
        "readl 0x20000000000000",
        "writel 0x20000000000000 1",
        "read 0xffffffffffffffff 2",
        "b64read 0x20000000000000 3",
      ),
      ["OK 0x0000000000000000", "OK 0x0000000000000000", "OK", "OK 0x0000", "OK AAAA"],
    );
    assert.deepEqual(target.calls, []);
  });

  it("splits an access that straddles 2^53 into the target's bytes below and zeros above", () => {
    const { run, target } = session();
    const top = 2 ** 53 - 2;
    target.memory.set(top, 0x11);
    target.memory.set(top + 1, 0x22);
    assert.deepEqual(run(`readl ${top}`), ["OK 0x0000000000002211"]);
    assert.deepEqual(run(`writel ${top} 0xaabbccdd`), ["OK"]);
    assert.equal(target.memory.get(top), 0xdd);
    assert.equal(target.memory.get(top + 1), 0xcc);
    assert.equal(target.memory.size, 2);
  });
});

describe("qtest session: I/O ports, endianness and modules", () => {
  it("answers in* with all ones in 0x%04x and out* with OK, as aarch64 has no I/O ports", () => {
    const { run } = session();
    assert.deepEqual(
      run("inb 0", "inw 0x10", "inl 0xfffc", "outb 0 1", "outw 2 3", "outl 0 0x1ffffffff"),
      ["OK 0x00ff", "OK 0xffff", "OK 0xffffffff", "OK", "OK", "OK"],
    );
  });

  it("reads 0 for the bytes of an in* that run past the end of the 64 KiB I/O space", () => {
    assert.deepEqual(session().run("inl 0xfffd", "inl 0xffff", "inw 0xffff", "inb 0xffff"), [
      "OK 0xffffff",
      "OK 0x00ff",
      "OK 0x00ff",
      "OK 0x00ff",
    ]);
  });

  it("fails a port beyond 0xffff where QEMU would abort", () => {
    const { run } = session();
    assert.deepEqual(run("inb 0x10000", "outb 0x10000 1"), [
      "FAIL inb: ADDR 0x0000000000010000 beyond the I/O space",
      "FAIL outb: ADDR 0x0000000000010000 beyond the I/O space",
    ]);
  });

  it("answers endianness with OK little", () => {
    assert.deepEqual(session().run("endianness"), ["OK little"]);
  });

  it("answers module_load with a bare FAIL", () => {
    assert.deepEqual(session().run("module_load accel qtest"), ["FAIL"]);
  });
});

describe("qtest session: clock", () => {
  it("steps by NS, sets an absolute time and answers the new time in decimal", () => {
    const { run } = session();
    assert.deepEqual(run("clock_step 100", "clock_step 0x10", "clock_set 1000", "clock_set 50"), [
      "OK 100",
      "OK 116",
      "OK 1000",
      "OK 1000",
    ]);
  });

  it("never moves time backwards for a negative or zero step", () => {
    const { run, target } = session();
    run("clock_set 500");
    target.calls.length = 0;
    assert.deepEqual(run("clock_step -5", "clock_step 0", "clock_set -100"), [
      "OK 500",
      "OK 500",
      "OK 500",
    ]);
    assert.deepEqual(target.calls, []);
  });

  it("steps to the next timer deadline without NS, and stays put with no timer", () => {
    const { run, target } = session();
    target.addTimer(250, () => {});
    assert.deepEqual(run("clock_step", "clock_step"), ["OK 250", "OK 250"]);
  });

  it("answers clock commands as unknown when configured like a QEMU without the qtest accelerator", () => {
    const { run } = session(new FakeTarget(), { clockCommands: false });
    assert.deepEqual(run("clock_step", "clock_set 5"), [
      "FAIL Unknown command 'clock_step'",
      "FAIL Unknown command 'clock_set'",
    ]);
  });

  it("fails a time that does not fit a safe integer", () => {
    const { run } = session();
    assert.deepEqual(run("clock_set 9223372036854775807", "clock_step 9223372036854775808"), [
      "FAIL clock_set: NS '9223372036854775807' out of range",
      "FAIL clock_step: NS '9223372036854775808' out of range",
    ]);
  });
});

describe("qtest session: IRQs", () => {
  it("prints IRQ raise and lower after irq_intercept_in, before the reply of the write that caused them", () => {
    const { run } = session();
    assert.deepEqual(run("irq_intercept_in /machine/fake"), ["OK"]);
    assert.deepEqual(run(`writel ${FAKE_IRQ_REG} 1`), [`IRQ raise ${FAKE_IRQ_LINE}`, "OK"]);
    assert.deepEqual(run(`writel ${FAKE_IRQ_REG} 0`), [`IRQ lower ${FAKE_IRQ_LINE}`, "OK"]);
  });

  it("prints only level changes, starting from low", () => {
    const { run, target } = session();
    run("irq_intercept_out fake");
    assert.deepEqual(
      run(`writel ${FAKE_IRQ_REG} 0`, `writel ${FAKE_IRQ_REG} 1`, `writel ${FAKE_IRQ_REG} 1`),
      ["OK", `IRQ raise ${FAKE_IRQ_LINE}`, "OK", "OK"],
    );
    assert.deepEqual(
      target.calls.filter((c) => c.startsWith("irqIntercept")),
      ["irqIntercept fake out"],
    );
  });

  it("prints IRQs raised by timers during a clock step before the step's reply", () => {
    const { run, target } = session();
    target.addTimer(300, () => target.setLevel(true));
    run("irq_intercept_in /machine/fake");
    assert.deepEqual(run("clock_step 1000"), [`IRQ raise ${FAKE_IRQ_LINE}`, "OK 1000"]);
  });

  it("prints asynchronous IRQs reported between commands", () => {
    const { s, out, target } = session();
    s.handleLine("irq_intercept_in /machine/fake");
    target.setLevel(true);
    assert.deepEqual(out, ["OK", `IRQ raise ${FAKE_IRQ_LINE}`]);
  });

  it("answers an unknown device, a second device and the same device as QEMU does", () => {
    const { run } = session();
    assert.deepEqual(
      run(
        "irq_intercept_in /machine/nope",
        "irq_intercept_in /machine/fake",
        "irq_intercept_in /machine/fake",
        "irq_intercept_out /machine/fake",
        "irq_intercept_in /machine/other",
        "irq_intercept_in /machine/nope",
      ),
      [
        "FAIL Unknown device",
        "OK",
        "OK",
        "OK",
        "FAIL IRQ intercept already enabled",
        "FAIL Unknown device",
      ],
    );
  });

  it("stops printing IRQs once the session is closed", () => {
    const { s, out, target } = session();
    s.handleLine("irq_intercept_in fake");
    s.close();
    target.setLevel(true);
    s.handleLine("readl 0");
    assert.deepEqual(out, ["OK"]);
  });

  it("forwards set_irq_in with the unnamed list as null, after resolving the device", () => {
    const { run, target } = session();
    assert.deepEqual(
      run(
        "set_irq_in /machine/fake unnamed-gpio-in 2 1",
        "set_irq_in fake sysbus-irq 0 -1",
        "set_irq_in /x a 0 1",
      ),
      ["OK", "OK", "FAIL Unknown device"],
    );
    assert.deepEqual(target.calls, [
      "setIrqIn /machine/fake null 2 1",
      "setIrqIn fake sysbus-irq 0 -1",
    ]);
    assert.deepEqual(run("set_irq_in fake a 0 0x80000000"), [
      "FAIL set_irq_in: LEVEL '0x80000000' out of range",
    ]);
  });
});

describe("qtest session: extensions", () => {
  it("routes cmdqv_ commands to the target with the words after the command", () => {
    const { run } = session();
    assert.deepEqual(run("cmdqv_echo a b  c", "cmdqv_nothing", "cmdqv_refuse x y"), [
      "OK a,b,c",
      "OK",
      "FAIL refused 2",
    ]);
  });

  it("answers a cmdqv_ command the target does not know as an unknown command", () => {
    assert.deepEqual(session().run("cmdqv_nope 1"), ["FAIL Unknown command 'cmdqv_nope'"]);
  });

  it("turns a multi-line extension reply and a throwing target into FAIL and goes on", () => {
    const errors: unknown[] = [];
    const { run } = session(new FakeTarget(), { onInternalError: (e) => errors.push(e) });
    assert.deepEqual(run("cmdqv_multiline", "cmdqv_throw", "endianness"), [
      "FAIL cmdqv_multiline: the reply spans several lines",
      "FAIL internal error: model bug",
      "OK little",
    ]);
    assert.equal(errors.length, 1);
  });
});

describe("qtest session: malformed lines", () => {
  it("answers unknown commands with QEMU's wording, case-sensitively", () => {
    assert.deepEqual(session().run("foo bar", "READL 0", " readl 0", "readl\t0"), [
      "FAIL Unknown command 'foo'",
      "FAIL Unknown command 'READL'",
      "FAIL Unknown command ''",
      "FAIL Unknown command 'readl\t0'",
    ]);
  });

  it("fails bad numbers where QEMU would abort, and keeps going", () => {
    const { run } = session();
    assert.deepEqual(
      run(
        "readl 0x",
        "readl 08",
        "readl 1e3",
        "readl  0",
        "readl 18446744073709551616",
        "readl -18446744073709551616",
        "writel 0 zz",
        `readl 0x${"f".repeat(100000)}`,
        "readl 0",
      ),
      [
        "FAIL readl: invalid ADDR '0x'",
        "FAIL readl: invalid ADDR '08'",
        "FAIL readl: invalid ADDR '1e3'",
        "FAIL readl: invalid ADDR ''",
        "FAIL readl: ADDR '18446744073709551616' out of range",
        "FAIL readl: ADDR '-18446744073709551616' out of range",
        "FAIL writel: invalid VALUE 'zz'",
        `FAIL readl: ADDR '0x${"f".repeat(100000)}' out of range`,
        "OK 0x0000000000000000",
      ],
    );
  });

  it("fails missing arguments and ignores extra ones, as QEMU reads only the words it needs", () => {
    const { run } = session();
    assert.deepEqual(
      run(
        "readl",
        "writel 0",
        "read 0",
        "write 0 4",
        "memset 0 4",
        "irq_intercept_in",
        "readl 0 extra",
        "readl 0 ",
      ),
      [
        "FAIL readl: missing ADDR",
        "FAIL writel: missing VALUE",
        "FAIL read: missing SIZE",
        "FAIL write: missing DATA",
        "FAIL memset: missing VALUE",
        "FAIL irq_intercept_in: missing QOM-PATH",
        "OK 0x0000000000000000",
        "OK 0x0000000000000000",
      ],
    );
  });

  it("fails an empty line and a zero-size read, which abort QEMU", () => {
    assert.deepEqual(session().run("", "read 0 0"), [
      "FAIL empty command",
      "FAIL read: SIZE must not be 0",
    ]);
  });

  it("fails transfers above the limit without touching the target", () => {
    const { run, target } = session();
    const big = QTEST_MAX_TRANSFER + 1;
    assert.deepEqual(
      run("read 0 999999999999", `b64read 0 ${big}`, `memset 0 ${big} 0`, `write 0 ${big} 0x00`),
      [
        `FAIL read: SIZE 999999999999 exceeds the limit of ${QTEST_MAX_TRANSFER} bytes`,
        `FAIL b64read: SIZE ${big} exceeds the limit of ${QTEST_MAX_TRANSFER} bytes`,
        `FAIL memset: SIZE ${big} exceeds the limit of ${QTEST_MAX_TRANSFER} bytes`,
        `FAIL write: SIZE ${big} exceeds the limit of ${QTEST_MAX_TRANSFER} bytes`,
      ],
    );
    assert.deepEqual(target.calls, []);
  });

  it("accepts a transfer of exactly the limit", () => {
    const { run } = session();
    const [reply] = run(`read 0 ${QTEST_MAX_TRANSFER}`);
    assert.equal(reply?.length, 5 + 2 * QTEST_MAX_TRANSFER);
  });

  it("drops a trailing carriage return", () => {
    assert.deepEqual(session().run("endianness\r", "readb 0\r"), [
      "OK little",
      "OK 0x0000000000000000",
    ]);
  });
});

describe("qtest session: feeding transport text", () => {
  it("runs complete lines only, joining a line split over chunks", () => {
    const { s, out } = session();
    s.feed("endi");
    s.feed("anness\nreadb 0x4");
    assert.deepEqual(out, ["OK little"]);
    s.feed("0000000\r\nreadl");
    assert.deepEqual(out, ["OK little", "OK 0x0000000000000000"]);
  });

  it("drops an overlong line up to its newline, answers FAIL and goes on", () => {
    const { s, out } = session();
    const chunk = "x".repeat(1 << 20);
    s.feed("write 0 4 0x");
    for (let n = 0; n <= QTEST_MAX_LINE; n += chunk.length) s.feed(chunk);
    assert.deepEqual(out, []);
    s.feed("tail\nendianness\n");
    assert.deepEqual(out, [`FAIL line longer than ${QTEST_MAX_LINE} characters`, "OK little"]);
  });

  it("fails an overlong line that arrives whole in one chunk", () => {
    const { s, out } = session();
    s.feed(`write 0 4 0x${"0".repeat(QTEST_MAX_LINE)}
endianness
`);
    assert.deepEqual(out, [`FAIL line longer than ${QTEST_MAX_LINE} characters`, "OK little"]);
  });
});

describe("qtest session: hostile details", () => {
  it("passes a non-latin1 char of a reply out as its UTF-8 bytes, not as its low byte", () => {
    const { run } = session();
    const [reply] = run("cmdqv_refuse ≥");
    assert.equal(reply, "FAIL refused 1");
    const [echo] = run("cmdqv_echo a≥b");
    assert.equal(Buffer.from(echo!, "latin1").toString("utf8"), "OK a≥b");
  });

  it("takes runs of spaces between an extension's words as one separator", () => {
    const { run } = session();
    assert.deepEqual(run("cmdqv_echo SITE  2", "cmdqv_echo  a   b "), ["OK SITE,2", "OK a,b"]);
  });
});

describe("qtest session: the fast path of read and write lines", () => {
  /** Every line, fed as transport text: through the fast path, or (with a log) not. */
  const replay = (lines: readonly string[], fast: boolean) => {
    const target = new FakeTarget();
    const out: string[] = [];
    const log = { opened() {}, received() {}, sent() {}, closed() {} };
    const s = new QtestSession(target, (l) => out.push(l), fast ? {} : { log });
    s.feed("irq_intercept_in /machine/fake\n");
    s.feed(lines.map((l) => `${l}\n`).join(""));
    return { out, calls: target.calls };
  };

  it("answers and touches the target exactly as the general path, line for line", () => {
    const addrs = [
      "0x0",
      "0x9000010",
      "0x0000000009000010",
      "0x40000000",
      "0X40000000",
      "0xfffffffffffff",
      "0xffffffffffff8",
      "0x10000000000000",
      "0x1ffffffffffff8",
      "0xfffffffffffffff8",
      "0x1ffffffffffffffff",
      "0x",
      "0xg",
      "0x40g",
      "1073741824",
      "010000000000",
      "-0x1",
      "",
    ];
    const values = [
      "0x0",
      "0x1",
      "0x1ff",
      "0xdeadbeef",
      "0x1deadbeef",
      "0x123456789abcd",
      "0xfffffffffffff",
      "0x10000000000000",
      "0xfedcba9876543210",
      "0x1fedcba9876543210",
      "0x",
      "0xz",
      "0xAbC",
      "255",
      "-1",
    ];
    const lines: string[] = [];
    for (const w of ["b", "w", "l", "q"]) {
      for (const a of addrs) {
        lines.push(`read${w} ${a}`, `read${w} ${a} `, `read${w} ${a} extra`, `read${w}  ${a}`);
        for (const v of values) lines.push(`write${w} ${a} ${v}`, `write${w} ${a} ${v} x`);
        lines.push(`write${w} ${a}`, `write${w} ${a} 0x1\r`, `read${w} ${a}\r`);
      }
    }
    lines.push("readl", "read 0x40000000 0x4", "write 0x40000000 0x2 0x0102", "readx 0x0");
    const fast = replay(lines, true);
    const general = replay(lines, false);
    assert.ok(fast.out.some((l) => l.startsWith("IRQ raise")));
    assert.ok(fast.out.some((l) => l.startsWith("FAIL")));
    assert.deepEqual(fast.out, general.out);
    assert.deepEqual(fast.calls, general.calls);
  });

  it("answers an access the target throws on with FAIL internal error, as the general path", () => {
    const target = new FakeTarget();
    target.read = () => {
      throw new Error("model bug");
    };
    const seen: string[] = [];
    const out: string[] = [];
    const s = new QtestSession(target, (l) => out.push(l), {
      onInternalError: (_e, line) => seen.push(line),
    });
    s.feed("readl 0x40000000\n");
    assert.deepEqual(out, ["FAIL internal error: model bug"]);
    assert.deepEqual(seen, ["readl 0x40000000"]);
  });
});
