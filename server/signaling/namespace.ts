import type { Server } from "socket.io";
import type { RoomEvent } from "../../lib/cluster/messages.js";
import { SfuError } from "../../lib/errors.js";
import type { Logger } from "../../lib/logger.js";
import {
  CLIENT_EVENTS,
  SFU_NAMESPACE,
  type AckResult,
  type ClientEventName,
  type ErrorMessage,
  type ErrorPayload,
} from "../../lib/protocol.js";
import { SHUTDOWN_NOTICE } from "../../lib/sfu/closeReason.js";
import type { Sfu } from "../../lib/sfu/Sfu.js";
import type { Config } from "../config.js";
import type { Metrics } from "../metrics.js";
import { JoinAuthorizer } from "./auth.js";
import { ClientSession, type SfuSocket } from "./ClientSession.js";
import { isAck, type AckData, type HandlerTable } from "./events.js";
import { NegotiationController } from "./NegotiationController.js";
import { ClientIce } from "./ClientIce.js";
import { RoomControlController } from "./RoomControlController.js";
import { RoomController } from "./RoomController.js";
import { SessionRegistry } from "./SessionRegistry.js";
import { PayloadValidator } from "./validate.js";

export interface SignalingOptions {
  io: Server;
  sfu: Sfu;
  config: Readonly<Config>;
  metrics: Metrics;
  logger: Logger;
  isDraining: () => boolean;
}

/**
 * The `/sfu` namespace: admits sockets up to MAX_CONNECTIONS and routes each
 * client event through one wrapper that rate-limits, calls a controller and
 * turns the outcome into an ack (or an `error` event when there is no ack).
 */
export class SignalingNamespace {
  readonly #options: SignalingOptions;
  readonly #sessions = new SessionRegistry();
  readonly #rooms: RoomController;
  readonly #control: RoomControlController;
  readonly #handlers: HandlerTable;
  readonly #logger: Logger;

  constructor(options: SignalingOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: "signaling" });
    const validator = new PayloadValidator({ maxSdpBytes: options.config.maxSdpBytes });
    this.#rooms = new RoomController({
      sfu: options.sfu,
      sessions: this.#sessions,
      validator,
      authorizer: new JoinAuthorizer(options.config.joinTokenSecret),
      metrics: options.metrics,
      defaultCanPublish: options.config.defaultCanPublish,
      isDraining: options.isDraining,
      clientIce: new ClientIce({ stunServers: options.sfu.iceServers, config: options.config }),
    });
    const negotiation = new NegotiationController({ validator });
    this.#control = new RoomControlController({ sfu: options.sfu, sessions: this.#sessions, validator });
    this.#handlers = {
      join: async (session, payload) => {
        const result = await this.#rooms.join(session, payload);
        this.#control.joined(session);
        return result;
      },
      leave: (session, payload) => this.#rooms.leave(session, payload),
      offer: (session, payload) => negotiation.offer(session, payload),
      answer: (session, payload) => negotiation.answer(session, payload),
      "ice-candidate": (session, payload) => negotiation.iceCandidate(session, payload),
      mute: (session, payload) => this.#control.mute(session, payload),
    };
    const namespace = options.io.of(SFU_NAMESPACE);
    const origins = options.config.corsOrigins;
    if (origins !== "*")
      namespace.use((socket, next) => next(checkOrigin(socket.handshake.headers.origin, origins)));
    namespace.on("connection", (socket: SfuSocket) => this.#onConnection(socket));
  }

  get connectionCount(): number {
    return this.#sessions.size;
  }

  /** Tells every client the SFU is going away (PROTOCOL §10); their sessions then close as `shutdown`. */
  notifyShutdown(): void {
    for (const session of this.#sessions.all) session.sendError(SHUTDOWN_NOTICE);
  }

  /** The peer's session moved to another node's socket, or ended there: this socket lets it go, told `notice` if any. */
  releasePeer(peerId: string, notice: ErrorMessage | undefined): void {
    const session = this.#sessions.forPeer(peerId);
    if (!session) return;
    session.unbind();
    this.#sessions.release(peerId, session);
    if (notice) session.sendError(notice);
  }

  /** Hands a room event from the room's node (another node) to the peer's socket here (PROTOCOL §12). */
  deliverRoomEvent(peerId: string, event: RoomEvent): void {
    this.#control.relayed(peerId, event);
  }

  close(): void {
    this.#rooms.close();
    this.#control.close();
  }

  #onConnection(socket: SfuSocket): void {
    const { config, metrics } = this.#options;
    if (this.#sessions.size >= config.maxConnections) {
      socket.emit("error", {
        code: "SERVER_FULL",
        message: `the SFU is at its limit of ${config.maxConnections} connections`,
      });
      // A namespace-level disconnect: the client does not retry on its own.
      socket.disconnect();
      return;
    }
    const session = new ClientSession({
      socket,
      eventRateLimit: config.eventRateLimit,
      logger: this.#logger,
    });
    this.#sessions.add(session);
    metrics.socketConnections.inc();
    for (const event of CLIENT_EVENTS) {
      // Arguments are untrusted: the contract's signature is only what a well-behaved client sends.
      socket.on(event, (...args: unknown[]) => void this.#dispatch(session, event, args));
    }
    socket.on("disconnect", (reason) => {
      session.logger.debug("socket disconnected", { reason });
      this.#rooms.disconnect(session);
      this.#sessions.remove(session);
      metrics.socketConnections.dec();
    });
  }

  async #dispatch<E extends ClientEventName>(
    session: ClientSession,
    event: E,
    args: unknown[],
  ): Promise<void> {
    // The ack is the last argument when it is a function, whatever came before it.
    const last = args.at(-1);
    const ack = isAck<E>(last) ? last : undefined;
    // A lone ack means the payload was left out.
    const payload = ack && args.length === 1 ? undefined : args[0];
    let result: AckResult<AckData[E]>;
    try {
      if (!session.limiter.take()) throw new SfuError("RATE_LIMITED", "too many signaling events; slow down");
      result = { ok: true, ...(await this.#handlers[event](session, payload)) };
    } catch (error) {
      result = { ok: false, error: this.#toErrorPayload(error, session, event) };
    }
    this.#options.metrics.signalingEvents.inc({ event, result: result.ok ? "ok" : result.error.code });
    if (ack) ack(result);
    else if (!result.ok) session.sendError({ ...result.error, event });
    session.acknowledged();
  }

  #toErrorPayload(error: unknown, session: ClientSession, event: string): ErrorPayload {
    if (error instanceof SfuError) {
      session.logger.debug("event refused", { event, code: error.code, reason: error.message });
      return { code: error.code, message: error.message };
    }
    session.logger.error("event failed unexpectedly", { event, error });
    return { code: "INTERNAL", message: "internal error" };
  }
}

/**
 * CORS_ORIGINS for the signaling handshake. Socket.IO's `cors` option only
 * sets response headers, which browsers enforce for HTTP long-polling but not
 * for WebSocket, so a page from any origin could open the WebSocket
 * transport. A handshake that names a foreign Origin is refused; one without
 * an Origin (a native or server-side client, which CORS never covered) passes.
 */
function checkOrigin(origin: string | undefined, allowed: readonly string[]): Error | undefined {
  if (origin === undefined || allowed.includes(origin)) return undefined;
  // Socket.IO hands `data` to the client's connect_error as it is.
  const data: ErrorPayload = { code: "UNAUTHORIZED", message: `origin ${origin} is not allowed` };
  return Object.assign(new Error("UNAUTHORIZED"), { data });
}
