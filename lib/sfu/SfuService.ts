import { SfuError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { IceServer } from "../protocol.js";
import type { CloseReason } from "./closeReason.js";
import type {
  ActiveSpeakerOptions,
  ForwardingTotals,
  MediaOptions,
  PeerLimits,
  PeerSnapshot,
  RoomSnapshot,
  TrackSnapshot,
} from "../types.js";
import { TypedEmitter } from "../util/TypedEmitter.js";
import { prepareDtlsCertificate } from "../werift/certificate.js";
import type { UdpMuxes } from "./MuxedIce.js";
import type { Peer } from "./Peer.js";
import { sharedPortHosts } from "./peerConfig.js";
import { Room } from "./Room.js";
import { OfferTurns } from "./OfferTurns.js";
import { findResumable } from "./resume.js";
import type { JoinRequest, Sfu, SfuEventsOf, SfuState } from "./Sfu.js";
import { UdpMux, type UdpMuxStats } from "./UdpMux.js";

export type { JoinRequest };

export interface SfuServiceOptions {
  media: MediaOptions;
  limits: PeerLimits;
  maxPeersPerRoom: number;
  reconnectGraceMs: number;
  /** Each receiver gets at most this many loudest speakers; 0 forwards everyone (PROTOCOL §15). */
  forwardLoudest: number;
  activeSpeakers: ActiveSpeakerOptions;
  logger: Logger;
}

export type SfuServiceEvents = SfuEventsOf<Room, Peer>;

/**
 * The forwarding service: rooms by id, and the one entry point for joining
 * or resuming a session. Knows nothing of sockets or HTTP. Runs in the thread
 * that creates it: in the main thread, or in each worker of a {@link WorkerPool}.
 */
export class SfuService extends TypedEmitter<SfuServiceEvents> implements Sfu {
  readonly totals: ForwardingTotals = { packetsForwarded: 0, bytesForwarded: 0 };
  readonly #rooms = new Map<string, Room>();
  readonly #options: SfuServiceOptions;
  readonly #logger: Logger;
  /** The shared media sockets with ICE_UDP_PORT; none otherwise. */
  readonly #muxes: UdpMuxes = {};
  /** Every peer's SFU offers, one at a time, newcomers first. */
  readonly #offerTurns = new OfferTurns();
  readonly #ready: Promise<void>;
  #closed = false;

  constructor(options: SfuServiceOptions) {
    super(options.logger);
    this.#options = options;
    this.#logger = options.logger.child({ component: "sfu" });
    // The first join should not pay for the ECDSA key and certificate; a join before it is ready awaits the same creation.
    prepareDtlsCertificate().catch((error: unknown) =>
      this.#logger.error("DTLS certificate creation failed", { error }),
    );
    const { udpPort, bindAddress } = options.media;
    if (udpPort !== undefined) {
      for (const family of Object.keys(sharedPortHosts(options.media)).map(Number) as Array<4 | 6>) {
        this.#muxes[family] = new UdpMux({
          family,
          port: udpPort,
          ...(bindAddress !== undefined && { bindAddress }),
          logger: this.#logger,
        });
      }
    }
    this.#ready = Promise.all(Object.values(this.#muxes).map((mux) => mux.listening)).then(() => undefined);
    this.#ready.catch(() => undefined);
  }

  /** Settles once the shared media sockets (ICE_UDP_PORT) are bound; rejects when one cannot be. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /** The demultiplexer's state per shared socket (ICE_UDP_PORT); empty without one. */
  get udpMuxStats(): Partial<Record<4 | 6, UdpMuxStats & { port: number }>> {
    const stats: Partial<Record<4 | 6, UdpMuxStats & { port: number }>> = {};
    for (const mux of Object.values(this.#muxes)) {
      if (!mux.closed) stats[mux.family] = { ...mux.stats, port: mux.address.port };
    }
    return stats;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get iceServers(): IceServer[] {
    return this.#options.media.iceServers;
  }

  get rooms(): Room[] {
    return [...this.#rooms.values()];
  }

  get peerCount(): number {
    let count = 0;
    for (const room of this.#rooms.values()) count += room.size;
    return count;
  }

  getRoom(roomId: string): Room | undefined {
    return this.#rooms.get(roomId);
  }

  /**
   * Adds a participant to a room, creating the room on first use. A live peer
   * of the same user in that room is replaced (PROTOCOL §2): it closes with
   * reason `replaced` before the new one is announced.
   */
  join(request: JoinRequest): Peer {
    if (this.#closed) throw new SfuError("SHUTTING_DOWN", "the SFU is shutting down");
    const existing = this.#rooms.get(request.roomId);
    const previous = existing?.findUser(request.userId);
    if (existing && !previous && existing.full) {
      throw new SfuError(
        "ROOM_FULL",
        `room ${request.roomId} is full (${this.#options.maxPeersPerRoom} peers)`,
      );
    }
    previous?.close("replaced");
    const room = this.#roomFor(request.roomId);
    return room.addPeer(request);
  }

  /**
   * The live session that `resumeToken` names, if it is in `roomId` and belongs
   * to `userId`; undefined otherwise (a stale token is not an error).
   */
  findResumable(resumeToken: string, roomId: string, userId: string): Peer | undefined {
    return findResumable(this.#rooms.get(roomId), resumeToken, userId);
  }

  state(): Promise<SfuState> {
    return Promise.resolve({ rooms: this.roomSnapshots(), totals: { ...this.totals } });
  }

  roomSnapshots(): RoomSnapshot[] {
    return this.rooms.map((room) => room.snapshot());
  }

  peerSnapshots(): PeerSnapshot[] {
    return this.rooms.flatMap((room) => room.peers.map((peer) => peer.snapshot()));
  }

  trackSnapshots(): TrackSnapshot[] {
    return this.rooms.flatMap((room) => room.tracks.map((track) => track.snapshot()));
  }

  /** Closes every room and peer, then the shared media sockets; joins are refused afterwards. */
  async close(reason: CloseReason = "shutdown"): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const room of this.rooms) room.close(reason);
    this.#rooms.clear();
    this.#offerTurns.close();
    this.removeAllListeners();
    await Promise.all(Object.values(this.#muxes).map((mux) => mux.close()));
  }

  #roomFor(roomId: string): Room {
    let room = this.#rooms.get(roomId);
    if (room && !room.closed) return room;
    room = new Room({
      id: roomId,
      maxPeers: this.#options.maxPeersPerRoom,
      forwardLoudest: this.#options.forwardLoudest,
      peerDefaults: {
        media: this.#options.media,
        limits: this.#options.limits,
        reconnectGraceMs: this.#options.reconnectGraceMs,
        totals: this.totals,
        udpMuxes: this.#muxes,
        offerTurns: this.#offerTurns,
      },
      activeSpeakers: this.#options.activeSpeakers,
      logger: this.#logger,
    });
    const created = room;
    this.#rooms.set(roomId, created);
    created.on("peer-joined", (peer) => {
      peer.once("connected", () => this.emit("peer-connected", peer));
      this.emit("peer-joined", created, peer);
    });
    created.on("peer-left", (peer, reason) => this.emit("peer-left", created, peer, reason));
    created.on("peer-updated", (peer) => this.emit("peer-updated", created, peer));
    created.on("active-speakers", (speakers) => this.emit("active-speakers", created, speakers));
    created.on("track-published", (peer, track) => this.emit("track-published", created, peer, track.id));
    created.on("track-unpublished", (peer, track) => this.emit("track-unpublished", created, peer, track.id));
    created.once("close", () => {
      if (this.#rooms.get(roomId) === created) this.#rooms.delete(roomId);
      this.#logger.info("room closed", { roomId });
    });
    this.#logger.info("room created", { roomId });
    return created;
  }
}
