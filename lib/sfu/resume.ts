import { sameSecret } from "../util/sameSecret.js";

/** What a resume needs of a session. */
interface Resumable {
  readonly closed: boolean;
  readonly resumeToken: string;
}

/**
 * The live session of `userId` in `room` that `resumeToken` names, if any; a
 * stale or wrong token is not an error (PROTOCOL §6). One rule for the
 * in-process service and the worker pool.
 */
export function findResumable<P extends Resumable>(
  room: { findUser(userId: string): P | undefined } | undefined,
  resumeToken: string,
  userId: string,
): P | undefined {
  const peer = room?.findUser(userId);
  if (!peer || peer.closed || !sameSecret(peer.resumeToken, resumeToken)) return undefined;
  return peer;
}
