// One headless chromium for a browser test file: launched before its tests, closed after
// them, and the file fails if any of its processes outlives the close.

import assert from "node:assert/strict";
import { after, before } from "node:test";
import type { Browser } from "playwright-core";
import { closeChromium, type LaunchedBrowser, launchChromium } from "./browser.js";

/** Register the hooks; the browser, once the first test runs. */
export function chromiumForTests(): () => Browser {
  let launched: LaunchedBrowser | undefined;
  before(async () => {
    launched = await launchChromium();
  });
  after(async () => {
    if (launched === undefined) return;
    assert.deepEqual(await closeChromium(launched), [], "chromium processes left after the tests");
  });
  return () => launched?.browser ?? assert.fail("chromium was not launched");
}
