import { RtcpReceiverInfo, type RTCRtpReceiver } from "werift";
import type { SrtpReceiveState } from "./SrtpReceiveState.js";

/** Called with a decrypted packet: packet[0, headerLength) is the header, payload up to `end`. */
export type RtpPacketHandler = (packet: Buffer, headerLength: number, end: number, nowMs: number) => void;

export interface RtpReceiveStreamOptions {
  /** The SSRC the remote signalled (a=ssrc); its packets come here instead of going through werift. */
  ssrc: number;
  /** Only packets of this payload type take this path; anything else is left to werift. */
  payloadType: number;
  clockRate: number;
  /** werift's receiver of the m-line: its RTCP SSRC, and the sender reports it has seen, feed our receiver reports. */
  receiver: RTCRtpReceiver;
  onPacket: RtpPacketHandler;
  /** False: send no receiver reports for this stream (a load client that is no real receiver). Default true. */
  sendReports?: boolean;
  /** Tells the transport the stream is gone. */
  onClose: (stream: RtpReceiveStream) => void;
}

const SEQ_MOD = 0x10000;
/** RFC 3550 A.1: a jump of more than this many packets restarts the sequence accounting. */
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;

/**
 * One incoming RTP stream (one SSRC) on the SFU's own receive path, and the
 * RFC 3550 reception statistics that go into the RTCP receiver reports
 * werift would otherwise have sent, so the publisher keeps seeing loss and
 * jitter (a browser adapts Opus FEC and bitrate to them). Its SRTP state
 * (rollover counter, replay window) belongs to the transport's session: see
 * {@link SrtpReceiveState}. Opened by MediaTransport.openReceiveStream.
 */
export class RtpReceiveStream {
  readonly ssrc: number;
  readonly payloadType: number;
  readonly onPacket: RtpPacketHandler;
  readonly #onClose: (stream: RtpReceiveStream) => void;
  readonly #sendReports: boolean;
  readonly #receiver: RTCRtpReceiver;
  readonly #clockRate: number;
  /** @internal The transport's SRTP state for this SSRC, kept here to spare a lookup per packet. */
  srtp: SrtpReceiveState | undefined;
  /** Packets that failed SRTP authentication and were dropped. */
  authFailures = 0;
  /** Authentic packets dropped as replays: duplicates, or older than the replay window. */
  replaysDropped = 0;
  #started = false;
  #baseSeq = 0;
  #maxSeq = 0;
  /** RFC 3550 A.1 bad_seq: the packet that would confirm a jump as a restart. */
  #badSeq = SEQ_MOD + 1;
  #cycles = 0;
  #received = 0;
  #expectedPrior = 0;
  #receivedPrior = 0;
  #reportedReceived = 0;
  #jitter = 0;
  /** The previous packet's arrival, in timestamp units (NaN: none to compare with), and its timestamp. */
  #lastArrival = Number.NaN;
  #lastTimestamp = 0;
  #closed = false;

  constructor(options: RtpReceiveStreamOptions) {
    this.ssrc = options.ssrc;
    this.payloadType = options.payloadType;
    this.onPacket = options.onPacket;
    this.#receiver = options.receiver;
    this.#clockRate = options.clockRate;
    this.#onClose = options.onClose;
    this.#sendReports = options.sendReports ?? true;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Packets counted for the receiver reports since the sequence numbering (re)started. */
  get packetsReceived(): number {
    return this.#received;
  }

  /**
   * @internal Counts an authenticated packet (RFC 3550 A.1 and A.8). A jump
   * of the sequence number is taken as the sender restarting its numbering
   * only when the next packet follows it; a lone stray packet (a late
   * duplicate, a misdirected one) leaves the statistics alone.
   */
  received(seq: number, timestamp: number, nowMs: number): void {
    if (!this.#started) {
      this.#started = true;
      this.#restart(seq);
    } else {
      const delta = (seq - this.#maxSeq) & 0xffff;
      if (delta < MAX_DROPOUT) {
        if (seq < this.#maxSeq) this.#cycles += SEQ_MOD;
        this.#maxSeq = seq;
      } else if (delta <= SEQ_MOD - MAX_MISORDER) {
        if (seq !== this.#badSeq) {
          this.#badSeq = (seq + 1) & 0xffff;
          return;
        }
        this.#restart(seq);
      }
      // Anything else is a duplicate or reordered packet: counted, as A.1 does.
    }
    this.#received++;
    const arrival = (nowMs * this.#clockRate) / 1000;
    if (!Number.isNaN(this.#lastArrival)) {
      // A.8's transit difference; timestamps differ by their signed 32-bit distance, so their wrap is no jump.
      const d = Math.abs(arrival - this.#lastArrival - ((timestamp - this.#lastTimestamp) | 0));
      this.#jitter += (d - this.#jitter) / 16;
    }
    this.#lastArrival = arrival;
    this.#lastTimestamp = timestamp;
  }

  /** RFC 3550 A.1 init_seq: counting starts afresh at `seq`; the next packet's transit has nothing to compare with. */
  #restart(seq: number): void {
    this.#baseSeq = seq;
    this.#maxSeq = seq;
    this.#badSeq = SEQ_MOD + 1;
    this.#cycles = 0;
    this.#received = 0;
    this.#expectedPrior = 0;
    this.#receivedPrior = 0;
    this.#reportedReceived = 0;
    this.#lastArrival = Number.NaN;
  }

  /** A report block for this stream, or undefined if nothing arrived since the last one. */
  receiverReport(): RtcpReceiverInfo | undefined {
    if (this.#closed || !this.#sendReports || this.#received === this.#reportedReceived) return undefined;
    this.#reportedReceived = this.#received;
    const extendedMax = this.#cycles + this.#maxSeq;
    const expected = extendedMax - this.#baseSeq + 1;
    const lost = Math.max(0, Math.min(0x7fffff, expected - this.#received));
    const expectedInterval = expected - this.#expectedPrior;
    const receivedInterval = this.#received - this.#receivedPrior;
    this.#expectedPrior = expected;
    this.#receivedPrior = this.#received;
    const lostInterval = expectedInterval - receivedInterval;
    const fractionLost =
      expectedInterval <= 0 || lostInterval <= 0 ? 0 : Math.floor((lostInterval * 256) / expectedInterval);
    // werift's receiver still handles the sender reports this stream's source sends.
    const lsr = this.#receiver.lastSRtimestamp[this.ssrc] ?? 0;
    const srAt = this.#receiver.receiveLastSRTimestamp[this.ssrc];
    const dlsr = lsr && srAt !== undefined ? Math.max(0, Math.floor((Date.now() / 1000 - srAt) * 65536)) : 0;
    return new RtcpReceiverInfo({
      ssrc: this.ssrc,
      fractionLost: Math.min(255, fractionLost),
      packetsLost: lost,
      highestSequence: extendedMax >>> 0,
      jitter: Math.floor(this.#jitter) >>> 0,
      lsr,
      dlsr,
    });
  }

  /** The SSRC werift's receiver puts on its reports; ours use the same. */
  get reporterSsrc(): number {
    return this.#receiver.rtcpSsrc;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose(this);
  }
}
