// The command rings the main-CMDQ figures hand over, one place for every bench that lays
// one out (bench:qemu's peers, QEMU 11.1's peer, the large-memory run): 63 TLBI_NH_ASID then
// a CMD_SYNC (CS=NONE), repeated; CMD_SYNC only; or TLBI_NH_ASID only.

import { Buffer } from "node:buffer";
import { CS } from "../src/smmu/commands.js";
import { commandBytes } from "../test-qemu/script.js";

const sync = commandBytes({
  op: "CMD_SYNC",
  cs: CS.NONE,
  msh: 3,
  msiattr: 0xf,
  msidata: 0,
  msiaddr: 0n,
});
const tlbi = (asid: number) => commandBytes({ op: "TLBI_NH_ASID", vmid: 0, asid });

/** `entries` commands of the given mix, 16 bytes each; TLBIs name ASID (index & 0xff). */
export function ringCommands(entries: number, mix: "tlbi" | "sync" | "tlbi-only"): Buffer {
  const out = Buffer.alloc(16 * entries);
  for (let i = 0; i < entries; i++)
    (mix === "sync" || (mix === "tlbi" && i % 64 === 63) ? sync : tlbi(i & 0xff)).copy(out, 16 * i);
  return out;
}
