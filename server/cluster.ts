import type { ClusterSfu } from "../lib/cluster/ClusterSfu.js";
import type { Logger } from "../lib/logger.js";
import type { Sfu } from "../lib/sfu/Sfu.js";
import type { Config } from "./config.js";

/**
 * What `createApplication` needs to make this node one of a cluster. The
 * cluster code (and its Redis client) is loaded here, only when REDIS_URL is
 * set, so a single node never loads it.
 */
export async function loadCluster(
  config: Readonly<Config>,
  logger: Logger,
): Promise<((local: Sfu) => ClusterSfu) | undefined> {
  const redisUrl = config.redisUrl;
  if (redisUrl === undefined) return undefined;
  const { ClusterSfu } = await import("../lib/cluster/ClusterSfu.js");
  return (local) =>
    new ClusterSfu({
      local,
      redisUrl,
      nodeId: config.nodeId,
      negotiationTimeoutMs: config.negotiationTimeoutMs,
      logger,
    });
}
