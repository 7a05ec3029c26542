// Helpers of the tests that run the real `cmdqv` command: a spawn of bin/cmdqv.js with its
// exit status and output, and temp dirs removed when the test file ends (nothing is left
// behind).

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";

export interface CmdqvRun {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

export interface CmdqvOptions {
  readonly input?: string;
  /** ms; default two minutes. */
  readonly timeout?: number;
  /** Node's own flags, before the script. */
  readonly node?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

/** `node bin/cmdqv.js ARGS` from the checkout, run to its end. */
export function cmdqv(args: readonly string[], o: CmdqvOptions = {}): CmdqvRun {
  const r = spawnSync(process.execPath, [...(o.node ?? []), "bin/cmdqv.js", ...args], {
    encoding: "utf8",
    input: o.input ?? "",
    timeout: o.timeout ?? 120_000,
    env: o.env ?? process.env,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/**
 * A maker of fresh temp dirs named `cmdqv-PREFIX-…`; every dir it made is removed when the
 * calling test file's tests end. Call it at the top level of a test file.
 */
export function scratchDirs(prefix: string): () => string {
  const made: string[] = [];
  after(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), `cmdqv-${prefix}-`));
    made.push(d);
    return d;
  };
}
