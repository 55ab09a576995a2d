import type { Logger } from "../logger.js";
import type { ActiveSpeaker } from "../protocol.js";
import type { CloseReason } from "./closeReason.js";
import type { ActiveSpeakerOptions, RoomSnapshot } from "../types.js";
import { TypedEmitter } from "../util/TypedEmitter.js";
import { ActiveSpeakerDetector } from "./ActiveSpeakerDetector.js";
import type { AudioForwarder } from "./AudioForwarder.js";
import { Peer, type PeerOptions } from "./Peer.js";

export interface RoomOptions {
  id: string;
  maxPeers: number;
  /** Forward only the N loudest publishers (PROTOCOL §15); 0 forwards everyone. */
  forwardLoudest: number;
  /** Everything a new peer needs but its identity. */
  peerDefaults: Omit<PeerOptions, "roomId" | "userId" | "displayName" | "canPublish" | "speech" | "logger">;
  activeSpeakers: ActiveSpeakerOptions;
  logger: Logger;
}

export type RoomEvents = {
  "peer-joined": [Peer];
  "peer-left": [Peer, CloseReason];
  /** A peer's mute or deafen state changed. */
  "peer-updated": [Peer];
  "track-published": [Peer, AudioForwarder];
  "track-unpublished": [Peer, AudioForwarder];
  /** The set or order of speakers changed; loudest first. */
  "active-speakers": [ActiveSpeaker[]];
  close: [];
};

/**
 * A voice room: its peers and the wiring between them. Every published
 * track is subscribed by every other peer; when a peer goes, its tracks are
 * unsubscribed everywhere.
 */
export class Room extends TypedEmitter<RoomEvents> {
  readonly id: string;
  readonly createdAt = new Date();
  readonly #peers = new Map<string, Peer>();
  readonly #options: RoomOptions;
  readonly #logger: Logger;
  readonly #speakers: ActiveSpeakerDetector;
  #closed = false;

  constructor(options: RoomOptions) {
    super(options.logger);
    this.id = options.id;
    this.#options = options;
    this.#logger = options.logger.child({ roomId: options.id });
    this.#speakers = new ActiveSpeakerDetector({
      settings: options.activeSpeakers,
      onChange: (speakers) => this.emit("active-speakers", speakers),
      logger: this.#logger,
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get size(): number {
    return this.#peers.size;
  }

  get peers(): Peer[] {
    return [...this.#peers.values()];
  }

  get tracks(): AudioForwarder[] {
    return this.peers.flatMap((peer) => peer.publishedTracks);
  }

  /** The live peer of `userId`, if any (the duplicate-user rule needs it). */
  findUser(userId: string): Peer | undefined {
    return this.peers.find((peer) => peer.userId === userId);
  }

  /** True when a join would exceed the room's limit. */
  get full(): boolean {
    return this.#peers.size >= this.#options.maxPeers;
  }

  /** Creates a peer, subscribes it to every track already here and announces it. */
  addPeer(identity: { userId: string; displayName?: string; canPublish?: boolean }): Peer {
    const speech = this.#speakers.createMeter();
    const peer = new Peer({
      ...this.#options.peerDefaults,
      speech,
      roomId: this.id,
      userId: identity.userId,
      canPublish: identity.canPublish ?? true,
      ...(identity.displayName !== undefined && { displayName: identity.displayName }),
      logger: this.#logger,
    });
    this.#speakers.add(peer.id, speech);
    this.#peers.set(peer.id, peer);
    peer.on("published", (track) => {
      for (const other of this.#peers.values()) if (other !== peer) other.subscribe(track);
      this.emit("track-published", peer, track);
    });
    peer.on("unpublished", (track) => {
      this.#unsubscribeEverywhere(track);
      this.emit("track-unpublished", peer, track);
    });
    peer.on("updated", () => this.emit("peer-updated", peer));
    peer.once("close", (reason) => this.#onPeerClosed(peer, reason));
    for (const track of this.tracks) if (track.peerId !== peer.id) peer.subscribe(track);
    this.#logger.info("peer joined", { peerId: peer.id, userId: peer.userId, size: this.#peers.size });
    this.emit("peer-joined", peer);
    return peer;
  }

  snapshot(): RoomSnapshot {
    return {
      roomId: this.id,
      createdAt: this.createdAt.toISOString(),
      peers: this.peers.map((peer) => peer.snapshot()),
      tracks: this.tracks.map((track) => track.snapshot()),
    };
  }

  /** Closes every peer with `reason`, then the room. */
  close(reason: CloseReason = "shutdown"): void {
    if (this.#closed) return;
    for (const peer of this.peers) peer.close(reason);
    this.#finish();
  }

  #onPeerClosed(peer: Peer, reason: CloseReason): void {
    this.#peers.delete(peer.id);
    this.#speakers.remove(peer.id);
    for (const track of peer.publishedTracks) {
      this.#unsubscribeEverywhere(track);
      this.emit("track-unpublished", peer, track);
    }
    this.#logger.info("peer left", { peerId: peer.id, reason, size: this.#peers.size });
    this.emit("peer-left", peer, reason);
    if (this.#peers.size === 0) this.#finish();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#speakers.close();
    this.emit("close");
    this.removeAllListeners();
  }

  #unsubscribeEverywhere(track: AudioForwarder): void {
    for (const other of this.#peers.values()) other.unsubscribe(track);
  }
}
