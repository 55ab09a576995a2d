import express, { Router, type Request, type Response } from "express";
import { BadRequestError, SfuError } from "../../lib/errors.js";
import type { Logger } from "../../lib/logger.js";
import type { PeerControlChange, PeerSession, RoomMembers, Sfu } from "../../lib/sfu/Sfu.js";
import type { PeerSnapshot } from "../../lib/types.js";
import type { Metrics } from "../metrics.js";
import type { PayloadValidator } from "../signaling/validate.js";
import { adminAuth } from "./adminAuth.js";

export interface AdminRouterOptions {
  sfu: Sfu;
  adminToken: string | undefined;
  validator: PayloadValidator;
  metrics: Metrics;
  logger: Logger;
}

/** What a moderator did, as `sfu_admin_actions_total{action}` and the log name it. */
export type AdminAction = "mute" | "unmute" | "deafen" | "undeafen" | "kick" | "delete_room";

/**
 * Moderation (PROTOCOL §12): server mute, deafen, kick and room delete.
 * Without ADMIN_TOKEN every route answers 403; otherwise a request is
 * checked for the bearer (401), then its body (400), then its room and peer (404).
 */
export function createAdminRouter(options: AdminRouterOptions): Router {
  const { sfu, validator, metrics } = options;
  const logger = options.logger.child({ component: "admin" });
  const router = Router();
  if (options.adminToken === undefined) {
    router.use("/admin", (_req, res) => {
      res.status(403).json({ error: "the admin routes are disabled: ADMIN_TOKEN is not set" });
    });
    return router;
  }
  router.use("/admin", adminAuth(options.adminToken), express.json({ limit: "4kb" }));

  const done = (action: AdminAction, room: RoomMembers, peer?: PeerSession) => {
    metrics.adminActions.inc({ action });
    logger.info("admin action", {
      action,
      roomId: room.id,
      ...(peer && { peerId: peer.id, userId: peer.userId }),
    });
  };

  const control =
    (read: (body: unknown) => { action: AdminAction; change: PeerControlChange }) =>
    async (req: Request<{ roomId: string; peerId: string }>, res: Response) => {
      const body = parseBody(res, () => read(req.body));
      if (!body) return;
      const found = findPeer(sfu, req.params.roomId, req.params.peerId, res);
      if (!found) return;
      try {
        await found.peer.control(body.change);
      } catch (error) {
        // The session ended while the change was on its way to its worker.
        if (!(error instanceof SfuError && error.code === "NOT_JOINED")) throw error;
        res.status(404).json({ error: `peer ${found.peer.id} not found in room ${found.room.id}` });
        return;
      }
      done(body.action, found.room, found.peer);
      res.json({ ok: true, peer: await peerRow(sfu, found.peer.id) });
    };

  router.post(
    "/admin/rooms/:roomId/peers/:peerId/mute",
    control((body) => {
      const { muted } = validator.mute(body);
      return { action: muted ? "mute" : "unmute", change: { serverMuted: muted } };
    }),
  );
  router.post(
    "/admin/rooms/:roomId/peers/:peerId/deafen",
    control((body) => {
      const { deafened } = validator.deafen(body);
      return { action: deafened ? "deafen" : "undeafen", change: { deafened } };
    }),
  );
  router.delete("/admin/rooms/:roomId/peers/:peerId", async (req, res) => {
    const found = findPeer(sfu, req.params.roomId, req.params.peerId, res);
    if (!found) return;
    const row = await peerRow(sfu, found.peer.id);
    found.peer.close("kicked");
    done("kick", found.room, found.peer);
    res.json({ ok: true, ...(row && { peer: row }) });
  });
  router.delete("/admin/rooms/:roomId", (req, res) => {
    const room = sfu.getRoom(req.params.roomId);
    if (!room) {
      res.status(404).json({ error: `room ${req.params.roomId} not found` });
      return;
    }
    const peers = room.peers;
    for (const peer of peers) peer.close("kicked");
    done("delete_room", room);
    logger.info("room deleted", { roomId: room.id, kicked: peers.map((peer) => peer.id) });
    res.json({ ok: true });
  });
  return router;
}

/** The body as `read` parses it, or undefined after answering 400 naming the field. */
function parseBody<T>(res: Response, read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof BadRequestError)) throw error;
    res.status(400).json({
      error: error.message === "payload must be an object" ? "body must be a JSON object" : error.message,
    });
    return undefined;
  }
}

function findPeer(
  sfu: Sfu,
  roomId: string,
  peerId: string,
  res: Response,
): { room: RoomMembers; peer: PeerSession } | undefined {
  const room = sfu.getRoom(roomId);
  const peer = room?.peers.find((candidate) => candidate.id === peerId && !candidate.closed);
  if (room && peer) return { room, peer };
  res
    .status(404)
    .json({ error: room ? `peer ${peerId} not found in room ${roomId}` : `room ${roomId} not found` });
  return undefined;
}

async function peerRow(sfu: Sfu, peerId: string): Promise<PeerSnapshot | undefined> {
  const { rooms } = await sfu.state();
  for (const room of rooms) {
    const row = room.peers.find((peer) => peer.peerId === peerId);
    if (row) return row;
  }
  return undefined;
}
