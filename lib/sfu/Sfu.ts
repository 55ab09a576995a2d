import type {
  ActiveSpeaker,
  IceCandidate,
  IceServer,
  PeerControlState,
  SessionDescription,
} from "../protocol.js";
import type { CloseReason } from "./closeReason.js";
import type { ForwardingTotals, RoomSnapshot } from "../types.js";
import type { PeerControlChange } from "./PeerControls.js";

export type { PeerControlChange };

type Listener<Args extends unknown[]> = (...args: Args) => void;

/** The `on`/`once` half of a {@link TypedEmitter}: what callers outside an emitter may use. */
export interface Subscribable<Events extends Record<string, unknown[]>> {
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void;
  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void;
}

export type PeerSessionEvents = {
  /** An SFU offer for the attached client. */
  offer: [SessionDescription];
  /** One of the SFU's trickled candidates for the attached client. */
  "ice-candidate": [IceCandidate];
  /** ICE and DTLS are up for the first time. */
  connected: [];
  /** Mute or deafen state changed. */
  updated: [PeerControlState];
  close: [CloseReason];
};

/**
 * One participant session as signaling sees it, wherever its media runs: a
 * {@link Peer} in this thread, or a stand-in for one in a forwarding worker.
 */
export interface PeerSession extends Subscribable<PeerSessionEvents> {
  readonly id: string;
  readonly roomId: string;
  readonly userId: string;
  readonly displayName: string | undefined;
  readonly resumeToken: string;
  readonly closed: boolean;
  /** Mute and deafen state as last known in this thread. */
  readonly controlState: PeerControlState;
  /** A self-mute, or a moderator's mute or deafen (PROTOCOL §12). */
  control(change: PeerControlChange): void | Promise<void>;
  handleOffer(description: SessionDescription): Promise<SessionDescription>;
  handleAnswer(description: SessionDescription): Promise<void>;
  addIceCandidate(candidate: IceCandidate): Promise<void>;
  /** The signaling socket went away: keep the session for the grace period. */
  detach(): void;
  /** A socket resumed this session. */
  attach(): void;
  close(reason: CloseReason): void;
}

/** A room's membership as signaling sees it. */
export interface RoomMembers {
  readonly id: string;
  readonly peers: PeerSession[];
  readonly size: number;
}

export interface JoinRequest {
  roomId: string;
  userId: string;
  displayName?: string;
  /** False makes a listen-only participant (PROTOCOL §15); absent means true. */
  canPublish?: boolean;
}

/** The service's events, for its own room and peer types (in-process) or signaling's view of them. */
export type SfuEventsOf<Room, Peer> = {
  "peer-joined": [Room, Peer];
  "peer-left": [Room, Peer, CloseReason];
  /** A peer's ICE and DTLS came up for the first time. */
  "peer-connected": [Peer];
  /** A peer's mute or deafen state changed. */
  "peer-updated": [Room, Peer];
  /** The set or order of a room's speakers changed; loudest first. */
  "active-speakers": [Room, ActiveSpeaker[]];
  /** A track's id, with the room and publisher. */
  "track-published": [Room, Peer, string];
  "track-unpublished": [Room, Peer, string];
};

export type SfuEvents = SfuEventsOf<RoomMembers, PeerSession>;

/** Everything the admin routes and metrics read, taken at one moment. */
export interface SfuState {
  rooms: RoomSnapshot[];
  totals: ForwardingTotals;
}

/**
 * The forwarding service as the server layer drives it. {@link SfuService}
 * forwards in this thread; {@link WorkerPool} spreads rooms over worker
 * threads. Membership reads are synchronous in both: the pool keeps them here.
 */
export interface Sfu extends Subscribable<SfuEvents> {
  readonly closed: boolean;
  /** What clients are told to use for their own gathering. */
  readonly iceServers: IceServer[];
  readonly rooms: RoomMembers[];
  readonly peerCount: number;
  getRoom(roomId: string): RoomMembers | undefined;
  /** Adds a participant, replacing a live peer of the same user in that room. */
  join(request: JoinRequest): PeerSession | Promise<PeerSession>;
  /** The live session `resumeToken` names in that room for that user, if any (asking other nodes in a cluster). */
  findResumable(
    resumeToken: string,
    roomId: string,
    userId: string,
  ): PeerSession | undefined | Promise<PeerSession | undefined>;
  state(): Promise<SfuState>;
  /** Closes every room and peer; joins are refused afterwards. */
  close(reason?: CloseReason): void | Promise<void>;
}
