import type { Socket } from "socket.io";
import type { PeerSession } from "../../lib/sfu/Sfu.js";
import type { Logger } from "../../lib/logger.js";
import type { ClientToServerEvents, ErrorMessage, ServerToClientEvents } from "../../lib/protocol.js";
import { RateLimiter } from "./RateLimiter.js";

export type SfuSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/**
 * One signaling socket and the peer session bound to it, if any. The peer can
 * outlive the socket (reconnect grace) and move to another one (resume).
 */
export class ClientSession {
  readonly socket: SfuSocket;
  readonly limiter: RateLimiter;
  #logger: Logger;
  #peer: PeerSession | undefined;
  #unbinders: Array<() => void> = [];
  #afterAck: Array<() => void> = [];

  constructor(options: { socket: SfuSocket; eventRateLimit: number; logger: Logger }) {
    this.socket = options.socket;
    this.limiter = new RateLimiter(options.eventRateLimit);
    this.#logger = options.logger.child({ socketId: options.socket.id });
  }

  get peer(): PeerSession | undefined {
    return this.#peer;
  }

  get logger(): Logger {
    return this.#logger;
  }

  /** Routes the peer's outgoing signaling to this socket. */
  bind(peer: PeerSession): void {
    this.unbind();
    this.#peer = peer;
    this.#logger = this.#logger.child({ roomId: peer.roomId, peerId: peer.id });
    this.#unbinders = [
      peer.on("offer", (offer) => this.socket.emit("offer", offer)),
      peer.on("ice-candidate", (candidate) => this.socket.emit("ice-candidate", candidate)),
    ];
  }

  /** Detaches the peer from this socket; returns the peer that was bound. */
  unbind(): PeerSession | undefined {
    const peer = this.#peer;
    for (const unbind of this.#unbinders.splice(0)) unbind();
    this.#peer = undefined;
    return peer;
  }

  /** Runs `task` once the ack of the event being handled has gone out. */
  afterAck(task: () => void): void {
    this.#afterAck.push(task);
  }

  /** Called by the namespace right after it sent an ack (or the error in its place). */
  acknowledged(): void {
    for (const task of this.#afterAck.splice(0)) task();
  }

  sendError(error: ErrorMessage): void {
    this.socket.emit("error", error);
  }
}
