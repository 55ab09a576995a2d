import type { Logger } from "../lib/logger.js";
import type { Application } from "./app.js";

/**
 * Wires SIGTERM/SIGINT to a graceful drain (PROTOCOL §10) under a hard
 * timeout, and keeps stray errors from taking the process down: they are
 * logged and counted in /metrics.
 */
export function installShutdown(options: {
  application: Application;
  logger: Logger;
  timeoutMs: number;
}): void {
  const { application, logger, timeoutMs } = options;
  let shuttingDown = false;

  const shutdown = (signal: NodeJS.Signals) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info("shutting down", { signal });
    // PROTOCOL §10 promises exit 0 within 10 s: a drain that overruns is cut short, not failed.
    const hardStop = setTimeout(() => {
      logger.warn("shutdown timed out; the drain was cut short", { timeoutMs });
      void flushLogs(logger).then(() => process.exit(0));
    }, timeoutMs);
    hardStop.unref();
    application
      .close()
      .then(() => flushLogs(logger))
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error("shutdown failed", { error });
        process.exit(1);
      });
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);

  process.on("unhandledRejection", (reason) => {
    application.metrics.processErrors.inc({ kind: "unhandledRejection" });
    logger.error("unhandled rejection", { error: reason });
  });
  process.on("uncaughtException", (error) => {
    application.metrics.processErrors.inc({ kind: "uncaughtException" });
    logger.error("uncaught exception", { error });
  });
}

function flushLogs(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    logger.on("finish", () => resolve());
    logger.end();
    // The console transport may never emit finish; do not wait on it for long.
    setTimeout(resolve, 200).unref();
  });
}
