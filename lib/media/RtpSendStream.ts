import { RtcpSenderInfo, RtcpSrPacket } from "werift";
import { RolloverCounter } from "./RolloverCounter.js";
import { createKeystreamCache, type SrtpContext } from "./SrtpContext.js";

/** What a send stream needs of the transport that opened it (MediaTransport). */
export interface SendPath {
  /** The context to protect packets under; undefined while there are no usable keys. */
  readonly outbound: SrtpContext | undefined;
  /** Sends one protected datagram. */
  send(datagram: Buffer): void;
}

export interface RtpSendStreamOptions {
  path: SendPath;
  /** The SSRC werift negotiated for the sender; every packet written must carry it. */
  ssrc: number;
  clockRate: number;
  /** Tells the transport the stream is gone. */
  onClose: (stream: RtpSendStream) => void;
}

/**
 * One outgoing RTP stream (one SSRC) on the SFU's own send path: protects
 * packets the caller has written, sends them on the transport, and keeps the
 * counts its RTCP sender reports carry. Opened by MediaTransport.openSendStream.
 */
export class RtpSendStream {
  readonly ssrc: number;
  readonly #path: SendPath;
  readonly #onClose: (stream: RtpSendStream) => void;
  readonly #clockRate: number;
  #context: SrtpContext | undefined;
  #rollover = new RolloverCounter();
  readonly #keystream = createKeystreamCache();
  #packets = 0;
  #octets = 0;
  #lastTimestamp = 0;
  #lastSentMs = 0;
  #reportedPackets = 0;
  #closed = false;

  constructor(options: RtpSendStreamOptions) {
    this.ssrc = options.ssrc;
    this.#path = options.path;
    this.#clockRate = options.clockRate;
    this.#onClose = options.onClose;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Packets sent (RTCP sender's packet count). */
  get packetCount(): number {
    return this.#packets;
  }

  /** Payload bytes sent (RTCP sender's octet count). */
  get octetCount(): number {
    return this.#octets;
  }

  /**
   * The SRTP context to write the next packet under, or undefined while the
   * transport has no keys this layer can use (then send nothing). Its
   * `tagLength` is the room `send` needs after the payload.
   */
  get context(): SrtpContext | undefined {
    const context = this.#path.outbound;
    if (context !== this.#context && context !== undefined) {
      // New DTLS keys: the receiver starts a fresh SRTP stream, so do we.
      this.#context = context;
      this.#rollover = new RolloverCounter();
      this.#keystream.buffer = undefined;
    }
    return context;
  }

  /**
   * Completes and sends a packet whose header (carrying this stream's SSRC)
   * the caller wrote to packet[0, headerLength): the payload goes in
   * encrypted under `context` (just read from `this.context`), then the SRTP
   * tag. `packet` must be exactly headerLength + payload.length +
   * context.tagLength long; it is handed to the socket, so it must be a fresh
   * buffer the caller no longer touches.
   */
  send(
    context: SrtpContext,
    packet: Buffer,
    headerLength: number,
    payload: Uint8Array,
    timestamp: number,
    nowMs: number,
  ): void {
    if (this.#closed) return;
    context.protect(packet, headerLength, payload, this.#rollover, this.#keystream);
    this.#path.send(packet);
    this.#packets++;
    this.#octets += payload.length;
    this.#lastTimestamp = timestamp;
    this.#lastSentMs = nowMs;
  }

  /**
   * An RTCP sender report for the moment `nowMs` (performance.now() time,
   * `ntp` the same moment in NTP format), or undefined if nothing was sent
   * since the last one. The RTP timestamp is extrapolated from the last packet.
   */
  senderReport(nowMs: number, ntp: bigint): RtcpSrPacket | undefined {
    if (this.#closed || this.#packets === this.#reportedPackets) return undefined;
    this.#reportedPackets = this.#packets;
    const elapsed = Math.max(0, nowMs - this.#lastSentMs);
    return new RtcpSrPacket({
      ssrc: this.ssrc,
      senderInfo: new RtcpSenderInfo({
        ntpTimestamp: ntp,
        rtpTimestamp: (this.#lastTimestamp + Math.round((elapsed * this.#clockRate) / 1000)) >>> 0,
        packetCount: this.#packets >>> 0,
        octetCount: this.#octets >>> 0,
      }),
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose(this);
  }
}
