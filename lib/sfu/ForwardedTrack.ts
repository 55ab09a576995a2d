import { RtpHeader, RtpPacket, type RTCRtpSender, type RTCRtpTransceiver } from "werift";
import type { Logger } from "../logger.js";
import type { MediaTransport } from "../media/MediaTransport.js";
import type { RtpSendStream } from "../media/RtpSendStream.js";
import type { PeerControls } from "./PeerControls.js";
import { AUDIO_LEVEL_URI, extensionId, SDES_MID_URI, seqAdd, tsAdd } from "./rtp.js";
import { writeRtpHeader, writtenHeaderLength, type OutgoingExtensions, type RtpView } from "../media/rtp.js";

/** Opus at 48 kHz in 20 ms frames: the timestamp step assumed across a source switch. */
const OPUS_FRAME_TICKS = 960;
/** RTP timestamp ticks per millisecond of the Opus clock. */
const OPUS_TICKS_PER_MS = 48;
/** Stands for "resume after a pause" in place of a source SSRC: no real SSRC is negative. */
const PAUSED = -1;
/** Largest extension id and mid the one-byte header form (RFC 8285 §4.2) can carry. */
const MAX_ONE_BYTE_ID = 14;
const MAX_ONE_BYTE_MID = 16;

export interface ForwardedTrackOptions {
  /** The published track's id this forwards. */
  sourceTrackId: string;
  /** The publishing peer; also the MediaStream id receivers see. */
  sourcePeerId: string;
  /** The sendonly transceiver on the receiving peer's connection. */
  transceiver: RTCRtpTransceiver;
  /** The receiving peer's media transport: the SFU's own send path opens on it. */
  transport: MediaTransport;
  /** The receiving peer's state: while it is deafened nothing goes out. */
  receiver: PeerControls;
  logger: Logger;
}

/**
 * One published audio track as one receiver gets it: a sendonly transceiver
 * on the receiver's connection plus the rewrite of SSRC, sequence number and
 * timestamp that keeps the receiver's stream continuous for the life of this
 * object, even when the source restarts with a new SSRC.
 *
 * Packets normally go out on the SFU's own send path ({@link RtpSendStream}):
 * the header is written once into the datagram buffer, the payload copied
 * after it and SRTP applied in place. werift's `sender.sendRtp` remains for a
 * receiver whose negotiation the fast path cannot express (a two-byte
 * extension id, a long mid, an SRTP profile it does not implement); a track
 * keeps the path it started on, so its SRTP state never splits.
 */
export class ForwardedTrack {
  readonly sourceTrackId: string;
  readonly sourcePeerId: string;
  readonly transceiver: RTCRtpTransceiver;
  readonly #sender: RTCRtpSender;
  readonly #transport: MediaTransport;
  readonly #receiver: PeerControls;
  readonly #logger: Logger;
  #closed = false;
  #sourceSsrc: number | undefined;
  #seqOffset = 0;
  #tsOffset = 0;
  #lastSeq = 0;
  #lastTs = 0;
  /** When the last packet went out (performance.now()): a resumed stream's timestamps skip the pause. */
  #lastAt = 0;
  /** Decided on the first packet sent: the fast path's stream, or null for werift's path. */
  #stream: RtpSendStream | null | undefined;
  #extensions: OutgoingExtensions | undefined;
  #payloadType = 0;

