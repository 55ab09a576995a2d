import { randomUUID } from "node:crypto";
import type { MediaStreamTrack, RTCDtlsTransport, RTCRtpTransceiver, RtpPacket } from "werift";
import type { Logger } from "../logger.js";
import type { ForwardingTotals, TrackSnapshot } from "../types.js";
import type { MediaTransport } from "../media/MediaTransport.js";
import { createRtpView, readRtp } from "../media/rtp.js";
import type { RtpReceiveStream } from "../media/RtpReceiveStream.js";
import type { ForwardedTrack } from "./ForwardedTrack.js";
import type { PeerControls } from "./PeerControls.js";
import type { SpeechMeter } from "./SpeechMeter.js";
import { AUDIO_LEVEL_URI, extensionId } from "./rtp.js";

export interface AudioForwarderOptions {
  roomId: string;
  peerId: string;
  /** The publisher's receiving transceiver and its remote track. */
  transceiver: RTCRtpTransceiver;
  track: MediaStreamTrack;
  /** The publishing peer's media transport: the SFU's own receive path opens on it. */
  transport: MediaTransport;
  /** Process-wide counters shared by every forwarder. */
  totals: ForwardingTotals;
  /** The publisher's mute state: while muted, packets go nowhere. */
  controls: PeerControls;
  /** The publisher's speech meter, fed with each packet's audio level. */
  speech: SpeechMeter;
  logger: Logger;
}

/**
 * One published audio track: receives its RTP and hands each packet, payload
 * untouched, to every subscriber's {@link ForwardedTrack}.
 *
 * When the publisher signalled the track's SSRC, its packets come straight
 * off the transport through an {@link RtpReceiveStream}, decrypted in place,
 * without werift's parse, routing, clone and event dispatch. Otherwise (and
 * for anything that path leaves to werift) they arrive through werift's
 * `track.onReceiveRtp`.
 */
export class AudioForwarder {
  readonly id = randomUUID();
  readonly roomId: string;
  readonly peerId: string;
  readonly #track: MediaStreamTrack;
  readonly #transceiver: RTCRtpTransceiver;
  readonly #subscribers = new Set<ForwardedTrack>();
  readonly #totals: ForwardingTotals;
  readonly #controls: PeerControls;
  readonly #speech: SpeechMeter;
  readonly #logger: Logger;
  readonly #unsubscribe: () => void;
  readonly #stream: RtpReceiveStream | undefined;
  #closed = false;
  #failed = false;
  /** False while FORWARD_LOUDEST leaves this track out of the room's loudest (PROTOCOL §15); set by the room's level timer. */
  #selected = true;
  /** The publisher's audio-level extension id, 0 if it has none; resolved on the first packet. */
  #audioLevelId: number | undefined;
  /** Filled per packet and handed to every subscriber; never kept past the call. */
  readonly #view = createRtpView();
  packetsReceived = 0;
  packetsForwarded = 0;
  bytesForwarded = 0;

  constructor(options: AudioForwarderOptions) {
    this.roomId = options.roomId;
    this.peerId = options.peerId;
    this.#track = options.track;
    this.#transceiver = options.transceiver;
    this.#totals = options.totals;
    this.#controls = options.controls;
    this.#speech = options.speech;
    this.#logger = options.logger.child({ trackId: this.id });
    this.#unsubscribe = this.#track.onReceiveRtp.subscribe(this.#onRtp).unSubscribe;
    this.#stream = this.#openStream(options.transport);
  }

  /** Whether packets arrive on the SFU's own receive path. */
  get fastPath(): boolean {
    return this.#stream !== undefined;
  }

