// `npx tsx test-qemu/dump.ts [name-substring]`: play the differential scripts on both
// peers and print the transcripts side by side (lines where the two differ show both).

import { type PeerName, withPeer } from "./peers.js";
import { compare, play, sideBySide, type Transcript } from "./script.js";
import { SCRIPTS } from "./scripts.js";

const filter = process.argv[2] ?? "";
for (const s of SCRIPTS.filter((x) => x.name.includes(filter))) {
  const t: Record<PeerName, Transcript> = {
    qemu: await withPeer("qemu", (p) => play(p, s)),
    cmdqv: await withPeer("cmdqv", (p) => play(p, s)),
  };
  console.log(`== ${s.name}\n${sideBySide(s, t)}`);
  const problems = compare(s, t.qemu, t.cmdqv);
  console.log(problems.length === 0 ? "-- no problems" : `-- problems:\n${problems.join("\n")}`);
}
