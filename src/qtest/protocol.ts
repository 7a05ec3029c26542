// QEMU's qtest text protocol, server side: a synchronous, transport-free session.
//
// The protocol and its reply formats are those of QEMU 7.2's softmmu/qtest.c (system/
// qtest.c in newer trees), read for facts only and checked against Debian's
// qemu-system-aarch64 7.2 (`-qtest stdio`). Where QEMU aborts on a malformed line (it
// g_assert()s every argument), this session answers `FAIL <reason>` instead and goes on:
// no line may crash the machine. Facts are cited as "qemu:" in comments.
//
// Strings are byte strings: the transports decode latin1, one char per byte, so lengths
// and positions are C's (qemu: `strlen(words[3])`, `hex2nib(words[3][i * 2 + 2])`).

import { Buffer } from "node:buffer";
import { hex64 } from "../bits/u64.js";
import type { QtestLog } from "./qtest-log.js";
import type { ExtensionResult, IrqDirection, QtestTarget } from "./target.js";

/**
 * Largest SIZE accepted by `read`, `b64read`, `write`, `b64write` and `memset` (16 MiB).
 * qemu: `g_malloc(len)` with no bound, so a huge SIZE aborts QEMU; we answer FAIL.
 */
export const QTEST_MAX_TRANSFER = 16 * 1024 * 1024;

/**
 * Longest line `feed` buffers: a `write` of QTEST_MAX_TRANSFER bytes in hex plus room for
 * the command and numbers. A longer line is discarded up to its newline and answered FAIL.
 */
export const QTEST_MAX_LINE = 2 * QTEST_MAX_TRANSFER + 4096;

/** Bytes at or above 2^53 are not the target's: they read 0 and drop writes (target.ts). */
const ADDR_LIMIT = 2n ** 53n;
const U64_MASK = (1n << 64n) - 1n;

export interface QtestSessionOptions {
  /**
   * Answer `clock_step` / `clock_set` (default true). qemu: both are guarded by
   * `qtest_enabled()`, true only under the qtest accelerator; Debian's 7.2 build has only
   * TCG, so there both answer `FAIL Unknown command 'clock_step'`. False reproduces that.
   */
  clockCommands?: boolean;
  /** Told about an exception thrown by the target (a model bug); the line still gets FAIL. */
  onInternalError?: (error: unknown, line: string) => void;
  /**
   * Backpressure: while this says true (the transport holds too many unsent reply bytes),
   * `feed` runs no further line and keeps the rest of its text; `resume()` goes on. The
   * transport stops reading its input meanwhile, so what is kept stays one read's worth.
   */
  holdReplies?: () => boolean;
  /** QEMU's qtest log (`-qtest-log`): told of the open, every line in and out, the close. */
  log?: QtestLog;
  /**
   * The answer to a `help` line, one line per command (`cmdqv qtest` on a terminal). Unset,
   * `help` is an unknown command, as QEMU answers it: `FAIL Unknown command 'help'`.
   */
  help?: readonly string[];
}

/** A malformed line, answered `FAIL <reason>` (where QEMU would abort). */
class Reject extends Error {}

/** Result of C's strtoull/strtoll scan: sign and magnitude, or why it failed. */
type Scan = { neg: boolean; mag: bigint } | "invalid" | "range";

/** Most significant digits a u64 can have per base (after leading zeros are dropped). */
const MAX_DIGITS: Record<number, number> = { 8: 22, 10: 20, 16: 16 };

function isCSpace(c: number): boolean {
  // C isspace() in the C locale: space, \t, \n, \v, \f, \r.
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function digitValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return 99;
}

/**
 * C's strtoull/strtoll with base 0, as QEMU's qemu_strtou64/qemu_strtoi64 wrap them
 * (qemu: util/cutils.c check_strtox_error; no `endptr`, so the whole word must be
 * consumed). Leading C whitespace is skipped, then an optional sign; `0x`/`0X` followed by
 * a hex digit means hex, a leading `0` octal, else decimal. No digits or trailing garbage
 * is EINVAL (`0x`, `08`, `1e3`, the empty word); too many digits is ERANGE. Checked on 7.2:
 * `readb 010000000000` reads 0x40000000, `readl 0x` and `readl 08` abort.
 */
