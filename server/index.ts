import { createRootLogger } from "../lib/logger.js";
import { createApplication } from "./app.js";
import { loadCluster } from "./cluster.js";
import { ConfigError, loadConfig } from "./config.js";
import { installShutdown } from "./shutdown.js";

function readConfig() {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`configuration error: ${error.message}\n`);
    process.exit(1);
  }
}

const config = readConfig();
const logger = createRootLogger(config.logLevel);
const cluster = await loadCluster(config, logger);
const application = createApplication({ config, logger, ...(cluster && { cluster }) });

application.httpServer.listen(config.port, config.host || undefined, () => {
  const address = application.httpServer.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  logger.info("SFU listening", {
    port,
    advertise: config.iceAdvertiseIps,
    stun: config.stunServers.length,
    turn: config.turn?.urls.length ?? 0,
    relayOnly: config.iceRelayOnly,
    nodeId: config.nodeId,
    cluster: config.redisUrl !== undefined,
  });
});

installShutdown({ application, logger, timeoutMs: config.shutdownTimeoutMs });
