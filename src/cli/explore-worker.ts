// A worker thread of `cmdqv explore --jobs N`: explores one shard of the ordering space
// (the subtrees of first choices ≡ shard mod N) and posts its result back.

import { parentPort, workerData } from "node:worker_threads";
import { type ExploreOptions, explore } from "../explore/explorer.js";

const opts = workerData as ExploreOptions;
const result = explore(opts, (p) => parentPort?.postMessage({ kind: "progress", p }));
parentPort?.postMessage({ kind: "result", result });
