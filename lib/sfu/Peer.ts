import { randomBytes, randomUUID } from "node:crypto";
import { RTCPeerConnection, type MediaStreamTrack, type RTCRtpTransceiver } from "werift";
import { SfuError } from "../errors.js";
import type { Logger } from "../logger.js";
import { MediaTransport } from "../media/MediaTransport.js";
import type { IceCandidate, PeerControlState, SessionDescription } from "../protocol.js";
import type { ForwardingTotals, MediaOptions, PeerLimits, PeerSnapshot } from "../types.js";
import { TypedEmitter } from "../util/TypedEmitter.js";
import { endDtlsHandshakes } from "../werift/dtls.js";
import { disableDefaultStun, patientIceChecks } from "../werift/ice.js";
import type { OfferTurns } from "./OfferTurns.js";
import { AudioForwarder } from "./AudioForwarder.js";
import { CLOSE_DESCRIPTIONS, type CloseReason } from "./closeReason.js";
import { DatagramGuard } from "./DatagramGuard.js";
import { MuxedIce, type UdpMuxes } from "./MuxedIce.js";
import { Negotiator } from "./Negotiator.js";
import { PeerCandidates } from "./PeerCandidates.js";
import { candidatesTried, connectivityConfig, selectedPair } from "./connectivity.js";
import { hasStunServer, peerConfig } from "./peerConfig.js";
import { PeerControls, type PeerControlChange } from "./PeerControls.js";
import { PeerSubscriptions } from "./PeerSubscriptions.js";
import type { SpeechMeter } from "./SpeechMeter.js";
import { checkSdp } from "./sdp.js";
import type { PeerSessionEvents } from "./Sfu.js";

export interface PeerOptions {
  roomId: string;
  userId: string;
  displayName?: string;
  /** False makes a listen-only participant: nothing it sends is received or forwarded (PROTOCOL §15). */
  canPublish: boolean;
  media: MediaOptions;
  limits: PeerLimits;
  reconnectGraceMs: number;
  totals: ForwardingTotals;
  /** The room's meter for this participant's speech; its published tracks feed it. */
  speech: SpeechMeter;
  /** The shared media sockets of ICE_UDP_PORT, when the SFU has them. */
  udpMuxes?: UdpMuxes;
  /** The thread's queue for SFU offers (see OfferTurns); without it, each offer is made at once. */
  offerTurns?: OfferTurns;
  logger: Logger;
}

export type PeerEvents = PeerSessionEvents & {
  /** The client started publishing a track. */
  published: [AudioForwarder];
  /** The client stopped publishing a track (renegotiated it away). */
  unpublished: [AudioForwarder];
};

/**
 * Where a session is: `new` until the client's first offer is answered,
 * `answered` until ICE and DTLS first come up, `connected` from then on
 * (also while a lost connection waits for an ICE restart), `closed` at the end.
 */
export type PeerState = "new" | "answered" | "connected" | "closed";

/**
 * One participant session: its werift connection, the track it publishes and
 * the tracks forwarded to it. It outlives its signaling socket for the
 * reconnect grace period (PROTOCOL §6); `attach`/`detach` move it between
 * sockets. Its trickled candidates are gated by {@link PeerCandidates}, the
 * tracks forwarded to it kept by {@link PeerSubscriptions}.
 */
export class Peer extends TypedEmitter<PeerEvents> {
  readonly id = randomUUID();
  readonly roomId: string;
  readonly userId: string;
  readonly displayName: string | undefined;
  readonly canPublish: boolean;
  /** Secret that lets a new socket take this session over. */
  readonly resumeToken = randomBytes(24).toString("base64url");
  readonly joinedAt = new Date();
  /** Mute and deafen state, shared with the tracks this peer publishes and receives. */
  readonly #controls = new PeerControls();
  readonly #pc: RTCPeerConnection;
  readonly #negotiator: Negotiator;
  readonly #datagramGuard: DatagramGuard;
  /** Puts this peer's ICE on the shared port (ICE_UDP_PORT); undefined when each peer has its own. */
  readonly #muxedIce: MuxedIce | undefined;
  /** The SFU's own RTP path, shared by every track this peer publishes and receives. */
  readonly #media: MediaTransport;
  readonly #candidates: PeerCandidates;
  readonly #subscriptions: PeerSubscriptions;
  readonly #options: PeerOptions;
  readonly #logger: Logger;
  readonly #published = new Map<string, AudioForwarder>();
  readonly #unsubscribers: Array<() => void> = [];
  #state: PeerState = "new";
  /** Set while no socket carries the session, with the grace timer that ends it (none in a worker). */
  #detached: { graceTimer: NodeJS.Timeout | undefined } | undefined;
  #iceTimer: NodeJS.Timeout | undefined;

