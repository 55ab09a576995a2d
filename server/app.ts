import { createServer, type Server as HttpServer } from "node:http";
import cors from "cors";
import express, { type Express } from "express";
import promBundle from "express-prom-bundle";
import { Server } from "socket.io";
import type { ClusterSfu } from "../lib/cluster/ClusterSfu.js";
import type { Logger } from "../lib/logger.js";
import type { Sfu } from "../lib/sfu/Sfu.js";
import type { Config } from "./config.js";
import { createAdminRouter } from "./http/admin.js";
import { createClientRouter } from "./http/client.js";
import { createDebugRouter } from "./http/debug.js";
import { errorHandler, notFound } from "./http/errors.js";
import { createHealthRouter } from "./http/health.js";
import { createMetricsRouter } from "./http/metrics.js";
import { createNodesRouter, singleNode } from "./http/nodes.js";
import { Metrics } from "./metrics.js";
import { readVersion } from "./packageRoot.js";
import { SignalingNamespace } from "./signaling/namespace.js";
import type { LocalSfu } from "./sfu.js";
import { PayloadValidator } from "./signaling/validate.js";
import { WebhookNotifier } from "./webhooks/WebhookNotifier.js";

export interface ApplicationDeps {
  config: Readonly<Config>;
  logger: Logger;
  /** This node's forwarding, from `loadSfu`, which loads only the threading mode the config asks for. */
  local: LocalSfu;
  /** Process-level metrics (event loop, memory); off in tests that build many apps. */
  defaultMetrics?: boolean;
  /** Makes this node one of a cluster (PROTOCOL §14); see `loadCluster`, which loads it only with REDIS_URL. */
  cluster?: (local: Sfu) => ClusterSfu;
}

export interface Application {
  app: Express;
  httpServer: HttpServer;
  io: Server;
  sfu: Sfu;
  metrics: Metrics;
  signaling: SignalingNamespace;
  /** Settles once the media sockets the SFU holds from the start (ICE_UDP_PORT) are bound; rejects if one cannot be. */
  ready: Promise<void>;
  /** Drains and closes everything in order (PROTOCOL §10); idempotent. */
  close: () => Promise<void>;
}

/** Room for an SDP's JSON escaping (a CRLF line end becomes 4 bytes) and the frame around it. */
const SOCKET_FRAME_HEADROOM_BYTES = 64 * 1024;
/** Time for the SHUTTING_DOWN notice to reach clients before transports close. */
const NOTICE_FLUSH_MS = 200;

/**
 * Builds the SFU: forwarding service, HTTP routes and the signaling
 * namespace on one http.Server. Does not listen; the caller picks the port.
 */
export function createApplication(deps: ApplicationDeps): Application {
  const { config, logger } = deps;
  const { sfu: local, workers } = deps.local;
  const cluster = deps.cluster?.(local);
  const sfu: Sfu = cluster ?? local;
  // /metrics stays per node: it reads this node's own forwarding, not the cluster's.
  const metrics = new Metrics(local, {
    defaultMetrics: deps.defaultMetrics ?? true,
    eventLoopMonitorMs: config.eventLoopMonitorMs,
    sessions: sfu,
  });
  if (workers) {
    workers.on("process-error", (kind) => metrics.processErrors.inc({ kind }));
    metrics.watchWorkers(workers);
  }
  const webhooks =
    config.webhookUrls.length > 0 && config.webhookSecret !== undefined
      ? new WebhookNotifier({
          sfu,
          urls: config.webhookUrls,
          secret: config.webhookSecret,
          maxQueueLength: config.webhookQueueSize,
          retryMs: config.webhookRetryMs,
          onResult: (result) => metrics.webhookDeliveries.inc({ result }),
          onQueueLength: (length) => metrics.webhookQueueLength.set(length),
          logger,
        })
      : undefined;
  let draining = false;
  const isDraining = () => draining;
  const corsOptions = { origin: config.corsOrigins === "*" ? true : config.corsOrigins, credentials: true };

  const app = express();
  app.disable("x-powered-by");
  app.use(cors(corsOptions));
  app.use(
    promBundle({
      autoregister: false,
      promRegistry: metrics.registry,
      includeMethod: true,
      includePath: true,
      normalizePath: [["^/debug/rooms/[^/]+$", "/debug/rooms/#roomId"]],
    }),
  );
  app.use(createHealthRouter({ sfu, version: readVersion(), isDraining, nodeId: config.nodeId }));
  const nodes = cluster ? () => cluster.nodes : singleNode(config.nodeId, sfu);
  app.use(createNodesRouter({ nodes, adminToken: config.adminToken }));
  app.use(createDebugRouter({ sfu, adminToken: config.adminToken }));
  app.use(
    createAdminRouter({
      sfu,
      adminToken: config.adminToken,
      validator: new PayloadValidator({ maxSdpBytes: config.maxSdpBytes }),
      metrics,
      logger,
      ...(cluster && {
        moderate: (roomId, peerId, action) => cluster.moderate(roomId, peerId, action),
        closeRoom: (roomId) => cluster.closeRoom(roomId),
      }),
    }),
  );
  app.use(createMetricsRouter({ registry: metrics.registry, adminToken: config.adminToken }));
  app.use(createClientRouter({ logger }));
  app.use(notFound);
  app.use(errorHandler(logger));

  const httpServer = createServer(app);
  const io = new Server(httpServer, {
    cors: corsOptions,
    maxHttpBufferSize: socketBufferBytes(config.maxSdpBytes),
    serveClient: false,
    // Detect a dead client within ~15 s; the reconnect grace period starts then.
    pingInterval: 10_000,
    pingTimeout: 5_000,
  });
  const signaling = new SignalingNamespace({ io, sfu, config, metrics, logger, isDraining });
  cluster?.on("session-released", (peer, notice) => signaling.releasePeer(peer.id, notice));
  cluster?.on("room-event", (peer, event) => signaling.deliverRoomEvent(peer.id, event));

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      draining = true;
      signaling.notifyShutdown();
      await new Promise((resolve) => setTimeout(resolve, NOTICE_FLUSH_MS));
      await sfu.close("shutdown");
      signaling.close();
      webhooks?.close();
      metrics.close();
      // io.close() also closes the http server, which waits for keep-alive connections: end them.
      const closed = new Promise<void>((resolve) => io.close(() => resolve()));
      httpServer.closeAllConnections();
      await closed;
    })();
    return closing;
  };

  return { app, httpServer, io, sfu, metrics, signaling, ready: deps.local.ready, close };
}

/**
 * Socket.IO's frame limit, above which it drops the socket without an ack.
 * Twice MAX_SDP_BYTES plus headroom fits any SDP up to the limit, and well
 * beyond it, so an oversized SDP is answered by the SDP check with BAD_REQUEST.
 */
function socketBufferBytes(maxSdpBytes: number): number {
  return 2 * maxSdpBytes + SOCKET_FRAME_HEADROOM_BYTES;
}
