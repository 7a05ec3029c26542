import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  formatPeerTable,
  type PeerColumns,
  type PeerRow,
  peerTableJson,
  ratioCell,
  spreadCell,
} from "./peers-table.js";
import { spread } from "./stats.js";

const all: PeerColumns = {
  qemu72: { title: "QEMU 7.2", short: "7.2", missing: null },
  qemu111: { title: "QEMU 11.1 on cmdqv's host", short: "11.1", missing: null },
  cmdqv: { title: "cmdqv", short: "cmdqv", missing: null },
};
const rows: PeerRow[] = [
  {
    key: "rtt",
    figure: "qtest round trips/s",
    values: {
      qemu72: spread([10_000, 9_000, 11_000]),
      qemu111: spread([4_000, 3_000, 5_000]),
      cmdqv: spread([20_000, 19_000, 21_000]),
    },
  },
  {
    key: "vcmdq",
    figure: "VCMDQ cmds/s",
    values: { qemu111: spread([1_000]), cmdqv: spread([50_000, 40_000, 60_000]) },
    note: "0.50× limit",
  },
];
/** The cells of a table line (columns are separated by two spaces or more). */
const cells = (line: string): string[] => line.trim().split(/ {2,}/);

describe("the bench:qemu peers table", () => {
  it("has one column per peer and one ratio column per QEMU, in that order", () => {
    const [header] = formatPeerTable(all, rows);
    assert.deepEqual(cells(header!), [
      "figure",
      "QEMU 7.2",
      "QEMU 11.1 on cmdqv's host",
      "cmdqv",
      "cmdqv/7.2",
      "cmdqv/11.1",
      "note",
    ]);
  });

  it("shows each median with its min–max and cmdqv's ratio to each QEMU's median", () => {
    const lines = formatPeerTable(all, rows);
    assert.deepEqual(cells(lines[2]!), [
      "qtest round trips/s",
      "10,000 (9,000–11,000)",
      "4,000 (3,000–5,000)",
      "20,000 (19,000–21,000)",
      "2.00×",
      "5.00×",
    ]);
    assert.deepEqual(cells(lines[3]!), [
      "VCMDQ cmds/s",
      "-",
      "1,000",
      "50,000 (40,000–60,000)",
      "-",
      "50.00×",
      "0.50× limit",
    ]);
  });

  it("right-aligns the number columns so the rows line up under the header", () => {
    const lines = formatPeerTable(all, rows);
    const end = (l: string, text: string) => l.indexOf(text) + text.length;
    const cmdqv = end(lines[0]!, " cmdqv ") - 1;
    assert.equal(end(lines[2]!, "20,000 (19,000–21,000)"), cmdqv);
    assert.equal(end(lines[3]!, "50,000 (40,000–60,000)"), cmdqv);
  });

  it("keeps a missing peer's column, says 'not run' in it, and gives the reason under the table", () => {
    const cols: PeerColumns = {
      ...all,
      qemu72: { ...all.qemu72, missing: "qemu-system-aarch64 cannot be run" },
    };
    const lines = formatPeerTable(cols, rows);
    assert.equal(cells(lines[0]!)[1], "QEMU 7.2*");
    for (const l of lines.slice(2, 4)) {
      assert.equal(cells(l)[1], "not run*", l);
      assert.equal(cells(l)[4], "-", "no ratio to a peer not run");
    }
    assert.equal(cells(lines[2]!)[5], "5.00×", "the other peer's ratio stays");
    assert.equal(lines.at(-1), "* QEMU 7.2 not run: qemu-system-aarch64 cannot be run");
  });

  it("marks two missing peers apart", () => {
    const cols: PeerColumns = {
      ...all,
      qemu72: { ...all.qemu72, missing: "not installed" },
      qemu111: { ...all.qemu111, missing: "not fetched" },
    };
    const lines = formatPeerTable(cols, rows);
    assert.deepEqual(cells(lines[2]!).slice(1, 3), ["not run*", "not run**"]);
    assert.deepEqual(lines.slice(-2), [
      "* QEMU 7.2 not run: not installed",
      "** QEMU 11.1 on cmdqv's host not run: not fetched",
    ]);
  });

  it("gives the same figures as JSON, with null for what is absent", () => {
    const cols: PeerColumns = { ...all, qemu72: { ...all.qemu72, missing: "not installed" } };
    const j = peerTableJson(cols, rows);
    assert.equal(j.peers.qemu72.missing, "not installed");
    assert.deepEqual(j.rows[1], {
      key: "vcmdq",
      figure: "VCMDQ cmds/s",
      qemu72: null,
      qemu111: spread([1_000]),
      cmdqv: spread([50_000, 40_000, 60_000]),
      ratio_cmdqv_qemu72: null,
      ratio_cmdqv_qemu111: 50,
      note: "0.50× limit",
    });
    assert.equal((j.rows[0] as Record<string, unknown>)["ratio_cmdqv_qemu72"], null);
  });

  it("formats a single round without a range and a ratio to nothing as '-'", () => {
    assert.equal(spreadCell(spread([1234.5])), "1,234.5");
    assert.equal(ratioCell(spread([1]), undefined), "-");
    assert.equal(ratioCell(spread([3]), spread([2])), "1.50×");
  });
});
