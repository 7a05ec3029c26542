// The one printf of the project. Kernel and QEMU messages are reproduced from their C
// format strings ("CMDQ error (cons 0x%08x): %s"), so the model writes the same format
// string and this formats it as vsnprintf does. Only what those messages use is
// supported: flags `0` and `-`, a width, the length modifiers hh/h/l/ll/z (l, ll and z
// mean 64 bits, anything else 32), and the conversions d i u x X s %. An unsupported
// conversion or a missing argument is a bug in the caller and throws.

export type PrintfArg = number | bigint | string;

const SPEC_RE = /%([-0]*)(\d*)(hh|h|ll|l|z)?([diuxXs%])/g;

function integer(v: PrintfArg, conv: string, wide: boolean): string {
  if (typeof v === "string") throw new TypeError(`printf: %${conv} given a string`);
  const big = typeof v === "bigint" ? v : BigInt(Math.trunc(v));
  const bits = wide ? 64 : 32;
  switch (conv) {
    case "d":
    case "i":
      return BigInt.asIntN(bits, big).toString(10);
    case "u":
      return BigInt.asUintN(bits, big).toString(10);
    case "x":
      return BigInt.asUintN(bits, big).toString(16);
    default:
      return BigInt.asUintN(bits, big).toString(16).toUpperCase();
  }
}

/** Format `fmt` with `args` as C's printf does, e.g. `sprintf("0x%016llx", dw0)`. */
export function sprintf(fmt: string, ...args: readonly PrintfArg[]): string {
  let next = 0;
  return fmt.replace(
    SPEC_RE,
    (_m, flags: string, width: string, len: string | undefined, conv: string) => {
      if (conv === "%") return "%";
      if (next >= args.length) throw new RangeError(`printf: too few arguments for "${fmt}"`);
      const v = args[next++]!;
      const body =
        conv === "s" ? String(v) : integer(v, conv, len === "l" || len === "ll" || len === "z");
      const w = width === "" ? 0 : Number(width);
      if (body.length >= w) return body;
      if (flags.includes("-")) return body.padEnd(w, " ");
      if (flags.includes("0") && conv !== "s") {
        const neg = body.startsWith("-");
        return (neg ? "-" : "") + (neg ? body.slice(1) : body).padStart(neg ? w - 1 : w, "0");
      }
      return body.padStart(w, " ");
    },
  );
}