function scan(word: string): Scan {
  let i = 0;
  while (i < word.length && isCSpace(word.charCodeAt(i))) i++;
  let neg = false;
  if (word[i] === "+" || word[i] === "-") {
    neg = word[i] === "-";
    i++;
  }
  let base = 10;
  if (word[i] === "0") {
    if ((word[i + 1] === "x" || word[i + 1] === "X") && digitValue(word.charCodeAt(i + 2)) < 16) {
      base = 16;
      i += 2;
    } else {
      base = 8;
    }
  }
  const start = i;
  while (i < word.length && digitValue(word.charCodeAt(i)) < base) i++;
  if (i === start || i !== word.length) return "invalid";
  let first = start;
  while (first < i - 1 && word[first] === "0") first++;
  if (i - first > (MAX_DIGITS[base] ?? 0)) return "range";
  const digits = word.slice(first, i);
  const mag =
    base === 16 ? BigInt(`0x${digits}`) : base === 8 ? BigInt(`0o${digits}`) : BigInt(digits);
  return { neg, mag };
}

/** qemu_strtou64 (and qemu_strtoul on an LP64 host): a negative value wraps modulo 2^64. */
function parseU64(word: string): bigint | "invalid" | "range" {
  const s = scan(word);
  if (typeof s === "string") return s;
  if (s.mag > U64_MASK) return "range";
  return s.neg ? ((1n << 64n) - s.mag) & U64_MASK : s.mag;
}

/** qemu_strtoi64 (bits 64) or qemu_strtoi (bits 32): out of the signed range is ERANGE. */
function parseSigned(word: string, bits: 32 | 64): bigint | "invalid" | "range" {
  const s = scan(word);
  if (typeof s === "string") return s;
  const limit = 1n << BigInt(bits - 1);
  if (s.neg ? s.mag > limit : s.mag > limit - 1n) return "range";
  return s.neg ? -s.mag : s.mag;
}

/** qemu: hex2nib, -1 for a character that is not a hex digit. */
function hexNibble(c: number): number {
  const v = digitValue(c);
  return v < 16 ? v : -1;
}

/** glib's base64 alphabet ranks: `=` ranks 0 and counts, any other character is skipped. */
const B64_RANK = (() => {
  const rank = new Uint8Array(256).fill(0xff);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < alphabet.length; i++) rank[alphabet.charCodeAt(i)] = i;
  rank[0x3d] = 0;
  return rank;
})();

/**
 * The `len` bytes QEMU's b64write hands to address_space_write. qemu: the word is decoded
 * in place by g_base64_decode_inplace (characters outside the alphabet are skipped; every
 * 4 counted characters give 3 bytes, fewer when the last two were `=`; an incomplete
 * group gives nothing), then `len` bytes are written from that buffer whatever the decoded
 * length. So past the decoded bytes come the word's own leftover characters, then its NUL.
 * Checked on 7.2: `b64write A 8 AQIDBA==` writes 01 02 03 04 42 41 3d 3d; `b64write A 4 ====`
 * writes 00 3d 3d 3d. Beyond the NUL QEMU reads past the allocation; we write zeros.
 */
function b64writeBytes(word: string, len: number): Uint8Array {
  const buf = new Uint8Array(Math.max(len, word.length + 1));
  for (let i = 0; i < word.length; i++) buf[i] = word.charCodeAt(i) & 0xff;
  let out = 0;
  let v = 0;
  let count = 0;
  let last0 = 0;
  let last1 = 0;
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i) & 0xff;
    const rank = B64_RANK[c] ?? 0xff;
    if (rank === 0xff) continue;
    last1 = last0;
    last0 = c;
    v = ((v << 6) | rank) & 0xffffff;
    count++;
    if (count === 4) {
      buf[out++] = (v >>> 16) & 0xff;
      if (last1 !== 0x3d) buf[out++] = (v >>> 8) & 0xff;
      if (last0 !== 0x3d) buf[out++] = v & 0xff;
      count = 0;
    }
  }
  return buf.length === len ? buf : buf.slice(0, len);
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ");
}

/**
 * One qtest connection. `handleLine` runs one command line (without its newline) and
 * writes the reply through `out`, one line per call without the newline; `feed` takes raw
 * transport text and runs every complete line. Asynchronous `IRQ raise N` / `IRQ lower N`
 * lines go through `out` when the target reports them, so an IRQ raised by a write or a
 * clock step comes before that command's `OK`, as in QEMU (it prints from the IRQ handler).
 */
