import { createRootLogger } from "../lib/logger.js";
import { createApplication } from "./app.js";
import { loadCluster } from "./cluster.js";
import { ConfigError, loadConfig } from "./config.js";
import { installDebugGc } from "./debugGc.js";
import { loadSfu } from "./sfu.js";
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
const local = await loadSfu(config, logger);
const application = createApplication({ config, logger, local, ...(cluster && { cluster }) });

// The shared media port is bound before signaling opens: a port in use stops start-up, naming it.
application.ready.then(
  () => {
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
        ...(config.iceUdpPort !== undefined && { mediaPort: config.iceUdpPort }),
      });
    });
  },
  (error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      `start-up error: ICE_UDP_PORT: cannot bind UDP port ${config.iceUdpPort}: ${reason}\n`,
    );
    process.exit(1);
  },
);

installShutdown({ application, logger, timeoutMs: config.shutdownTimeoutMs });
installDebugGc(logger);
