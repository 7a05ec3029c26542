// The launcher the browser tests stand on: it finds Debian's chromium or says in one line
// how to get it, it sees the console errors and exceptions the report tests say are
// absent, and it leaves no chromium process behind.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  closeChromium,
  findChromium,
  launchChromium,
  NO_CHROMIUM,
  processesTagged,
  watchedPage,
  withChromium,
} from "./browser.js";

describe("the chromium launcher", () => {
  it("finds no chromium where CMDQV_CHROMIUM names a missing file, and says how to install one in one line", async () => {
    const env = { ...process.env, CMDQV_CHROMIUM: "/nonexistent/chromium" };
    assert.equal(findChromium(env), null);
    await assert.rejects(launchChromium(env), (e: Error) => {
      assert.equal(e.message, NO_CHROMIUM);
      assert.doesNotMatch(e.message, /\n/);
      assert.match(e.message, /apt-get install chromium/);
      return true;
    });
  });

  it("takes the chromium CMDQV_CHROMIUM names, and otherwise Debian's", () => {
    const found = findChromium({ PATH: process.env["PATH"] ?? "" });
    assert.ok(found !== null, NO_CHROMIUM);
    assert.equal(findChromium({ CMDQV_CHROMIUM: found, PATH: "" }), found);
  });

  it("records console errors and uncaught exceptions of a page", async () => {
    const errors = await withChromium(async ({ browser }) => {
      const w = await watchedPage(browser);
      await w.page.setContent(
        "<body><script>console.log('fine'); console.error('broken: 42');</script>" +
          "<button onclick=\"throw new Error('clicked wrong')\">b</button></body>",
      );
      await w.page.click("button");
      // The exception reaches playwright after the click returns: wait for it, no clock.
      for (let i = 0; i < 100 && w.errors.length < 2; i++) await w.page.evaluate(() => 0);
      return w.errors;
    });
    assert.deepEqual(errors, ["console.error: broken: 42", "uncaught: clicked wrong"]);
  });

  it("records every URL a page asks for, leaving out data: URLs", async () => {
    const requests = await withChromium(async ({ browser }) => {
      const w = await watchedPage(browser);
      await w.page.setContent(
        '<body><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><img src="http://127.0.0.1:9/x.png"></body>',
      );
      return w.requests;
    });
    assert.deepEqual(requests, ["http://127.0.0.1:9/x.png"]);
  });

  it("leaves no chromium process behind once closed", async () => {
    const b = await launchChromium();
    const page = await b.browser.newPage();
    await page.setContent("<p>x</p>");
    const running = processesTagged(b.tag);
    // The browser, its zygotes and a renderer at least: the tag finds them while they run.
    assert.ok(running.length >= 2, `tagged processes while running: ${running.join(", ")}`);
    assert.deepEqual(await closeChromium(b), []);
    for (const pid of running)
      assert.equal(processesTagged(b.tag).includes(pid), false, `pid ${pid} still runs`);
  });
});
