import { SfuError } from "../../lib/errors.js";
import type { JoinedMessage } from "../../lib/protocol.js";
import { toWire, type CloseReason } from "../../lib/sfu/closeReason.js";
import type { PeerSession, RoomMembers, Sfu } from "../../lib/sfu/Sfu.js";
import type { Metrics } from "../metrics.js";
import type { JoinAuthorizer } from "./auth.js";
import type { ClientIce } from "./ClientIce.js";
import type { ClientSession } from "./ClientSession.js";
import type { AckData } from "./events.js";
import type { SessionRegistry } from "./SessionRegistry.js";
import type { PayloadValidator } from "./validate.js";

export interface RoomControllerOptions {
  sfu: Sfu;
  sessions: SessionRegistry;
  validator: PayloadValidator;
  authorizer: JoinAuthorizer;
  metrics: Metrics;
  /** Whether a join whose token says nothing about it may publish (DEFAULT_CAN_PUBLISH, PROTOCOL §15). */
  defaultCanPublish: boolean;
  /** True once shutdown began: joins are refused. */
  isDraining: () => boolean;
  /** The ICE servers (with fresh TURN credentials) each `joined` carries. */
  clientIce: ClientIce;
}

/** Room membership: join (new or resumed), leave, and socket loss. */
export class RoomController {
  readonly #options: RoomControllerOptions;
  readonly #unsubscribers: Array<() => void>;

  constructor(options: RoomControllerOptions) {
    this.#options = options;
    const { sfu } = options;
    this.#unsubscribers = [
      sfu.on("peer-joined", (room, peer) => this.#announceJoin(room, peer)),
      sfu.on("peer-left", (room, peer, reason) => this.#announceLeave(room, peer, reason)),
    ];
  }

  async join(session: ClientSession, payload: unknown): Promise<AckData["join"]> {
    const receivedAt = performance.now();
    const { sfu, sessions, validator, authorizer, metrics } = this.#options;
    const request = validator.join(payload);
    this.#assertStillWanted(session);
    const grant = await authorizer.authorize(request);
    this.#assertStillWanted(session);

    let peer = request.resumeToken
      ? await sfu.findResumable(request.resumeToken, request.roomId, request.userId)
      : undefined;
    const resumed = peer !== undefined;
    if (peer) {
      // In a cluster the resume crossed to the room's node, and the socket may have gone meanwhile.
      try {
        this.#assertStillWanted(session);
      } catch (error) {
        if (!this.#options.isDraining()) peer.detach();
        throw error;
      }
      const previous = sessions.forPeer(peer.id);
      if (previous && previous !== session) {
        previous.unbind();
        sessions.release(peer.id, previous);
      }
    } else {
      peer = await sfu.join({
        roomId: request.roomId,
        userId: request.userId,
        ...(request.displayName !== undefined && { displayName: request.displayName }),
        canPublish: grant.canPublish ?? this.#options.defaultCanPublish,
      });
      // With forwarding workers the join crossed threads, so the same can have happened meanwhile.
      try {
        this.#assertStillWanted(session);
      } catch (error) {
        // A draining SFU ends this peer with the rest.
        if (!this.#options.isDraining()) peer.close(session.peer ? "leave" : "disconnect");
        throw error;
      }
      metrics.joinStarted(peer.id, receivedAt);
    }
    session.bind(peer);
    sessions.assign(peer.id, session);
    if (resumed) {
      const resumedPeer = peer;
      // The client learns it resumed (joined, then the ack) before the SFU's offer it missed comes again.
      session.afterAck(() => {
        if (session.peer !== resumedPeer || resumedPeer.closed) return;
        resumedPeer.attach();
        // `joined` carries the others' state, not its own: a moderator's action it missed comes now.
        const state = resumedPeer.controlState;
        if (state.muted || state.serverMuted || state.deafened)
          session.socket.emit("peer-updated", {
            roomId: resumedPeer.roomId,
            peerId: resumedPeer.id,
            ...state,
          });
      });
    }

    const room = sfu.getRoom(peer.roomId);
    const joined: JoinedMessage = {
      roomId: peer.roomId,
      peerId: peer.id,
      userId: peer.userId,
      peers: (room?.peers ?? [])
        .filter((other) => other !== peer)
        .map((other) => ({
          peerId: other.id,
          userId: other.userId,
          ...(other.displayName !== undefined && { displayName: other.displayName }),
          ...other.controlState,
        })),
      ...this.#options.clientIce.forPeer(peer.id),
      resumeToken: peer.resumeToken,
      resumed,
    };
    session.logger.info(resumed ? "session resumed" : "joined", { roomId: peer.roomId, peerId: peer.id });
    session.socket.emit("joined", joined);
    return { joined };
  }

  leave(session: ClientSession, payload: unknown): Promise<AckData["leave"]> {
    const { roomId } = this.#options.validator.leave(payload);
    const peer = session.peer;
    if (!peer) throw new SfuError("NOT_JOINED", "this socket has not joined a room");
    if (peer.roomId !== roomId) throw new SfuError("NOT_JOINED", `this socket is not in room ${roomId}`);
    this.#release(session);
    peer.close("leave");
    return Promise.resolve({});
  }

  /** The socket is gone: keep its peer for the grace period, or end it at once if there is none. */
  disconnect(session: ClientSession): void {
    const peer = this.#release(session);
    if (!peer) return;
    if (this.#options.sfu.closed) return;
    peer.detach();
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribers.splice(0)) unsubscribe();
  }

  /**
   * A join goes on only while the SFU is not draining and its socket is still
   * there and has not joined meanwhile: a client admitted after the SHUTTING_DOWN
   * notice would get a session the drain ends at once, and a session resumed
   * onto a socket already gone would never be detached again.
   */
  #assertStillWanted(session: ClientSession): void {
    if (this.#options.isDraining()) throw new SfuError("SHUTTING_DOWN", "the SFU is shutting down");
    assertNotJoined(session);
    if (session.socket.disconnected)
      throw new SfuError("NOT_JOINED", "the socket disconnected during the join");
  }

  #release(session: ClientSession): PeerSession | undefined {
    const peer = session.unbind();
    if (peer) this.#options.sessions.release(peer.id, session);
    return peer;
  }

  #announceJoin(room: RoomMembers, peer: PeerSession): void {
    const message = {
      roomId: room.id,
      peerId: peer.id,
      userId: peer.userId,
      ...(peer.displayName !== undefined && { displayName: peer.displayName }),
      ...peer.controlState,
    };
    for (const other of room.peers) {
      if (other !== peer) this.#options.sessions.forPeer(other.id)?.socket.emit("user-joined", message);
    }
  }

  #announceLeave(room: RoomMembers, peer: PeerSession, reason: CloseReason): void {
    const wire = toWire(reason);
    if (wire.userLeft) {
      const message = { roomId: room.id, peerId: peer.id, userId: peer.userId, reason: wire.userLeft };
      for (const other of room.peers)
        this.#options.sessions.forPeer(other.id)?.socket.emit("user-left", message);
    }
    const own = this.#options.sessions.forPeer(peer.id);
    if (!own) return;
    this.#release(own);
    // The removed peer's own client learns why, unless it asked to leave or (a drain) was told already.
    if (wire.error) own.sendError(wire.error);
  }
}

function assertNotJoined(session: ClientSession): void {
  const peer = session.peer;
  if (peer) throw new SfuError("ALREADY_JOINED", `this socket is already in room ${peer.roomId}`);
}
