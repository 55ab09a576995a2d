import { SfuError } from "../errors.js";
import type { PeerSnapshot } from "../types.js";
import type { PeerControlChange } from "./PeerControls.js";
import type { RoomMembers, SfuState } from "./Sfu.js";

/** What a moderator does to a peer (PROTOCOL §12). */
export type Moderation = { kind: "control"; change: PeerControlChange } | { kind: "kick" };

/** How a moderation went: done (with the peer's row, read before a kick), or what was not found. */
export type ModerationResult =
  | { status: "done"; userId: string; peer: PeerSnapshot | undefined }
  | { status: "no-room" }
  | { status: "no-peer" };

/**
 * Applies `action` to a peer of `room`, a room whose media runs in this
 * process; `state` reads the rows the answer reports the peer with.
 */
export async function moderate(
  room: RoomMembers | undefined,
  peerId: string,
  action: Moderation,
  state: () => Promise<SfuState>,
): Promise<ModerationResult> {
  if (!room) return { status: "no-room" };
  const peer = room.peers.find((candidate) => candidate.id === peerId && !candidate.closed);
  if (!peer) return { status: "no-peer" };
  if (action.kind === "kick") {
    const row = await peerRow(state, peerId);
    peer.close("kicked");
    return { status: "done", userId: peer.userId, peer: row };
  }
  try {
    await peer.control(action.change);
  } catch (error) {
    // The session ended while the change was on its way to its worker.
    if (error instanceof SfuError && error.code === "NOT_JOINED") return { status: "no-peer" };
    throw error;
  }
  return { status: "done", userId: peer.userId, peer: await peerRow(state, peerId) };
}

/** How closing a room went: done (naming the peers it ended), or no such room here. */
export type RoomCloseResult =
  { status: "done"; kicked: Array<{ peerId: string; userId: string }> } | { status: "no-room" };

/** Ends every session of `room`, a room whose media runs in this process, as kicked (PROTOCOL §12). */
export function closeRoom(room: RoomMembers | undefined): RoomCloseResult {
  if (!room) return { status: "no-room" };
  const peers = room.peers.filter((peer) => !peer.closed);
  for (const peer of peers) peer.close("kicked");
  return { status: "done", kicked: peers.map((peer) => ({ peerId: peer.id, userId: peer.userId })) };
}

async function peerRow(state: () => Promise<SfuState>, peerId: string): Promise<PeerSnapshot | undefined> {
  const { rooms } = await state();
  for (const room of rooms) {
    const row = room.peers.find((peer) => peer.peerId === peerId);
    if (row) return row;
  }
  return undefined;
}
