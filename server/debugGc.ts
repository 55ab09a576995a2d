import type { Logger } from "../lib/logger.js";

/** The signal the bench sends for a full collection before it reads RSS (`--expose-gc` only). */
export const DEBUG_GC_SIGNAL = "SIGUSR2";

/**
 * Lets a measuring tool ask for a full garbage collection with SIGUSR2, so that
 * memory per peer is read without garbage in it. Installed only when node was
 * started with `--expose-gc`, which the production command lines never pass:
 * elsewhere SIGUSR2 keeps its default action.
 * @returns whether the handler was installed
 */
export function installDebugGc(logger: Logger): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== "function") return false;
  process.on(DEBUG_GC_SIGNAL, () => {
    // Two passes: the first may leave finalizers whose objects only the second frees.
    gc();
    gc();
    logger.debug("full garbage collection on request", { heapUsed: process.memoryUsage().heapUsed });
  });
  return true;
}
