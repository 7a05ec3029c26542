// The exploration report page's script (bundled into the page by src/report/client-bundle.ts).
// The sections are HTML already (src/report/explore-report-html.ts); this adds what needs
// a browser: a counterexample's run report goes into its iframe when its panel opens (the
// page loads one page at first, not one per counterexample), it opens in a tab of its
// own from a blob (nothing is fetched), and the chart's x axis switches between paths and
// wall time.

import type { ExploreReportData } from "../../explore-report-data.js";

const dataEl = document.getElementById("report-data");
const data = JSON.parse(dataEl?.textContent ?? "{}") as ExploreReportData;

/** The run report of counterexample `i` (the attribute's value), or null. */
function runReportOf(i: string | undefined): string | null {
  const c = data.counterexamples[Number(i)];
  return c === undefined ? null : c.runReport;
}

for (const details of document.querySelectorAll<HTMLDetailsElement>("details.run-report")) {
  details.addEventListener("toggle", () => {
    if (!details.open) return;
    const frame = details.querySelector("iframe");
    const html = runReportOf(details.dataset.ce);
    if (frame !== null && html !== null && !frame.hasAttribute("srcdoc")) frame.srcdoc = html;
  });
}

for (const button of document.querySelectorAll<HTMLButtonElement>("button.open-tab")) {
  button.addEventListener("click", () => {
    const html = runReportOf(button.dataset.ce);
    if (html === null) return;
    const url = URL.createObjectURL(new Blob([html], { type: "text/html" }));
    window.open(url, "_blank", "noopener");
  });
}

const chart = document.getElementById("states-chart");
for (const button of chart?.querySelectorAll<HTMLButtonElement>(".chart-x button") ?? []) {
  button.addEventListener("click", () => {
    const x = button.dataset.x;
    for (const svg of chart?.querySelectorAll<SVGSVGElement>("svg[data-x]") ?? [])
      svg.toggleAttribute("hidden", svg.dataset.x !== x);
    for (const b of chart?.querySelectorAll<HTMLButtonElement>(".chart-x button") ?? [])
      b.setAttribute("aria-pressed", String(b === button));
  });
}

document.body.dataset.ready = "true";
