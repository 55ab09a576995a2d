import { randomBytes, randomUUID } from "node:crypto";
import {
  MediaStream,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RTCRtpHeaderExtensionParameters,
  useAudioLevelIndication,
  useSdesMid,
  type MediaStreamTrack,
} from "werift";
import { BadRequestError, SfuError } from "../errors.js";
import type { Logger } from "../logger.js";
import { MediaTransport } from "../media/MediaTransport.js";
import type { IceCandidate, SessionDescription } from "../protocol.js";
import { CLOSE_DESCRIPTIONS, type CloseReason } from "./closeReason.js";
import type { ForwardingTotals, MediaOptions, PeerLimits, PeerSnapshot } from "../types.js";
import { TypedEmitter } from "../util/TypedEmitter.js";
import { AudioForwarder } from "./AudioForwarder.js";
import { bundleMid, iceUfrag, isPrivateAddress, parseCandidate } from "./candidate.js";
import { ForwardedTrack } from "./ForwardedTrack.js";
import { Negotiator } from "./Negotiator.js";
import { checkSdp } from "./sdp.js";
import { DatagramGuard } from "./DatagramGuard.js";
import { disableDefaultStun } from "../werift/ice.js";
import { releaseTransceiver, slimForwardingTransceiver } from "../werift/transceiver.js";

export interface PeerOptions {
  roomId: string;
  userId: string;
  displayName?: string;
  media: MediaOptions;
  limits: PeerLimits;
  reconnectGraceMs: number;
  totals: ForwardingTotals;
  logger: Logger;
}

export type PeerEvents = {
  /** An SFU offer for the attached client. */
  offer: [SessionDescription];
  /** One of the SFU's trickled candidates for the attached client. */
  "ice-candidate": [IceCandidate];
  /** The client started publishing a track. */
  published: [AudioForwarder];
  /** The client stopped publishing a track (renegotiated it away). */
  unpublished: [AudioForwarder];
  /** ICE and DTLS are up for the first time. */
  connected: [];
  "connection-state": [string];
  close: [CloseReason];
};

const OPUS = new RTCRtpCodecParameters({
  mimeType: "audio/opus",
  clockRate: 48000,
  channels: 2,
  payloadType: 111,
  parameters: "minptime=10;useinbandfec=1",
});

/**
 * One participant session: its werift connection, the track it publishes and
 * the tracks forwarded to it. It outlives its signaling socket for the
 * reconnect grace period (PROTOCOL §6); `attach`/`detach` move it between sockets.
 */
export class Peer extends TypedEmitter<PeerEvents> {
  readonly id = randomUUID();
  readonly roomId: string;
  readonly userId: string;
  readonly displayName: string | undefined;
  /** Secret that lets a new socket take this session over. */
  readonly resumeToken = randomBytes(24).toString("base64url");
  readonly joinedAt = new Date();
  readonly #pc: RTCPeerConnection;
  readonly #negotiator: Negotiator;
  readonly #datagramGuard: DatagramGuard;
  /** The SFU's own RTP path, shared by every track this peer publishes and receives. */
  readonly #media: MediaTransport;
  readonly #options: PeerOptions;
  readonly #logger: Logger;
  readonly #published = new Map<string, AudioForwarder>();
  /** By source track id; the source is kept so that closing can take the track off it. */
  readonly #subscriptions = new Map<string, { source: AudioForwarder; track: ForwardedTrack }>();
  readonly #unsubscribers: Array<() => void> = [];
  /** Sources to forward once the client's first offer is answered. */
  readonly #pendingSources = new Map<string, AudioForwarder>();
  #established = false;
  #attached = true;
  #closed = false;
  #everConnected = false;
  /** Remote candidates of the current ICE generation (the client's current ufrag). */
  #remoteCandidates = 0;
  #remoteUfrag: string | undefined;
  /** Client offers being applied: candidates wait for them, as they may belong to a new ICE generation. */
  #offersInFlight = 0;
  readonly #heldCandidates: string[] = [];
  /**
   * Whether a remote description is applied, and the mid trickled candidates
   * go to: read after each negotiation step, as werift serialises the whole
   * description on every read.
   */
  #hasRemoteDescription = false;
  #bundleMid: string | undefined;
  #graceTimer: NodeJS.Timeout | undefined;
  #iceTimer: NodeJS.Timeout | undefined;

