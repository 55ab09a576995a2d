import type { IceCandidate, SessionDescription } from "../protocol.js";
import { SfuClientError } from "./SfuClientError.js";
import { TypedEmitter } from "../util/TypedEmitter.js";
import type { InboundAudioStats } from "./types.js";

/** How a MediaSession talks to the SFU; implemented by the client over its socket. */
export interface MediaSignaling {
  /** Sends an offer; resolves when the SFU acknowledged it (the answer comes separately). */
  sendOffer(offer: SessionDescription): Promise<void>;
  /** Sends an answer to an SFU offer; resolves when acknowledged. */
  sendAnswer(answer: SessionDescription): Promise<void>;
  sendCandidate(candidate: IceCandidate): void;
  /** False while the socket is down or the session not (re)bound to it. */
  isOnline(): boolean;
}

export interface MediaSessionOptions {
  configuration: RTCConfiguration;
  signaling: MediaSignaling;
  /** The microphone to send, if any; without one the session only listens. */
  localTrack: MediaStreamTrack | undefined;
  answerTimeoutMs: number;
  iceDisconnectedTimeoutMs: number;
  iceRestartTimeoutMs: number;
  maxIceRestarts: number;
  log: (message: string, ...details: unknown[]) => void;
}

/** `connecting` until the first path is up; `broken` while ICE is down or being restarted. */
export type MediaHealth = "connecting" | "connected" | "broken";

export type MediaSessionEvents = {
  track: [peerId: string, track: MediaStreamTrack, stream: MediaStream];
  health: [MediaHealth];
  /** ICE restarts did not bring the path back: the session must be rebuilt. */
  failed: [SfuClientError];
  /** A negotiation step failed; the session may still work. */
  error: [SfuClientError];
};

/**
 * One RTCPeerConnection to the SFU and everything that keeps it negotiated.
 *
 * The client is the impolite side of perfect negotiation: the SFU rolls its
 * own offer back on glare (PROTOCOL §5), so an SFU offer that crosses one of
 * ours is dropped here and the SFU offers again after answering ours. Every
 * SDP step runs on one queue, so an ICE restart never interleaves with an
 * answer in progress.
 */
export class MediaSession extends TypedEmitter<MediaSessionEvents> {
  readonly pc: RTCPeerConnection;
  readonly #options: MediaSessionOptions;
  readonly #micTransceiver: RTCRtpTransceiver;
  /** Source peerId of every remote track, by track id. */
  readonly #trackSources = new Map<string, string>();
  #queue: Promise<unknown> = Promise.resolve();
  /**
   * Offers of ours queued, or sent and not yet answered. An SFU offer arriving
   * meanwhile crossed one of ours (glare) and the SFU will re-offer; one that
   * arrives after the answer was made after it, and must be answered.
   */
  #openOffers = 0;
  #pendingAnswer:
    { resolve: (answer: SessionDescription) => void; reject: (error: Error) => void } | undefined;
  #pendingCandidates: RTCIceCandidateInit[] = [];
  #health: MediaHealth = "connecting";
  #disconnectedTimer: ReturnType<typeof setTimeout> | undefined;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #restarts = 0;
  /** An ICE restart is owed but signaling was down; `resync()` pays it. */
  #restartOwed = false;
  #closed = false;

