// What the browser tests read off a run or replay report, through the page contract only
// (the ids, classes and data attributes the report promises, and window.cmdqvReport),
// never through the report's embedded JSON.

import type { Page } from "playwright-core";

// The page's globals, as far as the functions that run in the page use them (the
// project's lib has no DOM; these declarations are local to this module).
interface PageElement {
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
}
declare const document: { querySelector(selector: string): PageElement | null };
declare const window: {
  readonly cmdqvReport: ReportHook;
  readonly innerWidth: number;
  readonly innerHeight: number;
  readonly scrollX: number;
  readonly scrollY: number;
  scrollTo(x: number, y: number): void;
};

/** The sections every run or replay report has. */
export const RUN_SECTIONS = [
  "summary",
  "timeline",
  "details",
  "registers",
  "queues",
  "host-objects",
  "logs",
] as const;

/** The sections an exploration report has. */
export const EXPLORE_SECTIONS = [
  "explore-table",
  "explore-counts",
  "states-chart",
  "counterexamples",
] as const;

/** The ids among `ids` with no `<section id=…>` holding an `<h2>`. */
export async function sectionsMissing(page: Page, ids: readonly string[]): Promise<string[]> {
  return page.evaluate(
    (want) => want.filter((id) => document.querySelector(`section#${id} h2`) === null),
    [...ids],
  );
}

/** A verdict row of #verdicts. */
export interface VerdictRow {
  readonly name: string;
  readonly ok: string | null;
  readonly step: string | null;
  readonly text: string;
}

export async function verdictRows(page: Page): Promise<VerdictRow[]> {
  return page.$$eval("#verdicts tr[data-invariant]", (rows) =>
    rows.map((r) => ({
      name: r.getAttribute("data-invariant") ?? "",
      ok: r.getAttribute("data-ok"),
      step:
        r.getAttribute("data-step") ??
        r.querySelector("[data-step]")?.getAttribute("data-step") ??
        null,
      text: (r as PageElement).textContent ?? "",
    })),
  );
}

/** window.cmdqvReport's event count and event i, as the page gives them. */
export interface PageEvent {
  readonly name: string;
  readonly t: number;
  readonly lane: string;
}

interface ReportHook {
  eventCount(): number;
  eventAt(i: number): PageEvent;
  positionOf(i: number): { x: number; y: number } | null;
  select(i: number): void;
}

/** How many events the timeline holds, how many are drawn at the current zoom, and lanes. */
export async function timelineCounts(
  page: Page,
): Promise<{ events: number; drawn: number; lanes: string[] }> {
  return page.evaluate(() => {
    const r = window.cmdqvReport;
    const n = r.eventCount();
    let drawn = 0;
    const lanes = new Set<string>();
    for (let i = 0; i < n; i++) {
      if (r.positionOf(i) !== null) drawn++;
      lanes.add(r.eventAt(i).lane);
    }
    return { events: n, drawn, lanes: [...lanes] };
  });
}

/**
 * Up to `want` events drawn at the current zoom that a click can hit unambiguously (no
 * other drawn event of another name within `radius` pixels), spread over the timeline:
 * their indices.
 */
export async function clickableEvents(page: Page, want: number, radius = 6): Promise<number[]> {
  return page.evaluate(
    ([want, radius]) => {
      const r = window.cmdqvReport;
      const n = r.eventCount();
      const drawn: { i: number; x: number; y: number; name: string }[] = [];
      for (let i = 0; i < n; i++) {
        const p = r.positionOf(i);
        if (p) drawn.push({ i, x: p.x, y: p.y, name: r.eventAt(i).name });
      }
      // A grid of cells `radius` wide: neighbours are in the 3×3 cells around. (No named
      // helper functions in page code: tsx's esbuild wraps them in a __name the page lacks.)
      const grid = new Map<string, typeof drawn>();
      for (const d of drawn) {
        const k = `${Math.floor(d.x / radius)},${Math.floor(d.y / radius)}`;
        const list = grid.get(k) ?? [];
        list.push(d);
        grid.set(k, list);
      }
      const alone = drawn.filter((d) => {
        for (let gx = -1; gx <= 1; gx++)
          for (let gy = -1; gy <= 1; gy++)
            for (const o of grid.get(
              `${Math.floor(d.x / radius) + gx},${Math.floor(d.y / radius) + gy}`,
            ) ?? [])
              if (o.name !== d.name && Math.hypot(o.x - d.x, o.y - d.y) < radius) return false;
        return true;
      });
      if (alone.length <= want) return alone.map((d) => d.i);
      const picked: number[] = [];
      for (let k = 0; k < want; k++)
        picked.push(alone[Math.floor((k * (alone.length - 1)) / Math.max(1, want - 1))]!.i);
      return [...new Set(picked)];
    },
    [want, radius] as const,
  );
}

