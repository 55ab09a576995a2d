import type { ManagerOptions, SocketOptions } from "socket.io-client";
import type { LeaveReason } from "../protocol.js";
import type { BackoffOptions } from "./Backoff.js";
import type { SfuClientError } from "./SfuClientError.js";

/**
 * The client's overall state, as an app would show it:
 * - `connecting`: joining, or waiting for the first media path;
 * - `connected`: joined, media path up;
 * - `reconnecting`: joined, but signaling or media broke and the SDK is repairing it;
 * - `disconnected`: not in a room (before `join`, after `leave`, or after the SFU removed us).
 */
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected";

/** Options of `connect()`; every field is optional. */
export interface ConnectOptions {
  /** Extra Socket.IO client options (path, transports, extraHeaders, …). */
  socket?: Partial<ManagerOptions & SocketOptions>;
  /** Merged into every RTCPeerConnection's configuration; the SFU's `iceServers` win. */
  rtcConfiguration?: RTCConfiguration;
  /**
   * `"relay"` sends media only through the TURN servers the SFU hands out
   * (for networks that must not see the SFU's address, or to test TURN).
   * The SFU's `joined.iceTransportPolicy` (ICE_RELAY_ONLY_CLIENTS) wins.
   */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** How long an acknowledged request may take (default 10000 ms). */
  requestTimeoutMs?: number;
  /** How long ICE may stay `disconnected` before the SDK restarts it (default 3000 ms). */
  iceDisconnectedTimeoutMs?: number;
  /** How long one ICE restart may take to reconnect before another is tried (default 8000 ms). */
  iceRestartTimeoutMs?: number;
  /** ICE restarts in a row before the SDK gives up the session and joins afresh (default 3). */
  maxIceRestarts?: number;
  /** Delays between attempts to get back into the room after losing the session. */
  rejoinBackoff?: BackoffOptions;
  /** Log the SDK's decisions to the console. */
  debug?: boolean;
}

/** What `join()` needs; `token` only when the SFU requires join tokens. */
export interface JoinOptions {
  roomId: string;
  userId: string;
  displayName?: string;
  token?: string;
}

/** Another participant in the room. */
export interface Participant {
  readonly peerId: string;
  readonly userId: string;
  readonly displayName?: string;
  /** The participant's forwarded audio, once its track has arrived. */
  readonly stream: MediaStream | undefined;
  /** It muted its own microphone. */
  readonly muted: boolean;
  /** A moderator muted it. */
  readonly serverMuted: boolean;
  /** A moderator deafened it. */
  readonly deafened: boolean;
  /** In the SFU's latest `active-speakers` list. */
  readonly speaking: boolean;
  /** Its level in that list (linear amplitude, 1 = 0 dBov); 0 while not speaking. */
  readonly audioLevel: number;
}

/** A participant's mute or deafen state changed (the local one's too: `local` is true). */
export interface PeerUpdatedEvent {
  peerId: string;
  local: boolean;
  muted: boolean;
  serverMuted: boolean;
  deafened: boolean;
}

/** One entry of the SFU's active-speaker list. */
export interface ActiveSpeakerEvent {
  peerId: string;
  /** Linear amplitude, 10^(dBov/20). */
  level: number;
  local: boolean;
}

/** A remote participant's audio arrived (or was replaced). */
export interface TrackEvent {
  /** The source participant; equals the msid stream id the SFU sets. */
  peerId: string;
  stream: MediaStream;
  track: MediaStreamTrack;
}

/** This client is (again) in a room. */
export interface JoinedEvent {
  roomId: string;
  peerId: string;
  /** True when an earlier session was resumed (same peerId, nothing seen by others). */
  resumed: boolean;
  /** Set when an earlier session was lost and this join replaced it with a new peerId. */
  previousPeerId?: string;
}

/** Receive statistics for one remote participant's audio. */
export interface InboundAudioStats {
  peerId: string;
  packetsReceived: number;
  packetsLost: number;
  bytesReceived: number;
  jitter: number;
  /** 0..1, as the browser reports it; undefined until audio was decoded. */
  audioLevel: number | undefined;
}

/** Events of `SfuClient`, as listener argument tuples. */
export type SfuClientEvents = {
  "connection-state": [state: ConnectionState, previous: ConnectionState];
  "participant-joined": [participant: Participant];
  "participant-left": [participant: Participant, reason: LeaveReason];
  track: [event: TrackEvent];
  joined: [event: JoinedEvent];
  /** Mute or deafen state changed, of a participant or of this client. */
  "peer-updated": [event: PeerUpdatedEvent];
  /** Who speaks, loudest first (this client included); empty when nobody does. */
  "active-speakers": [speakers: ActiveSpeakerEvent[]];
  error: [error: SfuClientError];
};
