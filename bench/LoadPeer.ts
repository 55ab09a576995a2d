import { io, type Socket } from "socket.io-client";
import { MediaStreamTrack, RTCPeerConnection, RtpHeader, RtpPacket } from "werift";
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

/** The one private werift member the load client touches: the RTP router, called per decrypted packet. */
interface WeriftRouterInternals {
  router?: { routeRtp?: (packet: RtpPacket) => void };
}

/** Opus at 20 ms frames. */
const SEND_INTERVAL_MS = 20;
const OPUS_SAMPLES_PER_FRAME = 960;
const SIGNALING_TIMEOUT_MS = 10_000;
/** Packets one late timer tick may send to catch up with the schedule. */
const MAX_CATCH_UP = 3;

export interface LoadPeerOptions {
  spec: PeerSpec;
  /** Base URL of the server, e.g. `http://127.0.0.1:5005`. */
  url: string;
  meter: ClientMeter;
  payload: SharedPayload;
  /** Give up waiting for the first packet of every expected peer after this long. */
  readyTimeoutMs: number;
  /** Read packets off the transport instead of through werift's receive chain (see `#shortCutReceive`). */
  fastReceive: boolean;
}

/** What `join()` resolves with. */
export interface PeerJoinResult {
  peerId: string | null;
  joinMs: number | null;
  iceConnected: boolean;
  error: string | null;
}

/**
 * One simulated participant: a Socket.IO signaling connection and a werift
 * peer that publishes one Opus-sized track at 50 packets/s and checks every
 * forwarded packet it receives.
 */
