// The shell every cmdqv report page shares (the run/replay report and the exploration
// report): one self-contained HTML document — no network, styles and scripts inline, the
// data embedded as JSON in `<script type="application/json" id="report-data">` — with a
// header, the common styles, and the `data-report` attribute the browser tests key on.
//
// API:
//   renderPage({ report: "run" | "explore", title, header, body, data, script, style? }): string
//   escapeHtml(text), attr(text)     text into HTML element content / attribute values
//   embedJson(data)                  JSON safe inside a <script> element
//   BASE_CSS                         the shared styles (tables, sections, badges, logs)
//   readReportData<T>()              (in the page) — see client/data.ts
//
// The page's script must set `document.body.dataset.ready = "true"` once it has rendered.

/** `&`, `<`, `>`, `"` and `'` as entities: text safe in element content and attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) =>
    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;",
  );
}

/** The same, named for attribute values. */
export const attr = escapeHtml;

/**
 * JSON that can sit inside `<script type="application/json">`: `<` is written `\u003c`
 * (so no `</script>` or `<!--` can end the element early), and U+2028/U+2029 escaped.
 */
export function embedJson(data: unknown): string {
  return JSON.stringify(data)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** A script's text inside `<script>`: `</script` cannot end it early. */
function inlineScript(js: string): string {
  return js.replace(/<\/(script)/gi, "<\\/$1");
}

/** The styles every report page shares. */
export const BASE_CSS = `
:root { --fg: #1d2327; --muted: #5f6b73; --bg: #fff; --panel: #f5f7f8; --line: #d9dee2;
  --ok: #1a7f37; --bad: #c62828; --warn: #b26a00; --accent: #1f5fbf; --sel: #ffe9a8;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 14px; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); }
header.report-header { padding: 12px 20px; border-bottom: 1px solid var(--line); background: var(--panel); }
header.report-header h1 { font-size: 18px; margin: 0 0 4px; }
header.report-header .sub { color: var(--muted); }
main { padding: 0 20px 40px; }
section { margin-top: 20px; }
section > h2 { font-size: 16px; margin: 0 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
code, .mono, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px; }
.ok { color: var(--ok); font-weight: 600; }
.bad { color: var(--bad); font-weight: 600; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px; background: var(--panel); border: 1px solid var(--line); }
.badge.bad { background: #fdecea; border-color: #f5c2c0; }
.badge.ok { background: #e8f5ec; border-color: #b7e0c2; }
.note { color: var(--muted); font-size: 13px; margin: 4px 0; }
a { color: var(--accent); }
`;

export interface PageParts {
  /** `data-report` on the body: "run" for run/replay reports, "explore" for explorations. */
  readonly report: "run" | "explore";
  readonly title: string;
  /** HTML of the header's content (under the title). */
  readonly header: string;
  /** HTML of the sections. */
  readonly body: string;
  /** The embedded data document. */
  readonly data: unknown;
  /** The page's script (plain JS, run after the document is parsed). */
  readonly script: string;
  /** Styles of this kind of page, after BASE_CSS. */
  readonly style?: string;
}

/** The whole page. */
export function renderPage(p: PageParts): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(p.title)}</title>
<style>${BASE_CSS}${p.style ?? ""}</style>
</head>
<body data-report="${p.report}">
<header class="report-header"><h1>${escapeHtml(p.title)}</h1>${p.header}</header>
<main>
${p.body}
</main>
<script type="application/json" id="report-data">${embedJson(p.data)}</script>
<script>${inlineScript(p.script)}</script>
</body>
</html>
`;
}
