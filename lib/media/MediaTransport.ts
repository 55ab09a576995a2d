import type { Socket } from "node:dgram";
import { isIP } from "node:net";
import {
  RtcpRrPacket,
  StunProtocol,
  type CandidatePair,
  type RTCDtlsTransport,
  type RtcpReceiverInfo,
  type SrtpSession,
} from "werift";
import type { Logger } from "../logger.js";
import { interceptIceData, srtpStreamState } from "../werift/srtp.js";
import { packCompounds, type RtcpReport } from "./rtcpCompound.js";
import { rtpHeaderLength } from "./rtp.js";
import { RtpReceiveStream, type RtpReceiveStreamOptions } from "./RtpReceiveStream.js";
import { RtpSendStream, type RtpSendStreamOptions } from "./RtpSendStream.js";
import {
  SrtpContext,
  SRTP_AEAD_AES_128_GCM,
  SRTP_AES128_CM_HMAC_SHA1_80,
  SRTP_REPLAYED,
} from "./SrtpContext.js";
import { SrtpReceiveState } from "./SrtpReceiveState.js";
import { skipLookupForIpLiterals } from "./udpLookup.js";

/** RTCP reports go out about once a second per transport, jittered (RFC 3550 §6.2). */
const REPORT_INTERVAL_MS = 1000;
const RTCP_RECEIVER_REPORT = 201;
/** Seconds from the NTP epoch (1900) to the Unix epoch. */
const NTP_UNIX_OFFSET = 2_208_988_800;

export interface MediaTransportOptions {
  /** The owning peer's logger: the transport logs under it. */
  logger: Logger;
}

/**
 * The SFU's own RTP path over one werift DTLS transport (one peer connection;
 * BUNDLE puts every m-line on it). werift still runs ICE, DTLS, signalling
 * and RTCP; this takes the SRTP keys werift negotiated (its public
 * `dtlsTransport.srtp.config`) and moves the per-packet work off werift:
 *
 * - Sending: {@link RtpSendStream}s protect packets with {@link SrtpContext}
 *   and hand them to the ICE connection's `send`, the call werift's own
 *   `sendRtp` ends in. RTCP sender reports for them go out from here, since
 *   werift's RTCRtpSender never sees those packets.
 * - Receiving: SRTP packets of an SSRC with a {@link RtpReceiveStream} are
 *   taken off the ICE connection's data event before werift decrypts, parses,
 *   routes, clones and re-emits them; everything else (DTLS, RTCP, unknown
 *   SSRCs or payload types) goes on to werift untouched. Receiver reports for
 *   those streams go out from here too. Incoming receiver reports (the
 *   remote's view of what the SFU sends) are dropped unread. The SRTP state
 *   of each inbound SSRC (rollover counter, replay window) lives here for as
 *   long as the keys do, so a stream closed and opened again for the same
 *   SSRC carries on with the sender's packet index.
 *
 * A peer creates one and hands it to the tracks it publishes and receives;
 * they open their streams on it. It binds to the DTLS transport of the first
 * stream opened (BUNDLE: the peer connection's only one) and refuses streams
 * on any other, which then stay on werift's path.
 */
export class MediaTransport {
  readonly #logger: Logger;
  #dtls: RTCDtlsTransport | undefined;
  readonly #sendStreams = new Set<RtpSendStream>();
  readonly #receiveStreams = new Map<number, RtpReceiveStream>();
  /** Per inbound SSRC, under the current keys; never more than the SSRCs that had a receive stream. */
  readonly #srtpStates = new Map<number, SrtpReceiveState>();
  #session: SrtpSession | undefined;
  #outbound: SrtpContext | undefined;
  #inbound: SrtpContext | undefined;
  /** Gives werift its data handler back; set while the receive path is intercepted. */
  #restoreWerift: (() => void) | undefined;
  /** The selected ICE pair `#socket`, `#host` and `#port` were read from. */
  #pair: CandidatePair | undefined;
  #socket: Socket | undefined;
  #host = "";
  #port = 0;
  #timer: NodeJS.Timeout | undefined;
  #failed = false;
  #closed = false;
  /** Incoming RTCP receiver reports dropped unread (see `#receive`). */
  receiverReportsIgnored = 0;

