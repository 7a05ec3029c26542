// Debian's chromium, driven by playwright-core (never a downloaded browser): where it is,
// how it is launched headless, and a page that records every console error and uncaught
// exception. Every chromium process a launch starts carries a tag in its environment, so
// a test can ask whether any of them outlived the browser's close.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";

/** The one line a missing chromium gives. */
export const NO_CHROMIUM =
  "no chromium found (CMDQV_CHROMIUM, /usr/bin/chromium, chromium-browser on PATH): install Debian's chromium: apt-get install chromium";

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() === true;
}

/**
 * The chromium to drive: $CMDQV_CHROMIUM when set (it must exist), else /usr/bin/chromium,
 * else chromium-browser on PATH; null when there is none.
 */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | null {
  const given = env["CMDQV_CHROMIUM"];
  if (given !== undefined && given !== "") return isFile(given) ? given : null;
  if (isFile("/usr/bin/chromium")) return "/usr/bin/chromium";
  for (const dir of (env["PATH"] ?? "").split(":")) {
    if (dir === "") continue;
    const p = `${dir}/chromium-browser`;
    if (isFile(p)) return p;
  }
  return null;
}

/** The environment variable every chromium process of a launch carries. */
const TAG_VAR = "CMDQV_BROWSER_TAG";
let launches = 0;

/** A launched browser and the tag its processes carry. */
export interface LaunchedBrowser {
  readonly browser: Browser;
  readonly tag: string;
  readonly executable: string;
}

/** Launch chromium headless; throws Error(NO_CHROMIUM) when there is none. */
export async function launchChromium(
  env: NodeJS.ProcessEnv = process.env,
): Promise<LaunchedBrowser> {
  const executable = findChromium(env);
  if (executable === null) throw new Error(NO_CHROMIUM);
  const tag = `${process.pid}-${++launches}`;
  const root = process.getuid?.() === 0;
  const browser = await chromium.launch({
    executablePath: executable,
    headless: true,
    // chromium refuses to run as root with its sandbox.
    args: root ? ["--no-sandbox"] : [],
    env: { ...env, [TAG_VAR]: tag },
  });
  return { browser, tag, executable };
}

/**
 * The live (not zombie) processes whose environment carries `tag`: the chromium processes
 * of one launch. Processes we cannot read (another user's) are not ours.
 */
export function processesTagged(tag: string): number[] {
  const want = `${TAG_VAR}=${tag}`;
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (state === "Z" || state === "X") continue;
      const environ = readFileSync(`/proc/${name}/environ`, "latin1");
      if (environ.split("\0").includes(want)) found.push(Number(name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/**
 * A page with what went wrong on it: console errors and uncaught exceptions, in order; and
 * every URL it requested (data: and blob: URLs, which stay in the page, left out).
 */
export interface WatchedPage {
  readonly page: Page;
  readonly errors: string[];
  readonly requests: string[];
}

/** A new page in `browser` that records its console errors, page errors and requests. */
export async function watchedPage(browser: Browser): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("request", (r) => {
    if (!/^(?:data|blob):/.test(r.url())) requests.push(r.url());
  });
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console.error: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  return { page, errors, requests };
}

/**
 * Open an HTML file from disk and wait until the report says it has rendered
 * (body[data-ready=true]); returns the milliseconds from navigation to ready.
 */
export async function openReport(page: Page, file: string, timeoutMs = 60_000): Promise<number> {
  const t0 = performance.now();
  await page.goto(pathToFileURL(file).href, { waitUntil: "load", timeout: timeoutMs });
  await page.waitForSelector('body[data-ready="true"]', { state: "attached", timeout: timeoutMs });
  return performance.now() - t0;
}

/**
 * Close the browser and wait for its processes to end (a renderer may outlive the browser
 * process by a moment); the ones still running after `graceMs`, none when all went.
 */
export async function closeChromium(b: LaunchedBrowser, graceMs = 10_000): Promise<number[]> {
  await b.browser.close();
  for (let waited = 0; ; waited += 50) {
    const left = processesTagged(b.tag);
    if (left.length === 0 || waited >= graceMs) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Run `fn` with a fresh headless chromium, closed afterwards whatever happens; then check
 * that none of its processes remains (throws if one does, naming them).
 */
export async function withChromium<T>(fn: (b: LaunchedBrowser) => Promise<T>): Promise<T> {
  const launched = await launchChromium();
  let result: T;
  try {
    result = await fn(launched);
  } finally {
    // fn's own failure, if any, goes on up; a clean fn's is checked below.
    const left = await closeChromium(launched);
    if (left.length > 0) console.error(`chromium processes left after close: ${left.join(", ")}`);
  }
  const left = processesTagged(launched.tag);
  if (left.length > 0) throw new Error(`chromium processes left after close: ${left.join(", ")}`);
  return result;
}