  /** Subscribers whose packets go out on the SFU's own send path (diagnostics and tests). */
  get fastSubscribers(): number {
    let count = 0;
    for (const subscriber of this.#subscribers) if (subscriber.fastPath) count++;
    return count;
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

  /** Whether packets go to subscribers at all: FORWARD_LOUDEST forwards only the loudest tracks. */
  get selected(): boolean {
    return this.#selected;
  }

  /** Starts or stops sending this track's packets to its subscribers; they keep their tracks either way. */
  setSelected(selected: boolean): void {
    if (this.#selected === selected) return;
    this.#selected = selected;
    // Each receiver's numbering must continue across the gap.
    if (!selected) for (const subscriber of this.#subscribers) subscriber.pause();
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
      srtpAuthFailures: this.#stream?.authFailures ?? 0,
      srtpReplaysDropped: this.#stream?.replaysDropped ?? 0,
    };
  }

  /** Stops receiving; subscribers are closed by the peers that own them. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.#stream?.close();
    this.#subscribers.clear();
  }

  // Runs inside werift's receive path for every packet: must never throw.
  readonly #onRtp = (packet: RtpPacket): void => {
    try {
      this.packetsReceived++;
      this.#audioLevelId ??= extensionId(this.#transceiver, AUDIO_LEVEL_URI) ?? 0;
      const levelId = this.#audioLevelId;
      const { header } = packet;
      const view = this.#view;
      view.marker = header.marker;
      view.payloadType = header.payloadType;
      view.sequenceNumber = header.sequenceNumber;
      view.timestamp = header.timestamp;
      view.ssrc = header.ssrc;
      view.payload = packet.payload;
      view.audioLevel = -1;
      if (levelId > 0) {
        for (const extension of header.extensions) {
          if (extension.id === levelId && extension.payload.length > 0)
            view.audioLevel = extension.payload[0]!;
        }
      }
      this.#forward(performance.now());
    } catch (error) {
      this.#onError(error);
    }
  };

  #openStream(transport: MediaTransport): RtpReceiveStream | undefined {
    const { ssrc, codec } = this.#track;
    // Set by werift when the transceiver is created; typed as always present, checked all the same.
    const dtls: RTCDtlsTransport | undefined = this.#transceiver.receiver.dtlsTransport;
    if (ssrc === undefined || codec === undefined || dtls === undefined) {
      this.#logger.info("receiving through werift", { signalledSsrc: ssrc !== undefined });
      return undefined;
    }
    const stream = transport.openReceiveStream({
      dtls,
      ssrc,
      payloadType: codec.payloadType,
      clockRate: codec.clockRate,
      receiver: this.#transceiver.receiver,
      onPacket: this.#onPacket,
    });
    if (!stream) this.#logger.info("receiving through werift", { transportClosed: transport.closed });
    return stream;
  }

  // Runs inside the transport's receive path for every packet: must never throw.
  readonly #onPacket = (packet: Buffer, headerLength: number, end: number, nowMs: number): void => {
    try {
      this.packetsReceived++;
      this.#audioLevelId ??= extensionId(this.#transceiver, AUDIO_LEVEL_URI) ?? 0;
      if (!readRtp(packet, headerLength, end, this.#audioLevelId, this.#view)) return;
      this.#forward(nowMs);
    } catch (error) {
      this.#onError(error);
    }
  };

  #forward(nowMs: number): void {
    const view = this.#view;
    // A muted publisher's packets reach no one and are not speech (PROTOCOL §12); two field reads.
    if (!this.#controls.sending) return;
    this.#speech.observe(view.audioLevel);
    // Outside the room's loudest the packet goes nowhere, but it was measured: that is how a source gets in.
    if (!this.#selected) return;
    const bytes = view.payload.length;
    let sent = 0;
    for (const subscriber of this.#subscribers) {
      // One subscriber's failure must not cost the others this packet; try/catch allocates nothing unless thrown.
      try {
        if (subscriber.write(view, nowMs)) sent++;
      } catch (error) {
        this.#onError(error);
      }
    }
    if (sent === 0) return;
    this.packetsForwarded += sent;
    this.bytesForwarded += sent * bytes;
    this.#totals.packetsForwarded += sent;
    this.#totals.bytesForwarded += sent * bytes;
  }

  #onError(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#logger.error("forwarding failed; further errors on this track are not logged", { error });
  }
}
