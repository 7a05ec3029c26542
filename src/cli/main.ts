// The cmdqv command line: a thin layer over the programmatic API. User mistakes (bad
// flags, bad files) print one line and exit 2; a violated invariant exits 1; anything
// else is a bug here: one line, exit 70 (exit.ts has the table).

import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { PROFILE_NAMES } from "../vmm/tegra241-cmdqv/profile.js";
import { diffCommand, QEMU_11_1_PROFILE } from "./diff-cmd.js";
import { EXIT, internalErrorText } from "./exit.js";
import { exploreCommand } from "./explore-cmd.js";
import { guestFetchCommand, guestRunCommand } from "./guest-cmd.js";
import { logOption } from "./log-flag.js";
import {
  checkSocketPath,
  parseIntFlag,
  parseProfile,
  refuseEmptyValues,
  UsageError,
} from "./options.js";
import { isQemuShaped } from "./qemu-args.js";
import {
  hostCommand,
  qemuFetchCommand,
  qemuRunCommand,
  qtestQemuCommand,
  RealQemuError,
} from "./qemu-cmd.js";
import { qemuCompatCommand } from "./qemu-compat.js";
import { qtestCommand } from "./qtest-cmd.js";
import { type ReplayFlags, replayCommand } from "./replay-cmd.js";
import { defaultRun, givenFlags, runModesHelp, runOption, scenarioRun } from "./run-cmd.js";
import { DEFAULT_TRACE, traceOption } from "./trace-flag.js";

// `cmdqv … | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw e;
});

/** The package's version, read once from package.json: `cmdqv --version`. */
const { version } = JSON.parse(
  readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
) as { version: string };

const program = new Command();
program
  .name("cmdqv")
  .version(`cmdqv ${version}`, "-V, --version", "print the version and exit")
  .description(
    "A faithful model of NVIDIA Tegra241 CMDQV virtualization: run, explore and drive it.",
  )
  .exitOverride()
  .configureOutput({ outputError: (s, write) => write(s) })
  // An empty file, path or name is refused, never taken for "not given". `qemu -- ARGS`
  // passes its arguments to QEMU as they are (an empty -append is QEMU's business).
  .hook("preAction", (_, cmd) => {
    refuseEmptyValues(
      cmd.options,
      (key) => cmd.getOptionValue(key),
      cmd.name() === "qemu"
        ? []
        : cmd.registeredArguments.map((a, i) => ({
            name: `${cmd.name()} <${a.name()}>`,
            value: cmd.processedArgs[i],
          })),
    );
  });

program
  .command("explore")
  .description(
    "explore every order of the guest's configuration writes and host failures, checked by invariants",
  )
  .addOption(
    new Option("--profile <name>", `VMM behaviour: ${PROFILE_NAMES.join(", ")}`).default(
      "qemu-latest",
    ),
  )
  .option("--mode <mode>", "orderings | fail-nth | swarm | interleavings", "orderings")
  .option("--depth <n>", "interleavings: branching choices enumerated per run", "6")
  .option("--invalidations <n>", "interleavings: invalidations the vCPUs issue", "40")
  .option("--queues <n>", "VCMDQs whose writes are explored", "2")
  .option(
    "--extras <list>",
    "extra steps: cmdqv-reenable,vintf-reenable,config-rewrite,reprogram,alloc-toggle,reset | all | none",
    "none",
  )
  .option("--no-faults", "orderings: do not explore host call failures")
  .option("--max-paths <n>", "stop after this many runs")
  .option("--runs <n>", "swarm: number of random runs", "1000")
  .option("--seed <n>", "swarm: seed of the first run", "1")
  .option(
    "--jobs <n>",
    "orderings: worker threads sharing the search (the figures of one thread; no more than the first steps)",
    "1",
  )
  .option("--json", "print one JSON object", false)
  .option("--out <dir>", "where replay files are written", ".cmdqv/replays")
  .option("--ram-page <size>", "RAM backing page: 4K, 64K, 2M, 1G", "2M")
  .option("--list-sites", "list the named host fault sites and exit", false)
  .option("--vmm <vmm>", "model (our device model) or qemu (real QEMU 11.1, a process per path)")
  .option("--fault-sites <list>", "--vmm qemu: only calls at these host fault sites may fail")
  .option("--qemu <path>", "--vmm qemu: another qemu-system-aarch64 instead of QEMU 11.1")
  .option(
    "--report <file.html>",
    "write the exploration's report: one self-contained HTML page (table, counts, chart, counterexamples)",
  )
  .action(async (f, cmd: Command) => {
    process.exitCode = await exploreCommand({
      ...f,
      profileSource: cmd.getOptionValueSource("profile"),
    });
  });

