// A differential script: qtest lines (and `system_reset`) run unchanged on both sides.
// Written as data — a YAML file with `name`, `description` and `steps`, or a plain
// `.qtest` file of one line per step with `#` comments — or generated (catalog.ts).

import { readFileSync, statSync } from "node:fs";
import { basename, extname } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";

export interface DiffScript {
  /** Unique in a run, e.g. `gates/vcmdq0/012` or a file's base name. */
  readonly name: string;
  readonly description: string;
  readonly steps: readonly string[];
  /** Where each step came from (`file:line`), for error and difference reports. */
  readonly origins?: readonly string[];
}

export class ScriptError extends Error {
  override readonly name = "ScriptError";
}

/** The largest script file read (a script is hand-written; this bounds a hostile one). */
export const SCRIPT_MAX_BYTES = 4 * 1024 * 1024;
export const SCRIPT_MAX_STEPS = 100_000;

export function loadScript(path: string): DiffScript {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw new ScriptError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  if (size > SCRIPT_MAX_BYTES)
    throw new ScriptError(
      `${path}: ${size} bytes, more than the ${SCRIPT_MAX_BYTES} a script may have`,
    );
  const text = readFileSync(path, "utf8");
  const ext = extname(path);
  if (ext === ".yaml" || ext === ".yml") return fromYaml(path, text);
  return fromLines(path, text);
}

function checkStep(where: string, step: string): string {
  const t = step.trim();
  if (t.length === 0) throw new ScriptError(`${where}: an empty step`);
  if (/[\r\n]/.test(t)) throw new ScriptError(`${where}: a step is one line`);
  const cmd = t.split(/\s+/)[0]!;
  // The other cmdqv_* lines answer with each VMM's own view (JSON of different shapes).
  if (cmd.startsWith("cmdqv_") && cmd !== "cmdqv_fault")
    throw new ScriptError(
      `${where}: ${cmd} answers differently by VMM; a script may use cmdqv_fault only`,
    );
  return t;
}

function fromLines(path: string, text: string): DiffScript {
  const steps: string[] = [];
  const origins: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (line.length === 0) return;
    if (steps.length >= SCRIPT_MAX_STEPS)
      throw new ScriptError(`${path}:${i + 1}: more than ${SCRIPT_MAX_STEPS} steps`);
    steps.push(checkStep(`${path}:${i + 1}`, line));
    origins.push(`${path}:${i + 1}`);
  });
  if (steps.length === 0) throw new ScriptError(`${path}: no steps`);
  return { name: basename(path, extname(path)), description: "", steps, origins };
}

function fromYaml(path: string, text: string): DiffScript {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  const at = (offset: number | undefined) =>
    `${path}:${offset === undefined ? 1 : lc.linePos(offset).line}`;
  const first = doc.errors[0];
  if (first) throw new ScriptError(`${at(first.pos[0])}: ${first.message.split("\n")[0]}`);
  const root = doc.contents;
  if (!isMap(root))
    throw new ScriptError(
      `${at(root?.range?.[0])}: a script is a map with name, description and steps`,
    );
  let name = basename(path, extname(path));
  let description = "";
  const steps: string[] = [];
  const origins: string[] = [];
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    const where = at(isScalar(pair.key) ? pair.key.range?.[0] : undefined);
    const v = pair.value;
    switch (key) {
      case "name":
      case "description": {
        if (!isScalar(v) || typeof v.value !== "string")
          throw new ScriptError(`${where}: ${key} must be a string`);
        if (key === "name") name = v.value;
        else description = v.value;
        break;
      }
      case "steps": {
        if (!isSeq(v)) throw new ScriptError(`${where}: steps must be a list of qtest lines`);
        for (const item of v.items) {
          const w = at((item as { range?: readonly number[] } | null)?.range?.[0]);
          if (!isScalar(item) || typeof item.value !== "string")
            throw new ScriptError(`${w}: each step is a qtest line (a string)`);
          if (steps.length >= SCRIPT_MAX_STEPS)
            throw new ScriptError(`${w}: more than ${SCRIPT_MAX_STEPS} steps`);
          steps.push(checkStep(w, item.value));
          origins.push(w);
        }
        break;
      }
      default:
        throw new ScriptError(`${where}: unknown key '${key}' (expected name, description, steps)`);
    }
  }
  if (steps.length === 0) throw new ScriptError(`${path}: no steps`);
  return { name, description, steps, origins };
}