  constructor(options: MediaSessionOptions) {
    super();
    this.#options = options;
    this.pc = new RTCPeerConnection(options.configuration);
    // Our own m-line carries only the microphone; the SFU adds one sendonly m-line per remote source.
    this.#micTransceiver = this.pc.addTransceiver("audio", {
      direction: options.localTrack ? "sendonly" : "inactive",
    });
    if (options.localTrack) void this.#micTransceiver.sender.replaceTrack(options.localTrack);
    this.pc.addEventListener("icecandidate", (event) => this.#onLocalCandidate(event.candidate));
    this.pc.addEventListener("track", (event) => this.#onTrack(event));
    this.pc.addEventListener("connectionstatechange", () => this.#onConnectionState());
  }

  get health(): MediaHealth {
    return this.#health;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Replaces the ICE servers (fresh TURN credentials) for the next gathering; the current pair stays. */
  setIceServers(iceServers: RTCIceServer[]): void {
    if (this.#closed) return;
    try {
      this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers });
    } catch (error) {
      this.#options.log("could not update the ICE servers", error);
    }
  }

  /** Sends the first offer (PROTOCOL §5: the client offers first, after `joined`). */
  start(): Promise<void> {
    return this.#negotiate(false);
  }

  /**
   * Catches up after signaling came back: restarts ICE if the path is down or a
   * restart is owed, otherwise offers plainly so that nothing missed stays unsynced.
   */
  resync(): Promise<void> {
    const broken = this.#restartOwed || this.pc.connectionState !== "connected";
    this.#restartOwed = false;
    if (broken) return this.#restartIce();
    return this.#negotiate(false);
  }

  /** Restarts ICE now (new credentials, fresh candidates), e.g. after the network changed. */
  restartIce(): Promise<void> {
    return this.#restartIce();
  }

  /** Sends `track` (or nothing, with null) on the microphone m-line and renegotiates if needed. */
  async setLocalTrack(track: MediaStreamTrack | null): Promise<void> {
    await this.#micTransceiver.sender.replaceTrack(track);
    const direction: RTCRtpTransceiverDirection = track ? "sendonly" : "inactive";
    if (this.#micTransceiver.direction === direction) return;
    this.#micTransceiver.direction = direction;
    if (this.#options.signaling.isOnline()) await this.#negotiate(false);
  }

  /** Applies an SFU offer and answers it, unless it lost a glare to one of ours. */
  handleRemoteOffer(offer: SessionDescription): void {
    if (this.#closed) return;
    if (this.#openOffers > 0) {
      this.#options.log("dropping an SFU offer that crossed ours (the SFU re-offers)");
      return;
    }
    this.#enqueue(async () => {
      this.#options.log("answering an SFU offer");
      await this.pc.setRemoteDescription(offer);
      await this.#flushCandidates();
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      await this.#options.signaling.sendAnswer({ type: "answer", sdp: this.pc.localDescription?.sdp ?? "" });
    }).catch((error: unknown) => this.#reportError("answering the SFU's offer failed", error));
  }

  /** Completes our outstanding offer. */
  handleRemoteAnswer(answer: SessionDescription): void {
    const pending = this.#pendingAnswer;
    if (!pending) {
      this.#options.log("ignoring an answer no offer of ours waits for");
      return;
    }
    this.#pendingAnswer = undefined;
    pending.resolve(answer);
  }

  /** Adds one of the SFU's trickled candidates (queued until a remote description exists). */
  addRemoteCandidate(candidate: IceCandidate): void {
    if (this.#closed) return;
    // End-of-candidates is optional for the browser; some versions reject it without an mid.
    if (candidate.candidate === "") return;
    const init: RTCIceCandidateInit = {
      candidate: candidate.candidate,
      sdpMid: candidate.sdpMid ?? null,
      sdpMLineIndex: candidate.sdpMLineIndex ?? null,
      ...(candidate.usernameFragment != null && { usernameFragment: candidate.usernameFragment }),
    };
    if (!this.pc.remoteDescription) {
      this.#pendingCandidates.push(init);
      return;
    }
    this.pc.addIceCandidate(init).catch((error: unknown) => {
      // A candidate of an ICE generation we already restarted away from is harmless.
      this.#options.log("addIceCandidate failed", error);
    });
  }

  /** Receive statistics per remote participant, from the receivers' own stats. */
  async getInboundStats(): Promise<Map<string, InboundAudioStats>> {
    const result = new Map<string, InboundAudioStats>();
    const receivers = this.pc
      .getTransceivers()
      .filter((t) => t.currentDirection === "recvonly" || t.currentDirection === "sendrecv")
      .map((t) => t.receiver);
    await Promise.all(
      receivers.map(async (receiver) => {
        const peerId = this.#trackSources.get(receiver.track.id);
        if (peerId === undefined) return;
        const report = await receiver.getStats();
        report.forEach((stat: RTCStats) => {
          if (stat.type !== "inbound-rtp") return;
          const inbound = stat as RTCInboundRtpStreamStats;
          result.set(peerId, {
            peerId,
            packetsReceived: inbound.packetsReceived ?? 0,
            packetsLost: inbound.packetsLost ?? 0,
            bytesReceived: inbound.bytesReceived ?? 0,
            jitter: inbound.jitter ?? 0,
            audioLevel: inbound.audioLevel,
          });
        });
      }),
    );
    return result;
  }

  /** Closes the connection; idempotent. Listeners are dropped, nothing more is emitted. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#disconnectedTimer);
    clearTimeout(this.#restartTimer);
    this.#pendingAnswer?.reject(new SfuClientError("CLOSED", "the media session closed"));
    this.#pendingAnswer = undefined;
    this.#pendingCandidates = [];
    this.#trackSources.clear();
    this.removeAllListeners();
    this.pc.close();
  }

  #negotiate(iceRestart: boolean): Promise<void> {
    this.#openOffers++;
    let open = true;
    // Runs once: when the answer arrives (before it is applied), or when the offer fails.
    const settle = () => {
      if (!open) return;
      open = false;
      this.#openOffers--;
    };
    return this.#enqueue(async () => {
      try {
        await this.#offer(iceRestart, settle);
      } finally {
        settle();
      }
    });
  }

  async #offer(iceRestart: boolean, onAnswer: () => void): Promise<void> {
    if (this.pc.signalingState !== "stable") {
      // Only reachable after an earlier failure left an offer of ours behind.
      await this.pc.setLocalDescription({ type: "rollback" });
    }
    const offer = await this.pc.createOffer({ iceRestart });
    await this.pc.setLocalDescription(offer);
    const answer = new Promise<SessionDescription>((resolve, reject) => {
      this.#pendingAnswer = {
        resolve: (description) => {
          onAnswer();
          resolve(description);
        },
        reject,
      };
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SfuClientError("TIMEOUT", "the SFU did not answer our offer")),
        this.#options.answerTimeoutMs,
      );
    });
    try {
      this.#options.log(iceRestart ? "sending an ICE-restart offer" : "sending an offer");
      await this.#options.signaling.sendOffer({ type: "offer", sdp: this.pc.localDescription?.sdp ?? "" });
      const remote = await Promise.race([answer, timeout]);
      await this.pc.setRemoteDescription(remote);
      await this.#flushCandidates();
      this.#options.log("our offer was answered");
    } catch (error) {
      this.#pendingAnswer = undefined;
      if (!this.#closed && this.pc.signalingState === "have-local-offer") {
        await this.pc.setLocalDescription({ type: "rollback" });
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #restartIce(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (!this.#options.signaling.isOnline()) {
      this.#restartOwed = true;
      return Promise.resolve();
    }
    this.#restarts++;
    this.#options.log(`ICE restart ${this.#restarts}/${this.#options.maxIceRestarts}`);
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => this.#onRestartTimeout(), this.#options.iceRestartTimeoutMs);
    return this.#negotiate(true).then(() => {
      // A restart on a path that never broke fires no state change: settle it here.
      if (this.pc.connectionState === "connected") this.#onConnected();
    });
  }

  #onRestartTimeout(): void {
    this.#restartTimer = undefined;
    if (this.#closed || this.pc.connectionState === "connected") return;
    if (this.#restarts >= this.#options.maxIceRestarts) {
      this.emit(
        "failed",
        new SfuClientError("MEDIA_FAILED", `ICE did not recover after ${this.#restarts} restarts`),
      );
      return;
    }
    this.#restartIce().catch((error: unknown) => this.#reportError("ICE restart failed", error));
  }

  #onConnectionState(): void {
    if (this.#closed) return;
    const state = this.pc.connectionState;
    this.#options.log(`connection state ${state}`);
    clearTimeout(this.#disconnectedTimer);
    this.#disconnectedTimer = undefined;
    if (state === "connected") {
      this.#onConnected();
    } else if (state === "disconnected") {
      // Brief outages heal by themselves; restart only when this one lasts.
      this.#setHealth("broken");
      this.#disconnectedTimer = setTimeout(() => {
        this.#disconnectedTimer = undefined;
        if (this.pc.connectionState === "disconnected" && !this.#restartTimer) {
          this.#restartIce().catch((error: unknown) => this.#reportError("ICE restart failed", error));
        }
      }, this.#options.iceDisconnectedTimeoutMs);
    } else if (state === "failed") {
      this.#setHealth("broken");
      if (!this.#restartTimer) {
        this.#restartIce().catch((error: unknown) => this.#reportError("ICE restart failed", error));
      }
    }
  }

  #onConnected(): void {
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    this.#restarts = 0;
    this.#setHealth("connected");
  }

  #onLocalCandidate(candidate: RTCIceCandidate | null): void {
    if (this.#closed || !this.#options.signaling.isOnline()) return;
    if (!candidate || candidate.candidate === "") {
      this.#options.signaling.sendCandidate({ candidate: "" });
      return;
    }
    const json = candidate.toJSON();
    this.#options.signaling.sendCandidate({
      candidate: json.candidate ?? candidate.candidate,
      sdpMid: json.sdpMid ?? null,
      sdpMLineIndex: json.sdpMLineIndex ?? null,
      usernameFragment: json.usernameFragment ?? null,
    });
  }

  #onTrack(event: RTCTrackEvent): void {
    const stream = event.streams[0];
    if (!stream) {
      this.#reportError("a forwarded track came without a stream id", undefined);
      return;
    }
    this.#options.log(`track from ${stream.id}`);
    this.#trackSources.set(event.track.id, stream.id);
    this.emit("track", stream.id, event.track, stream);
  }

  async #flushCandidates(): Promise<void> {
    const pending = this.#pendingCandidates.splice(0);
    for (const candidate of pending) {
      await this.pc.addIceCandidate(candidate).catch((error: unknown) => {
        this.#options.log("addIceCandidate failed", error);
      });
    }
  }

  #setHealth(health: MediaHealth): void {
    if (this.#health === health) return;
    this.#health = health;
    this.emit("health", health);
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      if (this.#closed) throw new SfuClientError("CLOSED", "the media session closed");
      return task();
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #reportError(what: string, error: unknown): void {
    if (this.#closed) return;
    // CLOSED: we are gone; DISCONNECTED: the client resyncs after the resume.
    if (error instanceof SfuClientError && (error.code === "CLOSED" || error.code === "DISCONNECTED")) return;
    this.#options.log(what, error);
    const wrapped =
      error instanceof SfuClientError
        ? error
        : new SfuClientError("NEGOTIATION_FAILED", `${what}: ${describe(error)}`, { cause: error });
    this.emit("error", wrapped);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
