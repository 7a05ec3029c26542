import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UsageError } from "./options.js";
import { isQemuShaped, parseQemuArgs, QEMU_IGNORED, qemuOpts } from "./qemu-args.js";

/** The line QEMU 11.1's libqtest gives its binary (qtest_qemu_args), split as sh splits it. */
function libqtestLine(extra: string): string[] {
  return [
    ...["-qtest", "unix:/tmp/qtest-1.sock", "-qtest-log", "/dev/null"],
    ...["-chardev", "socket,path=/tmp/qtest-1.qmp,id=char0", "-mon", "chardev=char0,mode=control"],
    ...["-display", "none", "-audio", "none", "-run-with", "exit-with-parent=on"],
    ...extra.split(" ").filter((w) => w !== ""),
    ...["-accel", "qtest"],
  ];
}

function refusal(args: string[]): string {
  try {
    parseQemuArgs(args);
  } catch (e) {
    assert.ok(e instanceof UsageError, String(e));
    assert.ok(!e.message.includes("\n"), "one line");
    return e.message;
  }
  assert.fail(`${args.join(" ")} was accepted`);
}

describe("QEMU's command line for cmdqv's machine", () => {
  it("reads libqtest's line: qtest and QMP sockets to connect to, exit-with-parent, the defaults", () => {
    const inv = parseQemuArgs(libqtestLine("-machine virt"));
    assert.deepEqual(inv, {
      qtest: { path: "/tmp/qtest-1.sock", server: false },
      qmp: { path: "/tmp/qtest-1.qmp", server: false },
      qtestLog: "none",
      flags: {},
      qom: { cpus: 1, smmu: "/machine/peripheral/smmuv3.1" },
      exitWithParent: true,
      startPaused: false,
    });
    assert.equal(parseQemuArgs(libqtestLine("-S")).startPaused, true);
  });

  it("maps -m, -smp, the SMMUv3's id and cmdqv property, and cmdqv's own flags", () => {
    const inv = parseQemuArgs(
      libqtestLine(
        "-M virt,gic-version=3,accel=qtest -m 512 -smp 2 --profile qemu-v7 --seed=9 " +
          "-device arm-smmuv3,primary-bus=pcie.1,id=smmu0,accel=on,cmdqv=auto",
      ),
    );
    assert.equal(inv.ramSize, 512 * 1024 * 1024, "-m counts MiB without a unit");
    assert.equal(inv.cmdqv, "auto");
    assert.deepEqual(inv.qom, { cpus: 2, smmu: "/machine/peripheral/smmu0" });
    assert.deepEqual(inv.flags, { profile: "qemu-v7", seed: "9" });
    assert.equal(parseQemuArgs(libqtestLine("-m size=1G")).ramSize, 1024 ** 3);
  });

  it("names an SMMUv3 without id= by its place among the anonymous devices, as QEMU does", () => {
    const inv = parseQemuArgs(
      libqtestLine(
        "-object iommufd,id=iommufd0 -device pxb-pcie,bus_nr=1,bus=pcie.0 -device pcie-root-port,id=rp " +
          "-device arm-smmuv3,primary-bus=pcie.1,accel=on,cmdqv=on -device vfio-pci,host=0000:01:00.0",
      ),
    );
    assert.equal(inv.qom.smmu, "/machine/peripheral-anon/device[1]");
  });

  it("listens where the chardev says server=on, and takes -qmp and -qtest stdio", () => {
    const inv = parseQemuArgs([
      ...["-qtest", "stdio", "-qmp", "unix:/tmp/q.sock,server=on,wait=off"],
    ]);
    assert.equal(inv.qtest, "stdio");
    assert.deepEqual(inv.qmp, { path: "/tmp/q.sock", server: true });
    assert.deepEqual(parseQemuArgs(["-qtest", "unix:/tmp/a,,b,server,nowait"]).qtest, {
      path: "/tmp/a,b",
      server: true,
    });
  });

  it("accepts each ignored option with the value that changes nothing, and refuses another value", () => {
    for (const [name, rule] of Object.entries(QEMU_IGNORED)) {
      const value = rule.values === "any" ? ["x"] : rule.values.slice(0, 1);
      assert.doesNotThrow(() => parseQemuArgs(libqtestLine(`-${name} ${value.join(" ")}`)), name);
      if (rule.values !== "any" && rule.values.length > 0)
        assert.match(
          refusal(libqtestLine(`-${name} gtk`)),
          new RegExp(`^-${name} gtk: cmdqv takes only`),
        );
    }
  });

  it("refuses what the machine cannot be, naming the option", () => {
    const cases: [string, RegExp][] = [
      [
        "-device virtio-net-pci,id=n",
        /^-device virtio-net-pci,id=n: cmdqv's machine has no virtio-net-pci/,
      ],
      ["-device arm-smmuv3,accel=off", /accel=on/],
      ["-device arm-smmuv3,accel=on,ril=off", /does not take ril$/],
      ["-machine q35", /not q35$/],
      ["-machine virt,iommu=smmuv3", /has no CMDQV/],
      ["-machine virt,gic-version=2", /GICv3/],
      ["-accel tcg", /^-accel tcg: cmdqv runs under the qtest accelerator only/],
      ["-enable-kvm", /^-enable-kvm: not an option/],
      ["-trace enable=smmuv3*", /^-trace: .*QTEST_TRACE/],
      ["-m 1G,maxmem=4G", /^-m 1G,maxmem=4G: .*no maxmem/],
      ["-m 3M", /^-m: 3145728 bytes is not a whole number of 2M RAM pages/],
      ["-m lots", /^-m lots: expected a size/],
      ["-smp 0", /^-smp 0: expected a vCPU count/],
      ["-object secret,id=s", /^-object secret,id=s: cmdqv takes only iommufd/],
      ["disk.img", /^"disk.img": cmdqv's machine takes no disk image/],
      [
        "-chardev socket,id=s0,path=/tmp/s -serial chardev:s0",
        /^-serial chardev:s0: cmdqv takes only none/,
      ],
      [
        "-chardev socket,id=s0,path=/tmp/s",
        /^-chardev id=s0: cmdqv uses a chardev only for the QMP monitor/,
      ],
      ["-chardev file,id=f,path=/tmp/f", /socket chardevs only/],
    ];
    for (const [extra, want] of cases) assert.match(refusal(libqtestLine(extra)), want, extra);
    assert.match(refusal(["-machine", "virt"]), /^-qtest: missing/);
    assert.match(refusal(["-qtest", "tcp:localhost:4444"]), /unix:PATH or stdio only/);
    assert.match(
      refusal(["-qtest", "unix:/tmp/q", "-mon", "chardev=nope,mode=control"]),
      /^-mon chardev=nope: no -chardev with id=nope/,
    );
    assert.match(
      refusal([
        "-qtest",
        "unix:/tmp/q",
        "-chardev",
        "socket,id=m,path=/tmp/m",
        "-mon",
        "chardev=m",
      ]),
      /not the human monitor/,
    );
    assert.match(refusal(["-qtest", "unix:/tmp/q", "-machine"]), /^-machine: expects an argument/);
  });

  it("keeps -qtest-log's file, none or /dev/null as no log, and stderr without the option", () => {
    assert.deepEqual(parseQemuArgs(libqtestLine("-qtest-log /dev/fd/2")).qtestLog, {
      file: "/dev/fd/2",
    });
    assert.equal(parseQemuArgs(libqtestLine("-qtest-log none")).qtestLog, "none");
    assert.equal(parseQemuArgs(["-qtest", "stdio"]).qtestLog, "stderr", "QEMU's default");
  });

  it("tells QEMU's shape from cmdqv's own flags", () => {
    assert.equal(isQemuShaped(["-qtest", "unix:/x"]), true);
    assert.equal(isQemuShaped(["-M", "virt"]), true);
    assert.equal(isQemuShaped(["--socket", "/x", "--profile", "qemu-v7"]), false);
    assert.equal(isQemuShaped(["-h"]), false);
    assert.equal(isQemuShaped(["-V"]), false);
  });

  it("splits QemuOpts as QEMU does: an implied first key, bare flags, no-flags and doubled commas", () => {
    assert.deepEqual(qemuOpts("virt,gic-version=3,nowait,server,a=b,,c", "type"), [
      ["type", "virt"],
      ["gic-version", "3"],
      ["wait", "off"],
      ["server", "on"],
      ["a", "b,c"],
    ]);
  });
});