/** A `cmdqv_*` extension's answer as its qtest line: `OK [reply]` or `FAIL error`. */
export function extensionLine(result: ExtensionResult): string {
  if (!result.ok) return `FAIL ${oneLine(result.error)}`;
  return result.reply === "" ? "OK" : `OK ${result.reply}`;
}

export class QtestSession {
  private readonly target: QtestTarget;
  private readonly out: (line: string) => void;
  private readonly clockCommands: boolean;
  private readonly onInternalError: ((error: unknown, line: string) => void) | undefined;
  /** qemu: irq_levels[], zeroed when the connection opens; only changes are printed. */
  private readonly irqLevels = new Map<number, boolean>();
  /** qemu: irq_intercept_dev (the target's name of the device; the path without one). */
  private intercepted: string | null = null;
  private closed = false;
  private partial = "";
  private discarding = false;
  private readonly holdReplies: (() => boolean) | undefined;
  /** Text `feed` was given while replies were held, run by `resume()`. */
  private held = "";
  private readonly log: QtestLog | undefined;
  private readonly help: readonly string[] | undefined;

  constructor(target: QtestTarget, out: (line: string) => void, options: QtestSessionOptions = {}) {
    this.target = target;
    const log = options.log;
    this.log = log;
    this.out =
      log === undefined
        ? out
        : (line) => {
            log.sent(line);
            out(line);
          };
    this.help = options.help;
    this.clockCommands = options.clockCommands ?? true;
    this.onInternalError = options.onInternalError;
    this.holdReplies = options.holdReplies;
    log?.opened();
  }

  /** Whether lines are waiting for the transport to take the replies already given. */
  get holding(): boolean {
    return this.held !== "";
  }

  /** Run the lines held back by `holdReplies`, as far as it now allows. */
  resume(): void {
    const text = this.held;
    this.held = "";
    if (text !== "") this.feed(text);
  }

  /**
   * The transport has written the replies of everything fed so far: the target's work
   * that answers nothing runs now (QtestTarget.idle). A transport calls it in the same
   * synchronous turn as `feed`, so nothing else touches the target in between.
   */
  idle(): void {
    this.target.idle?.();
  }

  /** Stop answering (the connection went away); later IRQ reports are dropped. */
  close(): void {
    if (!this.closed) this.log?.closed();
    this.closed = true;
    this.partial = "";
    this.held = "";
  }

  /**
   * Buffer transport text and run every complete line. qemu: qtest_process_inbuf runs
   * only up to the last `\n`; a partial line waits for more (and is dropped at EOF). A line
   * longer than QTEST_MAX_LINE is dropped up to its newline and answered FAIL.
   */
  feed(text: string): void {
    if (this.held !== "") {
      this.held += text;
      return;
    }
    let start = 0;
    for (;;) {
      if (this.holdReplies?.() && !this.closed) {
        this.held = text.slice(start);
        return;
      }
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      const from = start;
      start = nl + 1;
      if (this.partial === "" && !this.discarding && this.fastLine(text, from, nl)) continue;
      const piece = text.slice(from, nl);
      if (this.discarding) {
        this.discarding = false;
        this.send(`FAIL line longer than ${QTEST_MAX_LINE} characters`);
        continue;
      }
      const line = this.partial === "" ? piece : this.partial + piece;
      this.partial = "";
      if (line.length > QTEST_MAX_LINE)
        this.send(`FAIL line longer than ${QTEST_MAX_LINE} characters`);
      else this.runLine(line);
    }
    if (this.closed || start >= text.length) return;
    if (this.discarding) return;
    this.partial += text.slice(start);
    if (this.partial.length > QTEST_MAX_LINE) {
      this.partial = "";
      this.discarding = true;
    }
  }

  /**
   * Run one line, the target's deferred work included (see idle). A trailing `\r` is
   * dropped (QEMU would keep it in the last word and abort on the number; we accept `\r\n`
   * line ends).
   */
  handleLine(line: string): void {
    this.runLine(line);
    this.idle();
  }

