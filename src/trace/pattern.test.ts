import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  FilteredSink,
  globMatch,
  isTracePattern,
  TraceFilter,
  traceRule,
  unmatchedRuleWarnings,
} from "./pattern.js";
import type { TraceEvent } from "./trace.js";

/** The reference: the glob turned into an anchored regular expression. */
function reference(pattern: string, name: string): boolean {
  let re = "^";
  for (const c of pattern)
    re +=
      c === "*" ? "[\\s\\S]*" : c === "?" ? "[\\s\\S]" : c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`${re}$`, "u").test(name);
}

const alphabet = fc.constantFrom("a", "b", "_", "*", "?", ".", "[", "\\");
const nameChars = fc.constantFrom("a", "b", "_", ".", "[", "\\", "*", "?");

describe("trace patterns", () => {
  it("match as glib's g_pattern_match_simple: * any run, ? one character, the rest literal", () => {
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 10 }).map((a) => a.join("")),
        fc.array(nameChars, { maxLength: 12 }).map((a) => a.join("")),
        (p, n) => globMatch(p, n) === reference(p, n),
      ),
      { numRuns: 20_000 },
    );
  });

  it("match the event names a developer would expect", () => {
    assert.ok(globMatch("tegra241_cmdqv*", "tegra241_cmdqv_read_mmio"));
    assert.ok(globMatch("*_mmio", "smmuv3_write_mmio"));
    assert.ok(globMatch("smmuv3_?rite_mmio", "smmuv3_write_mmio"));
    assert.ok(!globMatch("smmuv3", "smmuv3_write_mmio"), "no implied trailing *");
    assert.ok(!globMatch("tegra241_cmdqv_read_mmi?", "tegra241_cmdqv_read_mmio_x"));
    assert.ok(globMatch("", ""));
    assert.ok(globMatch("***", ""));
    assert.ok(!globMatch("?", ""));
  });

  it("are globs only with a wildcard", () => {
    assert.equal(isTracePattern("smmuv3_*"), true);
    assert.equal(isTracePattern("smmuv3_?"), true);
    assert.equal(isTracePattern("smmuv3_write_mmio"), false);
  });

  it("apply in order: the last rule matching an event decides, a leading - disables", () => {
    const f = new TraceFilter(
      ["smmuv3_*", "-smmuv3_*_mmio", "smmuv3_read_mmio"].map((t) => traceRule(t)),
    );
    assert.deepEqual(
      f.select([
        "smmuv3_read_mmio",
        "smmuv3_write_mmio",
        "smmuv3_cmdq_opcode",
        "tegra241_cmdqv_read_mmio",
      ]),
      ["smmuv3_read_mmio", "smmuv3_cmdq_opcode"],
    );
    assert.equal(new TraceFilter([]).enabled("smmuv3_read_mmio"), false, "no rule, nothing on");
  });

  it("decide as applying each rule to every name in turn (QEMU's loop), whatever the rules", () => {
    const names = ["ab", "a_b", "b", "ba", "a", "_"];
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.boolean(),
            fc.array(fc.constantFrom("a", "b", "_", "*", "?"), { maxLength: 4 }),
          ),
          { maxLength: 6 },
        ),
        (spec) => {
          const rules = spec.map(([on, p]) => traceRule(`${on ? "" : "-"}${p.join("")}`));
          const state = new Map(names.map((n) => [n, false]));
          for (const r of rules)
            for (const n of names) if (reference(r.pattern, n)) state.set(n, r.enable);
          const f = new TraceFilter(rules);
          return names.every((n) => f.enabled(n) === state.get(n));
        },
      ),
    );
  });

  it("warn, in QEMU's words, about a name that does not exist, and about a glob that matches nothing", () => {
    const names = ["smmuv3_read_mmio", "tegra241_cmdqv_read_mmio"];
    const rules = [
      traceRule("smmuv3_read_mmio"),
      traceRule("smmuv3_raed_mmio"),
      traceRule("-tegra*"),
      traceRule("vfio_*"),
      traceRule("iommufd_x", "events.txt:3"),
    ];
    assert.deepEqual(unmatchedRuleWarnings(rules, names), [
      "warning: trace event 'smmuv3_raed_mmio' does not exist",
      "warning: trace pattern 'vfio_*' matches no event",
      "events.txt:3: warning: trace event 'iommufd_x' does not exist",
    ]);
  });

  it("let a sink see only the events the filter turns on", () => {
    const got: string[] = [];
    const sink = new FilteredSink(new TraceFilter([traceRule("*_mmio")]), {
      event: (e) => got.push(e.name),
    });
    const ev = (name: string): TraceEvent => ({ t: 0, actor: "x", name, args: {} });
    for (const n of ["smmuv3_read_mmio", "smmuv3_cmdq_opcode", "tegra241_cmdqv_write_mmio"])
      sink.event(ev(n));
    assert.deepEqual(got, ["smmuv3_read_mmio", "tegra241_cmdqv_write_mmio"]);
  });
});
