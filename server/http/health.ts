import { Router } from "express";
import type { Sfu } from "../../lib/sfu/Sfu.js";

/** `GET /health`: always open, 503 while draining so load balancers stop routing here. */
export function createHealthRouter(options: {
  sfu: Sfu;
  version: string;
  isDraining: () => boolean;
  nodeId: string;
}): Router {
  const router = Router();
  router.get("/health", (_req, res) => {
    if (options.isDraining()) {
      res.status(503).json({ status: "draining" });
      return;
    }
    res.json({
      status: "ok",
      nodeId: options.nodeId,
      uptime: process.uptime(),
      version: options.version,
      rooms: options.sfu.rooms.length,
      peers: options.sfu.peerCount,
    });
  });
  return router;
}
