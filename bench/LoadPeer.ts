import type { RemoteInfo } from "node:dgram";
import { io, type Socket } from "socket.io-client";
import {
  MediaStreamTrack,
  RTCPeerConnection,
  RtpHeader,
  RtpPacket,
  StunProtocol,
  type RTCDtlsTransport,
  type RTCRtpTransceiver,
  type RTCTrackEvent,
} from "werift";
import { createRootLogger } from "../lib/logger.js";
import { MediaTransport } from "../lib/media/MediaTransport.js";
import type { RtpReceiveStream } from "../lib/media/RtpReceiveStream.js";
import type { RtpSendStream } from "../lib/media/RtpSendStream.js";
import { writeRtpHeader, writtenHeaderLength, type OutgoingExtensions } from "../lib/media/rtp.js";
import { extensionId, SDES_MID_URI } from "../lib/sfu/rtp.js";
import { patientIceChecks, pinControllingRole } from "../lib/werift/ice.js";
import {
  SFU_NAMESPACE,
  type AckResult,
  type ClientToServerEvents,
  type IceCandidate,
  type JoinedMessage,
  type ServerToClientEvents,
  type SessionDescription,
} from "../lib/protocol.js";
import type { ClientMeter } from "./ClientMeter.js";
import type { PeerSpec } from "./ipc.js";
import {
  candidateToWire,
  isLoopbackCandidate,
  keepLoopbackCandidates,
  loopbackPeerConfig,
} from "./loopback.js";
import { nowMs, payloadLength, writePayload } from "./payload.js";
import type { SharedPayload } from "./SharedPayload.js";

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Opus at 20 ms frames. */
const SEND_INTERVAL_MS = 20;
const OPUS_SAMPLES_PER_FRAME = 960;
/** Bound on connecting the socket and on the join's ack; a peer given longer to be ready gets as long (the fills). */
const SIGNALING_TIMEOUT_MS = 10_000;
/** Packets one late timer tick may send to catch up with the schedule. */
const MAX_CATCH_UP = 3;
/** Largest extension id and mid the one-byte header form (RFC 8285 §4.2) can carry. */
const MAX_ONE_BYTE_ID = 14;
const MAX_ONE_BYTE_MID = 16;

/** Where lib/media reports a failed receive path (once per transport), as warnOnce does for fallbacks. */
const mediaLogger = createRootLogger("warn").child({ component: "load-client" });

const warned = new Set<string>();

/** Logs a fallback once per process: it changes what the clients cost, so it must not go unnoticed. */
function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.error(`load client: ${message}`);
}

/** How a peer sends: lib/media's stream and the header extensions to write, or werift's track. */
interface FastSender {
  stream: RtpSendStream;
  payloadType: number;
  extensions: OutgoingExtensions;
  headerLength: number;
}

export interface LoadPeerOptions {
  spec: PeerSpec;
  /** Base URL of the server, e.g. `http://127.0.0.1:5005`. */
  url: string;
  meter: ClientMeter;
  payload: SharedPayload;
  /** Give up waiting for the first packet of every expected peer after this long. */
  readyTimeoutMs: number;
  /** Receive through werift's full track pipeline instead of lib/media (see `#onTrack`). */
  weriftReceive: boolean;
  /** Send through werift's `writeRtp` instead of lib/media (see `#openSender`). */
  weriftSend: boolean;
}

/** What `join()` resolves with. */
export interface PeerJoinResult {
  peerId: string | null;
  joinMs: number | null;
  tracksMs: number | null;
  connectedMs: number | null;
  iceConnected: boolean;
  /** Where the client's connection failed, if it did: ICE checks, or the DTLS handshake after them. */
  failedIn: "ice" | "dtls" | null;
  /** Join sent → each step of the join, in ms (see JoinPhase); a step not reached is absent. */
  phasesMs: Partial<Record<JoinPhase, number>>;
  error: string | null;
}

/**
 * The steps of a join in the order they usually come: `joined` acked, the SFU's answer to the
 * first offer, the SFU's first offer (the tracks of everyone already there), the client's answer
 * to it sent, ICE and DTLS up.
 */
