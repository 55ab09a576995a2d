/**
 * What the nodes of a cluster say to each other over Redis pub/sub. Each node
 * listens on its own channel; every message is JSON, so only plain data crosses.
 */
import type {
  ActiveSpeakersMessage,
  ErrorCode,
  IceCandidate,
  PeerControlState,
  PeerUpdatedMessage,
  SessionDescription,
} from "../protocol.js";
import type { CloseReason } from "../sfu/closeReason.js";
import type { PeerControlChange } from "../sfu/PeerControls.js";
import type { Moderation, ModerationResult, RoomCloseResult } from "../sfu/moderate.js";
import type { JoinRequest, SfuState } from "../sfu/Sfu.js";

/** The identity of a peer whose media lives on another node. */
export interface PeerInfo {
  id: string;
  roomId: string;
  userId: string;
  displayName: string | undefined;
  resumeToken: string;
}

/** A room member as the other members see it. */
export interface MemberInfo {
  peerId: string;
  userId: string;
  displayName?: string;
  /** Mute and deafen state as the room's node knows it at admission. */
  controlState: PeerControlState;
}

/** A room event the room's node hands to the clients whose sockets are on another node (PROTOCOL §12). */
export type RoomEvent =
  | { name: "peer-updated"; message: PeerUpdatedMessage }
  | { name: "active-speakers"; message: ActiveSpeakersMessage };

/** What the room's node answers a join or resume with. */
export interface Admission {
  peer: PeerInfo;
  /** Everyone in the room, the new peer included. */
  members: MemberInfo[];
  /** The owner's process, so that its restart under the same NODE_ID ends these sessions. */
  incarnation: string;
}

/** Requests a signaling node sends the room's node, and what each replies with. */
export type Calls = {
  join: { args: { request: JoinRequest }; result: Admission };
  resume: { args: { resumeToken: string; roomId: string; userId: string }; result: Admission | null };
  offer: { args: { peerId: string; description: SessionDescription }; result: SessionDescription };
  answer: { args: { peerId: string; description: SessionDescription }; result: null };
  candidate: { args: { peerId: string; candidate: IceCandidate }; result: null };
  /** A self-mute, applied where the media runs (PROTOCOL §12). */
  control: { args: { peerId: string; change: PeerControlChange }; result: null };
  state: { args: null; result: SfuState };
  /** An admin action received by another node's REST API. */
  moderate: { args: { roomId: string; peerId: string; action: Moderation }; result: ModerationResult };
  /** `DELETE /admin/rooms/:roomId` received by another node's REST API. */
  "close-room": { args: { roomId: string }; result: RoomCloseResult };
};

export type CallName = keyof Calls;

/** One-way messages, in both directions; each names the peer or room it is about. */
export type Post =
  /** signaling node → room's node */
  | { kind: "detach" | "attach"; peerId: string }
  | { kind: "close-peer"; peerId: string; reason: CloseReason }
  /** room's node → signaling node */
  | { kind: "offer"; peerId: string; description: SessionDescription }
  | { kind: "ice-candidate"; peerId: string; candidate: IceCandidate }
  | { kind: "connected"; peerId: string }
  | { kind: "peer-joined"; roomId: string; member: MemberInfo }
  | { kind: "peer-left"; roomId: string; peerId: string; reason: CloseReason }
  /** A newer socket on another node took this session over. */
  | { kind: "superseded"; peerId: string }
  /** Hand `event` to these peers' sockets, in the order the room's node saw it. */
  | { kind: "room-event"; roomId: string; peerIds: string[]; event: RoomEvent }
  /** The room's node is going away: the session ends there, the client should rejoin. */
  | { kind: "owner-leaving"; peerId: string }
  /** node → every node: it has left the cluster (SIGTERM); no need to wait for its key to expire. */
  | { kind: "node-leaving"; incarnation: string };

export interface WireError {
  /** Set for errors a client can be told about. */
  code?: ErrorCode;
  message: string;
  /** The room is placed on this other node: ask it instead. */
  movedTo?: string;
}

export type Envelope =
  | { type: "call"; from: string; id: string; method: CallName; args: unknown }
  | { type: "reply"; from: string; id: string; result: unknown }
  | { type: "reply"; from: string; id: string; error: WireError }
  | { type: "post"; from: string; message: Post };

/** A node's registration, refreshed with every heartbeat. */
export interface NodeInfo {
  nodeId: string;
  /** Per process: a restart under the same NODE_ID gets a new one. */
  incarnation: string;
  /** Rooms whose media runs here. */
  rooms: number;
  peers: number;
  /** Event-loop utilisation (0-1) since the previous heartbeat. */
  load: number;
  /** Unix ms of the heartbeat. */
  lastSeen: number;
}
