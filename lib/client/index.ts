/**
 * Browser SDK of the audio SFU.
 *
 * ```ts
 * const client = connect("https://sfu.example.com");
 * await client.publishMicrophone();
 * await client.join({ roomId: "standup", userId: "ada" });
 * ```
 */
import { SfuClient } from "./SfuClient.js";
import type { ConnectOptions } from "./types.js";

/** Opens a signaling connection to the SFU at `url` (its origin; `/sfu` is appended). */
export function connect(url: string, options: ConnectOptions = {}): SfuClient {
  return new SfuClient(url, options);
}

export { SfuClient, type SfuSocket } from "./SfuClient.js";
export { SfuClientError, type ClientErrorCode } from "./SfuClientError.js";
export type { BackoffOptions } from "./Backoff.js";
export type {
  ActiveSpeakerEvent,
  ConnectionState,
  ConnectOptions,
  InboundAudioStats,
  JoinedEvent,
  JoinOptions,
  Participant,
  PeerUpdatedEvent,
  SfuClientEvents,
  TrackEvent,
} from "./types.js";
export type { ErrorCode, LeaveReason } from "../protocol.js";