export type JoinPhase = "joined" | "answered" | "offered" | "answeredOffer" | "connected";

/**
 * One simulated participant: a Socket.IO signaling connection and a werift
 * peer that publishes one Opus-sized track at 50 packets/s and checks every
 * forwarded packet it receives. werift runs ICE, DTLS and the SDP side; the
 * RTP packets themselves go through lib/media, the SFU's own SRTP/RTP layer,
 * so that the clients cost less per packet than the server they load.
 */
export class LoadPeer {
  readonly #options: LoadPeerOptions;
  readonly #socket: ClientSocket;
  readonly #pc: RTCPeerConnection;
  readonly #track = new MediaStreamTrack({ kind: "audio" });
  #transceiver: RTCRtpTransceiver | undefined;
  /** Chosen at the first send: lib/media's send stream, or null for werift's `writeRtp`. */
  #sender: FastSender | null | undefined;
  /** Reused for every send on werift's path: werift clones the header before touching it. */
  readonly #packet = new RtpPacket(new RtpHeader({ payloadType: 111 }), Buffer.alloc(0));
  /** One per forwarded track received on lib/media's path. */
  readonly #receiveStreams: RtpReceiveStream[] = [];
  /** lib/media's RTP path over this peer's connection; its streams open on it. */
  readonly #media = new MediaTransport({ logger: mediaLogger });
  /** Peer ids this client has been told about; forwarded tracks must carry one of them as stream id. */
  readonly #knownPeerIds = new Set<string>();
  /** Last packet counter seen per sender index. */
  readonly #lastCounters: number[] = [];
  /** Expected sources not heard from yet. */
  readonly #pending: Set<number>;
  /** Peers the `joined` message listed whose forwarded track has not arrived yet. */
  readonly #pendingTracks = new Set<string>();
  /** Milliseconds between packets (spec.sendIntervalMs, 20 by default). */
  readonly #interval: number;
  /** Signaling steps run one at a time, in arrival order. */
  #chain: Promise<void> = Promise.resolve();
  #counter = 0;
  /** When packet 1 was due; packet n is due `#interval` × (n - 1) later. */
  #sendEpoch = 0;
  /** When the send timer last fired (ms, nowMs clock). */
  #lastTick = 0;
  /** Told to stop sending (see stopSending). */
  #silent = false;
  #joinSentAt = 0;
  #joinMs: number | null = null;
  #tracksMs: number | null = null;
  #iceConnected = false;
  /** Join sent → ICE and DTLS connected; null until then. */
  #connectedMs: number | null = null;
  /** Gathering only relayed candidates: datagrams come through werift's TURN client, not a socket of ours. */
  #relayed = false;
  #failedIn: "ice" | "dtls" | null = null;
  readonly #phasesMs: Partial<Record<JoinPhase, number>> = {};
  #error: string | null = null;
  #peerId: string | null = null;
  #phaseTimer: NodeJS.Timeout | undefined;
  #sendTimer: NodeJS.Timeout | undefined;
  #readyTimer: NodeJS.Timeout | undefined;
  #resolveReady: (() => void) | undefined;
  #closed = false;

