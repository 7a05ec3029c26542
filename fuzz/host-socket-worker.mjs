// Worker-thread bootstrap for the host-socket fuzzer: Node 20 does not pass the main
// thread's tsx loader hooks to workers, so register tsx here before loading the worker.
import { register } from "tsx/esm/api";

register();
await import("./host-socket-worker.ts");
