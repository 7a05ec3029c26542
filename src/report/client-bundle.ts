// The report pages' scripts: TypeScript under html/client/ (type-checked on its own with
// the DOM library: html/client/tsconfig.json), bundled into one inline script with esbuild
// when a page is written. esbuild is what tsx runs on, so it is always installed; a
// bundle takes a few tens of milliseconds and is made once per process.

import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";

/** The pages that have a script: html/client/<entry>.ts. */
export type ClientEntry = "run-report" | "explore-report";

const bundles = new Map<ClientEntry, string>();

/** The entry's script, bundled and minified (an IIFE: no globals but what it sets). */
export function bundleClient(entry: ClientEntry): string {
  const done = bundles.get(entry);
  if (done !== undefined) return done;
  const out = buildSync({
    entryPoints: [fileURLToPath(new URL(`./html/client/${entry}.ts`, import.meta.url))],
    bundle: true,
    write: false,
    format: "iife",
    minify: true,
    target: "es2020",
    platform: "browser",
    legalComments: "none",
    logLevel: "silent",
  });
  const js = out.outputFiles[0]?.text ?? "";
  bundles.set(entry, js);
  return js;
}
