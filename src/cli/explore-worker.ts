// A worker thread of `cmdqv explore --jobs N`: expands the chunks of the orderings search
// it is handed (each state's runs one step further) and posts the runs back; the main
// thread merges them in order (OrderingsSearch). It runs from one esbuild bundle of this
// file (explore-cmd.ts) and says when it is ready.

import { parentPort, workerData } from "node:worker_threads";
import { type ExploreOptions, expandItems, type SearchChunk } from "../explore/explorer.js";

const opts = workerData as ExploreOptions;
parentPort?.on("message", (c: SearchChunk) => {
  parentPort?.postMessage({ id: c.id, runs: expandItems(opts, c.items) });
});
parentPort?.postMessage({ ready: true });
