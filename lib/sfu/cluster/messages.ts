/**
 * What the main thread and a forwarding worker say to each other. Every
 * message is structured-cloned, so only plain data crosses.
 */
import type { LogLevel } from "../../logger.js";
import type {
  ActiveSpeaker,
  ErrorCode,
  IceCandidate,
  PeerControlState,
  SessionDescription,
} from "../../protocol.js";
import type { CloseReason } from "../closeReason.js";
import type { PeerControlChange } from "../PeerControls.js";
import type { SfuServiceOptions } from "../SfuService.js";
import type { JoinRequest, SfuState } from "../Sfu.js";

/** What a worker needs to build its own {@link SfuService}. */
export interface WorkerSetup {
  index: number;
  logLevel: LogLevel;
  service: Omit<SfuServiceOptions, "logger">;
}

/** The identity of a peer that lives in a worker. */
export interface PeerInfo {
  id: string;
  roomId: string;
  userId: string;
  displayName: string | undefined;
  resumeToken: string;
}

/** A worker's own V8 heap: the process-wide heap series describe the main thread only. */
export interface WorkerHeap {
  usedBytes: number;
  totalBytes: number;
  /** Memory outside the heap that its objects hold (Buffers and other ArrayBuffers). */
  externalBytes: number;
}

/** Requests that expect a reply, and what each replies with. */
export type Calls = {
  join: { args: JoinRequest; result: PeerInfo };
  offer: { args: { peerId: string; description: SessionDescription }; result: SessionDescription };
  answer: { args: { peerId: string; description: SessionDescription }; result: null };
  candidate: { args: { peerId: string; candidate: IceCandidate }; result: null };
  state: { args: null; result: SfuState };
  heap: { args: null; result: WorkerHeap };
  close: { args: { reason: CloseReason }; result: null };
  control: { args: { peerId: string; change: PeerControlChange }; result: null };
};

export type CallName = keyof Calls;

export type ToWorker =
  | { [K in CallName]: { kind: "call"; id: number; method: K; args: Calls[K]["args"] } }[CallName]
  | { kind: "attach" | "detach"; peerId: string }
  | { kind: "close-peer"; peerId: string; reason: CloseReason };

export interface WireError {
  /** Set for errors a client can be told about (an {@link SfuError}). */
  code?: ErrorCode;
  message: string;
}

export type FromWorker =
  | { kind: "reply"; id: number; result: unknown }
  | { kind: "reply"; id: number; error: WireError }
  | { kind: "peer-joined"; peer: PeerInfo }
  | { kind: "peer-left"; peerId: string; reason: CloseReason }
  | { kind: "peer-connected"; peerId: string }
  | { kind: "offer"; peerId: string; description: SessionDescription }
  | { kind: "ice-candidate"; peerId: string; candidate: IceCandidate }
  | { kind: "peer-updated"; peerId: string; state: PeerControlState }
  | { kind: "active-speakers"; roomId: string; speakers: ActiveSpeaker[] }
  | { kind: "track-published" | "track-unpublished"; peerId: string; trackId: string }
  /** The worker caught an error no code path handled, and stayed up. */
  | { kind: "process-error"; error: ProcessErrorKind };

export type ProcessErrorKind = "uncaughtException" | "unhandledRejection";
