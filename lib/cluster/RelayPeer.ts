import { SfuError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { IceCandidate, PeerControlState, SessionDescription } from "../protocol.js";
import type { CloseReason } from "../sfu/closeReason.js";
import type { PeerControlChange } from "../sfu/PeerControls.js";
import type { PeerSession, PeerSessionEvents } from "../sfu/Sfu.js";
import { TypedEmitter } from "../util/TypedEmitter.js";
import type { PeerInfo } from "./messages.js";
import type { RedisBus } from "./RedisBus.js";

/** Room-control calls (join, ICE candidates) get this long; an SDP step gets its own timeout on top. */
export const CALL_TIMEOUT_MS = 5000;

/**
 * This node's stand-in for a session whose media lives on another node (the
 * room's node): the client's calls go there over Redis, its events come back.
 */
export class RelayPeer extends TypedEmitter<PeerSessionEvents> implements PeerSession {
  readonly id: string;
  readonly roomId: string;
  readonly userId: string;
  readonly displayName: string | undefined;
  readonly resumeToken: string;
  /** The room's node, and its process: a restart under the same NODE_ID ends this session. */
  readonly owner: string;
  readonly ownerIncarnation: string;
  readonly #bus: RedisBus;
  readonly #sdpTimeoutMs: number;
  /** Calls to the room's node not yet answered, and the events held back meanwhile. */
  #calls = 0;
  #held: Array<() => void> = [];
  #closed = false;
  #controlState: PeerControlState;

  constructor(options: {
    info: PeerInfo;
    controlState: PeerControlState;
    owner: string;
    ownerIncarnation: string;
    bus: RedisBus;
    negotiationTimeoutMs: number;
    logger: Logger;
  }) {
    super(options.logger);
    ({
      id: this.id,
      roomId: this.roomId,
      userId: this.userId,
      displayName: this.displayName,
      resumeToken: this.resumeToken,
    } = options.info);
    this.owner = options.owner;
    this.ownerIncarnation = options.ownerIncarnation;
    this.#controlState = { ...options.controlState };
    this.#bus = options.bus;
    // The owner answers after its own bounded SDP steps; the relay waits for that, plus the trip.
    this.#sdpTimeoutMs = 2 * options.negotiationTimeoutMs + CALL_TIMEOUT_MS;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** As the room's node last reported it (at admission, then with each `peer-updated`). */
  get controlState(): PeerControlState {
    return { ...this.#controlState };
  }

  /** The room's node reported a new mute or deafen state. */
  mirrorControl(state: PeerControlState): void {
    this.#controlState = { ...state };
  }

  /** Applied by the room's node, where the forwarding runs. */
  async control(change: PeerControlChange): Promise<void> {
    await this.#call(() =>
      this.#bus.call(this.owner, "control", { peerId: this.id, change }, CALL_TIMEOUT_MS),
    );
  }

  handleOffer(description: SessionDescription): Promise<SessionDescription> {
    return this.#call(() =>
      this.#bus.call(this.owner, "offer", { peerId: this.id, description }, this.#sdpTimeoutMs),
    );
  }

  async handleAnswer(description: SessionDescription): Promise<void> {
    await this.#call(() =>
      this.#bus.call(this.owner, "answer", { peerId: this.id, description }, this.#sdpTimeoutMs),
    );
  }

  async addIceCandidate(candidate: IceCandidate): Promise<void> {
    await this.#call(() =>
      this.#bus.call(this.owner, "candidate", { peerId: this.id, candidate }, CALL_TIMEOUT_MS),
    );
  }

  /** The grace period runs on the room's node, which also takes resumes from every node. */
  detach(): void {
    if (!this.#closed) this.#bus.post(this.owner, { kind: "detach", peerId: this.id });
  }

  attach(): void {
    this.#assertOpen();
    this.#bus.post(this.owner, { kind: "attach", peerId: this.id });
  }

  /** Ends the session here at once, and on the room's node. */
  close(reason: CloseReason): void {
    if (this.#closed) return;
    this.#bus.post(this.owner, { kind: "close-peer", peerId: this.id, reason });
    this.ended(reason);
  }

  /** The room's node ended the session: mirror it. */
  ended(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#held = [];
    this.emit("close", reason);
    this.removeAllListeners();
  }

  /** The session goes on elsewhere (a newer socket), or is gone with its node: end the stand-in without a `close`. */
  drop(): void {
    this.#closed = true;
    this.#held = [];
    this.removeAllListeners();
  }

  /** Re-emits what the room's node said about this session, after the answer to any call in flight. */
  deliver<K extends "offer" | "ice-candidate" | "connected">(event: K, ...args: PeerSessionEvents[K]): void {
    if (this.#closed) return;
    if (this.#calls > 0) this.#held.push(() => this.deliver(event, ...args));
    else this.emit(event, ...args);
  }

  /**
   * The room's node may send its next offer before the answer to the
   * client's offer reaches here, and both can arrive in one read: the client
   * must get the answer first (a browser in have-local-offer cannot take an
   * offer), so events wait until the caller has acted on the reply.
   */
  async #call<T>(send: () => Promise<T>): Promise<T> {
    this.#assertOpen();
    this.#calls++;
    try {
      return await send();
    } finally {
      setImmediate(() => {
        if (--this.#calls > 0) return;
        for (const deliver of this.#held.splice(0)) deliver();
      });
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new SfuError("NOT_JOINED", "this session has ended");
  }
}
