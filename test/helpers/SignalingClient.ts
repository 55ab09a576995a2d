import { io, type Socket } from "socket.io-client";
import {
  SFU_NAMESPACE,
  type AckResult,
  type ClientToServerEvents,
  type JoinedMessage,
  type JoinMessage,
  type ServerToClientEvents,
} from "../../lib/protocol.js";
import { waitFor } from "./wait.js";

type ServerEvent = keyof ServerToClientEvents;
type Payload<E extends ServerEvent> = Parameters<ServerToClientEvents[E]>[0];

/** A Socket.IO client of the `/sfu` namespace that records every server event. */
export class SignalingClient {
  readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  readonly received: Array<{ event: ServerEvent; payload: unknown }> = [];

  constructor(url: string, options: { reconnection?: boolean; transports?: string[] } = {}) {
    this.socket = io(`${url}${SFU_NAMESPACE}`, {
      reconnection: options.reconnection ?? false,
      transports: options.transports ?? ["websocket"],
      forceNew: true,
    });
    this.socket.onAny((event: ServerEvent, payload: unknown) => this.received.push({ event, payload }));
  }

  connected(): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.socket.once("connect", () => resolve());
      this.socket.once("connect_error", reject);
    });
  }

  /** Sends an event with an ack and resolves with the ack. */
  request(
    event: keyof ClientToServerEvents,
    payload: unknown,
    timeoutMs = 10_000,
  ): Promise<AckResult<Record<string, unknown>>> {
    // Tests send malformed payloads on purpose, so the payload is not typed here.
    const socket = this.socket as unknown as Socket;
    return socket.timeout(timeoutMs).emitWithAck(event, payload) as Promise<
      AckResult<Record<string, unknown>>
    >;
  }

  async join(message: JoinMessage): Promise<JoinedMessage> {
    const ack = await this.request("join", message);
    if (!ack.ok) throw new Error(`join failed: ${ack.error.code} ${ack.error.message}`);
    return ack.joined as JoinedMessage;
  }

  /** Events of one kind received so far. */
  events<E extends ServerEvent>(event: E): Array<Payload<E>> {
    return this.received.filter((r) => r.event === event).map((r) => r.payload as Payload<E>);
  }

  /** Waits for an event of `event` matching `match`, including ones already received. */
  waitForEvent<E extends ServerEvent>(
    event: E,
    match: (payload: Payload<E>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<Payload<E>> {
    return waitFor(() => this.events(event).find(match), timeoutMs, `${event} event`);
  }

  close(): void {
    this.socket.disconnect();
  }
}
