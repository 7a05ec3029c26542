// Commands that cmdqv prints for the user to paste (`replay: npx cmdqv run --replay FILE`)
// must work verbatim in a POSIX shell, whatever the path holds.

const PLAIN_WORD = /^[A-Za-z0-9_./:=@%+,-]+$/;

/** `s` as one shell word: as it is when nothing in it is special, else single-quoted. */
export function shellWord(s: string): string {
  if (PLAIN_WORD.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** How cmdqv's printed commands start: works in a fresh clone after `npm ci`. */
export const CMDQV_COMMAND = "npx cmdqv";