  private runLine(line: string): void {
    if (this.closed) return;
    const text = line.endsWith("\r") ? line.slice(0, -1) : line;
    this.log?.received(text);
    try {
      // IRQ lines the command causes are printed while it runs, before this reply.
      this.send(this.dispatch(text));
    } catch (error) {
      if (error instanceof Reject) {
        this.send(`FAIL ${oneLine(error.message)}`);
      } else this.internalError(error, text);
    }
  }

  /** A model bug surfaced by `line`: told to onInternalError, answered FAIL. */
  private internalError(error: unknown, line: string): void {
    this.onInternalError?.(error, line);
    const message = error instanceof Error ? error.message : String(error);
    this.send(`FAIL internal error: ${oneLine(message)}`);
  }

  /**
   * The common MMIO lines, `readb|readw|readl|readq 0xADDR` and `writeb|writew|writel|writeq
   * 0xADDR 0xVALUE` with nothing else on the line, run straight from the transport's text
   * (no line string, no split, no bigint for a value that fits a number); the reply is the
   * one dispatch gives. Returns false, having done nothing, for any other line (and while a
   * log is kept, which wants the line), which then takes the general path.
   */
  private fastLine(text: string, start: number, end: number): boolean {
    if (this.closed || this.log !== undefined || end - start < 9) return false;
    const c0 = text.charCodeAt(start);
    let i: number;
    let write: boolean;
    if (c0 === 0x72 /* r */ && text.startsWith("read", start)) {
      write = false;
      i = start + 4;
    } else if (c0 === 0x77 /* w */ && text.startsWith("write", start)) {
      write = true;
      i = start + 5;
    } else return false;
    const size = fastWidth(text.charCodeAt(i));
    if (size === 0 || !text.startsWith(" 0x", i + 1)) return false;
    // ADDR: hex digits to the end or the next space, below 2^52 (so addr + size ≤ 2^53,
    // every byte the target's).
    i += 4;
    let addr = 0;
    let digits = 0;
    for (; i < end; i++, digits++) {
      const d = digitValue(text.charCodeAt(i));
      if (d >= 16) break;
      addr = addr * 16 + d;
      if (addr >= FAST_ADDR_LIMIT) return false;
    }
    if (digits === 0) return false;
    let reply: string;
    try {
      if (!write) {
        if (i !== end) return false;
        reply =
          size === 8
            ? `OK 0x${BigInt.asUintN(64, this.target.read64(addr)).toString(16).padStart(16, "0")}`
            : `OK 0x00000000${lowBytes(this.target.read(addr, size), size).toString(16).padStart(8, "0")}`;
      } else {
        // VALUE: up to 13 significant hex digits (exact in a number) to the end of the line.
        if (!text.startsWith(" 0x", i)) return false;
        i += 3;
        let value = 0;
        digits = 0;
        for (; i < end; i++, digits++) {
          const d = digitValue(text.charCodeAt(i));
          if (d >= 16) return false;
          value = value * 16 + d;
        }
        if (digits === 0 || value >= FAST_ADDR_LIMIT) return false;
        if (size === 8) this.target.write64(addr, BigInt(value));
        else this.target.write(addr, size, lowBytes(value, size));
        reply = "OK";
      }
    } catch (error) {
      this.internalError(error, text.slice(start, end));
      return true;
    }
    // An IRQ line the access raised has gone out already; a reply is plain ASCII.
    if (!this.closed) this.out(reply);
    return true;
  }

  /**
   * Replies travel as latin1, one char per byte. A char beyond latin1 (our own messages'
   * `≥`, an echoed one) goes out as its UTF-8 bytes, so a UTF-8 client reads it back
   * instead of the transport's truncation to its low byte (`≥` came out as `e`).
   */
  private send(line: string): void {
    if (this.closed) return;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the latin1 range by its ends
    this.out(/[^\u0000-\u00ff]/.test(line) ? Buffer.from(line, "utf8").toString("latin1") : line);
  }

