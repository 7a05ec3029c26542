// `npm run report:screenshots`: pictures of the HTML reports for the README and docs/,
// taken in Debian's chromium. The default run's report as it opens, and Case 2's
// (scenarios/review-case2.yaml, qemu-v5) with the failed IOMMU_HW_QUEUE_ALLOC clicked on
// the timeline and its details shown, and its VCMDQ rings; saved as docs/images/report-*.png.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { closeChromium, launchChromium, openReport, watchedPage } from "../test-browser/browser.js";
import { CASE2, DEFAULT_RUN, REPO, runReport, tempDir } from "../test-browser/report-kit.js";
import { clickableEvents, clickEvent } from "../test-browser/run-report-checks.js";

// The page's globals the functions run in it use (the project's lib has no DOM).
declare const window: {
  readonly cmdqvReport: {
    eventCount(): number;
    eventAt(i: number): { name: string };
    positionOf(i: number): { x: number; y: number } | null;
    select(i: number): void;
  };
  readonly scrollX: number;
  readonly scrollY: number;
  scrollBy(x: number, y: number): void;
};
declare const document: {
  querySelector(s: string): { getBoundingClientRect(): { top: number } } | null;
};

export const IMAGES = "docs/images";
const VIEWPORT = { width: 1400, height: 900 };

/**
 * The first event whose name matches `want`, zoomed in on (the wheel over its mark, so it
 * stays under the pointer) until its mark stands alone, then clicked.
 */
async function zoomAndClick(page: Page, want: RegExp): Promise<void> {
  const i = await page.evaluate((source) => {
    const r = window.cmdqvReport;
    const re = new RegExp(source);
    for (let k = 0; k < r.eventCount(); k++) if (re.test(r.eventAt(k).name)) return k;
    return -1;
  }, want.source);
  if (i < 0) throw new Error(`no event named ${want} on the timeline`);
  await page.evaluate((i) => window.cmdqvReport.select(i), i);
  await page.locator("#timeline").scrollIntoViewIfNeeded();
  for (let step = 0; step < 40; step++) {
    if ((await clickableEvents(page, 100_000)).includes(i)) break;
    const at = await page.evaluate((i) => {
      const p = window.cmdqvReport.positionOf(i);
      return p && { x: p.x - window.scrollX, y: p.y - window.scrollY };
    }, i);
    if (at === null) throw new Error(`event ${i} is not drawn`);
    await page.mouse.move(at.x, at.y);
    await page.mouse.wheel(0, -100);
  }
  await clickEvent(page, i);
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
        await zoomAndClick(w.page, /^IOMMU_HW_QUEUE_ALLOC$/);
        await w.page.evaluate(() => {
          const top = document.querySelector("#timeline")?.getBoundingClientRect().top ?? 0;
          window.scrollBy(0, top - 8);
        });
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