  constructor(options: PeerOptions) {
    super(options.logger);
    this.roomId = options.roomId;
    this.userId = options.userId;
    this.displayName = options.displayName;
    this.canPublish = options.canPublish;
    this.#options = options;
    this.#logger = options.logger.child({ roomId: this.roomId, peerId: this.id });
    this.#datagramGuard = new DatagramGuard({ pc: () => this.#pc, logger: this.#logger });
    const muxes = options.udpMuxes;
    this.#muxedIce =
      muxes && Object.keys(muxes).length > 0
        ? new MuxedIce({ pc: () => this.#pc, muxes, logger: this.#logger })
        : undefined;
    this.#media = new MediaTransport({ logger: this.#logger });
    this.#pc = new RTCPeerConnection({
      ...peerConfig(options.media, this.#datagramGuard.filter),
      ...connectivityConfig(options.media, `sfu-${this.id}`),
    });
    this.#negotiator = new Negotiator({
      pc: this.#pc,
      stepTimeoutMs: options.limits.negotiationTimeoutMs,
      answerTimeoutMs: options.limits.answerTimeoutMs,
      ...(options.offerTurns && { turns: options.offerTurns }),
      sendOffer: (offer) => {
        if (this.#detached) return false;
        this.emit("offer", offer);
        return true;
      },
      onFailure: (error) => {
        this.#logger.warn("removing peer after negotiation failure", { error: error.message });
        this.close("negotiation-failed");
      },
      logger: this.#logger,
    });
    this.#candidates = new PeerCandidates({
      pc: this.#pc,
      maxIceCandidates: options.limits.maxIceCandidates,
      allowPrivateCandidates: options.media.allowPrivateCandidates,
      logger: this.#logger,
    });
    this.#subscriptions = new PeerSubscriptions({
      pc: this.#pc,
      media: this.#media,
      controls: this.#controls,
      requestNegotiation: () => this.#negotiator.requestNegotiation(),
      logger: this.#logger,
    });
    this.#watchConnection();
    this.#armIceTimer();
  }

  get state(): PeerState {
    return this.#state;
  }

  get closed(): boolean {
    return this.#state === "closed";
  }

  get publishedTracks(): AudioForwarder[] {
    return [...this.#published.values()];
  }

  get controlState(): PeerControlState {
    return this.#controls.state;
  }

  /** Applies a self-mute or a moderator's mute or deafen; `updated` follows a real change. */
  control(change: PeerControlChange): void {
    if (this.closed || !this.#controls.apply(change)) return;
    // Silence now, not after the window drains: a muted peer stops speaking at once.
    if (!this.#controls.sending) this.#options.speech.reset();
    this.#logger.info("controls changed", { ...this.#controls.state });
    this.emit("updated", this.#controls.state);
  }

  /** Answers a client offer; the first one sets up the connection, later ones renegotiate or restart ICE. */
  async handleOffer(description: SessionDescription): Promise<SessionDescription> {
    this.#assertOpen();
    const checked = checkSdp("offer", description.sdp, this.#sdpOptions());
    if (checked.rejectedMids.length > 0) {
      this.#logger.info("rejecting non-audio m-sections", { mids: checked.rejectedMids });
    }
    this.#candidates.applyingOffer(checked.sdp);
    let answer: SessionDescription;
    try {
      answer = await this.#negotiator.handleOffer(checked.sdp);
    } finally {
      this.#candidates.offerApplied();
    }
    // An ICE restart made a new local ufrag: the shared port must route it before the client has the answer.
    this.#muxedIce?.protect();
    // Subscribing a closed peer would leave its tracks in other peers' forwarders.
    this.#assertOpen();
    this.#syncPublications();
    if (this.#state === "new") {
      this.#state = "answered";
      // ICE can start only now: time spent before the answer (a busy SFU) must not count against it.
      this.#rearmIceTimer();
    }
    this.#subscriptions.start();
    return answer;
  }

  /** Applies the client's answer to the SFU's last offer. */
  async handleAnswer(description: SessionDescription): Promise<void> {
    this.#assertOpen();
    const checked = checkSdp("answer", description.sdp, this.#sdpOptions());
    try {
      await this.#negotiator.handleAnswer(checked.sdp);
    } finally {
      this.#candidates.descriptionChanged();
    }
  }

  /** Adds a trickled client candidate (see {@link PeerCandidates}); `""` marks end-of-candidates. */
  addIceCandidate(candidate: IceCandidate): Promise<void> {
    this.#assertOpen();
    return this.#candidates.add(candidate);
  }

  /** Starts forwarding another participant's track to this peer. */
  subscribe(source: AudioForwarder): void {
    this.#subscriptions.subscribe(source);
  }

  /** Stops forwarding a track to this peer and renegotiates its m-line away. */
  unsubscribe(source: AudioForwarder): void {
    this.#subscriptions.unsubscribe(source);
  }

  /**
   * The signaling socket went away: keep the session for the grace period.
   * `graceMs: null` leaves ending it to the caller. A forwarding worker's
   * peers are timed by the main thread, which also takes the resumes: a timer
   * here would end a session that a resume on its way had just taken over.
   */
  detach(graceMs: number | null = this.#options.reconnectGraceMs): void {
    if (this.closed || this.#detached) return;
    this.#detached = {
      graceTimer: graceMs === null ? undefined : setTimeout(() => this.close("grace-expired"), graceMs),
    };
    this.#logger.info("signaling detached; waiting for a resume", { graceMs });
  }

  /** A socket resumed this session: cancel the grace timer and catch the client up. */
  attach(): void {
    this.#assertOpen();
    clearTimeout(this.#detached?.graceTimer);
    this.#detached = undefined;
    this.#negotiator.resendPendingOffer();
  }

  snapshot(): PeerSnapshot {
    return {
      peerId: this.id,
      userId: this.userId,
      ...(this.displayName !== undefined && { displayName: this.displayName }),
      roomId: this.roomId,
      canPublish: this.canPublish,
      connectionState: this.#pc.connectionState,
      detached: this.#detached !== undefined,
      joinedAt: this.joinedAt.toISOString(),
      published: this.#published.size,
      subscribed: this.#subscriptions.size,
      selectedPair: selectedPair(this.#pc),
      ...this.#controls.state,
      speaking: this.#options.speech.speaking,
      audioLevel: this.#options.speech.level,
    };
  }

  /** Ends the session: stops every track, closes the connection, emits `close` once. */
  close(reason: CloseReason): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    clearTimeout(this.#detached?.graceTimer);
    clearTimeout(this.#iceTimer);
    this.#negotiator.close();
    for (const unsubscribe of this.#unsubscribers.splice(0)) unsubscribe();
    for (const forwarder of this.#published.values()) forwarder.close();
    this.#subscriptions.close();
    this.#candidates.close();
    this.#media.close();
    this.#muxedIce?.close();
    endDtlsHandshakes(this.#pc);
    this.#pc.close().catch((error: unknown) => this.#logger.warn("peer connection close failed", { error }));
    this.#logger.info("peer closed", {
      reason,
      what: CLOSE_DESCRIPTIONS[reason],
      hostileDatagramsDropped: this.#datagramGuard.dropped,
    });
    this.emit("close", reason);
    // Forwarders are dropped only after `close` so the room can still unsubscribe them.
    this.#published.clear();
    this.removeAllListeners();
  }

  #watchConnection(): void {
    const pc = this.#pc;
    this.#unsubscribers.push(
      pc.onIceCandidate.subscribe((candidate) => {
        if (!candidate || this.#detached) return;
        const json = candidate.toJSON();
        this.emit("ice-candidate", {
          candidate: json.candidate,
          sdpMid: json.sdpMid ?? null,
          sdpMLineIndex: json.sdpMLineIndex ?? null,
        });
      }).unSubscribe,
      pc.connectionStateChange.subscribe((state) => this.#onConnectionState(state)).unSubscribe,
      pc.onTrack.subscribe((track) => this.#onTrack(track)).unSubscribe,
      pc.onRemoteTransceiverAdded.subscribe((transceiver) => this.#onClientTransceiver(transceiver))
        .unSubscribe,
      // Fires (synchronously) before werift opens an ICE socket, so every socket is guarded from its first datagram.
      pc.iceGatheringStateChange.subscribe(() => this.#beforeGathering()).unSubscribe,
    );
  }

  #beforeGathering(): void {
    this.#datagramGuard.protect();
    this.#muxedIce?.protect();
    // STUN_SERVERS="" means none, not werift's default server.
    if (!hasStunServer(this.#options.media)) disableDefaultStun(this.#pc);
    patientIceChecks(this.#pc);
  }

  #onConnectionState(state: string): void {
    this.#logger.debug("connection state", { state });
    if (state === "connected") {
      clearTimeout(this.#iceTimer);
      this.#iceTimer = undefined;
      if (this.#state === "new" || this.#state === "answered") {
        this.#state = "connected";
        this.emit("connected");
      }
    } else if (state === "failed" || state === "disconnected") {
      // The client has iceTimeoutMs to restart ICE before the session is given up.
      this.#armIceTimer();
    }
  }

  #rearmIceTimer(): void {
    if (this.#pc.connectionState === "connected") return;
    clearTimeout(this.#iceTimer);
    this.#iceTimer = undefined;
    this.#armIceTimer();
  }

  #armIceTimer(): void {
    if (this.#iceTimer || this.closed) return;
    this.#iceTimer = setTimeout(() => {
      this.#iceTimer = undefined;
      if (this.#pc.connectionState === "connected") return;
      this.#logger.warn("ICE did not connect in time", {
        state: this.#pc.connectionState,
        candidates: candidatesTried(this.#pc),
      });
      this.close(this.#state === "connected" ? "media-failed" : "ice-timeout");
    }, this.#options.limits.iceTimeoutMs);
  }

  /**
   * An m-section the client offered: a listen-only client's is answered
   * `inactive`. Set before werift reads the offer's direction, so werift
   * registers no receiver for it and drops whatever RTP arrives on it.
   */
  #onClientTransceiver(transceiver: RTCRtpTransceiver): void {
    if (!this.canPublish) transceiver.setDirection("inactive");
  }

  #onTrack(track: MediaStreamTrack): void {
    // A listen-only client's audio is never forwarded, whatever its offer or packets say.
    if (this.closed || !this.canPublish || track.kind !== "audio") return;
    const transceiver = this.#pc.getTransceivers().find((t) => t.receiver.track === track);
    if (!transceiver || [...this.#published.values()].some((f) => f.receivesFrom(transceiver))) return;
    if (this.#published.size >= this.#options.limits.maxPublishedTracks) {
      this.#logger.warn("ignoring an extra published track", {
        limit: this.#options.limits.maxPublishedTracks,
      });
      return;
    }
    const forwarder = new AudioForwarder({
      roomId: this.roomId,
      peerId: this.id,
      transceiver,
      track,
      transport: this.#media,
      totals: this.#options.totals,
      controls: this.#controls,
      speech: this.#options.speech,
      logger: this.#logger,
    });
    this.#published.set(forwarder.id, forwarder);
    this.#logger.info("track published", { trackId: forwarder.id });
    this.emit("published", forwarder);
  }

  /** Drops publications whose m-line the client stopped sending on. */
  #syncPublications(): void {
    for (const forwarder of this.#published.values()) {
      if (forwarder.isReceiving) continue;
      this.#published.delete(forwarder.id);
      this.#logger.info("track unpublished", { trackId: forwarder.id });
      this.emit("unpublished", forwarder);
      forwarder.close();
    }
  }

  #sdpOptions() {
    return {
      limits: this.#options.limits.sdp,
      dropPrivateCandidates: !this.#options.media.allowPrivateCandidates,
    };
  }

  #assertOpen(): void {
    if (this.closed) throw new SfuError("NOT_JOINED", "this session has ended");
  }
}
