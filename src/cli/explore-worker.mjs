// Worker-thread bootstrap: Node 20 does not pass the main thread's tsx loader hooks to
// workers, so register tsx here before loading the TypeScript worker.
import { register } from "tsx/esm/api";

register();
await import("./explore-worker.ts");
