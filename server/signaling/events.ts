/**
 * The handler table's types, derived from the wire contract's
 * `ClientToServerEvents` (socket.io `typed-events.ts` style): a renamed
 * payload or a handler that resolves to another ack shape than the contract's
 * fails to compile.
 */
import type { Ack, AckResult, ClientEventName, ClientToServerEvents } from "../../lib/protocol.js";
import type { ClientSession } from "./ClientSession.js";

/** The arguments a well-behaved client sends with event `E`, ack last. */
export type ClientEventArgs<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>;

/** The payload of event `E` as the contract types it (what the validator turns untrusted input into). */
export type ClientPayload<E extends ClientEventName> = ClientEventArgs<E>[0];

/** The ack callback a client may pass with event `E`. */
export type ClientAck<E extends ClientEventName> = NonNullable<ClientEventArgs<E>[1]>;

/**
 * The ack of an event whose success carries nothing beside `ok`: a handler
 * that resolves to any field for it does not compile.
 */
export type EmptyAck = Record<string, never>;

/** What the ack of event `E` carries beside `ok` on success. */
export type AckDataOf<E extends ClientEventName> =
  ClientAck<E> extends Ack<infer T> ? (object extends T ? EmptyAck : T) : never;

/** Ack data by event; a concrete map, so that a handler looked up by a generic event keeps its type. */
export type AckData = { [E in ClientEventName]: AckDataOf<E> };

/** The ack callback as the dispatcher calls it: with the contract's result for event `E`. */
export type AckCallback<E extends ClientEventName> = (result: AckResult<AckData[E]>) => void;

/**
 * Handles one client event. The payload is untrusted (`unknown`): the typed
 * signature above is only what a well-behaved client sends, so the handler
 * validates it into `ClientPayload<E>` first.
 */
export type EventHandler<E extends ClientEventName> = (
  session: ClientSession,
  payload: unknown,
) => Promise<AckData[E]>;

/** One handler per client event of the contract. */
export type HandlerTable = { [E in ClientEventName]: EventHandler<E> };

/**
 * Socket.IO passes the client's ack callback as an event's last argument,
 * when the client sent one; its parameter is the contract's ack result.
 */
export function isAck<E extends ClientEventName>(value: unknown): value is AckCallback<E> {
  return typeof value === "function";
}
