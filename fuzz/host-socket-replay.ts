// Re-runs one host-socket fuzz input: a corpus file, or a seed and a frame count.
//
//   npx tsx fuzz/host-socket-replay.ts fuzz/corpus/host-socket/<name>.json
//   npx tsx fuzz/host-socket-replay.ts --seed N [--frames M]
//
// HOSTFUZZ_TRACE=1 prints every frame both ways and the server's log. Exit 1 on a failure.

import { readFileSync } from "node:fs";
import { replayHostSocket } from "./host-socket.js";

function usage(): never {
  console.error("usage: host-socket-replay FILE.json | --seed N [--frames M]");
  process.exit(2);
}

const args = process.argv.slice(2);
let seed: number;
let frames = 60;
if (args[0] === "--seed") {
  seed = Number(args[1]);
  if (args[2] === "--frames") frames = Number(args[3]);
} else if (args.length === 1 && args[0] !== undefined) {
  const entry = JSON.parse(readFileSync(args[0], "utf8")) as { seed?: unknown; frames?: unknown };
  if (typeof entry.seed !== "number" || typeof entry.frames !== "number") usage();
  seed = entry.seed;
  frames = entry.frames;
} else usage();
if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(frames) || frames < 1) usage();
const failures = await replayHostSocket({ seed, frames });
for (const f of failures) console.log(`seed ${seed}: ${f}`);
console.log(failures.length === 0 ? `seed ${seed} (${frames} frames): clean` : "");
process.exit(failures.length === 0 ? 0 : 1);
