import type { IceServer, LeaveReason } from "./protocol.js";
import type { SdpLimits } from "./sfu/sdp.js";
import type { TurnCredentialSource } from "./util/turnCredentials.js";

/** The TURN server a relay-only SFU allocates its one candidate on (PROTOCOL §13). */
export interface RelayOptions {
  /** A `turn:`/`turns:` URL, `?transport=udp|tcp` allowed. */
  url: string;
  /** Minted per peer connection from a secret, or static. */
  credentials: TurnCredentialSource;
}

/** How the SFU's own peer connections gather and filter ICE candidates. */
export interface MediaOptions {
  /** STUN/TURN servers the SFU uses for its own gathering and hands to clients. */
  iceServers: IceServer[];
  /** Inclusive UDP port range for media sockets. */
  portRange?: [number, number];
  /** When set, the only addresses advertised in the SFU's host candidates. */
  advertiseIps: string[];
  /** Gather IPv6 host candidates as well (doubles the sockets per peer). */
  useIpv6: boolean;
  /** Accept remote candidates that point at private, loopback or link-local addresses. */
  allowPrivateCandidates: boolean;
  /** When set, the SFU offers only a candidate relayed by this TURN server. */
  relay?: RelayOptions;
  /** One UDP port for every peer's ICE: one shared socket per address family (PROTOCOL §13). */
  udpPort?: number;
  /** Address (or host name) the media sockets bind to; candidates still carry `advertiseIps`. */
  bindAddress?: string;
}

/** Per-peer limits and timeouts. */
export interface PeerLimits {
  sdp: SdpLimits;
  /** Remote ICE candidates accepted per ICE generation (the first offer, then each ICE restart). */
  maxIceCandidates: number;
  /** Audio tracks one peer may publish. */
  maxPublishedTracks: number;
  /** Every negotiation step (set/create description) must settle within this. */
  negotiationTimeoutMs: number;
  /** How long the SFU waits for the client to answer one of its offers. */
  answerTimeoutMs: number;
  /** A peer whose ICE has not connected (or re-connected) after this is removed as failed. */
  iceTimeoutMs: number;
}

export type { LeaveReason };

/** How a room decides who is speaking (PROTOCOL §12; the knobs in §11). */
export interface ActiveSpeakerOptions {
  /** Speaking means a smoothed level louder than -thresholdDbov dBov. */
  thresholdDbov: number;
  /** The sliding window the level is smoothed over. */
  windowMs: number;
  /** How often each room's levels are read. */
  intervalMs: number;
  /** Share of the window's packets (percent) that must be loud to start speaking. */
  startPercent: number;
  /** Share (percent, at most startPercent) that keeps a speaker speaking. */
  holdPercent: number;
}

export interface PeerSnapshot {
  peerId: string;
  userId: string;
  displayName?: string;
  roomId: string;
  /** False for a listen-only participant (PROTOCOL §15). */
  canPublish: boolean;
  connectionState: string;
  /** True while the signaling socket is gone and the reconnect grace period runs. */
  detached: boolean;
  joinedAt: string;
  /** Number of audio tracks this peer publishes. */
  published: number;
  /** Number of forwarded tracks this peer receives. */
  subscribed: number;
  /** The ICE pair media flows on; null until ICE has selected one (PROTOCOL §13). */
  selectedPair: SelectedPair | null;
  /** With REDIS_URL: the node where the room's media lives, and the one holding this peer's socket. */
  nodeId?: string;
  signalingNodeId?: string;
  muted: boolean;
  serverMuted: boolean;
  deafened: boolean;
  speaking: boolean;
  /** Smoothed audio level, linear amplitude (the scale of `active-speakers`); 0 without levels. */
  audioLevel: number;
}

export type CandidateType = "host" | "srflx" | "prflx" | "relay";

/**
 * A selected ICE pair as `/debug/peers` shows it: both candidates' types, and
 * the transport: to the TURN server for a relayed local candidate, else the pair's own.
 */
export interface SelectedPair {
  local: CandidateType;
  remote: CandidateType;
  protocol: "udp" | "tcp";
}

export interface TrackSnapshot {
  trackId: string;
  roomId: string;
  peerId: string;
  kind: "audio";
  codec: string;
  subscribers: number;
  packetsReceived: number;
  packetsForwarded: number;
  bytesForwarded: number;
  /** Publisher's packets dropped on the SFU's receive path: failed SRTP authentication, and replays (RFC 3711 §3.3.2). */
  srtpAuthFailures: number;
  srtpReplaysDropped: number;
  /** With REDIS_URL: the node where the room's media lives. */
  nodeId?: string;
}

export interface RoomSnapshot {
  roomId: string;
  createdAt: string;
  peers: PeerSnapshot[];
  tracks: TrackSnapshot[];
  /** With REDIS_URL: the node where the room's media lives. */
  nodeId?: string;
}

/** Running totals the metrics exporter reads; never reset. */
export interface ForwardingTotals {
  packetsForwarded: number;
  bytesForwarded: number;
}