  constructor(options: LoadPeerOptions) {
    this.#options = options;
    this.#pending = new Set(options.spec.expectFrom);
    this.#interval = options.spec.sendIntervalMs ?? SEND_INTERVAL_MS;
    this.#pc = new RTCPeerConnection(loopbackPeerConfig());
    // A Manager of its own per peer: sockets sharing one would multiplex onto one connection.
    this.#socket = io(`${options.url}${SFU_NAMESPACE}`, {
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      timeout: Math.max(SIGNALING_TIMEOUT_MS, options.readyTimeoutMs),
    });
    this.#wireSignaling();
    this.#wireMedia();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Joins, offers, and resolves once a packet from every expected peer arrived (or on timeout). */
  async join(): Promise<PeerJoinResult> {
    const ready = new Promise<void>((resolve) => {
      this.#resolveReady = resolve;
    });
    this.#readyTimer = setTimeout(() => this.#markReady(), this.#options.readyTimeoutMs);
    try {
      await this.#connectSocket();
      this.#joinSentAt = nowMs();
      const { spec } = this.#options;
      const joined = await this.#joinRoom(spec.roomId, spec.userId, spec.token);
      this.#phase("joined");
      this.#peerId = joined.peerId;
      if (joined.iceTransportPolicy === "relay") {
        // As a browser told to relay (PROTOCOL §13): only relayed candidates, on the TURN servers
        // `joined` names, set before the first transceiver, when werift builds its ICE gatherer.
        this.#relayed = true;
        this.#pc.setConfiguration({ iceServers: joined.iceServers, iceTransportPolicy: "relay" });
      }
      for (const peer of joined.peers) {
        this.#knownPeerIds.add(peer.peerId);
        this.#pendingTracks.add(peer.peerId);
      }
      // A listener's transceiver too: its DTLS transport leads to the socket #shortCutSocket takes over.
      this.#transceiver = spec.listenOnly
        ? this.#pc.addTransceiver("audio", { direction: "recvonly" })
        : this.#pc.addTransceiver(this.#track, { direction: "sendonly" });
      await this.#enqueue(async () => {
        const offer = await this.#pc.createOffer();
        await this.#pc.setLocalDescription(offer);
        pinControllingRole(this.#pc);
        this.#sendDescription("offer", offer.sdp);
      });
    } catch (error) {
      this.#fail(error);
    }
    await ready;
    return {
      peerId: this.#peerId,
      joinMs: this.#joinMs,
      tracksMs: this.#tracksMs,
      connectedMs: this.#connectedMs,
      iceConnected: this.#iceConnected,
      failedIn: this.#failedIn,
      phasesMs: this.#phasesMs,
      error: this.#error,
    };
  }

  /** Stops sending for good; the connection stays up and keeps receiving. */
  stopSending(): void {
    this.#silent = true;
    clearTimeout(this.#phaseTimer);
    clearInterval(this.#sendTimer);
  }

  /** Stops sending and closes the connection and the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stopSending();
    this.#markReady();
    this.#media.close();
    this.#socket.disconnect();
    await this.#pc.close().catch(() => undefined);
  }

  #wireSignaling(): void {
    const socket = this.#socket;
    socket.on("user-joined", (message) => this.#knownPeerIds.add(message.peerId));
    socket.on("offer", (description) => {
      this.#phase("offered");
      this.#options.meter.onSdp("from-server", "offer", description.sdp);
      void this.#enqueue(() => this.#answer(description));
    });
    socket.on("answer", (description) => {
      this.#phase("answered");
      this.#options.meter.onSdp("from-server", "answer", description.sdp);
      void this.#enqueue(() => this.#pc.setRemoteDescription(description));
    });
    socket.on("ice-candidate", (candidate) => {
      void this.#enqueue(() => this.#addRemoteCandidate(candidate));
    });
    socket.on("error", (message) => this.#fail(new Error(`${message.code}: ${message.message}`)));
  }

  #wireMedia(): void {
    // A browser keeps checking a pair for some 25–40 s; werift alone gives up after 1.55 s (see patientIceChecks).
    this.#pc.iceGatheringStateChange.subscribe(() => patientIceChecks(this.#pc));
    this.#pc.onIceCandidate.subscribe((candidate) => {
      if (!candidate || !isLoopbackCandidate(candidate.candidate)) return;
      this.#socket.emit("ice-candidate", candidateToWire(candidate));
    });
    this.#pc.connectionStateChange.subscribe((state) => {
      if (state === "connected" && !this.#iceConnected) {
        this.#iceConnected = true;
        this.#connectedMs = nowMs() - this.#joinSentAt;
        this.#phase("connected");
        this.#checkTracks();
        if (!this.#options.weriftReceive && !this.#relayed) this.#shortCutSocket();
        this.#startSending();
        if (this.#pending.size === 0) this.#markReady();
      } else if (state === "failed" && this.#failedIn === null) {
        this.#failedIn = this.#pc.iceConnectionState === "failed" ? "ice" : "dtls";
      }
    });
    this.#pc.ontrack = (event) => this.#onTrack(event);
  }

  async #answer(description: SessionDescription): Promise<void> {
    await this.#pc.setRemoteDescription(description);
    const answer = await this.#pc.createAnswer();
    await this.#pc.setLocalDescription(answer);
    // A server that re-offers while ICE still checks (Pion does) would otherwise find werift controlled too.
    pinControllingRole(this.#pc);
    this.#sendDescription("answer", answer.sdp);
    this.#phase("answeredOffer");
  }

  /** Notes when a step of the join first happened. */
  #phase(phase: JoinPhase): void {
    this.#phasesMs[phase] ??= nowMs() - this.#joinSentAt;
  }

  #sendDescription(type: "offer" | "answer", sdp: string): void {
    const wire = keepLoopbackCandidates(sdp);
    this.#options.meter.onSdp("to-server", type, wire);
    this.#socket.emit(type, { type, sdp: wire });
  }

  /** Once every listed peer's track arrived and ICE is up: the signaling part of the join is done. */
  #checkTracks(): void {
    if (this.#tracksMs !== null || this.#pendingTracks.size > 0 || !this.#iceConnected) return;
    if (this.#options.spec.expectFrom.length > 0) this.#tracksMs = nowMs() - this.#joinSentAt;
  }

  async #addRemoteCandidate(candidate: IceCandidate): Promise<void> {
    if (!isLoopbackCandidate(candidate.candidate)) return;
    await this.#pc.addIceCandidate({
      candidate: candidate.candidate,
      ...(candidate.sdpMid != null ? { sdpMid: candidate.sdpMid } : {}),
      ...(candidate.sdpMLineIndex != null ? { sdpMLineIndex: candidate.sdpMLineIndex } : {}),
    });
  }

  /**
   * A forwarded track: its packets come to `#onPacket`, decrypted by lib/media
   * (the SFU's own SRTP layer) straight off the ICE connection, before werift
   * decrypts (a new AES cipher and HMAC per packet), parses, routes, clones
   * and re-emits them. The SFU signals each forwarded track's SSRC (a=ssrc),
   * which werift puts on the track. `BENCH_WERIFT_RECEIVE=1`, or a track with
   * no signalled SSRC, takes werift's full receive chain instead.
   */
  #onTrack(event: RTCTrackEvent): void {
    const { track, transceiver } = event;
    const streamId = event.streams[0]?.id;
    if (streamId === undefined || !this.#knownPeerIds.has(streamId))
      this.#options.meter.onUnknownStreamTrack();
    if (streamId !== undefined && this.#pendingTracks.delete(streamId)) this.#checkTracks();
    if (!this.#options.weriftReceive) {
      const stream = this.#openReceiveStream(track, transceiver);
      if (stream) {
        this.#receiveStreams.push(stream);
        return;
      }
      warnOnce("a forwarded track without a signalled SSRC is received through werift");
    }
    track.onReceiveRtp.subscribe((rtp) => this.#onPayload(rtp.payload, 0, rtp.payload.length, nowMs()));
  }

  #openReceiveStream(track: MediaStreamTrack, transceiver: RTCRtpTransceiver): RtpReceiveStream | undefined {
    const { ssrc, codec } = track;
    // werift assigns the BUNDLE transport before it fires ontrack; typed as always present.
    const dtls: RTCDtlsTransport | undefined = transceiver.receiver.dtlsTransport;
    if (ssrc === undefined || codec === undefined || dtls === undefined) return undefined;
    return this.#media.openReceiveStream({
      dtls,
      ssrc,
      payloadType: codec.payloadType,
      clockRate: codec.clockRate,
      receiver: transceiver.receiver,
      onPacket: this.#onPacket,
      // No receiver reports: the clients sent none before either (werift's receiver starts its report
      // loop only once its own path saw a packet), and neither target reads them.
      sendReports: false,
    });
  }

  /**
   * Hands SRTP datagrams (RFC 7983: first byte 128–191) from the connection's
   * UDP socket straight to its ICE connection's data event, where lib/media's
   * MediaTransport listens. werift's way there parses each datagram as STUN,
   * updates the pair's statistics and dispatches an event that runs an async
   * function (a promise and a microtask) per datagram. SRTCP (RFC 5761:
   * packet types 192–223) is dropped: the client uses none of the server's
   * sender and receiver reports, and werift would decrypt each with a new
   * cipher. STUN and DTLS still take werift's way. Only public werift objects
   * are touched (the nominated pair's UDP socket, the connection's data
   * event); anything unexpected leaves werift's listener in place.
   */
  #shortCutSocket(): void {
    const dtls: RTCDtlsTransport | undefined = this.#transceiver?.sender.dtlsTransport;
    const connection = dtls?.iceTransport.connection;
    const protocol = connection?.nominated?.protocol;
    const socket = protocol instanceof StunProtocol ? protocol.transport.socket : undefined;
    const listeners = (socket?.listeners("message") ?? []) as Array<
      (data: Buffer, rinfo: RemoteInfo) => void
    >;
    const werift = listeners[0];
    if (connection === undefined || socket === undefined || werift === undefined || listeners.length !== 1) {
      warnOnce("a peer's datagrams take werift's way to lib/media: its socket is not as expected");
      return;
    }
    socket.removeListener("message", werift);
    socket.on("message", (data: Buffer, rinfo: RemoteInfo) => {
      const first = data[0]!;
      if (first < 128 || first > 191) werift(data, rinfo);
      else if (data.length > 1 && (data[1]! < 192 || data[1]! > 223)) connection.onData.execute(data);
    });
  }

  /** Per packet on lib/media's path: the payload is packet[headerLength, end), decrypted in place. */
  readonly #onPacket = (packet: Buffer, headerLength: number, end: number, receivedAt: number): void => {
    // Neither target pads; a padded packet would otherwise count as corrupt.
    const payloadEnd = packet[0]! & 0x20 ? end - packet[end - 1]! : end;
    this.#onPayload(packet, headerLength, payloadEnd, performance.timeOrigin + receivedAt);
  };

  /** Per received packet: the payload is buf[start, end); `receivedAt` on the shared clock. */
  #onPayload(buf: Buffer, start: number, end: number, receivedAt: number): void {
    const sender = this.#options.meter.onReceived(buf, start, end, receivedAt, this.#lastCounters);
    // Only the first packet per expected source does any work here.
    if (this.#pending.size > 0 && this.#pending.delete(sender) && this.#pending.size === 0) {
      this.#joinMs = nowMs() - this.#joinSentAt;
      if (this.#iceConnected) this.#markReady();
    }
  }

  #startSending(): void {
    if (this.#silent || this.#options.spec.listenOnly) return;
    // A random phase so that the peers of a process do not all send in the same millisecond.
    this.#phaseTimer = setTimeout(() => {
      this.#sendEpoch = nowMs();
      this.#sendDue();
      this.#lastTick = this.#sendEpoch;
      this.#sendTimer = setInterval(() => this.#onTick(), this.#interval);
    }, Math.random() * this.#interval);
  }

  /** Each send-timer tick: how late it fired is this process's event-loop delay. */
  #onTick(): void {
    const now = nowMs();
    this.#options.meter.onTimerDelay(now - this.#lastTick - this.#interval);
    this.#lastTick = now;
    this.#sendDue();
  }

  /**
   * Sends the packets the 50/s schedule says are due. setInterval slips under
   * load; a real microphone does not, so late ticks catch up (a few packets at
   * most, the rest of a long stall is skipped, as a real sender would drop them).
   */
  #sendDue(): void {
    const due = Math.floor((nowMs() - this.#sendEpoch) / this.#interval) + 1;
    if (due - this.#counter > MAX_CATCH_UP) this.#counter = due - MAX_CATCH_UP;
    while (this.#counter < due) this.#send();
  }

  /** Hot path, 50 times a second per peer: writes the payload into the shared buffer, then sends it. */
  #send(): void {
    const counter = ++this.#counter;
    const length = payloadLength(counter);
    const sendTime = nowMs();
    const { payload, spec, meter } = this.#options;
    writePayload(payload.buffer, length, spec.index, counter, sendTime);
    const sequenceNumber = counter & 0xffff;
    const timestamp = (counter * OPUS_SAMPLES_PER_FRAME) >>> 0;
    if (this.#sender === undefined) this.#sender = this.#openSender();
    const sender = this.#sender;
    if (sender) {
      const { stream, headerLength } = sender;
      const context = stream.context;
      // No keys (never once DTLS is up): the packet is lost, and delivery shows it.
      if (context) {
        // A fresh buffer per datagram: the socket reads it after this call returns.
        const packet = Buffer.allocUnsafe(headerLength + length + context.tagLength);
        writeRtpHeader(
          packet,
          false,
          sender.payloadType,
          sequenceNumber,
          timestamp,
          stream.ssrc,
          sender.extensions,
          -1,
        );
        stream.send(
          context,
          packet,
          headerLength,
          payload.view(length),
          timestamp,
          sendTime - performance.timeOrigin,
        );
      }
    } else {
      const packet = this.#packet;
      packet.header.sequenceNumber = sequenceNumber;
      packet.header.timestamp = timestamp;
      packet.payload = payload.view(length);
      this.#track.writeRtp(packet);
    }
    meter.onSent(spec.index, sendTime);
  }

  /**
   * Chooses the send path at the first packet, when DTLS is up and the m-line
   * negotiated: lib/media's RtpSendStream, as the SFU's ForwardedTrack uses it
   * (header written once into the datagram, payload encrypted into it, straight
   * to the socket), or null for werift's `writeRtp` (header clone and
   * serialisation, a new cipher per packet, three async hops to the socket).
   * The header carries what werift's would: the negotiated payload type, SSRC
   * and `mid`. The path is kept for the life of the peer, so its SRTP state
   * never splits.
   */
  #openSender(): FastSender | null {
    const transceiver = this.#transceiver;
    if (this.#options.weriftSend || transceiver === undefined) return null;
    const { codec, ssrc } = transceiver.sender;
    const dtls: RTCDtlsTransport | undefined = transceiver.sender.dtlsTransport;
    const mid = Buffer.from(transceiver.mid ?? "", "ascii");
    const midId = mid.length > 0 ? (extensionId(transceiver, SDES_MID_URI) ?? 0) : 0;
    const stream =
      codec === undefined || dtls === undefined || midId > MAX_ONE_BYTE_ID || mid.length > MAX_ONE_BYTE_MID
        ? undefined
        : this.#media.openSendStream({ dtls, ssrc, clockRate: codec.clockRate });
    if (codec === undefined || stream === undefined) {
      warnOnce("a peer sends through werift: its negotiation does not fit lib/media's send path");
      return null;
    }
    const extensions: OutgoingExtensions = { midId, mid, audioLevelId: 0 };
    return {
      stream,
      payloadType: codec.payloadType,
      extensions,
      headerLength: writtenHeaderLength(extensions, -1),
    };
  }

  #connectSocket(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#socket.once("connect", () => resolve());
      this.#socket.once("connect_error", (error) => reject(error));
    });
  }

  async #joinRoom(roomId: string, userId: string, token: string | undefined): Promise<JoinedMessage> {
    // The ack is optional in the event map, which leaves emitWithAck's result untyped.
    const result = (await this.#socket
      .timeout(Math.max(SIGNALING_TIMEOUT_MS, this.#options.readyTimeoutMs))
      .emitWithAck("join", { roomId, userId, ...(token !== undefined && { token }) })) as AckResult<{
      joined: JoinedMessage;
    }>;
    if (!result.ok) throw new Error(`join failed: ${result.error.code} ${result.error.message}`);
    return result.joined;
  }

  #enqueue(step: () => Promise<void>): Promise<void> {
    this.#chain = this.#chain.then(step).catch((error: unknown) => this.#fail(error));
    return this.#chain;
  }

  #fail(error: unknown): void {
    this.#error ??= error instanceof Error ? error.message : String(error);
    if (!this.#closed) this.#markReady();
  }

  #markReady(): void {
    clearTimeout(this.#readyTimer);
    const resolve = this.#resolveReady;
    this.#resolveReady = undefined;
    resolve?.();
  }
}