export class LoadPeer {
  readonly #options: LoadPeerOptions;
  readonly #socket: ClientSocket;
  readonly #pc: RTCPeerConnection;
  readonly #track = new MediaStreamTrack({ kind: "audio" });
  /** Reused for every send: werift clones the header before touching it. */
  readonly #packet = new RtpPacket(new RtpHeader({ payloadType: 111 }), Buffer.alloc(0));
  /** Peer ids this client has been told about; forwarded tracks must carry one of them as stream id. */
  readonly #knownPeerIds = new Set<string>();
  /** Last packet counter seen per sender index. */
  readonly #lastCounters = new Map<number, number>();
  /** Expected sources not heard from yet. */
  readonly #pending: Set<number>;
  /** Signaling steps run one at a time, in arrival order. */
  #chain: Promise<void> = Promise.resolve();
  #counter = 0;
  /** When packet 1 was due; packet n is due SEND_INTERVAL_MS × (n - 1) later. */
  #sendEpoch = 0;
  #joinSentAt = 0;
  #joinMs: number | null = null;
  #iceConnected = false;
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
    this.#pc = new RTCPeerConnection(loopbackPeerConfig());
    // A Manager of its own per peer: sockets sharing one would multiplex onto one connection.
    this.#socket = io(`${options.url}${SFU_NAMESPACE}`, {
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      timeout: SIGNALING_TIMEOUT_MS,
    });
    this.#wireSignaling();
    this.#wireMedia();
    if (options.fastReceive) this.#shortCutReceive();
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
      const joined = await this.#joinRoom(spec.roomId, spec.userId);
      this.#peerId = joined.peerId;
      for (const peer of joined.peers) this.#knownPeerIds.add(peer.peerId);
      this.#pc.addTransceiver(this.#track, { direction: "sendonly" });
      await this.#enqueue(async () => {
        const offer = await this.#pc.createOffer();
        await this.#pc.setLocalDescription(offer);
        this.#socket.emit("offer", { type: "offer", sdp: keepLoopbackCandidates(offer.sdp) });
      });
    } catch (error) {
      this.#fail(error);
    }
    await ready;
    return {
      peerId: this.#peerId,
      joinMs: this.#joinMs,
      iceConnected: this.#iceConnected,
      error: this.#error,
    };
  }

  /** Stops sending and closes the connection and the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#phaseTimer);
    clearInterval(this.#sendTimer);
    this.#markReady();
    this.#socket.disconnect();
    await this.#pc.close().catch(() => undefined);
  }

  #wireSignaling(): void {
    const socket = this.#socket;
    socket.on("user-joined", (message) => this.#knownPeerIds.add(message.peerId));
    socket.on("offer", (description) => {
      void this.#enqueue(() => this.#answer(description));
    });
    socket.on("answer", (description) => {
      void this.#enqueue(() => this.#pc.setRemoteDescription(description));
    });
    socket.on("ice-candidate", (candidate) => {
      void this.#enqueue(() => this.#addRemoteCandidate(candidate));
    });
    socket.on("error", (message) => this.#fail(new Error(`${message.code}: ${message.message}`)));
  }

  #wireMedia(): void {
    this.#pc.onIceCandidate.subscribe((candidate) => {
      if (!candidate || !isLoopbackCandidate(candidate.candidate)) return;
      this.#socket.emit("ice-candidate", candidateToWire(candidate));
    });
    this.#pc.connectionStateChange.subscribe((state) => {
      if (state === "connected" && !this.#iceConnected) {
        this.#iceConnected = true;
        this.#startSending();
        if (this.#pending.size === 0) this.#markReady();
      }
    });
    this.#pc.ontrack = (event) => this.#onTrack(event.track, event.streams[0]?.id);
  }

  async #answer(description: SessionDescription): Promise<void> {
    await this.#pc.setRemoteDescription(description);
    const answer = await this.#pc.createAnswer();
    await this.#pc.setLocalDescription(answer);
    this.#socket.emit("answer", { type: "answer", sdp: keepLoopbackCandidates(answer.sdp) });
  }

  async #addRemoteCandidate(candidate: IceCandidate): Promise<void> {
    if (!isLoopbackCandidate(candidate.candidate)) return;
    await this.#pc.addIceCandidate({
      candidate: candidate.candidate,
      ...(candidate.sdpMid != null ? { sdpMid: candidate.sdpMid } : {}),
      ...(candidate.sdpMLineIndex != null ? { sdpMLineIndex: candidate.sdpMLineIndex } : {}),
    });
  }

  #onTrack(track: MediaStreamTrack, streamId: string | undefined): void {
    if (streamId === undefined || !this.#knownPeerIds.has(streamId))
      this.#options.meter.onUnknownStreamTrack();
    if (!this.#options.fastReceive) track.onReceiveRtp.subscribe((rtp) => this.#onPayload(rtp.payload));
  }

  /**
   * Takes every decrypted RTP packet straight from the transport, in place of
   * werift's router → receiver → track chain. That chain keeps receive
   * statistics and runs two event dispatches (each a closure and a promise) per
   * packet, which would make the load clients cost as much per packet as the
   * server they measure. The payload itself names its sender, so nothing of the
   * chain is needed; the SDP side (tracks, msid) still goes through werift.
   */
  #shortCutReceive(): void {
    const internals = this.#pc as unknown as WeriftRouterInternals;
    if (typeof internals.router?.routeRtp !== "function") {
      throw new Error("werift's internal RTP router moved; run with BENCH_WERIFT_RECEIVE=1");
    }
    internals.router.routeRtp = (packet: RtpPacket) => this.#onPayload(packet.payload);
  }

  /** Per received packet. */
  #onPayload(payload: Buffer): void {
    const sender = this.#options.meter.onReceived(payload, this.#lastCounters);
    // Only the first packet per expected source does any work here.
    if (this.#pending.size > 0 && this.#pending.delete(sender) && this.#pending.size === 0) {
      this.#joinMs = nowMs() - this.#joinSentAt;
      if (this.#iceConnected) this.#markReady();
    }
  }

  #startSending(): void {
    // A random phase so that the peers of a process do not all send in the same millisecond.
    this.#phaseTimer = setTimeout(() => {
      this.#sendEpoch = nowMs();
      this.#sendDue();
      this.#sendTimer = setInterval(() => this.#sendDue(), SEND_INTERVAL_MS);
    }, Math.random() * SEND_INTERVAL_MS);
  }

  /**
   * Sends the packets the 50/s schedule says are due. setInterval slips under
   * load; a real microphone does not, so late ticks catch up (a few packets at
   * most, the rest of a long stall is skipped, as a real sender would drop them).
   */
  #sendDue(): void {
    const due = Math.floor((nowMs() - this.#sendEpoch) / SEND_INTERVAL_MS) + 1;
    if (due - this.#counter > MAX_CATCH_UP) this.#counter = due - MAX_CATCH_UP;
    while (this.#counter < due) this.#send();
  }

  /** Hot path, 50 times a second per peer: writes into the shared buffer and the reused packet. */
  #send(): void {
    const counter = ++this.#counter;
    const length = payloadLength(counter);
    const sendTime = nowMs();
    const { payload, spec, meter } = this.#options;
    writePayload(payload.buffer, length, spec.index, counter, sendTime);
    const packet = this.#packet;
    packet.header.sequenceNumber = counter & 0xffff;
    packet.header.timestamp = (counter * OPUS_SAMPLES_PER_FRAME) >>> 0;
    packet.payload = payload.view(length);
    this.#track.writeRtp(packet);
    meter.onSent(spec.index, sendTime);
  }

  #connectSocket(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#socket.once("connect", () => resolve());
      this.#socket.once("connect_error", (error) => reject(error));
    });
  }

  async #joinRoom(roomId: string, userId: string): Promise<JoinedMessage> {
    // The ack is optional in the event map, which leaves emitWithAck's result untyped.
    const result = (await this.#socket
      .timeout(SIGNALING_TIMEOUT_MS)
      .emitWithAck("join", { roomId, userId })) as AckResult<{ joined: JoinedMessage }>;
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
