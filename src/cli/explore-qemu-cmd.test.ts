// The real-QEMU flags of `cmdqv explore` and `cmdqv run --replay`, refused before any
// QEMU starts: one line naming the flag and the offending value, exit 2, no stack.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cmdqv } from "./cli-testkit.js";

describe("the --vmm qemu flags", () => {
  for (const [args, message] of [
    [["explore", "--vmm", "kvm"], /--vmm: expected one of model, qemu, got "kvm"/],
    [
      ["explore", "--vmm", "qemu", "--queues", "3"],
      /--queues: expected an integer from 1 to 2, got "3"/,
    ],
    [
      ["explore", "--vmm", "qemu", "--mode", "swarm"],
      /--mode "swarm": --vmm qemu explores the orderings mode only/,
    ],
    [["explore", "--vmm", "qemu", "--profile", "reference"], /--profile describes our model/],
    [
      ["explore", "--vmm", "qemu", "--ram-page", "4K"],
      /--ram-page "4K": --vmm qemu backs guest RAM with 2M pages only/,
    ],
    [
      ["explore", "--vmm", "qemu", "--fault-sites", "nowhere"],
      /--fault-sites: expected one of .*, got "nowhere"/,
    ],
    [
      ["explore", "--vmm", "qemu", "--no-faults", "--fault-sites", "hw_queue_alloc:pin"],
      /--fault-sites: host faults are off/,
    ],
    [["explore", "--fault-sites", "hw_queue_alloc:pin"], /--fault-sites needs --vmm qemu/],
    [["run", "--vmm", "qemu"], /--vmm needs --replay/],
    [
      [
        "run",
        "--replay",
        "docs/findings/one-queue-faults/qemu-v7-no-silent-hang.json",
        "--vmm",
        "qemu",
        "--trace",
        "file=x.jsonl",
      ],
      /--trace and --perfetto trace our model/,
    ],
  ] as const)
    it(`refuses ${args.slice(1).join(" ")} with one line and exit 2`, () => {
      const r = cmdqv([...args]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, message);
      assert.equal(r.err.trim().split("\n").length, 1, r.err);
      assert.doesNotMatch(r.err, /\n\s+at /);
    });
});