  constructor(options: PeerOptions) {
    super(options.logger);
    this.roomId = options.roomId;
    this.userId = options.userId;
    this.displayName = options.displayName;
    this.#options = options;
    this.#logger = options.logger.child({ roomId: this.roomId, peerId: this.id });
    this.#datagramGuard = new DatagramGuard({ pc: () => this.#pc, logger: this.#logger });
    this.#media = new MediaTransport({ logger: this.#logger });
    this.#pc = new RTCPeerConnection(peerConfig(options.media, this.#datagramGuard.filter));
    this.#negotiator = new Negotiator({
      pc: this.#pc,
      stepTimeoutMs: options.limits.negotiationTimeoutMs,
      answerTimeoutMs: options.limits.answerTimeoutMs,
      sendOffer: (offer) => {
        if (!this.#attached) return false;
        this.emit("offer", offer);
        return true;
      },
      onFailure: (error) => {
        this.#logger.warn("removing peer after negotiation failure", { error: error.message });
        this.close("negotiation-failed");
      },
      logger: this.#logger,
    });
    this.#watchConnection();
    this.#armIceTimer();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get attached(): boolean {
    return this.#attached;
  }

  get connectionState(): string {
    return this.#pc.connectionState;
  }

  get publishedTracks(): AudioForwarder[] {
    return [...this.#published.values()];
  }

  /** Answers a client offer; the first one sets up the connection, later ones renegotiate or restart ICE. */
  async handleOffer(description: SessionDescription): Promise<SessionDescription> {
    this.#assertOpen();
    const checked = checkSdp("offer", description.sdp, this.#sdpOptions());
    if (checked.rejectedMids.length > 0) {
      this.#logger.info("rejecting non-audio m-sections", { mids: checked.rejectedMids });
    }
    this.#startIceGeneration(checked.sdp);
    this.#offersInFlight++;
    let answer: SessionDescription;
    try {
      answer = await this.#negotiator.handleOffer(checked.sdp);
    } finally {
      this.#offersInFlight--;
      this.#readRemoteDescription();
      this.#releaseHeldCandidates();
    }
    // Subscribing a closed peer would leave its tracks in other peers' forwarders.
    this.#assertOpen();
    this.#syncPublications();
    if (!this.#established) {
      this.#established = true;
      // Added only now so werift cannot pair the client's own m-line with a forwarding transceiver.
      for (const source of this.#pendingSources.values()) this.#addSubscription(source);
      this.#pendingSources.clear();
    }
    return answer;
  }

  /** Applies the client's answer to the SFU's last offer. */
  async handleAnswer(description: SessionDescription): Promise<void> {
    this.#assertOpen();
    const checked = checkSdp("answer", description.sdp, this.#sdpOptions());
    try {
      await this.#negotiator.handleAnswer(checked.sdp);
    } finally {
      this.#readRemoteDescription();
    }
  }

  /**
   * Adds a trickled client candidate; `""` marks end-of-candidates. Everything
   * is bundled on one ICE transport, so the candidate's sdpMid, sdpMLineIndex
   * and usernameFragment are not needed: it goes to the bundle transport, like
   * Pion does. One that arrives before its offer is applied waits for it.
   */
  async addIceCandidate(candidate: IceCandidate): Promise<void> {
    this.#assertOpen();
    if (candidate.candidate === "") return;
    const parsed = parseCandidate(candidate.candidate);
    if (++this.#remoteCandidates > this.#options.limits.maxIceCandidates) {
      throw new SfuError("RATE_LIMITED", "too many ICE candidates for this ICE generation");
    }
    if (!this.#options.media.allowPrivateCandidates && isPrivateAddress(parsed.address)) {
      this.#logger.debug("ignoring a private candidate", { address: parsed.address });
      return;
    }
    // The SFU only gathers UDP; a TCP candidate could never pair.
    if (parsed.transport !== "udp") return;
    if (this.#offersInFlight > 0 || !this.#hasRemoteDescription) {
      this.#heldCandidates.push(candidate.candidate);
      return;
    }
    await this.#applyCandidate(candidate.candidate);
  }

  async #applyCandidate(line: string): Promise<void> {
    const sdpMid = this.#bundleMid;
    if (sdpMid === undefined) throw new BadRequestError("the session has no media section for a candidate");
    try {
      await this.#pc.addIceCandidate({ candidate: line, sdpMid });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new BadRequestError(`the candidate could not be added: ${reason}`, { cause: error });
    }
  }

  #releaseHeldCandidates(): void {
    if (this.#offersInFlight > 0 || this.#closed || !this.#hasRemoteDescription) return;
    for (const line of this.#heldCandidates.splice(0)) {
      this.#applyCandidate(line).catch((error: unknown) =>
        this.#logger.debug("dropping a held candidate", { error }),
      );
    }
  }

  #readRemoteDescription(): void {
    if (this.#closed) return;
    const remote = this.#pc.remoteDescription;
    this.#hasRemoteDescription = remote !== undefined;
    this.#bundleMid = remote ? bundleMid(remote.sdp) : undefined;
  }

  /** A new remote ufrag is a new ICE generation (an ICE restart): its candidates are counted afresh. */
  #startIceGeneration(sdp: string): void {
    const ufrag = iceUfrag(sdp);
    if (ufrag === this.#remoteUfrag) return;
    this.#remoteUfrag = ufrag;
    this.#remoteCandidates = 0;
  }

  /** Starts forwarding another participant's track to this peer. */
  subscribe(source: AudioForwarder): void {
    if (this.#closed || this.#subscriptions.has(source.id) || source.closed) return;
    if (this.#established) this.#addSubscription(source);
    else this.#pendingSources.set(source.id, source);
  }

  #addSubscription(source: AudioForwarder): void {
    if (source.closed) return;
    const transceiver = this.#pc.addTransceiver("audio", {
      direction: "sendonly",
      streams: [new MediaStream({ id: source.peerId })],
    });
    // A room of N holds N² of these: drop the werift state the forwarding path never uses.
    slimForwardingTransceiver(transceiver);
    // One BUNDLE transport needs one extension-id map: reuse the ids the client chose.
    const negotiated = this.#negotiatedExtensions();
    if (negotiated.length > 0) transceiver.headerExtensions = negotiated;
    const track = new ForwardedTrack({
      sourceTrackId: source.id,
      sourcePeerId: source.peerId,
      transceiver,
      transport: this.#media,
      logger: this.#logger,
    });
    this.#subscriptions.set(source.id, { source, track });
    source.addSubscriber(track);
    this.#negotiator.requestNegotiation();
  }

  /** Stops forwarding a track to this peer and renegotiates its m-line away. */
  unsubscribe(source: AudioForwarder): void {
    this.#pendingSources.delete(source.id);
    const subscription = this.#subscriptions.get(source.id);
    if (!subscription) return;
    this.#subscriptions.delete(source.id);
    source.removeSubscriber(subscription.track);
    releaseTransceiver(subscription.track.transceiver);
    subscription.track.close();
    if (!this.#closed) this.#negotiator.requestNegotiation();
  }

  /**
   * The signaling socket went away: keep the session for the grace period.
   * `graceMs: null` leaves ending it to the caller. A forwarding worker's
   * peers are timed by the main thread, which also takes the resumes: a timer
   * here would end a session that a resume on its way had just taken over.
   */
  detach(graceMs: number | null = this.#options.reconnectGraceMs): void {
    if (this.#closed || !this.#attached) return;
    this.#attached = false;
    if (graceMs !== null) this.#graceTimer = setTimeout(() => this.close("grace-expired"), graceMs);
    this.#logger.info("signaling detached; waiting for a resume", { graceMs });
  }

  /** A socket resumed this session: cancel the grace timer and catch the client up. */
  attach(): void {
    this.#assertOpen();
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#attached = true;
    this.#negotiator.resendPendingOffer();
  }

  snapshot(): PeerSnapshot {
    return {
      peerId: this.id,
      userId: this.userId,
      ...(this.displayName !== undefined && { displayName: this.displayName }),
      roomId: this.roomId,
      connectionState: this.#pc.connectionState,
      detached: !this.#attached,
      joinedAt: this.joinedAt.toISOString(),
      published: this.#published.size,
      subscribed: this.#subscriptions.size,
    };
  }

  /** Ends the session: stops every track, closes the connection, emits `close` once. */
  close(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#graceTimer);
    clearTimeout(this.#iceTimer);
    this.#negotiator.close();
    for (const unsubscribe of this.#unsubscribers.splice(0)) unsubscribe();
    for (const forwarder of this.#published.values()) forwarder.close();
    // Sources outlive this peer: a track left in their subscriber set would keep the whole peer alive.
    for (const { source, track } of this.#subscriptions.values()) {
      source.removeSubscriber(track);
      releaseTransceiver(track.transceiver);
      track.close();
    }
    this.#subscriptions.clear();
    this.#pendingSources.clear();
    this.#heldCandidates.length = 0;
    this.#media.close();
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
        if (!candidate || !this.#attached) return;
        const json = candidate.toJSON();
        this.emit("ice-candidate", {
          candidate: json.candidate,
          sdpMid: json.sdpMid ?? null,
          sdpMLineIndex: json.sdpMLineIndex ?? null,
        });
      }).unSubscribe,
      pc.connectionStateChange.subscribe((state) => this.#onConnectionState(state)).unSubscribe,
      pc.onTrack.subscribe((track) => this.#onTrack(track)).unSubscribe,
      // Fires (synchronously) before werift opens an ICE socket, so every socket is guarded from its first datagram.
      pc.iceGatheringStateChange.subscribe(() => this.#beforeGathering()).unSubscribe,
    );
  }

  #beforeGathering(): void {
    this.#datagramGuard.protect();
    // STUN_SERVERS="" means none, not werift's default server.
    if (!this.#options.media.iceServers.some((server) => isStunServer(server.urls)))
      disableDefaultStun(this.#pc);
  }

  #onConnectionState(state: string): void {
    this.#logger.debug("connection state", { state });
    this.emit("connection-state", state);
    if (state === "connected") {
      clearTimeout(this.#iceTimer);
      this.#iceTimer = undefined;
      if (!this.#everConnected) {
        this.#everConnected = true;
        this.emit("connected");
      }
    } else if (state === "failed" || state === "disconnected") {
      // The client has iceTimeoutMs to restart ICE before the session is given up.
      this.#armIceTimer();
    }
  }

  #armIceTimer(): void {
    if (this.#iceTimer || this.#closed) return;
    this.#iceTimer = setTimeout(() => {
      this.#iceTimer = undefined;
      if (this.#pc.connectionState === "connected") return;
      this.#logger.warn("ICE did not connect in time", { state: this.#pc.connectionState });
      this.close(this.#everConnected ? "media-failed" : "ice-timeout");
    }, this.#options.limits.iceTimeoutMs);
  }

  #onTrack(track: MediaStreamTrack): void {
    if (this.#closed || track.kind !== "audio") return;
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
      logger: this.#logger,
    });
    this.#published.set(forwarder.id, forwarder);
    this.#logger.info("track published", { trackId: forwarder.id });
    this.emit("published", forwarder);
  }

  #negotiatedExtensions(): RTCRtpHeaderExtensionParameters[] {
    const first = this.#pc
      .getTransceivers()
      .find((t) => t.kind === "audio" && t.mid !== null && t.headerExtensions.length > 0);
    return first
      ? first.headerExtensions.map((e) => new RTCRtpHeaderExtensionParameters({ id: e.id, uri: e.uri }))
      : [];
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
    if (this.#closed) throw new SfuError("NOT_JOINED", "this session has ended");
  }
}

function isStunServer(urls: string | string[]): boolean {
  return (Array.isArray(urls) ? urls : [urls]).some((url) => /^stuns?:/i.test(url));
}

function peerConfig(
  media: MediaOptions,
  filterStun: DatagramGuard["filter"],
): ConstructorParameters<typeof RTCPeerConnection>[0] {
  const advertise = media.advertiseIps.length > 0;
  return {
    iceServers: media.iceServers,
    // setLocalDescription waits for gathering: an unreachable STUN server must not stall every join for 5 s.
    iceStunGatherTimeout: 2,
    ...(media.portRange && { icePortRange: media.portRange }),
    // With advertised IPs, gather only those: one wildcard-bound socket each, no interface scan.
    ...(advertise && { iceAdditionalHostAddresses: media.advertiseIps }),
    iceUseIpv4: !advertise,
    iceUseIpv6: !advertise && media.useIpv6,
    bundlePolicy: "max-bundle",
    codecs: { audio: [OPUS], video: [] },
    headerExtensions: { audio: [useSdesMid(), useAudioLevelIndication()], video: [] },
    iceFilterStunResponse: filterStun,
  };
}
