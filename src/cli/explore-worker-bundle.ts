// The code of `cmdqv explore --jobs N`'s worker threads: explore-worker.ts and all it
// imports as one ES module, bundled by esbuild. A thread starts on it in milliseconds,
// where registering tsx in the thread and compiling every module again took half a
// second. The bundle is kept in node_modules/.cache/cmdqv/, named by a hash of esbuild's
// version and of the sources it was made from (as esbuild read them), so a later run
// whose sources hash the same loads it without bundling; where that directory cannot be
// written, each process bundles once, in memory.

import { createHash } from "node:crypto";
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Plugin, version } from "esbuild";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ENTRY = fileURLToPath(new URL("./explore-worker.ts", import.meta.url));
const CACHE = join(ROOT, "node_modules", ".cache", "cmdqv");
/** The sources of the last bundle kept, and their hash (the bundle's name). */
const record = (dir: string) => join(dir, "explore-worker.json");

interface BundleRecord {
  readonly files: readonly string[];
  readonly hash: string;
}

const bundleFile = (dir: string, hash: string) => join(dir, `explore-worker-${hash}.mjs`);

/** esbuild's version and each file (relative to the package) with its bytes, in order. */
function hashOf(files: readonly string[], read: (f: string) => Buffer): string {
  const h = createHash("sha256").update(version);
  for (const f of files) h.update(`\0${f}\0`).update(read(f));
  return h.digest("hex").slice(0, 16);
}

/** The kept bundle, if its sources are still what it was made from. */
function keptBundle(dir: string): URL | undefined {
  try {
    const r = JSON.parse(readFileSync(record(dir), "utf8")) as BundleRecord;
    if (hashOf(r.files, (f) => readFileSync(join(ROOT, f))) !== r.hash) return undefined;
    if (!statSync(bundleFile(dir, r.hash)).isFile()) return undefined;
    return pathToFileURL(bundleFile(dir, r.hash));
  } catch {
    return undefined;
  }
}

/** Writes `data` to `path` through a temporary file, so no reader sees half of it. */
function writeWhole(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Keep the bundle for later runs (and drop the ones made from older sources). */
function keep(dir: string, js: Uint8Array, r: BundleRecord): URL | undefined {
  try {
    mkdirSync(dir, { recursive: true });
    writeWhole(bundleFile(dir, r.hash), js);
    writeWhole(record(dir), JSON.stringify(r));
    const mine = `explore-worker-${r.hash}.mjs`;
    for (const f of readdirSync(dir))
      if (f.startsWith("explore-worker-") && f.endsWith(".mjs") && f !== mine)
        rmSync(join(dir, f), { force: true });
    return pathToFileURL(bundleFile(dir, r.hash));
  } catch {
    return undefined;
  }
}

async function makeBundle(dir: string): Promise<URL> {
  // The sources as esbuild reads them: the hash is of exactly what was bundled.
  const read = new Map<string, Buffer>();
  const recordInputs: Plugin = {
    name: "record-inputs",
    setup(b) {
      b.onLoad({ filter: /\.[cm]?[jt]s$/ }, (args) => {
        const bytes = readFileSync(args.path);
        read.set(relative(ROOT, args.path), bytes);
        return { contents: bytes, loader: args.path.endsWith("ts") ? "ts" : "js" };
      });
    },
  };
  const out = await build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: "esm",
    platform: "node",
    target: "node20",
    legalComments: "none",
    logLevel: "silent",
    absWorkingDir: ROOT,
    plugins: [recordInputs],
  });
  const js = out.outputFiles[0]?.contents;
  if (js === undefined) throw new Error("explore: esbuild gave no worker bundle");
  const files = [...read.keys()].sort();
  const kept = keep(dir, js, { files, hash: hashOf(files, (f) => read.get(f)!) });
  return kept ?? new URL(`data:text/javascript;base64,${Buffer.from(js).toString("base64")}`);
}

/**
 * The worker's module from `dir`: the bundle kept there if its sources are unchanged, else
 * one made now (and kept there, if it can be written; else a data: URL).
 */
export async function workerBundle(dir: string): Promise<URL> {
  return keptBundle(dir) ?? makeBundle(dir);
}

let bundle: Promise<URL> | undefined;

/** The worker's module, from node_modules/.cache/cmdqv (looked up once per process). */
export function exploreWorkerModule(): Promise<URL> {
  bundle ??= workerBundle(CACHE);
  return bundle;
}
