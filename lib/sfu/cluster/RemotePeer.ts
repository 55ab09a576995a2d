import type { Logger } from "../../logger.js";
import { SfuError } from "../../errors.js";
import type { IceCandidate, PeerControlState, SessionDescription } from "../../protocol.js";
import type { CloseReason } from "../closeReason.js";
import type { PeerControlChange } from "../PeerControls.js";
import { TypedEmitter } from "../../util/TypedEmitter.js";
import type { PeerSession, PeerSessionEvents } from "../Sfu.js";
import type { ForwardingWorker } from "./ForwardingWorker.js";
import type { PeerInfo } from "./messages.js";

/**
 * The main thread's stand-in for a {@link Peer} that lives in a forwarding
 * worker: signaling calls go to the worker, its events come back here.
 */
export class RemotePeer extends TypedEmitter<PeerSessionEvents> implements PeerSession {
  readonly id: string;
  readonly roomId: string;
  readonly userId: string;
  readonly displayName: string | undefined;
  readonly resumeToken: string;
  readonly worker: ForwardingWorker;
  /** Ids of the tracks the worker's peer publishes, so that a session ended here can unpublish them. */
  readonly publishedTracks = new Set<string>();
  readonly #reconnectGraceMs: number;
  #closed = false;
  /** The worker's state, as its last `peer-updated` said. */
  #controlState: PeerControlState = { muted: false, serverMuted: false, deafened: false };
  #graceTimer: NodeJS.Timeout | undefined;

  constructor(options: {
    info: PeerInfo;
    worker: ForwardingWorker;
    reconnectGraceMs: number;
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
    this.worker = options.worker;
    this.#reconnectGraceMs = options.reconnectGraceMs;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get controlState(): PeerControlState {
    return this.#controlState;
  }

  /** The worker's peer applies it; its `peer-updated` comes back through {@link updated} before the reply. */
  async control(change: PeerControlChange): Promise<void> {
    this.#assertOpen();
    await this.worker.call("control", { peerId: this.id, change });
  }

  /** The worker's peer changed its mute or deafen state. */
  updated(state: PeerControlState): void {
    if (this.#closed) return;
    this.#controlState = state;
    this.emit("updated", state);
  }

  handleOffer(description: SessionDescription): Promise<SessionDescription> {
    this.#assertOpen();
    return this.worker.call("offer", { peerId: this.id, description });
  }

  async handleAnswer(description: SessionDescription): Promise<void> {
    this.#assertOpen();
    await this.worker.call("answer", { peerId: this.id, description });
  }

  async addIceCandidate(candidate: IceCandidate): Promise<void> {
    this.#assertOpen();
    await this.worker.call("candidate", { peerId: this.id, candidate });
  }

  /**
   * The grace period runs here, on the thread that takes the resumes: a
   * resume either finds the session open and stops the timer, or finds it
   * ended. Timed in the worker, the session could end there while a resume
   * was already acknowledged here.
   */
  detach(): void {
    if (this.#closed || this.#graceTimer) return;
    this.#graceTimer = setTimeout(() => this.close("grace-expired"), this.#reconnectGraceMs);
    this.worker.post({ kind: "detach", peerId: this.id });
  }

  attach(): void {
    this.#assertOpen();
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.worker.post({ kind: "attach", peerId: this.id });
  }

  /** Ends the session here at once, and in the worker. */
  close(reason: CloseReason): void {
    if (this.#closed) return;
    this.worker.post({ kind: "close-peer", peerId: this.id, reason });
    this.ended(reason);
  }

  /** The worker ended the session (or the worker itself ended): mirror it without a reply. */
  ended(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#graceTimer);
    this.emit("close", reason);
    this.removeAllListeners();
  }

  /** Re-emits what the worker's peer said. */
  deliver<K extends "offer" | "ice-candidate" | "connected">(event: K, ...args: PeerSessionEvents[K]): void {
    if (!this.#closed) this.emit(event, ...args);
  }

  #assertOpen(): void {
    if (this.#closed) throw new SfuError("NOT_JOINED", "this session has ended");
  }
}
