import { Router } from "express";
import type { SfuService } from "../../lib/sfu/SfuService.js";
import { adminAuth } from "./adminAuth.js";

/** Read-only room state for admin dashboards (PROTOCOL §8). */
export function createDebugRouter(options: { sfu: SfuService; adminToken: string | undefined }): Router {
  const { sfu } = options;
  const router = Router();
  router.use("/debug", adminAuth(options.adminToken));
  router.get("/debug/rooms", (_req, res) => {
    res.json({
      rooms: sfu.rooms.map((room) => ({
        roomId: room.id,
        peers: room.size,
        tracks: room.tracks.length,
        createdAt: room.createdAt.toISOString(),
      })),
    });
  });
  router.get("/debug/rooms/:roomId", (req, res) => {
    const room = sfu.getRoom(req.params.roomId);
    if (!room) {
      res.status(404).json({ error: "room not found", roomId: req.params.roomId });
      return;
    }
    res.json(room.snapshot());
  });
  router.get("/debug/peers", (_req, res) => {
    res.json({ peers: sfu.peerSnapshots() });
  });
  router.get("/debug/tracks", (_req, res) => {
    res.json({ tracks: sfu.trackSnapshots() });
  });
  return router;
}
