import { performance } from "node:perf_hooks";
import { Router } from "express";
import type { NodeInfo } from "../../lib/cluster/messages.js";
import type { Sfu } from "../../lib/sfu/Sfu.js";
import { adminAuth } from "./adminAuth.js";

export type NodeRow = Pick<NodeInfo, "nodeId" | "rooms" | "peers" | "load" | "lastSeen">;

/** `GET /debug/nodes`: every live node of the cluster (PROTOCOL §14). */
export function createNodesRouter(options: {
  nodes: () => NodeRow[];
  adminToken: string | undefined;
}): Router {
  const router = Router();
  router.get("/debug/nodes", adminAuth(options.adminToken), (_req, res) => {
    res.json({
      nodes: options.nodes().map(({ nodeId, rooms, peers, load, lastSeen }) => ({
        nodeId,
        rooms,
        peers,
        load,
        lastSeen,
      })),
    });
  });
  return router;
}

/** Without REDIS_URL the cluster is this one node; its load is measured from one request to the next. */
export function singleNode(nodeId: string, sfu: Sfu): () => NodeRow[] {
  let mark = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const load = performance.eventLoopUtilization(now, mark).utilization;
    mark = now;
    return [{ nodeId, rooms: sfu.rooms.length, peers: sfu.peerCount, load, lastSeen: Date.now() }];
  };
}
