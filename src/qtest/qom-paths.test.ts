// The QOM paths a qtest client names the machine's interrupt pins by, and what each
// intercept reports, as QEMU 11.1 answers them (checked on Debian's 11.1.3 with the
// command line real-qemu/qemu-launch.ts gives it): the GIC is /machine/unattached/device[1]
// after one vCPU, the SMMUv3 is /machine/peripheral/smmuv3.1, its sysbus-irq outputs are
// eventq, priq, cmd-sync, gerror and the CMDQV's (so the CMDQV's error is `IRQ raise 4`).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { machineConfig } from "../machine/config.js";
import { createMachine } from "../machine/machine.js";
import { cmdqvErrorLines as cmdqvError } from "./irq-testkit.js";
import { MachineTarget, type QomNames } from "./machine-target.js";
import { QtestSession } from "./protocol.js";

const GIC = "/machine/unattached/device[1]";
const SMMU = "/machine/peripheral/smmuv3.1";

function session(qom?: QomNames) {
  const m = createMachine(machineConfig());
  assert.ok(m.ok);
  const out: string[] = [];
  const s = new QtestSession(new MachineTarget(m.value, qom), (l) => out.push(l));
  const run = (...lines: string[]): string[] => {
    const from = out.length;
    for (const l of lines) s.handleLine(l);
    return out.slice(from);
  };
  return { run, out, m: m.value };
}

const irqs = (lines: string[]) => lines.filter((l) => l.startsWith("IRQ "));

describe("QOM paths of the machine's interrupt pins, as QEMU 11.1 names them", () => {
  it("reports the CMDQV's error as SPI 116 at the GIC's inputs and as line 4 on the SMMUv3's sysbus-irq, as QEMU 11.1 did", () => {
    const gic = session();
    assert.deepEqual(gic.run(`irq_intercept_in ${GIC}`), ["OK"]);
    assert.deepEqual(irqs(gic.run(...cmdqvError())), ["IRQ raise 116", "IRQ lower 116"]);
    const smmu = session();
    assert.deepEqual(smmu.run(`irq_intercept_out ${SMMU}`), ["FAIL No intercepts installed"]);
    assert.deepEqual(smmu.run(`irq_intercept_out ${SMMU} sysbus-irq`), ["OK"]);
    assert.deepEqual(irqs(smmu.run(...cmdqvError())), ["IRQ raise 4", "IRQ lower 4"]);
  });

  it("reports the SMMUv3's own lines at their sysbus-irq index, and at their SPI through the GIC", () => {
    const pulse = (m: ReturnType<typeof session>["m"]) => {
      m.smmuIrqs.gerror.raise();
      m.smmuIrqs.eventq.raise();
      m.smmuIrqs.eventq.lower();
    };
    const smmu = session();
    smmu.run("irq_intercept_out smmuv3.1 sysbus-irq");
    pulse(smmu.m);
    assert.deepEqual(irqs(smmu.out), ["IRQ raise 3", "IRQ raise 0", "IRQ lower 0"]);
    const gic = session();
    gic.run("irq_intercept_in device[1]");
    pulse(gic.m);
    assert.deepEqual(irqs(gic.out), ["IRQ raise 115", "IRQ raise 112", "IRQ lower 112"]);
  });

  it("resolves partial paths and our own /machine/gic, and counts them as the same device", () => {
    const { run } = session();
    assert.deepEqual(
      run(
        "irq_intercept_in device[1]",
        `irq_intercept_in ${GIC}`,
        "irq_intercept_in /machine/gic",
        "irq_intercept_in gic",
        `irq_intercept_in ${SMMU}`,
        "irq_intercept_in arm-gicv3",
      ),
      ["OK", "OK", "OK", "OK", "FAIL IRQ intercept already enabled", "FAIL Unknown device"],
    );
  });

  it("treats device[0] as the vCPU: intercepting it is OK and reports none of the SPIs", () => {
    const { run } = session();
    assert.deepEqual(run("irq_intercept_in /machine/unattached/device[0]"), ["OK"]);
    assert.deepEqual(irqs(run(...cmdqvError())), []);
  });

  it("answers named in-GPIOs and unknown out lists as QEMU 11.1 does", () => {
    const { run } = session();
    assert.deepEqual(
      run(
        `irq_intercept_in ${GIC} foo`,
        `irq_intercept_out ${GIC} foo`,
        `irq_intercept_out ${SMMU} pmu-interrupt`,
      ),
      [
        "FAIL Interception of named in-GPIOs not yet supported",
        "FAIL No intercepts installed",
        "FAIL No intercepts installed",
      ],
    );
  });

  it("takes set_irq_in on the GIC's inputs: reported once intercepted, any non-zero level raises", () => {
    const { run } = session();
    assert.deepEqual(
      run(`set_irq_in ${GIC} unnamed-gpio-in 116 1`),
      ["OK"],
      "nothing to report yet",
    );
    run(`irq_intercept_in ${GIC}`);
    assert.deepEqual(
      run(
        `set_irq_in ${GIC} unnamed-gpio-in 116 1`,
        `set_irq_in ${GIC} unnamed-gpio-in 116 1`,
        `set_irq_in ${GIC} unnamed-gpio-in 116 0`,
        `set_irq_in ${GIC} unnamed-gpio-in 112 7`,
      ),
      ["IRQ raise 116", "OK", "OK", "IRQ lower 116", "OK", "IRQ raise 112", "OK"],
    );
  });

  it("refuses set_irq_in on pins that do not exist (QEMU aborts there)", () => {
    const { run } = session();
    assert.deepEqual(
      run(
        `set_irq_in ${GIC} unnamed-gpio-in 288 1`,
        `set_irq_in ${GIC} sysbus-irq 0 1`,
        `set_irq_in ${SMMU} unnamed-gpio-in 0 1`,
        "set_irq_in /machine/nope unnamed-gpio-in 0 1",
      ),
      [
        `FAIL set_irq_in: ${GIC} has no input 288 in unnamed-gpio-in`,
        `FAIL set_irq_in: ${GIC} has no input 0 in sysbus-irq`,
        `FAIL set_irq_in: ${SMMU} has no input 0 in unnamed-gpio-in`,
        "FAIL Unknown device",
      ],
    );
  });

  it("follows -smp and the SMMUv3's id: the GIC after the vCPUs, the SMMUv3 under its name", () => {
    const { run } = session({ cpus: 2, smmu: "/machine/peripheral/smmu0" });
    assert.deepEqual(run(`set_irq_in ${GIC} unnamed-gpio-in 0 1`), [
      `FAIL set_irq_in: ${GIC} has no input 0 in unnamed-gpio-in`,
    ]);
    assert.deepEqual(run("set_irq_in /machine/unattached/device[2] unnamed-gpio-in 319 1"), ["OK"]);
    assert.deepEqual(run(`irq_intercept_out ${SMMU} sysbus-irq`), ["FAIL Unknown device"]);
    assert.deepEqual(run("irq_intercept_out /machine/peripheral/smmu0 sysbus-irq"), ["OK"]);
  });
});
