/**
 * The wire contract between the SFU and its clients (docs/PROTOCOL.md).
 *
 * Pure types and constants, no runtime imports: the server's Socket.IO
 * namespace, the test clients and the browser SDK all compile against this
 * module, so a renamed field fails to compile everywhere.
 */

/** The Socket.IO namespace that carries signaling. */
export const SFU_NAMESPACE = "/sfu";

/** Error codes carried by failed acks and `error` events. */
export const ERROR_CODES = [
  "BAD_REQUEST",
  "NOT_JOINED",
  "ALREADY_JOINED",
  "ROOM_FULL",
  "SERVER_FULL",
  "UNAUTHORIZED",
  "RATE_LIMITED",
  "NEGOTIATION_FAILED",
  "INTERNAL",
  "REPLACED",
  "KICKED",
  "SHUTTING_DOWN",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorPayload {
  code: ErrorCode;
  message: string;
}

/** The one object every acknowledgement carries. */
export type AckResult<T extends object = object> = ({ ok: true } & T) | { ok: false; error: ErrorPayload };

/** The acknowledgement callback a client may pass as an event's last argument. */
export type Ack<T extends object = object> = (result: AckResult<T>) => void;

export interface SessionDescription {
  type: "offer" | "answer";
  sdp: string;
}

export interface IceCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface JoinMessage {
  roomId: string;
  userId: string;
  displayName?: string;
  token?: string;
  resumeToken?: string;
}

export interface LeaveMessage {
  roomId: string;
}

/** A participant's mute and deafen state (PROTOCOL §12). */
export interface PeerControlState {
  /** The participant muted its own microphone: the SFU forwards none of its packets. */
  muted: boolean;
  /** A moderator muted the participant: the SFU forwards none of its packets, whatever it sends. */
  serverMuted: boolean;
  /** A moderator deafened the participant: the SFU forwards nothing to it. */
  deafened: boolean;
}

export interface PeerInfo extends PeerControlState {
  peerId: string;
  userId: string;
  displayName?: string;
}

export interface JoinedMessage {
  roomId: string;
  peerId: string;
  userId: string;
  peers: PeerInfo[];
  /** STUN servers, and TURN servers with credentials minted for this join (PROTOCOL §13). */
  iceServers: IceServer[];
  /** `"relay"` when the SFU wants clients to use only relayed candidates; absent otherwise. */
  iceTransportPolicy?: "relay";
  resumeToken: string;
  resumed: boolean;
}

export interface UserJoinedMessage extends PeerInfo {
  roomId: string;
}

export const LEAVE_REASONS = ["leave", "disconnect", "replaced", "kicked", "failed"] as const;
export type LeaveReason = (typeof LEAVE_REASONS)[number];

export interface UserLeftMessage {
  roomId: string;
  peerId: string;
  userId: string;
  reason: LeaveReason;
}

export interface MuteMessage {
  muted: boolean;
}

/** A participant's state changed; sent to the whole room, the subject included. */
export interface PeerUpdatedMessage extends PeerControlState {
  roomId: string;
  peerId: string;
}

export interface ActiveSpeaker {
  peerId: string;
  /** Smoothed level as linear amplitude, 10^(dBov/20): 1 = 0 dBov, 0.0178 = -35 dBov. */
  level: number;
}

/** Who is speaking, loudest first; `speakers: []` when nobody is. */
export interface ActiveSpeakersMessage {
  roomId: string;
  speakers: ActiveSpeaker[];
}

export interface ErrorMessage extends ErrorPayload {
  event?: string;
}

/** Events a client sends; each takes an optional ack as its last argument. */
export interface ClientToServerEvents {
  join: (message: JoinMessage, ack?: Ack<{ joined: JoinedMessage }>) => void;
  leave: (message: LeaveMessage, ack?: Ack) => void;
  offer: (description: SessionDescription, ack?: Ack) => void;
  answer: (description: SessionDescription, ack?: Ack) => void;
  "ice-candidate": (candidate: IceCandidate, ack?: Ack) => void;
  mute: (message: MuteMessage, ack?: Ack) => void;
}

/** Events the SFU sends. */
export interface ServerToClientEvents {
  joined: (message: JoinedMessage) => void;
  "user-joined": (message: UserJoinedMessage) => void;
  "user-left": (message: UserLeftMessage) => void;
  offer: (description: SessionDescription) => void;
  answer: (description: SessionDescription) => void;
  "ice-candidate": (candidate: IceCandidate) => void;
  error: (message: ErrorMessage) => void;
  "peer-updated": (message: PeerUpdatedMessage) => void;
  "active-speakers": (message: ActiveSpeakersMessage) => void;
}

export type ClientEventName = keyof ClientToServerEvents;
/** Every client event; test/types/signaling.ts fails to compile when one of the contract is missing. */
export const CLIENT_EVENTS = [
  "join",
  "leave",
  "offer",
  "answer",
  "ice-candidate",
  "mute",
] as const satisfies readonly ClientEventName[];
