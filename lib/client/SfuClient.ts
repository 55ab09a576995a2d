import { io, type Socket } from "socket.io-client";
import {
  SFU_NAMESPACE,
  type AckResult,
  type ClientEventName,
  type ClientToServerEvents,
  type ErrorCode,
  type ActiveSpeakersMessage,
  type ErrorMessage,
  type JoinedMessage,
  type JoinMessage,
  type LeaveReason,
  type PeerInfo,
  type PeerUpdatedMessage,
  type ServerToClientEvents,
  type UserJoinedMessage,
  type UserLeftMessage,
} from "../protocol.js";
import { Backoff } from "./Backoff.js";
import { MediaSession } from "./MediaSession.js";
import { SfuClientError, type ClientErrorCode } from "./SfuClientError.js";
import { TypedEmitter } from "../util/TypedEmitter.js";
import type {
  ConnectionState,
  ConnectOptions,
  InboundAudioStats,
  JoinedEvent,
  JoinOptions,
  Participant,
  SfuClientEvents,
} from "./types.js";

/** The typed Socket.IO socket the SDK signals on. */
export type SfuSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

interface ParticipantRecord {
  peerId: string;
  userId: string;
  displayName?: string;
  stream: MediaStream | undefined;
  muted: boolean;
  serverMuted: boolean;
  deafened: boolean;
  speaking: boolean;
  audioLevel: number;
}

/** The room the app asked for, from `join()` until it leaves or the SFU removes it. */
interface WantedRoom {
  readonly options: JoinOptions;
  /** Media was up at least once: a later outage is `reconnecting`, not `connecting`. */
  everConnected: boolean;
}

/** A session left during a signaling outage, to end on the SFU once the socket is back. */
interface Farewell {
  options: JoinOptions;
  resumeToken: string;
}

/**
 * Where the client is in a room's life. `idle → joining → joined`; a lost
 * socket, a shutting-down SFU or a rebuild makes `joined → unbound`, and the
 * next connected socket `unbound → rejoining → joined` (or back to `unbound`
 * to retry). `leave()`, a removal or a final failure go to `idle` from
 * anywhere; `close()` ends in `closed`.
 */
type Lifecycle =
  | { readonly phase: "idle"; readonly farewell?: Farewell }
  /** `join()` waits for the SFU's ack. */
  | { readonly phase: "joining"; readonly room: WantedRoom }
  /** The session is bound to the socket connected now. */
  | { readonly phase: "joined"; readonly room: WantedRoom; readonly session: JoinedMessage }
  /** The SFU granted a session (kept so that it can be resumed) that no socket carries now. */
  | { readonly phase: "unbound"; readonly room: WantedRoom; readonly session: JoinedMessage }
  /** A join that resumes the session (or starts a new one) is in flight. */
  | { readonly phase: "rejoining"; readonly room: WantedRoom; readonly session: JoinedMessage }
  | { readonly phase: "closed" };

const IDLE: Lifecycle = { phase: "idle" };

/** Failures worth another try after a pause; anything else ends the rejoin attempts. */
const RETRYABLE = new Set<ErrorCode | ClientErrorCode>([
  "TIMEOUT",
  "DISCONNECTED",
  "SHUTTING_DOWN",
  "INTERNAL",
  "RATE_LIMITED",
  "SERVER_FULL",
  "NEGOTIATION_FAILED",
]);

const DEFAULTS = {
  requestTimeoutMs: 10_000,
  iceDisconnectedTimeoutMs: 3_000,
  iceRestartTimeoutMs: 8_000,
  maxIceRestarts: 3,
  rejoinBackoff: { initialMs: 500, maxMs: 15_000 },
};

/**
 * A connection to the SFU: one Socket.IO socket, at most one room at a time,
 * and the RTCPeerConnection that carries the room's audio.
 *
 * The app never sees SDP or ICE. The SDK answers the SFU's offers, trickles
 * candidates, and repairs what breaks (PROTOCOL §6): a lost socket is resumed
 * with the session's resume token (same peerId, nobody sees us leave), a lost
 * media path gets an ICE restart, and a session the SFU no longer has is
 * rebuilt with a fresh join, reported through `joined` with `previousPeerId`.
 */
