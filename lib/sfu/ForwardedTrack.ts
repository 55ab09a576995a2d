import { RtpHeader, RtpPacket, type RTCRtpSender, type RTCRtpTransceiver } from "werift";
import type { Logger } from "../logger.js";
import { AUDIO_LEVEL_URI, extensionId, seqAdd, tsAdd } from "./rtp.js";

/** Opus at 48 kHz in 20 ms frames: the timestamp step assumed across a source switch. */
const OPUS_FRAME_TICKS = 960;

export interface ForwardedTrackOptions {
  /** The published track's id this forwards. */
  sourceTrackId: string;
  /** The publishing peer; also the MediaStream id receivers see. */
  sourcePeerId: string;
  /** The sendonly transceiver on the receiving peer's connection. */
  transceiver: RTCRtpTransceiver;
  logger: Logger;
}

/**
 * One published audio track as one receiver gets it: a sendonly transceiver
 * on the receiver's connection plus the rewrite of SSRC, sequence number and
 * timestamp that keeps the receiver's stream continuous for the life of this
 * object, even when the source restarts with a new SSRC.
 */
export class ForwardedTrack {
  readonly sourceTrackId: string;
  readonly sourcePeerId: string;
  readonly transceiver: RTCRtpTransceiver;
  readonly #sender: RTCRtpSender;
  readonly #logger: Logger;
  #closed = false;
  #sourceSsrc: number | undefined;
  #seqOffset = 0;
  #tsOffset = 0;
  #lastSeq = 0;
  #lastTs = 0;
  // Resolved once negotiation has set the transceiver's extensions; undefined until then.
  #audioLevelId: number | undefined;

  constructor(options: ForwardedTrackOptions) {
    this.sourceTrackId = options.sourceTrackId;
    this.sourcePeerId = options.sourcePeerId;
    this.transceiver = options.transceiver;
    this.#sender = options.transceiver.sender;
    this.#logger = options.logger;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The receiving side's media is up: DTLS is connected and the m-line negotiated. */
  get ready(): boolean {
    return !this.#closed && this.#sender.dtlsTransport?.state === "connected" && this.transceiver.mid !== null;
  }

  /**
   * Sends one packet of the source to this receiver. `audioLevel` is the raw
   * RFC 6464 extension byte of the source packet, re-tagged with the id the
   * receiver negotiated. Returns whether the packet went out.
   */
  write(packet: RtpPacket, audioLevel: Buffer | undefined): boolean {
    if (!this.ready) return false;
    const source = packet.header;
    if (source.ssrc !== this.#sourceSsrc) this.#rebase(source.sequenceNumber, source.timestamp, source.ssrc);
    this.#lastSeq = seqAdd(source.sequenceNumber, this.#seqOffset);
    this.#lastTs = tsAdd(source.timestamp, this.#tsOffset);
    this.#audioLevelId ??= extensionId(this.transceiver, AUDIO_LEVEL_URI);
    const header = new RtpHeader({
      marker: source.marker,
      payloadType: source.payloadType,
      sequenceNumber: this.#lastSeq,
      timestamp: this.#lastTs,
      ssrc: this.#sender.ssrc,
      extensions:
        audioLevel && this.#audioLevelId !== undefined ? [{ id: this.#audioLevelId, payload: audioLevel }] : [],
    });
    this.#sender.sendRtp(new RtpPacket(header, packet.payload)).catch(this.#onSendError);
    return true;
  }

  /** Stops the transceiver; the receiver's next negotiation removes the m-line. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.transceiver.stop();
    } catch (error) {
      this.#logger.debug("transceiver stop failed", { error });
    }
  }

  #rebase(seq: number, ts: number, ssrc: number): void {
    if (this.#sourceSsrc !== undefined) {
      // A new source stream continues right after the last packet this receiver got.
      this.#seqOffset = (this.#lastSeq + 1 - seq) & 0xffff;
      this.#tsOffset = (this.#lastTs + OPUS_FRAME_TICKS - ts) >>> 0;
    }
    this.#sourceSsrc = ssrc;
  }

  readonly #onSendError = (error: unknown): void => {
    this.#logger.debug("rtp send failed", { error });
  };
}
