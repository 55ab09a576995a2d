import type { RoomEvent } from "../../lib/cluster/messages.js";
import { SfuError } from "../../lib/errors.js";
import type { ActiveSpeaker, PeerUpdatedMessage } from "../../lib/protocol.js";
import type { PeerSession, RoomMembers, Sfu } from "../../lib/sfu/Sfu.js";
import type { ClientSession } from "./ClientSession.js";
import type { AckData } from "./events.js";
import type { SessionRegistry } from "./SessionRegistry.js";
import type { PayloadValidator } from "./validate.js";

/** Room control on the wire (PROTOCOL §12): self-mute in, `peer-updated` and `active-speakers` out. */
export class RoomControlController {
  readonly #sessions: SessionRegistry;
  readonly #validator: PayloadValidator;
  readonly #unsubscribers: Array<() => void>;
  /** Each room's last non-empty speaker list, for those who join while it holds. */
  readonly #speakers = new Map<string, ActiveSpeaker[]>();

  constructor(options: { sfu: Sfu; sessions: SessionRegistry; validator: PayloadValidator }) {
    this.#sessions = options.sessions;
    this.#validator = options.validator;
    this.#unsubscribers = [
      options.sfu.on("peer-updated", (room, peer) => this.#announceUpdate(room, peer)),
      options.sfu.on("active-speakers", (room, speakers) => this.#announceSpeakers(room, speakers)),
      // With REDIS_URL a room mirrored here also counts members whose sockets are elsewhere.
      options.sfu.on("peer-left", (room) => {
        if (!room.peers.some((member) => this.#sessions.forPeer(member.id))) this.#speakers.delete(room.id);
      }),
    ];
  }

  /** The client muted or unmuted its microphone; the room hears of it through `peer-updated`. */
  async mute(session: ClientSession, payload: unknown): Promise<AckData["mute"]> {
    const { muted } = this.#validator.mute(payload);
    const peer = session.peer;
    if (!peer || peer.closed) throw new SfuError("NOT_JOINED", "join a room first");
    // Acked once applied (with forwarding workers, once the worker applied it): the room heard of it first.
    await peer.control({ muted });
    return {};
  }

  /** A session joined or resumed: after its ack it gets the room's current speakers, if anyone speaks. */
  joined(session: ClientSession): void {
    session.afterAck(() => {
      const peer = session.peer;
      const speakers = peer && this.#speakers.get(peer.roomId);
      if (speakers) session.socket.emit("active-speakers", { roomId: peer.roomId, speakers });
    });
  }

  /** A room event the room's node (another node) sent for this peer's socket here. */
  relayed(peerId: string, event: RoomEvent): void {
    const socket = this.#sessions.forPeer(peerId)?.socket;
    if (event.name === "active-speakers") {
      const { roomId, speakers } = event.message;
      if (speakers.length > 0) this.#speakers.set(roomId, speakers);
      else this.#speakers.delete(roomId);
      socket?.emit("active-speakers", event.message);
    } else {
      socket?.emit("peer-updated", event.message);
    }
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribers.splice(0)) unsubscribe();
    this.#speakers.clear();
  }

  #announceUpdate(room: RoomMembers, peer: PeerSession): void {
    const message: PeerUpdatedMessage = { roomId: room.id, peerId: peer.id, ...peer.controlState };
    for (const member of room.peers) this.#sessions.forPeer(member.id)?.socket.emit("peer-updated", message);
  }

  #announceSpeakers(room: RoomMembers, speakers: ActiveSpeaker[]): void {
    if (speakers.length > 0) this.#speakers.set(room.id, speakers);
    else this.#speakers.delete(room.id);
    const message = { roomId: room.id, speakers };
    for (const member of room.peers)
      this.#sessions.forPeer(member.id)?.socket.emit("active-speakers", message);
  }
}