program
  .command("run")
  .description(
    "run the built-in default or a scenario, or reproduce a counterexample with --replay",
  )
  .argument("[scenario]", "a scenario YAML file")
  .option("--replay <file>", "reproduce a counterexample written by cmdqv explore")
  .option(
    "--trace <spec>",
    "trace events, QEMU's -trace: PATTERN, enable=PATTERN, events=FILE, file=FILE.jsonl (repeatable; help lists the events)",
    traceOption,
  )
  .option(
    "--log <items>",
    "the VMM console live on stderr, QEMU's -d: guest_errors, unimp, invalid_mem, all (help lists them)",
    logOption,
  )
  .option(
    "--perfetto <file.json>",
    "write a Perfetto/Chrome trace-event file (one track per actor)",
  )
  .option(
    "--report <file.html>",
    "write the run's report: one self-contained HTML page (timeline, registers, queues, host objects, logs)",
  )
  .addOption(runOption("profile"))
  .addOption(runOption("ramSize"))
  .addOption(runOption("ramPage"))
  .addOption(runOption("vcmdqs"))
  .addOption(runOption("vcpus"))
  .addOption(runOption("seed"))
  .addOption(runOption("layout"))
  .addOption(runOption("cmdqv"))
  .addOption(runOption("invalidations"))
  .option("--vmm <vmm>", "model or qemu (real QEMU 11.1) (default: where it was found) [--replay]")
  .option(
    "--qemu <path>",
    "--vmm qemu: another qemu-system-aarch64 instead of QEMU 11.1 [--replay]",
  )
  .addHelpText("after", runModesHelp())
  .action(
    async (scenario: string | undefined, all: ReplayFlags & { replay?: string }, cmd: Command) => {
      // Only what the command line gave: a default must not override a file's machine.
      const f = givenFlags(all, (k) => cmd.getOptionValueSource(k));
      if (f.replay) {
        if (scenario) throw new UsageError("run: give either a scenario or --replay, not both");
        process.exitCode = await replayCommand(f.replay, f);
        return;
      }
      if (f.vmm !== undefined || f.qemu !== undefined)
        throw new UsageError(`--${f.vmm !== undefined ? "vmm" : "qemu"} needs --replay`);
      process.exitCode = scenario ? scenarioRun(scenario, f) : defaultRun(f);
    },
  );

const REAL_QEMU_OPTIONS = (c: Command): Command =>
  c
    .option(
      "--qemu <path>",
      "another qemu-system-aarch64 (e.g. your own build) instead of QEMU 11.1",
    )
    .option(
      "--fault <site[:n]>",
      "fail the Nth call (default 1) at a host fault site, counted from the host's creation",
    )
    .addOption(
      new Option(
        "--trace [spec]",
        `trace events, QEMU's -trace: PATTERN, enable=PATTERN, events=FILE (repeatable; alone: ${DEFAULT_TRACE})`,
      )
        .preset(DEFAULT_TRACE)
        .argParser(traceOption),
    );

REAL_QEMU_OPTIONS(
  program
    .command("qemu")
    .description(
      "`qemu fetch`: put QEMU 11.1 from Debian in the cache; `qemu [-- QEMU args]`: run it on the simulated Grace host",
    )
    .argument("[args...]", "fetch, or QEMU arguments after --")
    .option("--ram-size <size>", "guest RAM, e.g. 1G, 512M")
    .option("--ram-page <size>", "host page backing guest RAM: 4K, 64K, 2M, 1G")
    .option("--seed <n>", "seed of the host's page placement")
    .option(
      "--guest <kind>",
      "boot a real guest: linux (Linux's own tegra241-cmdqv driver; `cmdqv guest fetch` builds it)",
    )
    .option("--switches <n>", "--guest: IOMMU domain type switches of the device (default 4)")
    .option(
      "--bench-seconds <n>",
      "--guest: seconds of the kernel's DMA map benchmark, 0 for none (default 2)",
    )
    .option("--timeout <s>", "--guest: stop a guest that has not finished by then (default 600)")
    .option("--append <params>", "--guest: more kernel command line parameters")
    .option("--no-console", "--guest: do not echo the guest's serial console")
    .option("--json", "--guest: print the run as one JSON object"),
).action(async (args: string[], f) => {
  if (args[0] === "fetch") {
    if (args.length > 1) throw new UsageError(`qemu fetch takes no arguments, got "${args[1]}"`);
    process.exitCode = qemuFetchCommand();
    return;
  }
  if (f.guest !== undefined) {
    process.exitCode = await guestRunCommand(f, args);
    return;
  }
  for (const [o, flag] of [
    ["switches", "--switches"],
    ["benchSeconds", "--bench-seconds"],
    ["timeout", "--timeout"],
    ["append", "--append"],
    ["json", "--json"],
  ] as const)
    if (f[o] !== undefined) throw new UsageError(`${flag} needs --guest linux`);
  if (f.console === false) throw new UsageError("--no-console needs --guest linux");
  process.exitCode = await qemuRunCommand(f, args);
});

program
  .command("guest")
  .description(
    "`guest fetch`: build the real Linux guest (kernel with tegra241-cmdqv, busybox initramfs, UEFI) into the cache",
  )
  .argument("<action>", "fetch")
  .action(async (action: string) => {
    if (action !== "fetch") throw new UsageError(`guest: unknown action "${action}" (one: fetch)`);
    process.exitCode = await guestFetchCommand();
  });

