// `npm run report:screenshots`: pictures of the HTML reports for the README and docs/,
// taken in Debian's chromium. The default run's report as it opens, and Case 2's
// (scenarios/review-case2.yaml, qemu-v5) with the failed IOMMU_HW_QUEUE_ALLOC clicked on
// the timeline and its details shown, and its VCMDQ rings; saved as docs/images/report-*.png.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { closeChromium, launchChromium, openReport, watchedPage } from "../test-browser/browser.js";
import { CASE2, DEFAULT_RUN, REPO, runReport, tempDir } from "../test-browser/report-kit.js";
import { clickableEvents, clickEvent, eventAt } from "../test-browser/run-report-checks.js";

export const IMAGES = "docs/images";
const VIEWPORT = { width: 1400, height: 900 };

/** The first drawn event whose name matches `want`, else any event a click can hit. */
async function eventToClick(page: Page, want: RegExp): Promise<number> {
  const candidates = await clickableEvents(page, 400);
  for (const i of candidates) if (want.test((await eventAt(page, i)).name)) return i;
  const any = candidates[0];
  if (any === undefined) throw new Error("no event on the timeline a click can hit");
  return any;
}

async function shoot(page: Page, name: string, selector?: string): Promise<string> {
  const path = join(REPO, IMAGES, `report-${name}.png`);
  if (selector === undefined) await page.screenshot({ path });
  else await page.locator(selector).screenshot({ path });
  return `${IMAGES}/report-${name}.png`;
}

async function main(): Promise<void> {
  mkdirSync(join(REPO, IMAGES), { recursive: true });
  const tmp = tempDir("screenshots");
  const b = await launchChromium();
  const saved: string[] = [];
  try {
    for (const c of [DEFAULT_RUN, CASE2]) {
      const r = runReport(tmp.dir, c);
      if (r.status !== 0 && r.status !== 1)
        throw new Error(`cmdqv run ${c.args.join(" ")} --report exited ${r.status}: ${r.stderr}`);
      const w = await watchedPage(b.browser);
      await w.page.setViewportSize(VIEWPORT);
      await openReport(w.page, r.file);
      if (c === DEFAULT_RUN) saved.push(await shoot(w.page, "default"));
      else {
        const i = await eventToClick(w.page, /HW_QUEUE_ALLOC/);
        await clickEvent(w.page, i);
        saved.push(await shoot(w.page, "case2-event"));
        saved.push(await shoot(w.page, "case2-queues", "#queues"));
      }
      if (w.errors.length > 0) throw new Error(`${c.name}'s report: ${w.errors.join("; ")}`);
      await w.page.close();
    }
  } finally {
    await closeChromium(b);
    tmp.remove();
  }
  for (const s of saved) console.log(`wrote ${s}`);
}

await main().catch((e: Error) => {
  console.error(`report:screenshots: ${e.message}`);
  process.exit(1);
});
