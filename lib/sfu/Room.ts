import type { Logger } from "../logger.js";
import type { ActiveSpeaker } from "../protocol.js";
import type { CloseReason } from "./closeReason.js";
import type { ActiveSpeakerOptions, RoomSnapshot } from "../types.js";
import { TypedEmitter } from "../util/TypedEmitter.js";
import { ActiveSpeakerDetector } from "./ActiveSpeakerDetector.js";
import type { AudioForwarder } from "./AudioForwarder.js";
import { LOUDEST_HOLD_MS, LOUDEST_MARGIN, LoudestSelector } from "./LoudestSelector.js";
import { Peer, type PeerOptions } from "./Peer.js";
import type { SpeechMeter } from "./SpeechMeter.js";

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
 * unsubscribed everywhere. Under FORWARD_LOUDEST the room's level timer also
 * decides, once per tick, whose packets are forwarded at all.
 */
export class Room extends TypedEmitter<RoomEvents> {
  readonly id: string;
  readonly createdAt = new Date();
  readonly #peers = new Map<string, Peer>();
  readonly #options: RoomOptions;
  readonly #logger: Logger;
  readonly #speakers: ActiveSpeakerDetector;
  /** Set under FORWARD_LOUDEST (PROTOCOL §15): the publishers whose packets are forwarded. */
  readonly #loudest: LoudestSelector | undefined;
  #closed = false;

  constructor(options: RoomOptions) {
    super(options.logger);
    this.id = options.id;
    this.#options = options;
    this.#logger = options.logger.child({ roomId: options.id });
    this.#loudest =
      options.forwardLoudest > 0
        ? new LoudestSelector({
            slots: options.forwardLoudest,
            margin: LOUDEST_MARGIN,
            holdUpdates: Math.max(1, Math.ceil(LOUDEST_HOLD_MS / options.activeSpeakers.intervalMs)),
          })
        : undefined;
    this.#speakers = new ActiveSpeakerDetector({
      settings: options.activeSpeakers,
      onChange: (speakers) => this.emit("active-speakers", speakers),
      ...(this.#loudest && { afterTick: (meters) => this.#selectLoudest(meters) }),
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
      // A publisher starts forwarded while a slot is free; otherwise its level must earn it one.
      if (this.#loudest) track.setSelected(this.#loudest.admit(peer.id));
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

  /** Runs once per level tick under FORWARD_LOUDEST; the forwarding path reads only each track's flag. */
  #selectLoudest(meters: ReadonlyMap<string, SpeechMeter>): void {
    const loudest = this.#loudest!;
    const levels = new Map<string, number>();
    for (const peer of this.#peers.values()) {
      if (peer.publishedTracks.length > 0) levels.set(peer.id, meters.get(peer.id)?.level ?? 0);
    }
    if (!loudest.update(levels)) return;
    for (const peer of this.#peers.values()) {
      const selected = loudest.has(peer.id);
      for (const track of peer.publishedTracks) track.setSelected(selected);
    }
    this.#logger.debug("loudest publishers", { peerIds: [...loudest.selected] });
  }

  #unsubscribeEverywhere(track: AudioForwarder): void {
    for (const other of this.#peers.values()) other.unsubscribe(track);
  }
}