  private dispatch(text: string): string {
    // qemu: an empty line splits into no words and trips g_assert(command).
    if (text === "") throw new Reject("empty command");
    // qemu: g_strsplit(line, " ", 0): single spaces separate words, so two spaces make an
    // empty word, and words past the ones a command reads are ignored.
    const words = text.split(" ");
    const cmd = words[0] ?? "";
    switch (cmd) {
      case "irq_intercept_in":
      case "irq_intercept_out":
        return this.irqIntercept(words, cmd === "irq_intercept_in" ? "in" : "out");
      case "set_irq_in":
        return this.setIrqIn(words);
      case "outb":
      case "outw":
      case "outl":
        return this.outPort(words);
      case "inb":
      case "inw":
      case "inl":
        return this.inPort(words);
      case "writeb":
      case "writew":
      case "writel":
      case "writeq":
        return this.writeN(words);
      case "readb":
      case "readw":
      case "readl":
      case "readq":
        return this.readN(words);
      case "read":
        return this.readHex(words);
      case "b64read":
        return this.b64read(words);
      case "write":
        return this.writeHex(words);
      case "memset":
        return this.memset(words);
      case "b64write":
        return this.b64write(words);
      case "help":
        // Not QEMU's: the command list for a person at a terminal, one line each.
        if (this.help !== undefined && this.help.length > 0 && words.length === 1) {
          for (const l of this.help.slice(0, -1)) this.send(l);
          return this.help[this.help.length - 1] ?? "";
        }
        break;
      case "endianness":
        // qemu: "OK big" / "OK little" from target_words_bigendian(); aarch64 is little.
        return "OK little";
      case "clock_step":
        if (this.clockCommands) return this.clockStep(words);
        break;
      case "clock_set":
        if (this.clockCommands) return this.clockSet(words);
        break;
      case "module_load":
        // qemu: needs two words, answers a bare "FAIL" when module_load() loads nothing
        // (checked on 7.2: `module_load a b` → `FAIL`). We have no modules.
        this.arg(words, 1, "TYPE");
        this.arg(words, 2, "NAME");
        return "FAIL";
      case "system_reset":
        // Not QEMU's qtest (which has no reset) but its monitor's command, which cmdqv's
        // relay to real QEMU runs over QMP: one script resets either VMM the same way.
        if (words.length === 1 && this.target.extension?.("cmdqv_reset", []) !== undefined)
          return "OK";
        break;
      default:
        if (cmd.startsWith("cmdqv_")) return this.extension(cmd, words);
    }
    // qemu: `FAIL Unknown command '%s'` with the first word.
    return `FAIL Unknown command '${cmd}'`;
  }

  private arg(words: readonly string[], index: number, name: string): string {
    const word = words[index];
    if (word === undefined) throw new Reject(`${words[0]}: missing ${name}`);
    return word;
  }

  private number(
    words: readonly string[],
    index: number,
    name: string,
    parse: (w: string) => bigint | "invalid" | "range",
  ): bigint {
    const word = this.arg(words, index, name);
    const v = parse(word);
    if (v === "invalid") throw new Reject(`${words[0]}: invalid ${name} '${word}'`);
    if (v === "range") throw new Reject(`${words[0]}: ${name} '${word}' out of range`);
    return v;
  }

  private u64(words: readonly string[], index: number, name: string): bigint {
    return this.number(words, index, name, parseU64);
  }

  private size(words: readonly string[], index: number): number {
    return this.checkedSize(words, this.u64(words, index, "SIZE"));
  }

  // qemu (11.1): `irq_intercept_in|out QOM-PATH [NAME]`. The device first ("FAIL Unknown
  // device"); a NAME with _in is "FAIL Interception of named in-GPIOs not yet supported";
  // once a device is intercepted the same one answers OK and any other "FAIL IRQ intercept
  // already enabled"; then _in takes the device's input lists and _out its output list NAME
  // (none: the unnamed one), "FAIL No intercepts installed" when there is none. Checked on
  // QEMU 11.1: `irq_intercept_out /machine/peripheral/smmuv3.1` fails so, with `sysbus-irq`
  // it is OK and the CMDQV's interrupt comes as `IRQ raise 4`.
  private irqIntercept(words: readonly string[], direction: IrqDirection): string {
    const path = this.arg(words, 1, "QOM-PATH");
    const name = words[2] ?? null;
    if (!this.target.hasDevice(path)) return "FAIL Unknown device";
    if (name !== null && direction === "in")
      return "FAIL Interception of named in-GPIOs not yet supported";
    const device = this.target.deviceOf?.(path) ?? path;
    if (this.intercepted !== null) {
      return this.intercepted === device ? "OK" : "FAIL IRQ intercept already enabled";
    }
    const report = (line: number, level: boolean) => this.irq(line, level);
    const installed = this.target.irqIntercept(path, direction, report, name);
    if (installed === false) return "FAIL Unknown device";
    if (installed === "none") return "FAIL No intercepts installed";
    this.intercepted = device;
    return "OK";
  }