/** Event i as the page describes it. */
export async function eventAt(page: Page, i: number): Promise<PageEvent> {
  return page.evaluate((i) => window.cmdqvReport.eventAt(i), i);
}

/** Click event i's mark where positionOf says it is (scrolled into view); #details' text after. */
export async function clickEvent(page: Page, i: number): Promise<string> {
  const at = await page.evaluate((i) => {
    const r = window.cmdqvReport;
    const p = r.positionOf(i);
    if (p === null) return null;
    window.scrollTo(
      Math.max(0, p.x - window.innerWidth / 2),
      Math.max(0, p.y - window.innerHeight / 2),
    );
    return { x: p.x - window.scrollX, y: p.y - window.scrollY };
  }, i);
  if (at === null) throw new Error(`event ${i} is not drawn`);
  await page.mouse.click(at.x, at.y);
  return page.$eval("#details", (d) => (d as PageElement).textContent ?? "");
}

/** A ring of #queues as its attributes give it. */
export interface RingOnPage {
  readonly queue: number;
  readonly prod: number;
  readonly cons: number;
  readonly base: string | null;
  readonly log2size: number | null;
  readonly picture: boolean;
}

export async function ringsOnPage(page: Page): Promise<RingOnPage[]> {
  return page.$$eval("#queues .ring[data-queue]", (rings) =>
    rings.map((r) => {
      const log2 = r.getAttribute("data-log2size");
      return {
        queue: Number(r.getAttribute("data-queue") || Number.NaN),
        prod: Number(r.getAttribute("data-prod") || Number.NaN),
        cons: Number(r.getAttribute("data-cons") || Number.NaN),
        base: r.getAttribute("data-base"),
        log2size: log2 === null || log2 === "" ? null : Number(log2),
        picture: r.querySelector("svg, canvas") !== null,
      };
    }),
  );
}

/** The replay's steps (#steps ol > li.step): text and whether each is the violating one. */
export async function stepsOnPage(page: Page): Promise<{ text: string; violating: boolean }[]> {
  return page.$$eval("#steps ol > li.step", (items) =>
    items.map((li) => ({
      text: (li as PageElement).textContent ?? "",
      violating: li.classList.contains("violating"),
    })),
  );
}

/** The host object ids #host-objects has a row for. */
export async function objectIdsOnPage(page: Page): Promise<number[]> {
  return page.$$eval("#host-objects tr[data-object-id]", (rows) =>
    rows.map((r) => Number(r.getAttribute("data-object-id"))),
  );
}

/** The visible text of #logs after typing `filter` into input#log-filter. */
export async function logsFiltered(page: Page, filter: string): Promise<string> {
  await page.fill("input#log-filter", filter);
  return shownText(page, "#logs");
}

/** Whether an element matching `selector` is visible, with its text. */
export async function visibleText(page: Page, selector: string): Promise<string | null> {
  const el = await page.$(selector);
  if (el === null || !(await el.isVisible())) return null;
  return shownText(page, selector);
}

/** The text of `selector` as rendered: what is hidden (a filtered-out line) is not in it. */
function shownText(page: Page, selector: string): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point
  return page.locator(selector).innerText();
}

/**
 * Two drawn events near the middle of the timeline, apart on it, and how far apart (page
 * x); null when fewer than two are drawn there.
 */
export async function middlePair(page: Page): Promise<{ a: number; b: number } | null> {
  return page.evaluate(() => {
    const r = window.cmdqvReport;
    const drawn: { i: number; x: number }[] = [];
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < r.eventCount(); i++) {
      const p = r.positionOf(i);
      if (p === null) continue;
      drawn.push({ i, x: p.x });
      lo = Math.min(lo, p.x);
      hi = Math.max(hi, p.x);
    }
    const mid = (lo + hi) / 2;
    drawn.sort((u, v) => Math.abs(u.x - mid) - Math.abs(v.x - mid));
    const a = drawn[0];
    const b = drawn.find((d) => Math.abs(d.x - (a?.x ?? 0)) >= 4);
    return a === undefined || b === undefined ? null : { a: a.i, b: b.i };
  });
}

/** Event i's page x at the current zoom, null when it is not drawn. */
export async function xOf(page: Page, i: number): Promise<number | null> {
  return page.evaluate((i) => window.cmdqvReport.positionOf(i)?.x ?? null, i);
}

/** The names of the rows #registers marks changed (since the previous step). */
export async function changedRegisters(page: Page): Promise<string[]> {
  return page.$$eval("#registers tr[data-reg].changed", (rows) =>
    rows.map((r) => (r as PageElement).getAttribute("data-reg") ?? ""),
  );
}
