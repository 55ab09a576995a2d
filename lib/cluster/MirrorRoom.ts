import type { PeerSession, RoomMembers } from "../sfu/Sfu.js";
import { RelayPeer } from "./RelayPeer.js";

/**
 * A room whose media lives on another node, as this node's signaling sees
 * it: every member, so that this node's clients hear of joins and leaves.
 * It exists while at least one member's socket is on this node.
 */
export class MirrorRoom implements RoomMembers {
  readonly id: string;
  readonly owner: string;
  readonly ownerIncarnation: string;
  readonly #members = new Map<string, PeerSession>();

  constructor(options: { id: string; owner: string; ownerIncarnation: string }) {
    this.id = options.id;
    this.owner = options.owner;
    this.ownerIncarnation = options.ownerIncarnation;
  }

  get peers(): PeerSession[] {
    return [...this.#members.values()];
  }

  get size(): number {
    return this.#members.size;
  }

  /** The members whose sockets are on this node. */
  get relays(): RelayPeer[] {
    return this.peers.filter((peer) => peer instanceof RelayPeer);
  }

  get(peerId: string): PeerSession | undefined {
    return this.#members.get(peerId);
  }

  /** Adds a member, or replaces what stood for it (a relay takes the place of a plain member). */
  set(member: PeerSession): void {
    this.#members.set(member.id, member);
  }

  remove(peerId: string): void {
    this.#members.delete(peerId);
  }
}