  // qemu: qtest_irq_handler prints "IRQ raise %d" / "IRQ lower %d" only when the level
  // differs from irq_levels[n].
  private irq(line: number, level: boolean): void {
    if (this.closed) return;
    if ((this.irqLevels.get(line) ?? false) === level) return;
    this.irqLevels.set(line, level);
    this.out(`IRQ ${level ? "raise" : "lower"} ${line}`);
  }

  // qemu: `set_irq_in QOM-PATH NAME NUM LEVEL`: device first ("FAIL Unknown device"),
  // NAME "unnamed-gpio-in" means the unnamed list, NUM and LEVEL by qemu_strtoi, then OK.
  private setIrqIn(words: readonly string[]): string {
    const path = this.arg(words, 1, "QOM-PATH");
    const name = this.arg(words, 2, "NAME");
    this.arg(words, 3, "NUM");
    this.arg(words, 4, "LEVEL");
    if (!this.target.hasDevice(path)) return "FAIL Unknown device";
    const num = Number(this.number(words, 3, "NUM", (w) => parseSigned(w, 32)));
    const level = Number(this.number(words, 4, "LEVEL", (w) => parseSigned(w, 32)));
    if (this.target.setIrqIn === undefined) {
      throw new Reject("set_irq_in: this machine has no settable GPIO inputs");
    }
    const ok = this.target.setIrqIn(path, name === "unnamed-gpio-in" ? null : name, num, level);
    // qemu: qdev_get_gpio_in_named asserts the pin exists (an abort); we answer FAIL.
    if (ok === "no-pin") throw new Reject(`set_irq_in: ${path} has no input ${num} in ${name}`);
    return ok ? "OK" : "FAIL Unknown device";
  }

  // qemu: `outb|outw|outl ADDR VALUE`, both by qemu_strtoul, ADDR ≤ 0xffff asserted, "OK".
  // An Arm machine has no I/O port space: the write goes nowhere (7.2 answers OK).
  private outPort(words: readonly string[]): string {
    const addr = this.number(words, 1, "ADDR", parseU64);
    this.number(words, 2, "VALUE", parseU64);
    if (addr > 0xffffn) throw new Reject(`${words[0]}: ADDR ${hex64(addr)} beyond the I/O space`);
    return "OK";
  }

  // qemu: `inb|inw|inl ADDR` answers "OK 0x%04x". An aarch64 machine has no I/O ports: the
  // 64 KiB I/O space reads all ones (unassigned I/O), and the bytes of an access that run
  // past its end read 0. Checked on 7.2: inb 0 → OK 0x00ff, inw 0 → OK 0xffff,
  // inl 0 → OK 0xffffffff, inl 0xfffd → OK 0xffffff, inw 0xffff → OK 0x00ff.
  private inPort(words: readonly string[]): string {
    const addr = this.number(words, 1, "ADDR", parseU64);
    if (addr > 0xffffn) throw new Reject(`${words[0]}: ADDR ${hex64(addr)} beyond the I/O space`);
    const size = widthOf(words[0]);
    const inside = Math.min(size, 0x10000 - Number(addr));
    const value = inside >= 4 ? 0xffffffff : 2 ** (8 * inside) - 1;
    return `OK 0x${value.toString(16).padStart(4, "0")}`;
  }

