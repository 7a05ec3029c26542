// The default run's HTML report (`cmdqv run --report FILE`): its size, and how long Debian's
// chromium takes to open it from disk, from navigation to body[data-ready=true] (the page's
// own "rendered" mark), over several loads, each in a fresh page.

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  closeChromium,
  findChromium,
  launchChromium,
  NO_CHROMIUM,
  openReport,
} from "../test-browser/browser.js";
import { type Spread, single, spread } from "./stats.js";

export const REPORT_FIGURES = [
  { name: "report_default_size_mb", unit: "MB" },
  { name: "report_default_load_ms", unit: "ms" },
] as const;

/** Loads timed; the median of an odd count is one of them. */
export const REPORT_LOADS = 7;

const REPO = fileURLToPath(new URL("..", import.meta.url));

/**
 * The figures, or why they could not be taken (no chromium, or the report not written):
 * the size even when only the load cannot be timed, as `partial`.
 */
export async function reportFigures(): Promise<
  | { readonly figures: Record<string, Spread> }
  | { readonly skipped: string; readonly partial: Record<string, Spread> }
> {
  const dir = mkdtempSync(join(tmpdir(), "cmdqv-bench-report-"));
  try {
    const file = join(dir, "default.html");
    const r = spawnSync(process.execPath, [join(REPO, "bin/cmdqv.js"), "run", "--report", file], {
      cwd: REPO,
      encoding: "utf8",
      maxBuffer: 64 * 2 ** 20,
    });
    const size = statSync(file, { throwIfNoEntry: false })?.size;
    if (size === undefined) {
      const why = r.stderr.trim().split("\n")[0] ?? `exit ${r.status}`;
      return { skipped: `cmdqv run --report wrote no report (${why})`, partial: {} };
    }
    const sizeMb = Math.round((size / 2 ** 20) * 100) / 100;
    if (findChromium() === null)
      return { skipped: NO_CHROMIUM, partial: { report_default_size_mb: single(sizeMb) } };
    const b = await launchChromium();
    const times: number[] = [];
    try {
      for (let i = 0; i < REPORT_LOADS; i++) {
        const page = await b.browser.newPage();
        times.push(await openReport(page, file));
        await page.close();
      }
    } finally {
      await closeChromium(b);
    }
    return {
      figures: {
        report_default_size_mb: single(sizeMb),
        report_default_load_ms: spread(times, Math.round),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
