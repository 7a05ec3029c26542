// `cmdqv diff [SCRIPT…]`: the same qtest scripts on our model (`--profile`) and on real
// QEMU 11.1, observation by observation; the first difference of each script is printed
// with the steps before it. SCRIPT is a file (.yaml or .qtest) or a built-in name glob.

import { existsSync } from "node:fs";
import { builtinScripts, selectScripts } from "../differential/catalog.js";
import { MASKS, maskNamed } from "../differential/masks.js";
import { describeAll, describeDifference, summaryLine, totals } from "../differential/report.js";
import { runScript, type ScriptOutcome } from "../differential/runner.js";
import { type DiffScript, loadScript, ScriptError } from "../differential/script.js";
import { modelSide, QEMU_11_1_PROFILE, qemuSide } from "../differential/sides.js";

export { QEMU_11_1_PROFILE };

import type { ProfileName } from "../vmm/tegra241-cmdqv/profile.js";
import { UsageError } from "./options.js";
import { ProgressLine } from "./progress.js";

export interface DiffFlags {
  profile: ProfileName;
  qemu?: string;
  unmask: string[];
  list?: boolean;
  masks?: boolean;
  context: number;
  all?: boolean;
}

function resolve(args: readonly string[]): DiffScript[] {
  const all = builtinScripts();
  if (args.length === 0) return all;
  const out: DiffScript[] = [];
  for (const a of args) {
    if (existsSync(a)) {
      try {
        out.push(loadScript(a));
      } catch (e) {
        if (e instanceof ScriptError) throw new UsageError(e.message);
        throw e;
      }
      continue;
    }
    const picked = selectScripts(all, a);
    if (picked.length === 0)
      throw new UsageError(
        `"${a}" is neither a file nor the name of a built-in script (see cmdqv diff --list)`,
      );
    out.push(...picked);
  }
  return out;
}

export async function diffCommand(args: readonly string[], f: DiffFlags): Promise<number> {
  if (f.masks) {
    for (const m of MASKS) console.log(`${m.name}\n  ${m.why}`);
    return 0;
  }
  const scripts = resolve(args);
  if (f.list) {
    for (const s of scripts) console.log(`${s.name}  ${s.description}`);
    return 0;
  }
  for (const n of f.unmask)
    if (!maskNamed(n))
      throw new UsageError(
        `--unmask: no mask "${n}" (masks: ${MASKS.map((m) => m.name).join(", ")})`,
      );
  const masks = MASKS.filter((m) => !f.unmask.includes(m.name));
  const progress = new ProgressLine();
  const outcomes: ScriptOutcome[] = [];
  const sides = {
    model: () => modelSide(f.profile),
    qemu: () => qemuSide(f.qemu !== undefined ? { qemu: f.qemu } : {}),
  };
  // Ctrl-C ends the run after the script in hand, whose QEMU and files go with it.
  let interrupted = false;
  const stop = () => {
    interrupted = true;
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    for (const [i, s] of scripts.entries()) {
      if (interrupted) break;
      progress.update(`cmdqv diff: ${i + 1}/${scripts.length} ${s.name}`);
      const o = await runScript(s, sides, masks);
      outcomes.push(o);
      const texts = f.all ? describeAll(o, f.context) : [describeDifference(o, f.context)];
      for (const text of texts) {
        if (text === null) continue;
        progress.done();
        console.log(text);
      }
    }
  } finally {
    progress.done();
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
  const t = totals(outcomes);
  console.log(`model ${f.profile} against real QEMU 11.1: ${summaryLine(t)}`);
  if (interrupted) {
    console.log(`interrupted after ${outcomes.length} of ${scripts.length} scripts`);
    return 130;
  }
  return t.differing === 0 ? 0 : 1;
}
