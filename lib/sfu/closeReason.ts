import type { ErrorCode, ErrorPayload, LeaveReason } from "../protocol.js";

/**
 * Why a peer session ended, as the SFU knows it. The wire says less
 * (PROTOCOL §4: a `user-left` reason and an `error` code); {@link toWire}
 * is the one place that decides what each reason becomes there.
 */
export const CLOSE_REASONS = [
  "leave",
  "disconnect",
  "grace-expired",
  "replaced",
  "kicked",
  "ice-timeout",
  "media-failed",
  "negotiation-failed",
  "worker-failed",
  "shutdown",
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** What happened, for the logs. */
export const CLOSE_DESCRIPTIONS: Readonly<Record<CloseReason, string>> = {
  leave: "the client left",
  disconnect: "the signaling socket went away before the session was in use",
  "grace-expired": "the signaling socket went away and no resume came within the grace period",
  replaced: "a newer join of the same user replaced the session",
  kicked: "the session was removed from the room",
  "ice-timeout": "ICE did not connect within ICE_TIMEOUT_MS",
  "media-failed": "the media connection was lost and not restored within ICE_TIMEOUT_MS",
  "negotiation-failed": "a negotiation step failed or the client left the SFU's offers unanswered",
  "worker-failed": "the forwarding worker that ran the session stopped",
  shutdown: "the SFU is shutting down",
};

/** What the clients are told when a session closes. */
export interface WireClose {
  /** The `user-left` reason the rest of the room is told; undefined: the room is not told. */
  userLeft: LeaveReason | undefined;
  /** The `error` the closed session's own client is told; undefined: none. */
  error: (ErrorPayload & { code: ErrorCode }) | undefined;
}

/**
 * The notice every client gets when a drain begins (PROTOCOL §10), before
 * any session closes: sessions then close as `shutdown`, which tells nobody
 * anything more.
 */
export const SHUTDOWN_NOTICE: ErrorPayload = Object.freeze({
  code: "SHUTTING_DOWN",
  message: "the SFU is shutting down; reconnect later",
});

const MEDIA_FAILED: ErrorPayload = Object.freeze({
  code: "NEGOTIATION_FAILED",
  message: "the media connection failed and the session was removed",
});

/**
 * Maps a domain close reason to what the wire says. A media failure of any
 * kind has no code of its own on the wire: the client is told
 * NEGOTIATION_FAILED, on which it sets up a new session (PROTOCOL §11).
 */
export function toWire(reason: CloseReason): WireClose {
  switch (reason) {
    case "leave":
      return { userLeft: "leave", error: undefined };
    case "disconnect":
    case "grace-expired":
      return { userLeft: "disconnect", error: undefined };
    case "replaced":
      return {
        userLeft: "replaced",
        error: { code: "REPLACED", message: "a newer join of the same user replaced this session" },
      };
    case "kicked":
      return {
        userLeft: "kicked",
        error: { code: "KICKED", message: "this session was removed from the room" },
      };
    case "ice-timeout":
    case "media-failed":
    case "negotiation-failed":
    case "worker-failed":
      return { userLeft: "failed", error: MEDIA_FAILED };
    case "shutdown":
      // Every client was told SHUTDOWN_NOTICE as the drain began, and the whole room goes.
      return { userLeft: undefined, error: undefined };
  }
}