  constructor(options: MediaTransportOptions) {
    this.#logger = options.logger;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Opens the SFU's receive path for one SSRC arriving on `dtls`; undefined
   * when this transport is closed or bound to another DTLS transport (the
   * caller then receives through werift).
   */
  openReceiveStream(
    options: Omit<RtpReceiveStreamOptions, "onClose"> & { dtls: RTCDtlsTransport },
  ): RtpReceiveStream | undefined {
    const { dtls, ...streamOptions } = options;
    if (!this.#bind(dtls)) return undefined;
    const stream = new RtpReceiveStream({ ...streamOptions, onClose: this.#removeReceiveStream });
    this.#receiveStreams.set(stream.ssrc, stream);
    this.#intercept();
    this.#startReports();
    return stream;
  }

  /**
   * Opens the SFU's send path for one SSRC going out on `dtls`; undefined
   * when the transport is closed, bound to another DTLS transport, or has no
   * keys it can use (the caller then sends through werift).
   */
  openSendStream(
    options: Omit<RtpSendStreamOptions, "path" | "onClose"> & { dtls: RTCDtlsTransport },
  ): RtpSendStream | undefined {
    const { dtls, ...streamOptions } = options;
    if (!this.#bind(dtls) || !this.outbound) return undefined;
    const stream = new RtpSendStream({ ...streamOptions, path: this, onClose: this.#removeSendStream });
    this.#sendStreams.add(stream);
    this.#startReports();
    return stream;
  }

  /** Closes every stream and gives werift its receive path back; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const stream of [...this.#sendStreams]) stream.close();
    for (const stream of [...this.#receiveStreams.values()]) stream.close();
    this.#sendStreams.clear();
    this.#receiveStreams.clear();
    this.#srtpStates.clear();
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#restoreWerift?.();
    this.#restoreWerift = undefined;
    this.#socket = undefined;
    this.#pair = undefined;
  }

  /** Binds to `dtls` on first use; false if closed or already bound to another one. */
  #bind(dtls: RTCDtlsTransport): boolean {
    if (this.#closed) return false;
    this.#dtls ??= dtls;
    if (this.#dtls === dtls) return true;
    this.#logger.warn("a stream on a second DTLS transport stays on werift's path");
    return false;
  }

  /**
   * The context that protects what the SFU sends, keyed from werift's current
   * DTLS-SRTP session; undefined until DTLS is up, or when werift negotiated a
   * profile this layer does not implement (callers then use werift's path).
   */
  get outbound(): SrtpContext | undefined {
    this.#syncKeys();
    return this.#outbound;
  }

  /** The context that unprotects what the remote sends; see `outbound`. */
  get inbound(): SrtpContext | undefined {
    this.#syncKeys();
    return this.#inbound;
  }

  /**
   * Sends one protected datagram on the selected ICE pair. On a plain UDP
   * pair it goes straight to the pair's socket: werift's `connection.send`
   * would take three async hops (three promises) per datagram to get there.
   * The conditions mirror werift's own consent check (RFC 7675): a nominated
   * pair, and an agent neither closed nor failed (consent expiry fails it, an
   * ICE restart drops the nomination). TURN and TCP pairs, and anything
   * unexpected, go through `connection.send`.
   */
  send(datagram: Buffer): void {
    const dtls = this.#dtls;
    if (!dtls || this.#closed) return;
    const connection = dtls.iceTransport.connection;
    const pair = connection.nominated;
    if (pair !== undefined && connection.state !== "closed" && connection.state !== "failed") {
      if (pair !== this.#pair) this.#selectPair(pair);
      const socket = this.#socket;
      if (socket !== undefined) {
        try {
          socket.send(datagram, this.#port, this.#host);
        } catch {
          // The socket closed under us; the connection is going away.
        }
        return;
      }
    }
    connection.send(datagram).catch(ignoreSendError);
  }

  #selectPair(pair: CandidatePair): void {
    this.#pair = pair;
    const { protocol, remoteCandidate } = pair;
    const direct = protocol instanceof StunProtocol && isIP(remoteCandidate.host) !== 0;
    this.#socket = direct ? protocol.transport.socket : undefined;
    // Every forwarded datagram goes to this literal: no dns.lookup and tick per send.
    if (this.#socket !== undefined) skipLookupForIpLiterals(this.#socket);
    this.#host = remoteCandidate.host;
    this.#port = remoteCandidate.port;
  }

  readonly #removeSendStream = (stream: RtpSendStream): void => {
    this.#sendStreams.delete(stream);
    this.#maybeStopReports();
  };

  readonly #removeReceiveStream = (stream: RtpReceiveStream): void => {
    if (this.#receiveStreams.get(stream.ssrc) === stream) this.#receiveStreams.delete(stream.ssrc);
    this.#maybeStopReports();
  };

  #syncKeys(): void {
    const session: SrtpSession | undefined = this.#dtls?.srtp;
    if (session === this.#session) return;
    this.#session = session;
    this.#outbound = session ? contextFor(session, "local") : undefined;
    this.#inbound = session ? contextFor(session, "remote") : undefined;
    // New keys start every SSRC afresh (RFC 3711 §3.3.1: a new master key, a new index space).
    this.#srtpStates.clear();
  }

  /** Puts `#receive` in front of werift's handling of incoming datagrams. */
  #intercept(): void {
    if (this.#restoreWerift || !this.#dtls) return;
    this.#restoreWerift = interceptIceData(this.#dtls.iceTransport.connection, (data) => this.#receive(data));
  }

  /** Per incoming datagram: true if it was an SRTP packet of one of our streams (delivered or dropped). */
  #receive(data: Buffer): boolean {
    const length = data.length;
    if (length < 12 || (data[0]! & 0xc0) !== 0x80) return false;
    // A compound RTCP packet that opens with a receiver report (its type is in the clear under
    // SRTCP) carries the remote's reception reports on what the SFU sends. Nothing in the SFU
    // uses them, and decrypting and routing one in werift costs as much as forwarding a
    // packet several times over, once per remote receiver per second.
    if (data[1] === RTCP_RECEIVER_REPORT) {
      this.receiverReportsIgnored++;
      return true;
    }
    // RTP: a payload type outside RTCP's 64-95 range (RFC 5761 §4).
    const payloadType = data[1]! & 0x7f;
    if (payloadType >= 64 && payloadType <= 95) return false;
    const stream = this.#receiveStreams.get(data.readUInt32BE(8));
    if (stream === undefined || stream.payloadType !== payloadType) return false;
    const context = this.inbound;
    if (!context) return false;
    try {
      const headerLength = rtpHeaderLength(data, length - context.tagLength);
      if (headerLength < 0) return true;
      let srtp = stream.srtp;
      if (srtp === undefined || srtp.context !== context)
        srtp = stream.srtp = this.#srtpState(stream.ssrc, context);
      const end = context.unprotect(data, headerLength, length, srtp.rollover, srtp.keystream, srtp.replay);
      if (end < 0) {
        if (end === SRTP_REPLAYED) stream.replaysDropped++;
        else stream.authFailures++;
        return true;
      }
      const nowMs = performance.now();
      stream.received((data[2]! << 8) | data[3]!, data.readUInt32BE(4), nowMs);
      stream.onPacket(data, headerLength, end, nowMs);
    } catch (error) {
      if (!this.#failed) {
        this.#failed = true;
        this.#logger.error("receive path failed; errors are not logged again", { error });
      }
    }
    return true;
  }

  /** The SRTP state of `ssrc` under `context`: what earlier streams of the SSRC left, or a new one. */
  #srtpState(ssrc: number, context: SrtpContext): SrtpReceiveState {
    let state = this.#srtpStates.get(ssrc);
    if (state === undefined || state.context !== context) {
      state = new SrtpReceiveState(context, srtpStreamState(this.#session, ssrc));
      this.#srtpStates.set(ssrc, state);
    }
    return state;
  }

  #startReports(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#sendReports(), REPORT_INTERVAL_MS * (0.75 + Math.random() / 2));
    // Reports are a courtesy to the remote; they never keep the process alive.
    this.#timer.unref();
  }

  #maybeStopReports(): void {
    if (this.#sendStreams.size > 0 || this.#receiveStreams.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sendReports(): void {
    const state = this.#dtls?.state;
    if (state === "closed" || state === "failed") {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    if (state !== "connected") return;
    const nowMs = performance.now();
    const ntp = ntpTime(performance.timeOrigin + nowMs);
    const reports: RtcpReport[] = [];
    for (const stream of this.#sendStreams) {
      const report = stream.senderReport(nowMs, ntp);
      if (report) reports.push(report);
    }
    // Receiver reports, one RR per reporting SSRC (werift's receiver of each m-line).
    const blocks = new Map<number, RtcpReceiverInfo[]>();
    for (const stream of this.#receiveStreams.values()) {
      const block = stream.receiverReport();
      if (!block) continue;
      const list = blocks.get(stream.reporterSsrc) ?? [];
      list.push(block);
      blocks.set(stream.reporterSsrc, list);
    }
    for (const [ssrc, list] of blocks) reports.push(new RtcpRrPacket({ ssrc, reports: list }));
    // The interval's reports in as few compounds as fit a datagram: each costs an SRTCP encryption and a send.
    for (const compound of packCompounds(reports)) this.#dtls?.sendRtcp(compound).catch(ignoreSendError);
  }
}

function contextFor(session: SrtpSession, side: "local" | "remote"): SrtpContext | undefined {
  const { profile, keys } = session.config;
  if (profile !== SRTP_AES128_CM_HMAC_SHA1_80 && profile !== SRTP_AEAD_AES_128_GCM) return undefined;
  return side === "local"
    ? new SrtpContext({ profile, masterKey: keys.localMasterKey, masterSalt: keys.localMasterSalt })
    : new SrtpContext({ profile, masterKey: keys.remoteMasterKey, masterSalt: keys.remoteMasterSalt });
}

/** A 64-bit NTP timestamp (RFC 5905) for a Unix time in milliseconds. */
export function ntpTime(unixMs: number): bigint {
  const seconds = Math.floor(unixMs / 1000);
  const fraction = Math.floor(((unixMs - seconds * 1000) / 1000) * 2 ** 32);
  return (BigInt(seconds + NTP_UNIX_OFFSET) << 32n) | BigInt(fraction);
}

// UDP is best effort: a failed send is a lost packet, which RTP already tolerates.
function ignoreSendError(): void {}
