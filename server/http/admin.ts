import express, { Router, type Request, type Response } from "express";
import { BadRequestError, SfuError } from "../../lib/errors.js";
import type { Logger } from "../../lib/logger.js";
import {
  closeRoom,
  moderate,
  type Moderation,
  type ModerationResult,
  type RoomCloseResult,
} from "../../lib/sfu/moderate.js";
import type { PeerControlChange, Sfu } from "../../lib/sfu/Sfu.js";
import type { Metrics } from "../metrics.js";
import type { PayloadValidator } from "../signaling/validate.js";
import { adminAuth } from "./adminAuth.js";

export interface AdminRouterOptions {
  sfu: Sfu;
  adminToken: string | undefined;
  validator: PayloadValidator;
  metrics: Metrics;
  logger: Logger;
  /**
   * Applies an action on the room's node, wherever that is (with REDIS_URL);
   * throws an SfuError when that node cannot be reached. Default: this process.
   */
  moderate?: (roomId: string, peerId: string, action: Moderation) => Promise<ModerationResult>;
  /** Closes a room on its node, wherever that is; the same contract as `moderate`. Default: this process. */
  closeRoom?: (roomId: string) => Promise<RoomCloseResult>;
}

/** What a moderator did, as `sfu_admin_actions_total{action}` and the log name it. */
export type AdminAction = "mute" | "unmute" | "deafen" | "undeafen" | "kick" | "delete_room";

/**
 * Moderation (PROTOCOL §12): server mute, deafen, kick and room delete.
 * Without ADMIN_TOKEN every route answers 403; otherwise a request is
 * checked for the bearer (401), then its body (400), then its room and peer
 * (404); a room's node that does not answer in time is a 503.
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

  const done = (action: AdminAction, roomId: string, peer?: { peerId: string; userId: string }) => {
    metrics.adminActions.inc({ action });
    logger.info("admin action", { action, roomId, ...peer });
  };
  const apply =
    options.moderate ??
    ((roomId: string, peerId: string, action: Moderation) =>
      moderate(sfu.getRoom(roomId), peerId, action, () => sfu.state()));
  const close = options.closeRoom ?? ((roomId: string) => Promise.resolve(closeRoom(sfu.getRoom(roomId))));

  /** Applies `action` where the room runs and answers with the peer's row, or the error. */
  const act = async (
    req: Request<{ roomId: string; peerId: string }>,
    res: Response,
    name: AdminAction,
    action: Moderation,
  ): Promise<void> => {
    const { roomId, peerId } = req.params;
    let result: ModerationResult;
    try {
      result = await apply(roomId, peerId, action);
    } catch (error) {
      if (!(error instanceof SfuError)) throw error;
      res.status(503).json({ error: `the room's node did not confirm the action: ${error.message}` });
      return;
    }
    if (result.status !== "done") {
      const error =
        result.status === "no-room"
          ? `room ${roomId} not found`
          : `peer ${peerId} not found in room ${roomId}`;
      res.status(404).json({ error });
      return;
    }
    done(name, roomId, { peerId, userId: result.userId });
    res.json({ ok: true, ...(result.peer && { peer: result.peer }) });
  };

  const control =
    (read: (body: unknown) => { action: AdminAction; change: PeerControlChange }) =>
    async (req: Request<{ roomId: string; peerId: string }>, res: Response) => {
      const body = parseBody(res, () => read(req.body));
      if (!body) return;
      await act(req, res, body.action, { kind: "control", change: body.change });
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
  router.delete("/admin/rooms/:roomId/peers/:peerId", (req, res) => act(req, res, "kick", { kind: "kick" }));
  router.delete("/admin/rooms/:roomId", async (req, res) => {
    const { roomId } = req.params;
    let result: RoomCloseResult;
    try {
      result = await close(roomId);
    } catch (error) {
      if (!(error instanceof SfuError)) throw error;
      res.status(503).json({ error: `the room's node did not confirm the action: ${error.message}` });
      return;
    }
    if (result.status === "no-room") {
      res.status(404).json({ error: `room ${roomId} not found` });
      return;
    }
    done("delete_room", roomId);
    logger.info("room deleted", { roomId, kicked: result.kicked.map((peer) => peer.peerId) });
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
