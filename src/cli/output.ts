// Writing trace files for `cmdqv run`: native JSON Lines and Perfetto trace-event JSON.

import { writeFileSync } from "node:fs";
import { toJsonl } from "../trace/jsonl.js";
import { toPerfetto } from "../trace/perfetto.js";
import type { TraceEvent } from "../trace/trace.js";
import { UsageError } from "./options.js";

export function writeTraces(
  events: readonly TraceEvent[],
  jsonl?: string,
  perfetto?: string,
): void {
  const write = (flag: string, path: string, text: string) => {
    try {
      writeFileSync(path, text);
    } catch (e) {
      throw new UsageError(
        `${flag}: cannot write ${JSON.stringify(path)} (${(e as NodeJS.ErrnoException).code ?? "error"})`,
      );
    }
  };
  if (jsonl) write("--trace", jsonl, toJsonl(events));
  if (perfetto) write("--perfetto", perfetto, toPerfetto(events));
}
