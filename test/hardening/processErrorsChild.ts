/**
 * Child process for shutdown.test.ts: the real application with the real
 * installShutdown, then one unhandled rejection and one uncaught exception.
 * Prints the metrics lines for sfu_process_errors_total and exits 0 if it is
 * still alive to do so.
 */
import { createSilentLogger } from "../../lib/logger.js";
import { createApplication } from "../../server/app.js";
import { loadConfig } from "../../server/config.js";
import { loadSfu } from "../../server/sfu.js";
import { installShutdown } from "../../server/shutdown.js";
import { TEST_ENV } from "../helpers/server.js";

const config = loadConfig({ ...TEST_ENV });
const application = createApplication({
  config,
  logger: createSilentLogger(),
  local: await loadSfu(config, createSilentLogger()),
  defaultMetrics: false,
});
installShutdown({ application, logger: createSilentLogger(), timeoutMs: 5_000 });
void Promise.reject(new Error("nobody handles this rejection"));
setTimeout(() => {
  throw new Error("nobody catches this exception");
}, 10);
setTimeout(() => {
  void application.metrics.registry.metrics().then((text) => {
    const lines = text.split("\n").filter((l) => l.startsWith("sfu_process_errors_total"));
    process.stdout.write(`${lines.join("\n")}\n`);
    void application.close().then(() => process.exit(0));
  });
}, 100);