  constructor(options: ForwardedTrackOptions) {
    this.sourceTrackId = options.sourceTrackId;
    this.sourcePeerId = options.sourcePeerId;
    this.transceiver = options.transceiver;
    this.#sender = options.transceiver.sender;
    this.#transport = options.transport;
    this.#receiver = options.receiver;
    this.#logger = options.logger;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The receiving side's media is up: DTLS is connected and the m-line negotiated. */
  get ready(): boolean {
    return (
      !this.#closed &&
      this.#sender.dtlsTransport?.state === "connected" &&
      this.transceiver.mid !== null &&
      this.#sender.codec !== undefined
    );
  }

  /** Whether packets go out on the SFU's own send path (false before the first packet). */
  get fastPath(): boolean {
    return this.#stream !== null && this.#stream !== undefined;
  }

  /**
   * Sends one packet of the source to this receiver: same payload bytes, this
   * receiver's SSRC, payload type, extension ids and continuous numbering.
   * `nowMs` is the packet's arrival (performance.now()). Returns whether it went out.
   */
  write(rtp: RtpView, nowMs: number): boolean {
    if (!this.#receiver.receiving || !this.ready) return false;
    if (rtp.ssrc !== this.#sourceSsrc) this.#rebase(rtp.sequenceNumber, rtp.timestamp, rtp.ssrc, nowMs);
    const seq = seqAdd(rtp.sequenceNumber, this.#seqOffset);
    const ts = tsAdd(rtp.timestamp, this.#tsOffset);
    this.#lastSeq = seq;
    this.#lastTs = ts;
    this.#lastAt = nowMs;
    if (this.#stream === undefined) this.#choosePath();
    const stream = this.#stream;
    if (!stream) return this.#writeThroughWerift(rtp, seq, ts);

    const context = stream.context;
    if (!context) return false;
    const extensions = this.#extensions!;
    const payload = rtp.payload;
    const headerLength = writtenHeaderLength(extensions, rtp.audioLevel);
    // A fresh buffer per datagram: the socket reads it after this call returns.
    const packet = Buffer.allocUnsafe(headerLength + payload.length + context.tagLength);
    writeRtpHeader(packet, rtp.marker, this.#payloadType, seq, ts, stream.ssrc, extensions, rtp.audioLevel);
    stream.send(context, packet, headerLength, payload, ts, nowMs);
    return true;
  }

  /**
   * The source stops reaching this receiver for a while (FORWARD_LOUDEST):
   * when it resumes, its first packet takes the next sequence number, and a
   * timestamp as far on as the pause lasted, as after a talk-spurt gap (DTX),
   * rather than a jump in sequence numbers that reads as loss. It costs the
   * per-packet path nothing: the SSRC check already there notices.
   */
  pause(): void {
    if (this.#sourceSsrc !== undefined) this.#sourceSsrc = PAUSED;
  }

  /** Stops the transceiver; the receiver's next negotiation removes the m-line. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#stream) this.#stream.close();
    try {
      this.transceiver.stop();
    } catch (error) {
      this.#logger.debug("transceiver stop failed", { error });
    }
  }

  #rebase(seq: number, ts: number, ssrc: number, nowMs: number): void {
    if (this.#sourceSsrc !== undefined) {
      // A new source stream, or one resumed after a pause, continues right after the last packet this receiver got.
      const pausedTicks =
        this.#sourceSsrc === PAUSED ? Math.round((nowMs - this.#lastAt) * OPUS_TICKS_PER_MS) : 0;
      this.#seqOffset = (this.#lastSeq + 1 - seq) & 0xffff;
      this.#tsOffset = (this.#lastTs + Math.max(OPUS_FRAME_TICKS, pausedTicks) - ts) >>> 0;
    }
    this.#sourceSsrc = ssrc;
  }

  /** Runs once `ready`: the mid, codec and extension ids are negotiated by then. */
  #choosePath(): void {
    const codec = this.#sender.codec!;
    const mid = Buffer.from(this.transceiver.mid ?? "", "ascii");
    const midId = extensionId(this.transceiver, SDES_MID_URI) ?? 0;
    const audioLevelId = extensionId(this.transceiver, AUDIO_LEVEL_URI) ?? 0;
    const expressible =
      midId <= MAX_ONE_BYTE_ID && audioLevelId <= MAX_ONE_BYTE_ID && mid.length <= MAX_ONE_BYTE_MID;
    const stream = expressible
      ? this.#transport.openSendStream({
          dtls: this.#sender.dtlsTransport,
          ssrc: this.#sender.ssrc,
          clockRate: codec.clockRate,
        })
      : undefined;
    if (!stream) {
      this.#logger.info("forwarding through werift's sender", {
        mid: this.transceiver.mid,
        midId,
        audioLevelId,
      });
      this.#stream = null;
      return;
    }
    this.#payloadType = codec.payloadType;
    this.#extensions = { midId: mid.length > 0 ? midId : 0, mid, audioLevelId };
    this.#stream = stream;
  }

  #writeThroughWerift(rtp: RtpView, seq: number, ts: number): boolean {
    const levelId = extensionId(this.transceiver, AUDIO_LEVEL_URI);
    const header = new RtpHeader({
      marker: rtp.marker,
      payloadType: rtp.payloadType,
      sequenceNumber: seq,
      timestamp: ts,
      ssrc: this.#sender.ssrc,
      extensions:
        rtp.audioLevel >= 0 && levelId !== undefined
          ? [{ id: levelId, payload: Buffer.of(rtp.audioLevel) }]
          : [],
    });
    // The payload views a datagram buffer of its own, never reused, so werift may keep it.
    this.#sender.sendRtp(new RtpPacket(header, rtp.payload)).catch(this.#onSendError);
    return true;
  }

  readonly #onSendError = (error: unknown): void => {
    this.#logger.debug("rtp send failed", { error });
  };
}
