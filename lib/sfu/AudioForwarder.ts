import { randomUUID } from "node:crypto";
import type { MediaStreamTrack, RTCRtpTransceiver, RtpPacket } from "werift";
import type { Logger } from "../logger.js";
import type { ForwardingTotals, TrackSnapshot } from "../types.js";
import type { ForwardedTrack } from "./ForwardedTrack.js";
import { AUDIO_LEVEL_URI, extensionId } from "./rtp.js";

export interface AudioForwarderOptions {
  roomId: string;
  peerId: string;
  /** The publisher's receiving transceiver and its remote track. */
  transceiver: RTCRtpTransceiver;
  track: MediaStreamTrack;
  /** Process-wide counters shared by every forwarder. */
  totals: ForwardingTotals;
  logger: Logger;
}

/**
 * One published audio track: receives its RTP from werift and hands each
 * packet, payload untouched, to every subscriber's {@link ForwardedTrack}.
 */
export class AudioForwarder {
  readonly id = randomUUID();
  readonly roomId: string;
  readonly peerId: string;
  readonly #track: MediaStreamTrack;
  readonly #transceiver: RTCRtpTransceiver;
  readonly #subscribers = new Set<ForwardedTrack>();
  readonly #totals: ForwardingTotals;
  readonly #logger: Logger;
  readonly #unsubscribe: () => void;
  #closed = false;
  #failed = false;
  #audioLevelId: number | undefined;
  packetsReceived = 0;
  packetsForwarded = 0;
  bytesForwarded = 0;

  constructor(options: AudioForwarderOptions) {
    this.roomId = options.roomId;
    this.peerId = options.peerId;
    this.#track = options.track;
    this.#transceiver = options.transceiver;
    this.#totals = options.totals;
    this.#logger = options.logger.child({ trackId: this.id });
    this.#unsubscribe = this.#track.onReceiveRtp.subscribe(this.#onRtp).unSubscribe;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get codec(): string {
    return this.#track.codec?.mimeType ?? "audio/opus";
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /** Whether `transceiver` is the one this track arrives on. */
  receivesFrom(transceiver: RTCRtpTransceiver): boolean {
    return this.#transceiver === transceiver;
  }

  /** False once the publisher renegotiated its m-line to stop sending. */
  get isReceiving(): boolean {
    const direction = this.#transceiver.currentDirection;
    return !this.#transceiver.stopped && (direction === "recvonly" || direction === "sendrecv");
  }

  addSubscriber(track: ForwardedTrack): void {
    if (!this.#closed) this.#subscribers.add(track);
  }

  removeSubscriber(track: ForwardedTrack): void {
    this.#subscribers.delete(track);
  }

  snapshot(): TrackSnapshot {
    return {
      trackId: this.id,
      roomId: this.roomId,
      peerId: this.peerId,
      kind: "audio",
      codec: this.codec,
      subscribers: this.#subscribers.size,
      packetsReceived: this.packetsReceived,
      packetsForwarded: this.packetsForwarded,
      bytesForwarded: this.bytesForwarded,
    };
  }

  /** Stops receiving; subscribers are closed by the peers that own them. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.#subscribers.clear();
  }

  // Runs inside werift's receive path for every packet: must never throw.
  readonly #onRtp = (packet: RtpPacket): void => {
    try {
      this.packetsReceived++;
      this.#audioLevelId ??= extensionId(this.#transceiver, AUDIO_LEVEL_URI);
      const levelId = this.#audioLevelId;
      const audioLevel =
        levelId === undefined ? undefined : packet.header.extensions.find((e) => e.id === levelId)?.payload;
      const bytes = packet.payload.length;
      for (const subscriber of this.#subscribers) {
        if (!subscriber.write(packet, audioLevel)) continue;
        this.packetsForwarded++;
        this.bytesForwarded += bytes;
        this.#totals.packetsForwarded++;
        this.#totals.bytesForwarded += bytes;
      }
    } catch (error) {
      if (this.#failed) return;
      this.#failed = true;
      this.#logger.error("forwarding failed; further errors on this track are not logged", { error });
    }
  };
}
