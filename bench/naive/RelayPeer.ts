import type { Socket } from "socket.io";
import { MediaStream, MediaStreamTrack, RTCPeerConnection, type RTCRtpSender, type RtpPacket } from "werift";
import type {
  ClientToServerEvents,
  IceCandidate,
  ServerToClientEvents,
  SessionDescription,
} from "../../lib/protocol.js";
import {
  candidateToWire,
  isLoopbackCandidate,
  keepLoopbackCandidates,
  loopbackPeerConfig,
} from "../loopback.js";

export type RelaySocket = Socket<ClientToServerEvents, ServerToClientEvents>;

export interface RelayPeerOptions {
  peerId: string;
  userId: string;
  roomId: string;
  socket: RelaySocket;
  /** Called once, when the client's published track arrives. */
  onSource: (peer: RelayPeer, track: MediaStreamTrack) => void;
}

interface Subscription {
  sender: RTCRtpSender;
  unsubscribe: () => void;
}

/**
 * The naive relay's side of one participant: a werift connection that
 * receives the client's track and sends it every other participant's track,
 * each through its own MediaStreamTrack fed by `writeRtp`.
 */
export class RelayPeer {
  readonly peerId: string;
  readonly userId: string;
  readonly roomId: string;
  readonly #socket: RelaySocket;
  readonly #pc = new RTCPeerConnection(loopbackPeerConfig());
  readonly #subscriptions = new Map<string, Subscription>();
  /** Sources to forward once the client's first offer is answered (see `subscribe`). */
  readonly #waiting = new Map<string, { source: RelayPeer; track: MediaStreamTrack }>();
  /** Signaling steps run one at a time, in arrival order. */
  #chain: Promise<void> = Promise.resolve();
  /** No offer of ours before the client's first offer has been answered. */
  #answeredFirstOffer = false;
  #awaitingAnswer = false;
  #negotiationNeeded = false;
  #source: MediaStreamTrack | undefined;
  #closed = false;

  constructor(options: RelayPeerOptions) {
    this.peerId = options.peerId;
    this.userId = options.userId;
    this.roomId = options.roomId;
    this.#socket = options.socket;
    this.#pc.onIceCandidate.subscribe((candidate) => {
      if (candidate && isLoopbackCandidate(candidate.candidate)) {
        this.#socket.emit("ice-candidate", candidateToWire(candidate));
      }
    });
    this.#pc.onTrack.subscribe((track) => {
      if (this.#source) return;
      this.#source = track;
      options.onSource(this, track);
    });
  }

  /** The client's published track, once it arrived. */
  get source(): MediaStreamTrack | undefined {
    return this.#source;
  }

  handleOffer(description: SessionDescription): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#pc.signalingState === "have-local-offer") {
        // Glare: drop our offer, answer theirs, offer again afterwards.
        await this.#pc.setLocalDescription({ type: "rollback" });
        this.#awaitingAnswer = false;
        this.#negotiationNeeded = true;
      }
      await this.#pc.setRemoteDescription(description);
      const answer = await this.#pc.createAnswer();
      await this.#pc.setLocalDescription(answer);
      this.#socket.emit("answer", { type: "answer", sdp: keepLoopbackCandidates(answer.sdp) });
      if (!this.#answeredFirstOffer) {
        this.#answeredFirstOffer = true;
        for (const { source, track } of this.#waiting.values()) this.subscribe(source, track);
        this.#waiting.clear();
      }
      this.#offerIfNeeded();
    });
  }

  handleAnswer(description: SessionDescription): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#pc.signalingState !== "have-local-offer") return;
      await this.#pc.setRemoteDescription(description);
      this.#awaitingAnswer = false;
      this.#offerIfNeeded();
    });
  }

  addRemoteCandidate(candidate: IceCandidate): Promise<void> {
    return this.#enqueue(async () => {
      if (!isLoopbackCandidate(candidate.candidate)) return;
      await this.#pc.addIceCandidate({
        candidate: candidate.candidate,
        ...(candidate.sdpMid != null ? { sdpMid: candidate.sdpMid } : {}),
        ...(candidate.sdpMLineIndex != null ? { sdpMLineIndex: candidate.sdpMLineIndex } : {}),
      });
    });
  }

  /** Starts forwarding `track` of `source` to this client on a new sendonly track. */
  subscribe(source: RelayPeer, track: MediaStreamTrack): void {
    if (this.#closed || this.#subscriptions.has(source.peerId)) return;
    if (!this.#answeredFirstOffer) {
      // A transceiver added now would be matched to the m-line of the client's coming offer.
      this.#waiting.set(source.peerId, { source, track });
      return;
    }
    const outgoing = new MediaStreamTrack({ kind: "audio" });
    // A new sendonly transceiver every time: addTrack would reuse the client's own
    // (recvonly here) m-line, which the client does not receive on. The stream id is
    // how the client tells which participant a track carries.
    const { sender } = this.#pc.addTransceiver(outgoing, {
      direction: "sendonly",
      streams: [new MediaStream({ id: source.peerId })],
    });
    const { unSubscribe } = track.onReceiveRtp.subscribe((rtp: RtpPacket) => outgoing.writeRtp(rtp));
    this.#subscriptions.set(source.peerId, { sender, unsubscribe: unSubscribe });
    this.#requestNegotiation();
  }

  /** Stops forwarding `sourcePeerId`'s track and renegotiates it away. */
  unsubscribe(sourcePeerId: string): void {
    this.#waiting.delete(sourcePeerId);
    const subscription = this.#subscriptions.get(sourcePeerId);
    if (!subscription || this.#closed) return;
    this.#subscriptions.delete(sourcePeerId);
    subscription.unsubscribe();
    this.#pc.removeTrack(subscription.sender);
    this.#requestNegotiation();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const subscription of this.#subscriptions.values()) subscription.unsubscribe();
    this.#subscriptions.clear();
    this.#waiting.clear();
    await this.#pc.close().catch(() => undefined);
  }

  #requestNegotiation(): void {
    this.#negotiationNeeded = true;
    void this.#enqueue(async () => Promise.resolve(this.#offerIfNeeded()));
  }

  /** Sends an offer when tracks changed and the connection is stable. */
  #offerIfNeeded(): void {
    if (!this.#negotiationNeeded || !this.#answeredFirstOffer || this.#awaitingAnswer || this.#closed) return;
    if (this.#pc.signalingState !== "stable") return;
    this.#negotiationNeeded = false;
    this.#awaitingAnswer = true;
    void this.#enqueue(async () => {
      const offer = await this.#pc.createOffer();
      await this.#pc.setLocalDescription(offer);
      this.#socket.emit("offer", { type: "offer", sdp: keepLoopbackCandidates(offer.sdp) });
    });
  }

  #enqueue(step: () => Promise<void>): Promise<void> {
    this.#chain = this.#chain.then(step).catch((error: unknown) => {
      if (!this.#closed) console.error(`relay peer ${this.peerId}:`, error);
    });
    return this.#chain;
  }
}