  // qemu: `writeb|writew|writel|writeq ADDR VALUE`, both by qemu_strtou64, VALUE truncated
  // to the width, little-endian on aarch64, reply "OK".
  private writeN(words: readonly string[]): string {
    const addr = this.u64(words, 1, "ADDR");
    const value = this.u64(words, 2, "VALUE");
    const size = widthOf(words[0]);
    if (addr + BigInt(size) <= ADDR_LIMIT) {
      const a = Number(addr);
      if (size === 8) this.target.write64(a, value);
      else this.target.write(a, size, Number(value & ((1n << BigInt(size * 8)) - 1n)));
    } else {
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i++) bytes[i] = Number((value >> BigInt(8 * i)) & 0xffn);
      this.writeBytes(addr, bytes);
    }
    return "OK";
  }

  // qemu: `readb|readw|readl|readq ADDR` answers "OK 0x%016" PRIx64 whatever the width
  // (checked on 7.2: readb → OK 0x0000000000000078).
  private readN(words: readonly string[]): string {
    const addr = this.u64(words, 1, "ADDR");
    const size = widthOf(words[0]);
    let value = 0n;
    if (addr + BigInt(size) <= ADDR_LIMIT) {
      const a = Number(addr);
      value =
        size === 8
          ? BigInt.asUintN(64, this.target.read64(a))
          : BigInt(this.target.read(a, size) >>> 0) & ((1n << BigInt(size * 8)) - 1n);
    } else {
      const bytes = this.readBytes(addr, size);
      for (let i = size - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] ?? 0);
    }
    return `OK ${hex64(value)}`;
  }

  // qemu: `read ADDR SIZE` answers "OK 0x" then two lowercase hex digits per byte; SIZE 0
  // trips g_assert(len) (checked on 7.2), so we FAIL it.
  private readHex(words: readonly string[]): string {
    const addr = this.u64(words, 1, "ADDR");
    const len = this.size(words, 2);
    if (len === 0) throw new Reject("read: SIZE must not be 0");
    const bytes = this.readBytes(addr, len);
    return `OK 0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex")}`;
  }

  // qemu: `b64read ADDR SIZE` answers "OK %s" with g_base64_encode (padded); SIZE 0 gives
  // "OK " with the trailing space (checked on 7.2).
  private b64read(words: readonly string[]): string {
    const addr = this.u64(words, 1, "ADDR");
    const len = this.size(words, 2);
    const bytes = this.readBytes(addr, len);
    return `OK ${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64")}`;
  }

  // qemu: `write ADDR SIZE DATA`: DATA shorter than 3 characters answers
  // "ERR invalid argument size" (ERR, not FAIL); otherwise byte i is taken from characters
  // i*2+2 and i*2+3 (the first two are skipped unread, normally "0x") when both exist, else
  // 0; a non-hex character is hex2nib's -1, so "zz" gives 0xff, "z1" 0xf1, "1z" 0xff, and an
  // odd last digit is ignored. Checked on 7.2: `write A 4 0x0102` → 01 02 00 00,
  // `write A 3 0xzz1zz1` → ff ff f1, `write A 4 123456789` → 34 56 78 00.
  private writeHex(words: readonly string[]): string {
    const addr = this.u64(words, 1, "ADDR");
    const lenWord = this.u64(words, 2, "SIZE");
    const data = this.arg(words, 3, "DATA");
    if (data.length < 3) return "ERR invalid argument size";
    const len = this.checkedSize(words, lenWord);
    const bytes = new Uint8Array(len);
    const full = Math.min(len, Math.floor((data.length - 2) / 2));
    for (let i = 0; i < full; i++) {
      const hi = hexNibble(data.charCodeAt(i * 2 + 2));
      const lo = hexNibble(data.charCodeAt(i * 2 + 3));
      bytes[i] = (((hi << 4) & 0xff) | lo) & 0xff;
    }
    this.writeBytes(addr, bytes);
    return "OK";
  }

  // qemu: `memset ADDR SIZE VALUE`: VALUE by qemu_strtoul, memset() keeps its low byte
  // (checked on 7.2: 0x1ab → ab, -2 → fe); SIZE 0 writes nothing; reply "OK".
  private memset(words: readonly string[]): string {
    const addr = this.u64(words, 1, "ADDR");
    const len = this.size(words, 2);
    const pattern = this.number(words, 3, "VALUE", parseU64);
    if (len > 0) this.writeBytes(addr, new Uint8Array(len).fill(Number(pattern & 0xffn)));
    return "OK";
  }

  // qemu: `b64write ADDR SIZE B64_DATA`: DATA shorter than 3 characters answers
  // "ERR invalid argument size"; a length mismatch is only logged and SIZE bytes are
  // written (see b64writeBytes); never a FAIL for bad base64.
  private b64write(words: readonly string[]): string {
    const addr = this.u64(words, 1, "ADDR");
    const lenWord = this.u64(words, 2, "SIZE");
    const data = this.arg(words, 3, "B64_DATA");
    if (data.length < 3) return "ERR invalid argument size";
    const len = this.checkedSize(words, lenWord);
    if (len > 0) this.writeBytes(addr, b64writeBytes(data, len));
    return "OK";
  }

  private checkedSize(words: readonly string[], len: bigint): number {
    if (len > BigInt(QTEST_MAX_TRANSFER)) {
      throw new Reject(`${words[0]}: SIZE ${len} exceeds the limit of ${QTEST_MAX_TRANSFER} bytes`);
    }
    return Number(len);
  }

  // qemu: `clock_step [NS]`: NS by qemu_strtoi64, else the next deadline; the clock warps
  // to now + NS (nothing happens when that is not ahead) and the reply is
  // "OK %" PRIi64 " of the new time.
  private clockStep(words: readonly string[]): string {
    let t: number;
    if (words[1] === undefined) {
      t = this.target.clockStep();
    } else {
      const ns = this.number(words, 1, "NS", (w) => parseSigned(w, 64));
      const now = this.target.now();
      if (ns > 0n && BigInt(now) + ns > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new Reject(`clock_step: NS '${words[1]}' out of range`);
      }
      t = ns > 0n ? this.target.clockStep(Number(ns)) : now;
    }
    return `OK ${formatNs(t)}`;
  }

  // qemu: `clock_set NS`: warp to NS (do nothing if already past), reply "OK %" PRIi64.
  private clockSet(words: readonly string[]): string {
    const ns = this.number(words, 1, "NS", (w) => parseSigned(w, 64));
    if (ns > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new Reject(`clock_set: NS '${words[1]}' out of range`);
    }
    const now = this.target.now();
    const t = ns > BigInt(now) ? this.target.clockSet(Number(ns)) : now;
    return `OK ${formatNs(t)}`;
  }

  private extension(cmd: string, words: readonly string[]): string {
    // Our extensions take space-separated words: runs of spaces separate, as a user means
    // (`cmdqv_fault SITE  2` is N=2, not an empty N that defaulted to 1).
    const result = this.target.extension(
      cmd,
      words.slice(1).filter((w) => w !== ""),
    );
    if (result === undefined) return `FAIL Unknown command '${cmd}'`;
    if (result.ok && /[\r\n]/.test(result.reply)) {
      throw new Reject(`${cmd}: the reply spans several lines`);
    }
    return extensionLine(result);
  }

  /** Read `len` bytes at a u64 address; bytes at or above 2^53 read 0. */
  private readBytes(addr: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    if (addr >= ADDR_LIMIT || len === 0) return out;
    const n = Math.min(len, Number(ADDR_LIMIT - addr));
    const got = this.target.readBytes(Number(addr), n);
    out.set(got.length > n ? got.subarray(0, n) : got);
    return out;
  }

  /** Write bytes at a u64 address; bytes at or above 2^53 are dropped. */
  private writeBytes(addr: bigint, data: Uint8Array): void {
    if (addr >= ADDR_LIMIT || data.length === 0) return;
    const n = Math.min(data.length, Number(ADDR_LIMIT - addr));
    this.target.writeBytes(Number(addr), n === data.length ? data : data.subarray(0, n));
  }
}

/** The fast path's width by the char code of the command's last letter (b, w, l, q), else 0. */
function fastWidth(c: number): 0 | 1 | 2 | 4 | 8 {
  switch (c) {
    case 0x62:
      return 1;
    case 0x77:
      return 2;
    case 0x6c:
      return 4;
    case 0x71:
      return 8;
    default:
      return 0;
  }
}

/** The low `size` bytes of `v` (any integer below 2^53) as an unsigned number. */
function lowBytes(v: number, size: 1 | 2 | 4): number {
  return size === 4 ? v >>> 0 : v & (size === 2 ? 0xffff : 0xff);
}

/** The fast path's addresses (and values) stay below 2^52. */
const FAST_ADDR_LIMIT = 2 ** 52;

function widthOf(cmd: string | undefined): 1 | 2 | 4 | 8 {
  // The width is the command's last letter (qemu: words[0][4] / words[0][5]).
  switch (cmd?.at(-1)) {
    case "b":
      return 1;
    case "w":
      return 2;
    case "l":
      return 4;
    default:
      return 8;
  }
}

function formatNs(t: number): string {
  if (!Number.isFinite(t)) throw new Error(`the target's clock returned ${t}`);
  return BigInt(Math.trunc(t)).toString();
}
