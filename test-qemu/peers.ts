// The two qtest peers the differential tests and `npm run bench:qemu` drive: Debian's
// qemu-system-aarch64 (7.2) and our `node bin/cmdqv.js qtest`, both spoken to over stdio
// with the repo's QtestClient. Every process started here is guarded: a request that gets
// no reply within its time limit ends the peer, and `withPeer` always closes it.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { QtestClient, QtestError } from "../src/cli/qtest-client.js";
import { LAYOUTS } from "../src/machine/config.js";

export type PeerName = "qemu" | "cmdqv";

/** QEMU virt's SMMUv3 (the same address in our machine), guest RAM and the GIC. */
export const SMMU_BASE = LAYOUTS["qemu-7.2-virt"].smmuBase;
export const RAM_BASE = 0x4000_0000;
/**
 * The GIC as QEMU 7.2's virt names it (an unattached qdev: device[0] is the CPU, device[1]
 * the arm_gic, found with qom-list). Our MachineTarget accepts the same path (GIC_PATHS),
 * so one script intercepts the SMMU's wired interrupts (GIC inputs 74–77) on both.
 */
export const GIC_PATH = "/machine/unattached/device[1]";

export const QEMU_BINARY = process.env["QEMU_SYSTEM_AARCH64"] ?? "qemu-system-aarch64";
/**
 * -S: no vCPU runs; -nodefaults: no monitor, serial or network; -qtest-log none: QEMU
 * would otherwise log every qtest line to stderr (and be slower for it). Debian's 7.2 has
 * no qtest accelerator, so it runs TCG with the CPU stopped (and answers clock_step with
 * FAIL Unknown command).
 */
export const QEMU_ARGS: readonly string[] = [
  "-machine",
  "virt,iommu=smmuv3",
  "-m",
  "1G",
  "-accel",
  "tcg",
  "-qtest",
  "stdio",
  "-qtest-log",
  "none",
  "-S",
  "-display",
  "none",
  "-nodefaults",
];

const REPO = fileURLToPath(new URL("..", import.meta.url));
const CMDQV_BIN = fileURLToPath(new URL("../bin/cmdqv.js", import.meta.url));

/** "7.2.22" from `qemu-system-aarch64 --version`, or null when QEMU cannot be run. */
export function qemuVersion(): string | null {
  const r = spawnSync(QEMU_BINARY, ["--version"], { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) return null;
  return /version (\d+\.\d+\.\d+)/.exec(r.stdout)?.[1] ?? null;
}

/** A spawned peer: the client, plus a request that fails after `ms` without a reply. */
export interface Peer {
  readonly name: PeerName;
  readonly client: QtestClient;
  /** Send one line; the raw reply (OK/FAIL/ERR …), or a rejection after `ms`. */
  send(line: string, ms?: number): Promise<string>;
  close(): Promise<void>;
}

/** Default time limit of one request (QEMU answers in microseconds; a stall is a bug). */
export const REQUEST_MS = 10_000;
/** Time limit of the first request, which includes the peer's start-up (tsx, QEMU init). */
export const START_MS = 30_000;

export function startPeer(name: PeerName, extraArgs: readonly string[] = []): Peer {
  const client =
    name === "qemu"
      ? QtestClient.spawn(QEMU_BINARY, [...QEMU_ARGS, ...extraArgs])
      : QtestClient.spawn(
          process.execPath,
          // QEMU 7.2's virt,iommu=smmuv3: the SMMUv3 at 0x0905_0000 with SPIs 74–77.
          [CMDQV_BIN, "qtest", "--layout", "qemu-7.2-virt", ...extraArgs],
          { cwd: REPO },
        );
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= client.close();
    return closing;
  };
  return {
    name,
    client,
    close,
    send(line, ms = REQUEST_MS) {
      return withTimeout(client.command(line), ms, () => {
        void close();
        return new QtestError(`${name}: no reply within ${ms} ms`, line, null);
      });
    },
  };
}

/** Start `name`, wait until it answers, run `body`, and always close it. */
export async function withPeer<T>(
  name: PeerName,
  body: (peer: Peer) => Promise<T>,
  extraArgs: readonly string[] = [],
): Promise<T> {
  const peer = startPeer(name, extraArgs);
  try {
    const e = await peer.send("endianness", START_MS);
    if (e !== "OK little") throw new Error(`${name}: endianness answered ${JSON.stringify(e)}`);
    return await body(peer);
  } finally {
    await peer.close();
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
