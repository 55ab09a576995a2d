import { Router } from "express";
import type { Sfu } from "../../lib/sfu/Sfu.js";
import { adminAuth } from "./adminAuth.js";

/** Read-only room state for admin dashboards (PROTOCOL §8). */
export function createDebugRouter(options: { sfu: Sfu; adminToken: string | undefined }): Router {
  const { sfu } = options;
  const router = Router();
  router.use("/debug", adminAuth(options.adminToken));
  router.get("/debug/rooms", async (_req, res) => {
    const { rooms } = await sfu.state();
    res.json({
      rooms: rooms.map((room) => ({
        roomId: room.roomId,
        peers: room.peers.length,
        tracks: room.tracks.length,
        createdAt: room.createdAt,
        ...(room.nodeId !== undefined && { nodeId: room.nodeId }),
      })),
    });
  });
  router.get("/debug/rooms/:roomId", async (req, res) => {
    const { rooms } = await sfu.state();
    const room = rooms.find((candidate) => candidate.roomId === req.params.roomId);
    if (!room) {
      res.status(404).json({ error: "room not found", roomId: req.params.roomId });
      return;
    }
    res.json(room);
  });
  router.get("/debug/peers", async (_req, res) => {
    const { rooms } = await sfu.state();
    res.json({ peers: rooms.flatMap((room) => room.peers) });
  });
  router.get("/debug/tracks", async (_req, res) => {
    const { rooms } = await sfu.state();
    res.json({ tracks: rooms.flatMap((room) => room.tracks) });
  });
  return router;
}