export class SfuClient extends TypedEmitter<SfuClientEvents> {
  /** The signaling socket; exposed for diagnostics, not for sending events. */
  readonly socket: SfuSocket;
  readonly #options: ConnectOptions & typeof DEFAULTS;
  readonly #participants = new Map<string, ParticipantRecord>();
  /** Remote streams by source peerId; a track may arrive before its `user-joined`. */
  readonly #streams = new Map<string, MediaStream>();
  readonly #backoff: Backoff;
  /** Fails each request still waiting for its ack. */
  readonly #pending = new Set<(error: SfuClientError) => void>();
  #lifecycle: Lifecycle = IDLE;
  /** What the app sees; derived from the lifecycle and the media's health. */
  #state: ConnectionState = "disconnected";
  /** Bumped whenever the app leaves or the SFU stops us, so late async results are dropped. */
  #generation = 0;
  #media: MediaSession | undefined;
  #microphone: MediaStreamTrack | undefined;
  #muted = false;
  #serverMuted = false;
  #deafened = false;
  #speaking = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(url: string, options: ConnectOptions = {}) {
    super();
    this.#options = { ...DEFAULTS, ...options };
    this.#backoff = new Backoff(this.#options.rejoinBackoff);
    this.socket = io(namespaceUrl(url), { autoConnect: false, ...options.socket });
    this.#listen();
    this.socket.connect();
  }

  /** The overall connection state (see `ConnectionState`). */
  get state(): ConnectionState {
    return this.#state;
  }

  /** This session's id while in a room. */
  get peerId(): string | undefined {
    return this.#session?.peerId;
  }

  /** The room this client is in (or getting back into). */
  get roomId(): string | undefined {
    return this.#room?.options.roomId;
  }

  /** The other participants, by peerId. */
  get participants(): ReadonlyMap<string, Participant> {
    return this.#participants;
  }

  /** The connection to the SFU, for diagnostics; replaced when a session is rebuilt. */
  get peerConnection(): RTCPeerConnection | undefined {
    return this.#media?.pc;
  }

  /** The published microphone track, if any. */
  get microphone(): MediaStreamTrack | undefined {
    return this.#microphone;
  }

  /** This client muted its microphone (`setMuted`). */
  get muted(): boolean {
    return this.#muted;
  }

  /** A moderator muted this client: the SFU forwards none of its audio until unmuted. */
  get serverMuted(): boolean {
    return this.#serverMuted;
  }

  /** A moderator deafened this client: the SFU forwards nothing to it. */
  get deafened(): boolean {
    return this.#deafened;
  }

  /** This client is in the SFU's latest active-speaker list. */
  get speaking(): boolean {
    return this.#speaking;
  }

  get closed(): boolean {
    return this.#lifecycle.phase === "closed";
  }

  /**
   * Joins a room and starts the media session. Resolves once the SFU accepted
   * the join; `connection-state` reports `connected` when audio can flow.
   */
  async join(options: JoinOptions): Promise<JoinedEvent> {
    if (this.closed) throw new SfuClientError("CLOSED", "the client is closed");
    if (this.#lifecycle.phase !== "idle") {
      throw new SfuClientError("INVALID_STATE", "already in a room; leave it first");
    }
    // One session per socket: this join takes the socket (and, for the same user, replaces the old session).
    const room: WantedRoom = { options: { ...options }, everConnected: false };
    this.#enter({ phase: "joining", room });
    const generation = ++this.#generation;
    this.#updateState();
    if (!this.socket.connected && !this.socket.active) this.socket.connect();
    let joined: JoinedMessage;
    try {
      joined = await this.#requestJoin(options, undefined);
    } catch (error) {
      if (generation === this.#generation) {
        this.#enter(IDLE);
        this.#updateState();
      }
      throw error;
    }
    if (generation !== this.#generation) {
      // The app left (or closed) while the join was in flight: undo it on the SFU too.
      this.socket.emit("leave", { roomId: joined.roomId });
      throw new SfuClientError("INVALID_STATE", "left the room before the join completed");
    }
    return this.#adopt(room, joined, undefined);
  }

  /**
   * Leaves the room; the client stays connected and may join again. Left
   * during a signaling outage, the SFU would keep the session for its grace
   * period and the others would see a silent participant until it ends; so
   * once the socket is back, the SDK resumes that session just to leave it.
   */
  async leave(): Promise<void> {
    const roomId = this.#session?.roomId ?? this.#room?.options.roomId;
    const wasBound = this.#bound;
    const session = this.#session;
    const room = this.#room;
    this.#teardown();
    if (session && room && !this.socket.connected) {
      this.#enter({ phase: "idle", farewell: { options: room.options, resumeToken: session.resumeToken } });
    }
    this.#updateState();
    if (roomId === undefined || !wasBound || !this.socket.connected) return;
    try {
      await this.#request<object>("leave", (ack) => this.socket.emit("leave", { roomId }, ack));
    } catch (error) {
      // The SFU may have dropped us already; leaving is done either way.
      this.#log("leave was not acknowledged", error);
    }
  }

  /**
   * Captures the microphone and sends it; before `join` it is sent from the
   * first offer on. Resolves with the captured track.
   */
  async publishMicrophone(constraints: MediaTrackConstraints = {}): Promise<MediaStreamTrack> {
    if (this.closed) throw new SfuClientError("CLOSED", "the client is closed");
    if (this.#microphone) return this.#microphone;
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, ...constraints },
        video: false,
      });
    } catch (error) {
      throw new SfuClientError("MICROPHONE_UNAVAILABLE", `no microphone: ${describe(error)}`, {
        cause: error,
      });
    }
    const track = stream.getAudioTracks()[0];
    if (!track) throw new SfuClientError("MICROPHONE_UNAVAILABLE", "the capture has no audio track");
    track.enabled = !this.#muted;
    this.#microphone = track;
    await this.#media?.setLocalTrack(track);
    return track;
  }

  /** Stops sending and releases the microphone. */
  async unpublish(): Promise<void> {
    const track = this.#microphone;
    if (!track) return;
    this.#microphone = undefined;
    track.stop();
    await this.#media?.setLocalTrack(null);
  }

  /**
   * Mutes or unmutes the microphone: the track is disabled (it keeps its
   * m-line and sends silence, so unmuting is instant) and the SFU is told
   * (`mute`), so the room sees it and nothing of ours is forwarded. Resolves
   * once the SFU acknowledged it, at once outside a room (the state is sent on join).
   */
  async setMuted(muted: boolean): Promise<void> {
    this.#muted = muted;
    if (this.#microphone) this.#microphone.enabled = !muted;
    if (this.#bound && this.socket.connected) await this.#sendMute();
  }

  /**
   * Restarts ICE now, e.g. after the app saw the network change. The SDK does
   * this by itself when the media path fails; a restart owed while signaling
   * is down runs once it is back.
   */
  async restartIce(): Promise<void> {
    if (!this.#media) throw new SfuClientError("INVALID_STATE", "not in a room");
    await this.#media.restartIce();
  }

  /** Receive statistics for every remote participant whose audio arrived. */
  async getStats(): Promise<Map<string, InboundAudioStats>> {
    return this.#media ? this.#media.getInboundStats() : new Map();
  }

  /** Leaves the room, releases the microphone and closes the socket; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.leave();
    // A farewell owed from an outage is dropped with the socket.
    this.#enter({ phase: "closed" });
    this.#microphone?.stop();
    this.#microphone = undefined;
    this.socket.disconnect();
    this.removeAllListeners();
  }

  #listen(): void {
    const socket = this.socket;
    socket.on("connect", () => this.#onConnect());
    socket.on("disconnect", (reason) => this.#onDisconnect(reason));
    socket.on("user-joined", (message) => this.#onUserJoined(message));
    socket.on("user-left", (message) => this.#onUserLeft(message));
    socket.on("offer", (offer) => this.#media?.handleRemoteOffer(offer));
    socket.on("answer", (answer) => this.#media?.handleRemoteAnswer(answer));
    socket.on("ice-candidate", (candidate) => this.#media?.addRemoteCandidate(candidate));
    socket.on("error", (message) => this.#onServerError(message));
    socket.on("peer-updated", (message) => this.#onPeerUpdated(message));
    socket.on("active-speakers", (message) => this.#onActiveSpeakers(message));
    // The `joined` event repeats the join ack, which the SDK already acts on.
  }

  #onConnect(): void {
    this.#log("socket connected");
    const lifecycle = this.#lifecycle;
    if (lifecycle.phase === "idle" && lifecycle.farewell) void this.#sayFarewell(lifecycle.farewell);
    else if (lifecycle.phase === "unbound") void this.#rejoin();
  }

  /** Ends, on the SFU, a session the app left while signaling was down (see `leave`). */
  async #sayFarewell(farewell: Farewell): Promise<void> {
    this.#enter(IDLE);
    const { roomId } = farewell.options;
    try {
      // Resumed or (if the grace period ran out meanwhile) new: either way the next step ends it.
      await this.#requestJoin(farewell.options, farewell.resumeToken);
      await this.#request<object>("leave", (ack) => this.socket.emit("leave", { roomId }, ack));
      this.#log("left the session given up during the outage", { roomId });
    } catch (error) {
      this.#log("could not leave the session given up during the outage", error);
    }
  }

  #onDisconnect(reason: Socket.DisconnectReason): void {
    this.#log(`socket disconnected: ${reason}`);
    this.#unbind();
    // Acks of a dead socket never come: fail their requests now rather than at their timeout.
    for (const fail of [...this.#pending])
      fail(new SfuClientError("DISCONNECTED", `signaling lost (${reason})`));
    this.#updateState();
    // Socket.IO does not retry a disconnect the server chose; a wanted room is worth retrying.
    if (reason === "io server disconnect" && this.#room) this.#scheduleReconnect();
  }

  #onUserJoined(message: UserJoinedMessage): void {
    if (message.roomId !== this.#session?.roomId || message.peerId === this.#session.peerId) return;
    this.#addParticipant(message);
  }

  #onUserLeft(message: UserLeftMessage): void {
    if (message.roomId !== this.#session?.roomId) return;
    this.#removeParticipant(message.peerId, message.reason);
  }

  #sendMute(): Promise<void> {
    const muted = this.#muted;
    return this.#request<object>("mute", (ack) => this.socket.emit("mute", { muted }, ack)).then(
      () => undefined,
    );
  }

  #onPeerUpdated(message: PeerUpdatedMessage): void {
    const session = this.#session;
    if (message.roomId !== session?.roomId) return;
    const { peerId, muted, serverMuted, deafened } = message;
    const local = peerId === session.peerId;
    if (local) {
      this.#serverMuted = serverMuted;
      this.#deafened = deafened;
    } else {
      const participant = this.#participants.get(peerId);
      if (!participant) return;
      Object.assign(participant, { muted, serverMuted, deafened });
    }
    this.emit("peer-updated", { peerId, local, muted, serverMuted, deafened });
  }

  #onActiveSpeakers(message: ActiveSpeakersMessage): void {
    const session = this.#session;
    if (message.roomId !== session?.roomId) return;
    const levels = new Map(message.speakers.map((speaker) => [speaker.peerId, speaker.level]));
    for (const participant of this.#participants.values()) {
      participant.audioLevel = levels.get(participant.peerId) ?? 0;
      participant.speaking = levels.has(participant.peerId);
    }
    this.#speaking = levels.has(session.peerId);
    this.emit(
      "active-speakers",
      message.speakers.map((speaker) => ({ ...speaker, local: speaker.peerId === session.peerId })),
    );
  }

  #onServerError(message: ErrorMessage): void {
    const error = new SfuClientError(message.code, message.message);
    switch (message.code) {
      case "REPLACED":
      case "KICKED":
        // Another session took our place, or an operator removed us: coming back would fight that.
        this.#teardown();
        this.#updateState();
        this.emit("error", error);
        this.socket.disconnect();
        return;
      case "SHUTTING_DOWN":
        this.#onShuttingDown();
        this.emit("error", error);
        return;
      case "NEGOTIATION_FAILED":
        this.emit("error", error);
        // Without `event` it is no answer to a request of ours: the SFU removed the session.
        if (message.event === undefined) void this.#rebuildSession();
        return;
      default:
        this.emit("error", error);
    }
  }

  /** The SFU is going away with our session: drop the connection and come back with backoff. */
  #onShuttingDown(): void {
    if (!this.#session) return;
    this.#closeMedia();
    this.#unbind();
    this.#updateState();
    this.socket.disconnect();
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    clearTimeout(this.#retryTimer);
    const delay = this.#backoff.next();
    this.#log(`reconnecting in ${delay} ms`);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#room && !this.socket.connected) this.socket.connect();
    }, delay);
  }

  /** Gets back into the room on the current socket: resume if the SFU still has us, else anew. */
  async #rejoin(withResume = true): Promise<void> {
    const unbound = this.#lifecycle;
    if (unbound.phase !== "unbound") return;
    const { room, session: previous } = unbound;
    const rejoining: Lifecycle = { phase: "rejoining", room, session: previous };
    this.#enter(rejoining);
    this.#updateState();
    const generation = this.#generation;
    try {
      const resumeToken = withResume && this.#media ? previous.resumeToken : undefined;
      const joined = await this.#requestJoin(room.options, resumeToken);
      if (generation !== this.#generation) return;
      this.#adopt(room, joined, joined.resumed ? undefined : previous.peerId);
    } catch (error) {
      if (generation !== this.#generation) return;
      const failure = asClientError(error);
      if (failure.code === "ALREADY_JOINED") {
        // The socket still holds a session we lost track of: free it, then join again.
        this.socket.emit("leave", { roomId: room.options.roomId });
      } else if (!RETRYABLE.has(failure.code)) {
        this.#teardown();
        this.#updateState();
        this.emit("error", failure);
        return;
      }
      this.#log("rejoin failed, retrying", failure);
      clearTimeout(this.#retryTimer);
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        if (this.socket.connected) void this.#rejoin(withResume);
      }, this.#backoff.next());
    } finally {
      // Still waiting for a socket to take the session: try again on the next one.
      if (this.#lifecycle === rejoining) this.#enter({ phase: "unbound", room, session: previous });
    }
  }

  /** ICE restarts ran out: give the session up and join afresh on the same socket. */
  async #rebuildSession(): Promise<void> {
    const session = this.#session;
    if (!session) return;
    this.#closeMedia();
    this.#unbind();
    this.#updateState();
    try {
      await this.#request<object>("leave", (ack) =>
        this.socket.emit("leave", { roomId: session.roomId }, ack),
      );
    } catch (error) {
      this.#log("leave before rebuilding failed", error);
    }
    if (this.socket.connected) await this.#rejoin(false);
  }

  /** Takes a granted session into use: syncs participants and starts or resyncs media. */
  #adopt(room: WantedRoom, joined: JoinedMessage, previousPeerId: string | undefined): JoinedEvent {
    this.#enter({ phase: "joined", room, session: joined });
    this.#backoff.reset();
    // A new session starts unmuted and unmoderated; a resumed one kept its state on the SFU.
    if (!joined.resumed) {
      this.#serverMuted = false;
      this.#deafened = false;
      this.#speaking = false;
    }
    if (this.#muted) this.#sendMute().catch((error: unknown) => this.#emitError(error));
    const present = new Set(joined.peers.map((peer) => peer.peerId));
    for (const peerId of [...this.#participants.keys()]) {
      if (!present.has(peerId)) this.#removeParticipant(peerId, "disconnect");
    }
    for (const peer of joined.peers) {
      const known = this.#participants.get(peer.peerId);
      // A resume does not replay the peer-updated events missed meanwhile; `joined` has the state.
      if (known)
        Object.assign(known, { muted: peer.muted, serverMuted: peer.serverMuted, deafened: peer.deafened });
      else this.#addParticipant(peer);
    }

    if (joined.resumed && this.#media) {
      // The resumed join carries fresh TURN credentials: later ICE restarts use them.
      this.#media.setIceServers(joined.iceServers);
      this.#media.resync().catch((error: unknown) => this.#emitError(error));
    } else {
      this.#startMedia(joined);
    }
    const event: JoinedEvent = {
      roomId: joined.roomId,
      peerId: joined.peerId,
      resumed: joined.resumed,
      ...(previousPeerId !== undefined && { previousPeerId }),
    };
    this.#log(joined.resumed ? "session resumed" : "session started", event);
    this.#updateState();
    this.emit("joined", event);
    return event;
  }

  #startMedia(joined: JoinedMessage): void {
    this.#closeMedia();
    const media = new MediaSession({
      configuration: rtcConfigurationFor(this.#options, joined),
      signaling: {
        sendOffer: (offer) => this.#sendDescription("offer", offer),
        sendAnswer: (answer) => this.#sendDescription("answer", answer),
        sendCandidate: (candidate) => {
          if (this.#bound && this.socket.connected) this.socket.emit("ice-candidate", candidate);
        },
        isOnline: () => this.#bound && this.socket.connected,
      },
      localTrack: this.#microphone,
      answerTimeoutMs: this.#options.requestTimeoutMs,
      iceDisconnectedTimeoutMs: this.#options.iceDisconnectedTimeoutMs,
      iceRestartTimeoutMs: this.#options.iceRestartTimeoutMs,
      maxIceRestarts: this.#options.maxIceRestarts,
      log: (message, ...details) => this.#log(message, ...details),
    });
    media.on("track", (peerId, track, stream) => this.#onRemoteTrack(peerId, track, stream));
    media.on("health", () => this.#updateState());
    media.on("error", (error) => this.emit("error", error));
    media.on("failed", (error) => {
      this.emit("error", error);
      void this.#rebuildSession();
    });
    this.#media = media;
    media.start().catch((error: unknown) => this.#emitError(error));
  }

  #closeMedia(): void {
    this.#media?.close();
    this.#media = undefined;
    // The streams belonged to that connection; a new one brings new tracks.
    this.#streams.clear();
    for (const participant of this.#participants.values()) participant.stream = undefined;
  }

  async #sendDescription(type: "offer" | "answer", description: { type: "offer" | "answer"; sdp: string }) {
    // An SFU offer can arrive on a resumed socket before the join's ack (the SFU re-sends one it
    // had pending): the SFU has bound the socket already, so its answer may go out at once.
    const online = type === "answer" ? this.socket.connected : this.#bound && this.socket.connected;
    if (!online) {
      throw new SfuClientError("DISCONNECTED", `cannot send the ${type}: signaling is down`);
    }
    await this.#request<object>(type, (ack) => this.socket.emit(type, description, ack));
  }

  #onRemoteTrack(peerId: string, track: MediaStreamTrack, stream: MediaStream): void {
    this.#streams.set(peerId, stream);
    const participant = this.#participants.get(peerId);
    if (participant) participant.stream = stream;
    this.emit("track", { peerId, track, stream });
  }

  #addParticipant(peer: PeerInfo): void {
    if (this.#participants.has(peer.peerId)) return;
    const participant: ParticipantRecord = {
      peerId: peer.peerId,
      userId: peer.userId,
      ...(peer.displayName !== undefined && { displayName: peer.displayName }),
      stream: this.#streams.get(peer.peerId),
      muted: peer.muted,
      serverMuted: peer.serverMuted,
      deafened: peer.deafened,
      speaking: false,
      audioLevel: 0,
    };
    this.#participants.set(peer.peerId, participant);
    this.emit("participant-joined", participant);
  }

  #removeParticipant(peerId: string, reason: LeaveReason): void {
    const participant = this.#participants.get(peerId);
    this.#streams.delete(peerId);
    if (!participant) return;
    this.#participants.delete(peerId);
    this.emit("participant-left", participant, reason);
  }

  /** Forgets the room: media, participants, timers. Emits nothing but what the caller does. */
  #teardown(): void {
    this.#generation++;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#closeMedia();
    this.#participants.clear();
    this.#serverMuted = false;
    this.#deafened = false;
    this.#speaking = false;
    // Idle already: keep the farewell it may owe; closed stays closed.
    const { phase } = this.#lifecycle;
    if (phase !== "idle" && phase !== "closed") this.#enter(IDLE);
  }

  /** The socket no longer carries the session; a join in flight keeps its phase until it settles. */
  #unbind(): void {
    const lifecycle = this.#lifecycle;
    if (lifecycle.phase === "joined") this.#enter({ ...lifecycle, phase: "unbound" });
  }

  #enter(next: Lifecycle): void {
    const previous = this.#lifecycle.phase;
    this.#lifecycle = next;
    if (next.phase !== previous) this.#log(`lifecycle ${previous} → ${next.phase}`);
  }

  /** The room the app wants, in every phase between `join()` and leaving it. */
  get #room(): WantedRoom | undefined {
    const lifecycle = this.#lifecycle;
    return lifecycle.phase === "idle" || lifecycle.phase === "closed" ? undefined : lifecycle.room;
  }

  /** The session the SFU granted, bound to a socket or not. */
  get #session(): JoinedMessage | undefined {
    const lifecycle = this.#lifecycle;
    return lifecycle.phase === "joined" || lifecycle.phase === "unbound" || lifecycle.phase === "rejoining"
      ? lifecycle.session
      : undefined;
  }

  /** The session is bound to the socket that is connected right now. */
  get #bound(): boolean {
    return this.#lifecycle.phase === "joined";
  }

  #updateState(): void {
    const lifecycle = this.#lifecycle;
    let next: ConnectionState;
    if (lifecycle.phase === "idle" || lifecycle.phase === "closed") next = "disconnected";
    else if (lifecycle.phase === "joining") next = "connecting";
    else if (lifecycle.phase === "joined" && this.#media?.health === "connected") {
      next = "connected";
      lifecycle.room.everConnected = true;
    } else next = lifecycle.room.everConnected ? "reconnecting" : "connecting";
    if (next === this.#state) return;
    const previous = this.#state;
    this.#state = next;
    this.#log(`state ${previous} → ${next}`);
    this.emit("connection-state", next, previous);
  }

  async #requestJoin(options: JoinOptions, resumeToken: string | undefined): Promise<JoinedMessage> {
    const message: JoinMessage = {
      roomId: options.roomId,
      userId: options.userId,
      ...(options.displayName !== undefined && { displayName: options.displayName }),
      ...(options.token !== undefined && { token: options.token }),
      ...(resumeToken !== undefined && { resumeToken }),
    };
    const result = await this.#request<{ joined: JoinedMessage }>("join", (ack) =>
      this.socket.emit("join", message, ack),
    );
    return result.joined;
  }

  /** Sends one acknowledged event and turns the ack (or its absence) into a promise. */
  #request<T extends object>(
    event: ClientEventName,
    send: (ack: (result: AckResult<T>) => void) => void,
  ): Promise<{ ok: true } & T> {
    return new Promise((resolve, reject) => {
      const fail = (error: SfuClientError) => {
        clearTimeout(timer);
        this.#pending.delete(fail);
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new SfuClientError("TIMEOUT", `the SFU did not acknowledge "${event}"`)),
        this.#options.requestTimeoutMs,
      );
      this.#pending.add(fail);
      send((result) => {
        clearTimeout(timer);
        this.#pending.delete(fail);
        if (result.ok) resolve(result);
        else reject(new SfuClientError(result.error.code, result.error.message));
      });
    });
  }

  #emitError(error: unknown): void {
    const failure = asClientError(error);
    // A request cut off by a socket drop is redone after the resume; the app hears of the drop by state.
    if (failure.code === "CLOSED" || failure.code === "DISCONNECTED") return;
    this.emit("error", failure);
  }

  #log(message: string, ...details: unknown[]): void {
    if (this.#options.debug) console.debug(`[sfu-client] ${message}`, ...details);
  }
}

function namespaceUrl(url: string): string {
  const base = url.replace(/\/+$/, "");
  return base.endsWith(SFU_NAMESPACE) ? base : `${base}${SFU_NAMESPACE}`;
}

function asClientError(error: unknown): SfuClientError {
  if (error instanceof SfuClientError) return error;
  return new SfuClientError("INTERNAL", describe(error), { cause: error });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The RTCPeerConnection configuration for a session: the app's own, with the
 * SFU's `iceServers` (TURN credentials included); relay-only when the app's
 * `iceTransportPolicy` or the SFU's `joined` asks for it.
 */
function rtcConfigurationFor(options: ConnectOptions, joined: JoinedMessage): RTCConfiguration {
  const policy =
    joined.iceTransportPolicy ?? options.iceTransportPolicy ?? options.rtcConfiguration?.iceTransportPolicy;
  return {
    ...options.rtcConfiguration,
    iceServers: joined.iceServers,
    ...(policy !== undefined && { iceTransportPolicy: policy }),
  };
}
