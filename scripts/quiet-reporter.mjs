// A node:test reporter for `npm test`: nothing for a test that passes, each failing test in
// full (its suites and name, file:line:col, the error with its stack and diff), then the
// output of the files that failed, the list of failures again in one line each, and the
// counts. On a terminal a status line counts the tests as they finish.
//
//   node --test --test-reporter=./scripts/quiet-reporter.mjs …   (scripts/run-tests.mjs)

import { relative } from "node:path";
import { inspect } from "node:util";

const tty = process.stdout.isTTY === true;
const CLEAR = "\r\x1b[2K";

/** A path as the reader typed it: relative to the working directory when inside it. */
function shortPath(file) {
  if (!file) return "?";
  const r = relative(process.cwd(), file);
  return r.startsWith("..") ? file : r;
}

function where(d) {
  return `${shortPath(d.file)}${d.line ? `:${d.line}:${d.column ?? 1}` : ""}`;
}

/** The error a failing test threw: the runner wraps it (ERR_TEST_FAILURE) with the cause. */
function errorText(error) {
  if (error === undefined) return "(no error)";
  const inner =
    error?.code === "ERR_TEST_FAILURE" && error.cause !== undefined ? error.cause : error;
  const text =
    inner instanceof Error
      ? (inner.stack ?? `${inner.name}: ${inner.message}`)
      : typeof inner === "string"
        ? inner
        : inspect(inner, { depth: 6 });
  // A file that could not run (a syntax or import error) says how its process ended.
  const exit =
    error?.exitCode === undefined
      ? ""
      : `\n(the test file exited with code ${error.exitCode}${error.signal ? `, signal ${error.signal}` : ""})`;
  return text + exit;
}

const indent = (text, by) =>
  text
    .split("\n")
    .map((l) => (l === "" ? l : by + l))
    .join("\n");

export default async function* quietReporter(source) {
  /** Per file: the names of the tests open at each nesting level. */
  const open = new Map();
  /** Per file: its stdout and stderr, shown if the file has a failure. */
  const output = new Map();
  const failed = [];
  const failedFiles = new Set();
  const counts = { pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 };
  const totals = new Map();
  let statusShown = false;

  const status = () => {
    const done = counts.pass + counts.fail + counts.skipped + counts.todo;
    statusShown = true;
    return `${CLEAR}${done} tests, ${counts.fail} failed`;
  };
  const clearStatus = () => {
    if (!statusShown) return "";
    statusShown = false;
    return CLEAR;
  };

  for await (const event of source) {
    const d = event.data;
    switch (event.type) {
      case "test:start": {
        const stack = open.get(d.file) ?? [];
        stack.length = d.nesting;
        stack.push(d.name);
        open.set(d.file, stack);
        break;
      }
      case "test:pass": {
        if (d.details?.type === "suite") break;
        if (d.skip !== undefined) counts.skipped++;
        else if (d.todo !== undefined) counts.todo++;
        else counts.pass++;
        if (tty && (counts.pass + counts.skipped + counts.todo) % 25 === 0) yield status();
        break;
      }
      case "test:fail": {
        const error = d.details?.error;
        // A suite fails when a test in it does: that test is reported on its own.
        if (error?.failureType === "subtestsFailed") break;
        // A file that failed as a whole is named by its path: shown as the reader gave it.
        const name = d.name === d.file ? shortPath(d.file) : d.name;
        const path = [...(open.get(d.file) ?? []).slice(0, d.nesting), name].join(" › ");
        if (error?.failureType === "cancelledByParent") {
          counts.cancelled++;
          failed.push(`cancelled ${path} (${where(d)})`);
          break;
        }
        counts.fail++;
        failedFiles.add(d.file);
        failed.push(`✗ ${path} (${where(d)})`);
        yield `${clearStatus()}✗ ${path}\n  ${where(d)}\n${indent(errorText(error), "  ")}\n\n`;
        break;
      }
      case "test:stdout":
      case "test:stderr": {
        const lines = output.get(d.file) ?? [];
        lines.push(d.message);
        output.set(d.file, lines);
        break;
      }
      case "test:diagnostic": {
        const m = d.nesting === 0 ? /^(\w+) ([\d.]+)$/.exec(d.message) : null;
        if (m) totals.set(m[1], Number(m[2]));
        break;
      }
      default:
        break;
    }
  }

  let out = clearStatus();
  for (const file of failedFiles) {
    const lines = output.get(file);
    if (lines && lines.length > 0)
      out += `output of ${shortPath(file)}:\n${indent(lines.join("").trimEnd(), "  ")}\n\n`;
  }
  if (failed.length > 0) out += `${failed.join("\n")}\n\n`;
  const seconds = ((totals.get("duration_ms") ?? 0) / 1000).toFixed(1);
  const tests = totals.get("tests") ?? counts.pass + counts.fail + counts.skipped + counts.todo;
  const parts = [`${tests} tests`, `${counts.pass} passed`, `${counts.fail} failed`];
  for (const k of ["cancelled", "skipped", "todo"])
    if (counts[k] > 0) parts.push(`${counts[k]} ${k}`);
  out += `${counts.fail > 0 || counts.cancelled > 0 ? "FAIL" : "ok"}: ${parts.join(", ")} (${seconds} s)\n`;
  yield out;
}
