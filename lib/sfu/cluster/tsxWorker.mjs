// The forwarding worker's entry when the SFU runs from TypeScript sources (tests, `npm run dev`):
// Node 20 does not hand the parent's tsx hooks to a worker, so the worker registers them itself.
import { register } from "tsx/esm/api";

register();
await import("./worker.ts");