REAL_QEMU_OPTIONS(
  program
    .command("host")
    .description("serve the simulated Grace host on a unix socket for a QEMU you start yourself")
    .option("--socket <path>", "where to listen (default: a private temp dir)")
    .option("--ram-page <size>", "host page backing guest RAM: 4K, 64K, 2M, 1G")
    .option("--seed <n>", "seed of the host's page placement"),
).action(async (f) => {
  if (f.socket !== undefined) checkSocketPath("--socket", f.socket);
  process.exitCode = await hostCommand(f);
});

REAL_QEMU_OPTIONS(
  program
    .command("qtest")
    .description(
      "serve QEMU's qtest protocol on stdio or a unix socket; the client plays the guest",
    )
    .addOption(
      new Option("--vmm <vmm>", "model (our device model) or qemu (real QEMU 11.1)")
        .choices(["model", "qemu"])
        .default("model"),
    )
    .option("--socket <path>", "listen on a unix socket instead of stdio")
    .option(
      "--log <items>",
      "VMM console lines of QEMU's -d items too: guest_errors, unimp, invalid_mem, all (help lists them)",
      logOption,
    )
    .option("--qtest-log <file>", "every qtest line in and out, timed, as QEMU's -qtest-log")
    .addOption(new Option("--profile <name>", `VMM behaviour: ${PROFILE_NAMES.join(", ")}`))
    .option("--ram-size <size>", "guest RAM, e.g. 1G, 512M")
    .option("--ram-page <size>", "RAM backing page: 4K, 64K, 2M, 1G")
    .option("--vcmdqs <n>", "VCMDQs in the VINTF (power of two)")
    .option("--seed <n>", "seed of the machine")
    .option(
      "--layout <name>",
      "where the SMMUv3, CMDQV and their SPIs are: qemu-11.1 (default), qemu-7.2-virt",
    ),
).action(async (f) => {
  if (f.socket !== undefined) checkSocketPath("--socket", f.socket);
  if (f.vmm === "qemu") {
    if (f.profile !== undefined)
      throw new UsageError(
        "--profile describes our model; real QEMU has its own behaviour (drop --profile or use --vmm model)",
      );
    if (f.layout !== undefined)
      throw new UsageError(
        "--layout describes our model's machine; real QEMU 11.1 places its own (drop --layout)",
      );
    for (const [o, flag] of [
      ["log", "--log"],
      ["qtestLog", "--qtest-log"],
    ] as const)
      if (f[o] !== undefined) throw new UsageError(`${flag} needs --vmm model`);
    process.exitCode = await qtestQemuCommand(f);
    return;
  }
  for (const o of ["qemu", "fault"] as const)
    if (f[o] !== undefined) throw new UsageError(`--${o} needs --vmm qemu`);
  process.exitCode = await qtestCommand(f);
});

program
  .command("diff")
  .description(
    "run qtest scripts on our model and on real QEMU 11.1 and print the first difference of each",
  )
  .argument("[scripts...]", "script files (.yaml, .qtest) or built-in name globs (default: all)")
  .addOption(
    new Option("--profile <name>", `the model's profile: ${PROFILE_NAMES.join(", ")}`).default(
      QEMU_11_1_PROFILE,
    ),
  )
  .option("--qemu <path>", "another qemu-system-aarch64 instead of QEMU 11.1")
  .option(
    "--unmask <name>",
    "compare what the named mask hides (repeatable)",
    (v: string, prev: string[]) => [...prev, v],
    [] as string[],
  )
  .option("--masks", "list the masks and why each exists")
  .option("--list", "list the scripts instead of running them")
  .option("--all", "print every difference of a script, not only the first")
  .option("--context <n>", "steps shown before a difference", "3")
  .action(async (args: string[], f) => {
    process.exitCode = await diffCommand(args, {
      ...f,
      profile: parseProfile(f.profile),
      unmask: f.unmask,
      context: parseIntFlag("--context", f.context, 0, 1000),
    });
  });

/** A bug: one line (the stack with CMDQV_DEBUG), and out at once, whatever still runs. */
function internalError(e: unknown): never {
  process.stderr.write(`${internalErrorText(e, Boolean(process.env["CMDQV_DEBUG"]))}\n`);
  process.exit(EXIT.internal);
}
process.on("uncaughtException", internalError);
process.on("unhandledRejection", internalError);

try {
  // `cmdqv qtest -qtest unix:…` is QEMU's command line (QEMU's qtest harness starts us so),
  // which commander cannot read: qemu-args.ts does.
  const args = process.argv.slice(2);
  if (args[0] === "qtest" && isQemuShaped(args.slice(1)))
    process.exitCode = await qemuCompatCommand(args.slice(1), version);
  else await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`cmdqv: ${e.message}`);
    process.exitCode = EXIT.usage;
  } else if (e instanceof RealQemuError) {
    console.error(`cmdqv: ${e.message}`);
    process.exitCode = EXIT.unavailable;
  } else if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else internalError(e);
}
