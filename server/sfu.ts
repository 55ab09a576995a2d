import type { Logger } from "../lib/logger.js";
import type { WorkerPool } from "../lib/sfu/cluster/WorkerPool.js";
import type { Sfu } from "../lib/sfu/Sfu.js";
import type { SfuService, SfuServiceOptions } from "../lib/sfu/SfuService.js";
import type { Config } from "./config.js";

/** This node's own forwarding, as `createApplication` takes it. */
export interface LocalSfu {
  sfu: Sfu;
  /** Settles once the media sockets held from the start (ICE_UDP_PORT) are bound; rejects if one cannot be. */
  ready: Promise<void>;
  /** The worker pool when forwarding runs in SFU_WORKERS threads. */
  workers?: WorkerPool;
}

/** Where `loadSfu` gets each mode's class. */
export interface SfuModules {
  service: () => Promise<{ SfuService: typeof SfuService }>;
  pool: () => Promise<{ WorkerPool: typeof WorkerPool }>;
}

const IMPORTS: SfuModules = {
  service: () => import("../lib/sfu/SfuService.js"),
  pool: () => import("../lib/sfu/cluster/WorkerPool.js"),
};

/**
 * Forwarding in this thread, or spread over SFU_WORKERS worker threads. Each
 * mode is imported only when chosen: with workers the main thread never loads
 * werift, and without them it never loads the worker pool. Tests pass the
 * classes they import (under mocha's loader a dynamic import is a second copy).
 */
export async function loadSfu(
  config: Readonly<Config>,
  logger: Logger,
  modules: SfuModules = IMPORTS,
): Promise<LocalSfu> {
  const service: Omit<SfuServiceOptions, "logger"> = {
    media: {
      iceServers: config.stunServers,
      ...(config.icePortRange && { portRange: config.icePortRange }),
      ...(config.iceUdpPort !== undefined && { udpPort: config.iceUdpPort }),
      advertiseIps: config.iceAdvertiseIps,
      useIpv6: config.iceUseIpv6,
      allowPrivateCandidates: config.allowPrivateCandidates,
      ...(config.iceRelayOnly &&
        config.turn && { relay: { url: config.turn.urls[0]!, credentials: config.turn.credentials } }),
      ...(config.iceBindAddress !== undefined && { bindAddress: config.iceBindAddress }),
    },
    limits: {
      // A full room's every forwarded track, plus the client's own lines (and some it may offer and have rejected).
      sdp: {
        maxBytes: config.maxSdpBytes,
        maxMediaSections: config.maxPeersPerRoom * config.maxPublishedTracks + 8,
      },
      maxIceCandidates: 256,
      maxPublishedTracks: config.maxPublishedTracks,
      negotiationTimeoutMs: config.negotiationTimeoutMs,
      answerTimeoutMs: config.negotiationTimeoutMs,
      iceTimeoutMs: config.iceTimeoutMs,
    },
    maxPeersPerRoom: config.maxPeersPerRoom,
    reconnectGraceMs: config.reconnectGraceMs,
    forwardLoudest: config.forwardLoudest,
    activeSpeakers: config.activeSpeakers,
  };
  if (config.workers === 0) {
    const { SfuService } = await modules.service();
    const sfu = new SfuService({ ...service, logger });
    return { sfu, ready: sfu.ready };
  }
  const { WorkerPool } = await modules.pool();
  const workers = new WorkerPool({ workers: config.workers, service, logLevel: config.logLevel, logger });
  return { sfu: workers, ready: Promise.resolve(), workers };
}
